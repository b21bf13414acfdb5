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
	return onSignal(syscall.SIGUSR1, func() {
		if err := g.ReopenAccessLog(); err != nil {
			logger.LogAttrs(ctx, slog.LevelError, "access log reopen failed", slog.String("error", err.Error()))
			return
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "access log reopened on SIGUSR1")
	})
}

// onSignal calls fn on its own goroutine for each sig received, one at a
// time, until the returned stop is called.
func onSignal(sig os.Signal, fn func()) (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, sig)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-c:
				fn()
			}
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}
