package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// # Prefetch: the other nodes compile an upload while its node does
//
// Compiling dominates an activation: about a second of CPU for a 2MB Go
// module, on the node that receives the upload and then again on every
// other node when the activation event reaches it, so that the last node
// activated about two compilations after the upload. To overlap them, the
// upload's node, before it compiles, stores the module in Redis (the key
// publish uses, scored so that an unused one is collected) and publishes
// a hint on <prefix>policy:prefetch: the policy name and the module's
// sha256 and size, sealed like the events (domain l2.DomainPrefetch). A
// node receiving it reads the module, checks its size and sha256, and
// compiles it into its compilation cache (plugins.Store.Precompile),
// one at a time (a hint arriving meanwhile is dropped). When the event
// comes, Apply finds the compiled code in the cache. With tiered
// compilation (admin.tiered_compilation) Precompile translates the module
// for the interpreter instead and keeps that for the event's Apply, which
// then only instantiates it; both nodes compile in the background after.
//
// A hint only costs CPU: nothing is instantiated or activated by it, and a
// refused upload leaves a compiled module no one loads (its Redis key is
// collected like any unreferenced module). With [redis] secret, a hint
// that does not verify is ignored.

// prefetchHint is the message of the prefetch channel.
type prefetchHint struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
	Node   string `json:"node"` // the sender, which compiles it itself
}

// prefetch stores wasm, uploaded for policy name, in Redis and publishes
// the hint. Failures are counted (flowcache_policy_sync_errors_total) and
// otherwise ignored: the activation event carries the module anyway.
func (p *policySync) prefetch(ctx context.Context, name string, wasm []byte) {
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	body, err := json.Marshal(prefetchHint{Name: name, SHA256: sha, Size: len(wasm), Node: p.node})
	if err != nil {
		return // a struct of strings and an int always encodes
	}
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	err = p.client.ZAdd(octx, p.kModules, redis.Z{Score: float64(time.Now().Unix()), Member: sha}).Err()
	if err == nil {
		err = p.client.SetNX(octx, p.kModule+sha, wasm, 0).Err()
	}
	if err == nil {
		err = p.client.Publish(octx, p.kPrefetch, p.signer.Seal(nil, l2.DomainPrefetch, body)).Err()
	}
	if err != nil {
		p.errs.Inc()
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.LogAttrs(ctx, slog.LevelDebug, "policy_prefetch_failed", slog.String("policy", name), slog.String("error", err.Error()))
		}
	}
}

// receivePrefetch starts compiling the module a hint names, unless it
// comes from this node, does not verify, or a compilation is running.
func (p *policySync) receivePrefetch(ctx context.Context, payload []byte) {
	if len(payload) > maxEventSize {
		return
	}
	msg, err := p.signer.Open(l2.DomainPrefetch, payload)
	if err != nil {
		p.reject(ctx, p.kPrefetch, err)
		return
	}
	var h prefetchHint
	if err := json.Unmarshal(msg, &h); err != nil || h.Node == p.node || len(h.SHA256) != 2*sha256.Size || h.Size <= 0 {
		return
	}
	if !p.prefetching.CompareAndSwap(false, true) {
		return // one at a time: the event's Apply compiles what is dropped
	}
	p.prefetchWG.Go(func() {
		defer p.prefetching.Store(false)
		if err := p.precompile(ctx, &h); err != nil && p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.LogAttrs(ctx, slog.LevelDebug, "policy_prefetch_failed", slog.String("policy", h.Name), slog.String("error", err.Error()))
		}
	})
}

func (p *policySync) precompile(ctx context.Context, h *prefetchHint) error {
	// Here, not in the receiving loop: Limits waits for a load in progress.
	if limit := int64(p.store.Limits(h.Name).MaxModuleSize); int64(h.Size) > limit {
		return fmt.Errorf("module %s: %d bytes, max_module_size is %d", h.SHA256, h.Size, limit)
	}
	octx, cancel := context.WithTimeout(ctx, syncOpTimeout)
	defer cancel()
	if n, err := p.client.StrLen(octx, p.kModule+h.SHA256).Result(); err != nil || n != int64(h.Size) {
		return fmt.Errorf("module %s: %d bytes in Redis (%v), want %d", h.SHA256, n, err, h.Size)
	}
	wasm, err := p.client.Get(octx, p.kModule+h.SHA256).Bytes()
	if err != nil {
		return fmt.Errorf("redis GET %s%s: %w", p.kModule, h.SHA256, err)
	}
	if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != h.SHA256 {
		return fmt.Errorf("module %s: sha256 mismatch", h.SHA256)
	}
	return p.store.Precompile(ctx, h.Name, wasm)
}
