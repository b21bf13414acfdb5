package main

import (
	"context"
	"log/slog"
	"syscall"

	"github.com/flowcache/flowcache/gateway"
)

// reloadOnHangup reloads g's configuration on each SIGHUP (as POST /reload
// does; the gateway logs the outcome) until the returned stop is called.
func reloadOnHangup(ctx context.Context, g *gateway.Gateway, logger *slog.Logger) (stop func()) {
	return onSignal(syscall.SIGHUP, func() {
		if err := g.Reload(ctx); err == nil {
			logger.LogAttrs(ctx, slog.LevelInfo, "reloaded on SIGHUP")
		}
	})
}
