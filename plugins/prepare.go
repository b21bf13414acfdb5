package plugins

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// # Prepared engines: Precompile on a tiered runtime
//
// Precompile lets a node get ready for a load it expects (another node's
// upload, announced before that node compiles it: gateway's prefetch).
// Without tiering it compiles into the compilation cache. With tiering
// the load will start on the interpreter anyway, so compiling there first
// would only take the processors from it; Precompile instead translates the
// module for the interpreter and keeps that engine (prepared), which the
// load of the same bytes with the same memory limit takes instead of
// translating them again: the load is left with instantiating. A load that
// comes while the engine is being prepared waits for it rather than doing
// the same work beside it.
//
// One engine is kept at a time (a newer Precompile replaces it), for at
// most preparedTTL: a refused upload's engine (tens of MB for a 2MB Go
// module) is released then.

// preparedTTL is how long a prepared engine waits for its load.
const preparedTTL = 30 * time.Second

// prepared is an engine made ahead of its load.
type prepared struct {
	sum   [sha256.Size]byte // of the module's bytes as given (not instrumented)
	pages uint32
	ready chan struct{} // closed once eng (nil on error) is set
	eng   *engine
	timer *time.Timer
}

// preparedSlot holds a Runtime's prepared engine. Whoever removes an
// engine from the slot owns it: the load that takes it, or the one that
// releases it (a newer prepare, the timer, Close).
type preparedSlot struct {
	mu sync.Mutex
	p  *prepared
}

// swap puts p (nil: none) in the slot and returns what it held.
func (s *preparedSlot) swap(p *prepared) *prepared {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.p
	s.p = p
	return old
}

// remove empties the slot if it holds p, and reports whether it did.
func (s *preparedSlot) remove(p *prepared) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != p {
		return false
	}
	s.p = nil
	return true
}

// release closes p's engine once it is ready, in the background.
func (p *prepared) release() {
	go func() {
		<-p.ready
		if p.eng != nil {
			p.eng.close(context.Background())
		}
	}()
}

// prepare makes the interpreter's engine for wasm (instrumented from
// source) and keeps it for the load of source. The caller holds rt.life for
// reading and has checked the module as a load does.
func (rt *Runtime) prepare(ctx context.Context, source, wasm []byte, pages uint32, wasi bool) error {
	rt.beginLoad() // background compiles wait for it, as for a load
	defer rt.endLoad()
	p := &prepared{sum: sha256.Sum256(source), pages: pages, ready: make(chan struct{})}
	if old := rt.prep.swap(p); old != nil {
		old.release()
	}
	eng, err := rt.newEngine(ctx, wasm, pages, wasi, true)
	p.eng = eng
	p.timer = time.AfterFunc(preparedTTL, func() {
		if rt.prep.remove(p) {
			p.release()
		}
	})
	close(p.ready)
	return err
}

// takePrepared returns the engine prepared for source and pages, waiting
// for it if it is being made, or nil if there is none (or it failed). The
// caller owns it.
func (rt *Runtime) takePrepared(source []byte, pages uint32) *engine {
	rt.prep.mu.Lock()
	p := rt.prep.p
	rt.prep.mu.Unlock()
	if p == nil || p.pages != pages || p.sum != sha256.Sum256(source) || !rt.prep.remove(p) {
		return nil
	}
	<-p.ready
	p.timer.Stop()
	return p.eng
}

// closePrepared releases the prepared engine at Close.
func (rt *Runtime) closePrepared() {
	if p := rt.prep.swap(nil); p != nil {
		p.release()
	}
}
