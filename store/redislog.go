package store

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// RedisLog routes go-redis's own log lines (failed dials, pool events) to
// zap instead of the standard logger on stderr. go-redis has one global
// logger, so only main installs it: redis.SetLogger(store.RedisLog{L: l}).
// Those lines carry addresses and error texts, never keys or values.
type RedisLog struct {
	// L receives each line at warn level.
	L *zap.Logger
}

// Printf logs one go-redis line.
func (r RedisLog) Printf(_ context.Context, format string, v ...any) {
	if r.L == nil {
		return
	}
	r.L.Warn("redis client", zap.String("detail", fmt.Sprintf(format, v...)))
}
