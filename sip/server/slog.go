package server

import (
	"context"
	"log/slog"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler sends sipgo's slog records to zap. sipgo logs every
// unparseable datagram at error level with the raw bytes, which would let
// anyone flood the error log and would write Authorization digests to it;
// so its levels are lowered one step and raw-message attributes are dropped.
type zapHandler struct {
	log   *zap.Logger
	attrs []zap.Field
	off   *gate // nil: always on
}

// gate turns the handler off for good. A record being written holds the
// read lock, so once close returns no record is in flight or will follow.
type gate struct {
	mu     sync.RWMutex
	closed bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Slog adapts zap for sipgo (and anything else that wants log/slog), with
// the level and redaction rules described on zapHandler.
func Slog(log *zap.Logger) *slog.Logger { return slog.New(&zapHandler{log: log}) }

func (h *zapHandler) level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.WarnLevel
	case l >= slog.LevelWarn:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(h.level(l))
}

func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
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

func (h *zapHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &zapHandler{log: h.log, attrs: append([]zap.Field(nil), h.attrs...), off: h.off}
	for _, a := range as {
		if f, ok := field(a); ok {
			n.attrs = append(n.attrs, f)
		}
	}
	return n
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	return &zapHandler{log: h.log.Named(name), attrs: h.attrs, off: h.off}
}

// field converts an attribute, leaving out those that carry whole messages.
func field(a slog.Attr) (zap.Field, bool) {
	switch a.Key {
	case "data", "msg", "req", "res":
		return zap.Field{}, false
	}
	return zap.Any(a.Key, a.Value.Any()), true
}
