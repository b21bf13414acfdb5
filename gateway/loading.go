package gateway

import (
	"context"
	"log/slog"
	"time"
)

// policyLoad is the state of a node that listens while its policies load
// (server.listen_while_loading): done is closed once they are loaded, or
// once loading failed.
type policyLoad struct {
	done  chan struct{}
	start time.Time
}

// PoliciesLoading marks the gateway's WebAssembly policies as loading,
// for a node that serves before they are (server.listen_while_loading):
// until loaded is called, /readyz answers 503 {"status":"loading",
// "policies":"loading"}, and a request for a route with a policy other
// than "default" waits for them, at most server.loading_wait, then is
// served with its route's default policy (counted as a policy fallback).
// Call loaded once every route's policy is in the store, or when loading
// failed (the caller then stops the node). Safe for concurrent use;
// loaded may be called more than once.
func (g *Gateway) PoliciesLoading() (loaded func()) {
	l := &policyLoad{done: make(chan struct{}), start: time.Now()}
	g.loading.Store(l)
	return func() {
		if g.loading.CompareAndSwap(l, nil) {
			close(l.done)
			g.log.LogAttrs(context.Background(), slog.LevelInfo, "policies loaded",
				slog.Duration("elapsed", time.Since(l.start)))
		}
	}
}

// waitLoaded returns at once unless policies are loading; then it waits
// for them, at most server.loading_wait. A request pays one atomic load.
func (g *Gateway) waitLoaded() {
	l := g.loading.Load()
	if l == nil {
		return
	}
	t := time.NewTimer(g.cfg.Server.LoadingWait.D())
	defer t.Stop()
	select {
	case <-l.done:
	case <-t.C:
	}
}
