package policytest

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/wasm/abi"
)

// Host runs one instance of a policy module, following ABI.md section 1.1.
// It implements policy.Policy but, unlike package plugins, it is not safe
// for concurrent use, has no CPU budget and keeps its instance after a
// failure: it is a test and benchmark harness. Key and Decide do not
// allocate once its buffer has grown.
type Host struct {
	rt                 wazero.Runtime
	mod                api.Module
	mem                api.Memory
	key, decide, alloc api.Function
	buf, bufLen        uint32
	stack              [2]uint64
	headers            []string // nil and all: every header
	all                bool
	blob               []byte // host-side copy of the result of the last call
}

// ErrGuest is returned by Key or Decide when the module answers -1 or a
// malformed result.
var ErrGuest = errors.New("policytest: guest error")

// NewHost compiles and instantiates wasm, calls _initialize, flowcache_init
// with config (JSON; "" means "{}") and flowcache_headers, and allocates
// the input buffer. Close it when done.
func NewHost(ctx context.Context, wasm []byte, config string) (*Host, error) {
	if config == "" {
		config = "{}"
	}
	rc := wazero.NewRuntimeConfig()
	if dir, err := sharedCacheDir(); err == nil {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	h := &Host{rt: rt, blob: make([]byte, 0, 4096)}
	if err := h.start(ctx, wasm, config); err != nil {
		_ = rt.Close(ctx) // the load error is the one to report
		return nil, err
	}
	return h, nil
}

func (h *Host) start(ctx context.Context, wasm []byte, config string) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		return fmt.Errorf("wasi: %w", err)
	}
	mod, err := h.rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		return fmt.Errorf("instantiate: %w", err)
	}
	h.mod, h.mem = mod, mod.Memory()
	if f := mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if _, err := f.Call(ctx); err != nil {
			return fmt.Errorf("%s: %w", abi.ExportInitialize, err)
		}
	}
	h.key, h.decide, h.alloc = mod.ExportedFunction(abi.ExportKey), mod.ExportedFunction(abi.ExportDecide), mod.ExportedFunction(abi.ExportAlloc)
	v := mod.ExportedFunction(abi.ExportABIVersion)
	if h.key == nil || h.decide == nil || h.alloc == nil || v == nil || h.mem == nil {
		return errors.New("missing export")
	}
	res, err := v.Call(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportABIVersion, err)
	}
	if res[0] != abi.Version {
		return fmt.Errorf("%s = %d, want %d", abi.ExportABIVersion, res[0], abi.Version)
	}
	if f := mod.ExportedFunction(abi.ExportInit); f != nil {
		p, err := h.allocate(ctx, uint32(len(config))) //nolint:gosec // G115: a test configuration is small
		if err != nil {
			return err
		}
		h.mem.Write(p, []byte(config))
		res, err := f.Call(ctx, uint64(p), uint64(len(config)))
		if err != nil {
			return fmt.Errorf("%s: %w", abi.ExportInit, err)
		}
		if res[0] != 0 {
			return fmt.Errorf("%s returned %d", abi.ExportInit, api.DecodeI32(res[0]))
		}
	}
	h.all = true
	if f := mod.ExportedFunction(abi.ExportHeaders); f != nil {
		res, err := f.Call(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", abi.ExportHeaders, err)
		}
		p, n := abi.Unpack(res[0])
		list, ok := h.mem.Read(p, n)
		if !ok {
			return fmt.Errorf("%s: range outside memory", abi.ExportHeaders)
		}
		if h.headers, h.all, err = abi.ParseHeaderNames(list); err != nil {
			return err
		}
	}
	const size = 64 << 10
	p, err := h.allocate(ctx, size)
	if err != nil {
		return err
	}
	h.buf, h.bufLen = p, size
	return nil
}

func (h *Host) allocate(ctx context.Context, n uint32) (uint32, error) {
	res, err := h.alloc.Call(ctx, uint64(n))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", abi.ExportAlloc, err)
	}
	p := api.DecodeU32(res[0])
	if p == 0 || p%8 != 0 || uint64(p)+uint64(n) > uint64(h.mem.Size()) {
		return 0, fmt.Errorf("%s(%d) = %d: bad address", abi.ExportAlloc, n, p)
	}
	return p, nil
}

// Close releases the runtime.
func (h *Host) Close(ctx context.Context) error { return h.rt.Close(ctx) }

