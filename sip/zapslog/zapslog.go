// Package zapslog sends log/slog records (sipgo's, and anything else that
// logs through slog) to a zap logger. sipgo logs every unparseable datagram
// at error level with the raw bytes, which would let anyone flood the error
// log and would write Authorization digests to it, and a stray packet is
// not an error of ours; so levels are lowered one step (error to warn,
// warn to info, info and below to debug) and the attributes that carry
// whole messages ("data", "msg", "req", "res") are dropped.
package zapslog

import (
	"context"
	"log/slog"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New adapts log for log/slog with the rules above.
func New(log *zap.Logger, opts ...Option) *slog.Logger {
	return slog.New(NewHandler(log, opts...))
}

// NewHandler is the slog.Handler behind New.
func NewHandler(log *zap.Logger, opts ...Option) slog.Handler {
	h := &handler{log: log}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Option tunes a handler.
type Option func(*handler)

// WithGate makes the handler, and every handler derived from it, write
// nothing once g is closed.
func WithGate(g *Gate) Option { return func(h *handler) { h.off = g } }

// Gate turns handlers off for good. A record being written holds the read
// lock, so once Close returns no record is in flight or will follow.
type Gate struct {
	mu     sync.RWMutex
	closed bool
}

// Close turns the gate's handlers off.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

type handler struct {
	log   *zap.Logger
	attrs []zap.Field
	off   *Gate // nil: always on
}

func (h *handler) level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.WarnLevel
	case l >= slog.LevelWarn:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(h.level(l))
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	if h.off != nil {
		h.off.mu.RLock()
		defer h.off.mu.RUnlock()
		if h.off.closed {
			return nil
		}
	}
	fields := append([]zap.Field(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if f, ok := field(a); ok {
			fields = append(fields, f)
		}
		return true
	})
	if ce := h.log.Check(h.level(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &handler{log: h.log, attrs: append([]zap.Field(nil), h.attrs...), off: h.off}
	for _, a := range as {
		if f, ok := field(a); ok {
			n.attrs = append(n.attrs, f)
		}
	}
	return n
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{log: h.log.Named(name), attrs: h.attrs, off: h.off}
}

// field converts an attribute, leaving out those that carry whole messages.
func field(a slog.Attr) (zap.Field, bool) {
	switch a.Key {
	case "data", "msg", "req", "res":
		return zap.Field{}, false
	}
	return zap.Any(a.Key, a.Value.Any()), true
}
