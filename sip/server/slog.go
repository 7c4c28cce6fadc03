package server

import (
	"log/slog"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/zapslog"
)

// Slog adapts zap for sipgo (and anything else that wants log/slog), with
// sipgo's levels lowered one step and raw-message attributes dropped (see
// zapslog).
func Slog(log *zap.Logger) *slog.Logger { return zapslog.New(log) }
