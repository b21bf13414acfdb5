package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowcache/flowcache/gateway"
)

// reloadOnHangup reloads g's configuration on each SIGHUP (as POST /reload
// does; the gateway logs the outcome) until the returned stop is called.
func reloadOnHangup(ctx context.Context, g *gateway.Gateway, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := g.Reload(ctx); err == nil {
					logger.LogAttrs(ctx, slog.LevelInfo, "reloaded on SIGHUP")
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
