package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisLog routes go-redis' own log lines (pool dial failures, pub/sub
// reconnections) to the process logger, component=redis, at Warn. While
// Redis is down the client logs every failed dial; the L2 tier's breaker
// and metrics already say so, so at most one line per redisLogEvery is
// written, with how many were dropped before it.
type redisLog struct {
	logger  *slog.Logger
	last    atomic.Int64 // unix ns of the last line written
	dropped atomic.Int64
}

// redisLogEvery is the least time between two go-redis log lines.
const redisLogEvery = time.Second

// Printf implements go-redis' logger interface.
func (l *redisLog) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(redisLogEvery) || !l.last.CompareAndSwap(last, now) {
		l.dropped.Add(1)
		return
	}
	l.logger.LogAttrs(ctx, slog.LevelWarn, "redis_client",
		slog.String("message", fmt.Sprintf(format, v...)), slog.Int64("dropped", l.dropped.Swap(0)))
}

// routeRedisLogs makes go-redis log through logger. go-redis' logger is
// process-wide, which is why this is done here and not in the gateway.
func routeRedisLogs(logger *slog.Logger) {
	redis.SetLogger(&redisLog{logger: logger.With(slog.String("component", "redis"))})
}
