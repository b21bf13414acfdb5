package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowcache/flowcache/gateway"
)

// reopenOnUSR1 reopens g's access log file on each SIGUSR1 (after
// logrotate moved it) until the returned stop is called.
func reopenOnUSR1(ctx context.Context, g *gateway.Gateway, logger *slog.Logger) (stop func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-usr1:
				if err := g.ReopenAccessLog(); err != nil {
					logger.LogAttrs(ctx, slog.LevelError, "access log reopen failed", slog.String("error", err.Error()))
					continue
				}
				logger.LogAttrs(ctx, slog.LevelInfo, "access log reopened on SIGUSR1")
			}
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(done)
	}
}