func (h *Host) wanted(name []byte) bool {
	if h.all {
		return true
	}
	for _, n := range h.headers {
		if abi.EqualFold(name, n) {
			return true
		}
	}
	return false
}

func (h *Host) input() []byte {
	b, _ := h.mem.Read(h.buf, h.bufLen)
	return b[:0]
}

func toABI(r *policy.Request) *abi.Request {
	return &abi.Request{Method: r.Method, Scheme: r.Scheme, Host: r.Host, Path: r.Path, Query: r.Query, Route: r.Route}
}

// appendHeaders appends the request header fields the module declared to
// the request blob at dst[start:].
func (h *Host) appendHeaders(dst []byte, start int, r *policy.Request) []byte {
	for _, f := range r.Headers {
		if h.wanted(f.Name) {
			dst = abi.AppendRequestHeader(dst, start, f.Name, f.Value)
		}
	}
	return dst
}

// call runs fn on the blob (which must be in the input buffer) and returns
// the result range, copied to the host.
func (h *Host) call(fn api.Function, blob []byte) ([]byte, bool, error) {
	if cap(blob) != int(h.bufLen) {
		return nil, false, errors.New("policytest: input larger than the 64KiB buffer")
	}
	h.stack[0], h.stack[1] = uint64(h.buf), uint64(len(blob))
	if err := fn.CallWithStack(context.Background(), h.stack[:]); err != nil {
		return nil, false, err
	}
	switch h.stack[0] {
	case 0:
		return nil, false, nil
	case abi.ResultError:
		return nil, false, ErrGuest
	}
	p, n := abi.Unpack(h.stack[0])
	b, ok := h.mem.Read(p, n)
	if !ok {
		return nil, false, fmt.Errorf("%w: result outside memory", ErrGuest)
	}
	h.blob = append(h.blob[:0], b...)
	return h.blob, true, nil
}

// Key implements policy.Policy.
func (h *Host) Key(r *policy.Request, k *policy.Key) error {
	b := abi.AppendRequest(h.input(), toABI(r))
	res, ok, err := h.call(h.key, h.appendHeaders(b, 0, r))
	if err != nil {
		return err
	}
	if !ok {
		k.Bypass = true
		return nil
	}
	var ak abi.Key
	if err := abi.DecodeKey(res, &ak); err != nil {
		return fmt.Errorf("%w: %w", ErrGuest, err)
	}
	k.Bypass = ak.Bypass
	k.Host = append(k.Host, ak.Host...)
	k.Target = append(k.Target, ak.Target...)
	k.Variant = append(k.Variant, ak.Variant...)
	return nil
}

// Decide implements policy.Policy.
func (h *Host) Decide(r *policy.Request, resp *policy.Response, d *policy.Decision) error {
	b := h.input()
	def := abi.Decision{
		Store: d.Store, Admit: d.Admit, MustRevalidate: d.MustRevalidate, NoCache: d.NoCache, Tier: abi.Tier(d.Tier),
		TTL: d.TTL, StaleWhileRevalidate: d.StaleWhileRevalidate, StaleIfError: d.StaleIfError,
	}
	b = abi.AppendDecideInput(b, &abi.Response{Status: resp.Status, BodySize: resp.BodySize, NowUnixMilli: resp.Now.UnixMilli()}, &def)
	for _, f := range resp.Headers {
		b = abi.AppendResponseHeader(b, 0, f.Name, f.Value)
	}
	rs := len(b)
	b = abi.AppendDecideRequest(b, 0, toABI(r))
	b = h.appendHeaders(b, rs, r)
	res, ok, err := h.call(h.decide, b)
	if err != nil || !ok {
		return err
	}
	var ad abi.Decision
	if err := abi.DecodeDecision(res, &ad); err != nil {
		return fmt.Errorf("%w: %w", ErrGuest, err)
	}
	*d = policy.Decision{
		Store: ad.Store, Admit: ad.Admit, MustRevalidate: ad.MustRevalidate, NoCache: ad.NoCache, Tier: policy.Tier(ad.Tier),
		TTL: ad.TTL, StaleWhileRevalidate: ad.StaleWhileRevalidate, StaleIfError: ad.StaleIfError,
	}
	return nil
}

var _ policy.Policy = (*Host)(nil)
