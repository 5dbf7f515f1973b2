package store_test

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/parjarm/parjarm/store"
)

func TestRedisLogSendsGoRedisLinesToZapAtWarn(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	store.RedisLog{L: zap.New(core)}.Printf(context.Background(), "failed to dial after %d attempts", 1)

	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("got %d log entries, want 1", len(entries))
	}
	e := entries[0]
	if e.Level != zapcore.WarnLevel || e.ContextMap()["detail"] != "failed to dial after 1 attempts" {
		t.Fatalf("entry = %v %v, want warn with detail %q", e.Level, e.ContextMap(), "failed to dial after 1 attempts")
	}
}
