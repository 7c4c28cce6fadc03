package mediaserver

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler sends sipgo's slog records to zap one level lower, without
// the attributes that carry whole messages: sipgo logs every unparseable
// datagram at error level with its bytes, and a stray packet is not an
// error of ours.
type zapHandler struct {
	log   *zap.Logger
	attrs []zap.Field
}

func newSlog(log *zap.Logger) *slog.Logger { return slog.New(&zapHandler{log: log}) }

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
	n := &zapHandler{log: h.log, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		if f, ok := field(a); ok {
			n.attrs = append(n.attrs, f)
		}
	}
	return n
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	return &zapHandler{log: h.log.Named(name), attrs: h.attrs}
}

func field(a slog.Attr) (zap.Field, bool) {
	switch a.Key {
	case "data", "msg", "req", "res":
		return zap.Field{}, false
	}
	return zap.Any(a.Key, a.Value.Any()), true
}
