package zapslog

import (
	"context"
	"log/slog"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLevelsLoweredOneStep(t *testing.T) {
	tests := []struct {
		in   slog.Level
		want zapcore.Level
	}{
		{slog.LevelError + 4, zapcore.WarnLevel},
		{slog.LevelError, zapcore.WarnLevel},
		{slog.LevelWarn, zapcore.InfoLevel},
		{slog.LevelInfo, zapcore.DebugLevel},
		{slog.LevelDebug, zapcore.DebugLevel},
	}
	for _, tt := range tests {
		core, logs := observer.New(zapcore.DebugLevel)
		New(zap.New(core)).Log(context.Background(), tt.in, "m")
		all := logs.All()
		if len(all) != 1 || all[0].Level != tt.want {
			t.Errorf("slog %v: got %v, want one entry at %v", tt.in, all, tt.want)
		}
	}
}

func TestEnabledFollowsLoweredLevel(t *testing.T) {
	core, _ := observer.New(zapcore.InfoLevel)
	h := NewHandler(zap.New(core))
	ctx := context.Background()
	for l, want := range map[slog.Level]bool{slog.LevelError: true, slog.LevelWarn: true, slog.LevelInfo: false, slog.LevelDebug: false} {
		if got := h.Enabled(ctx, l); got != want {
			t.Errorf("Enabled(%v) = %v, want %v", l, got, want)
		}
	}
}

func TestRawMessagesDropped(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := New(zap.New(core)).With("data", "INVITE sip:...", "conn", "udp").WithGroup("tx")
	log.Error("parse failed", "msg", "raw", "req", "raw", "res", "raw", "src", "192.0.2.1:5060")
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("entries %v", all)
	}
	e := all[0]
	if e.LoggerName != "tx" || e.Message != "parse failed" {
		t.Errorf("entry %+v", e)
	}
	got := e.ContextMap()
	if len(got) != 2 || got["conn"] != "udp" || got["src"] != "192.0.2.1:5060" {
		t.Errorf("fields %v, want conn and src only", got)
	}
}

func TestGate(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	g := new(Gate)
	log := New(zap.New(core), WithGate(g))
	derived := log.With("k", "v").WithGroup("g")
	log.Warn("before")
	g.Close()
	log.Warn("after")
	derived.Warn("after, derived")
	if all := logs.All(); len(all) != 1 || all[0].Message != "before" {
		t.Errorf("entries %v, want only the one before Close", all)
	}
}
