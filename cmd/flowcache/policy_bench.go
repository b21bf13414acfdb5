package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/flowcache/flowcache/internal/units"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// benchCase is one request of policy bench, with the response its decide
// call sees (nil: key only).
type benchCase struct {
	req  *policy.Request
	resp *policy.Response
}

// benchStats are the measures of one kind of call by one policy.
type benchStats struct {
	calls            int
	p50, p99         time.Duration
	fuelMean         float64
	fuelP99, fuelMax uint64
	allocs           float64
	errs             int
}

func runPolicyBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy bench", "MODULE.wasm [VECTORS.json] [-n CALLS] [-config JSON|@FILE] [-fuel N] [-c config.toml -policy NAME]",
		"Measure MODULE.wasm on the gateway's own host (fuel metering, limits, pooled\n"+
			"instances), one call at a time: ns per key and decide call (p50, p99, with the\n"+
			"clock read in each), fuel per call, host allocations per call, and the\n"+
			"instances' linear memory, beside the native default policy on the same\n"+
			"requests. The requests are those of VECTORS.json (its responses for decide),\n"+
			"or a built-in set of realistic ones. On a shared machine, compare the wasm\n"+
			"and native lines of one run, not runs.", stderr)
	mf := addModuleFlags(fs)
	n := fs.Int("n", 20000, "calls of each kind per policy (1000 to 10000000)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 2); err != nil {
		return err
	}
	if *n < 1000 || *n > 10_000_000 {
		return fmt.Errorf("-n: want 1000 to 10000000, got %d", *n)
	}
	source := "built-in requests"
	cases := builtinBenchCases()
	if len(pos) == 2 {
		vs, err := readVectors(pos[1])
		if err != nil {
			return err
		}
		cases = cases[:0]
		for i := range vs {
			c := benchCase{req: vs[i].Request.PolicyRequest()}
			if vs[i].Response != nil {
				c.resp = vs[i].Response.PolicyResponse()
			}
			cases = append(cases, c)
		}
		source = pos[1]
	}
	m, err := loadLocal(ctx, pos[0], mf, stderr, plugins.Options{Profile: true})
	if err != nil {
		return err
	}
	defer m.Close(ctx)

	var decideCases []benchCase
	for _, c := range cases {
		if c.resp != nil {
			decideCases = append(decideCases, c)
		}
	}
	if len(decideCases) == 0 { // key-only vectors: decide on a typical response
		for _, c := range cases {
			decideCases = append(decideCases, benchCase{req: c.req, resp: benchResponse()})
		}
	}
	// Warm up: instances, the compiler's code in cache, the clock.
	benchKey(m.Module, m.Module, cases, 200)
	benchDecide(m.Module, m.Module, decideCases, 200)
	native := policy.Default{}
	wasmKey := benchKey(m.Module, m.Module, cases, *n)
	nativeKey := benchKey(native, nil, cases, *n)
	wasmDecide := benchDecide(m.Module, m.Module, decideCases, *n)
	nativeDecide := benchDecide(native, nil, decideCases, *n)
	insts, mem := m.InstanceMemory()

	fmt.Fprintf(stdout, "module   %s (%s), %d requests from %s, %d calls of each kind, GOMAXPROCS %d\n",
		m.Name(), pos[0], len(cases), filepath.Base(source), *n, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "         times include one clock read (%v); compare wasm and native of this run\n\n", clockCost())
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "call\tpolicy\tp50\tp99\tfuel/call\tfuel p99\tfuel max\tallocs/call\terrors\t")
	row := func(call, who string, s benchStats, fuel bool) {
		f := "-\t-\t-"
		if fuel {
			f = fmt.Sprintf("%.0f\t%d\t%d", s.fuelMean, s.fuelP99, s.fuelMax)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%.1f\t%d\t\n", call, who, s.p50, s.p99, f, s.allocs, s.errs)
	}
	row("key", "wasm", wasmKey, true)
	row("key", "native", nativeKey, false)
	row("decide", "wasm", wasmDecide, true)
	row("decide", "native", nativeDecide, false)
	if err := tw.Flush(); err != nil {
		return err
	}
	perInst := uint64(0)
	if insts > 0 {
		perInst = mem / uint64(insts)
	}
	fmt.Fprintf(stdout, "\ninstances %d live, %v linear memory each, %v in all\n", insts, units.Size(perInst), units.Size(mem))
	_, err = fmt.Fprintf(stdout, "wasm/native at p50: key %s, decide %s\n", ratio(wasmKey.p50, nativeKey.p50), ratio(wasmDecide.p50, nativeDecide.p50))
	if wasmKey.errs+wasmDecide.errs > 0 {
		return errors.Join(err, fmt.Errorf("%d key and %d decide calls failed (the gateway would use the fallback policy): run policy test", wasmKey.errs, wasmDecide.errs))
	}
	return err
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}

// clockCost is the median cost of the clock read each measured call
// includes.
func clockCost() time.Duration {
	ds := make([]time.Duration, 1001)
	for i := range ds {
		t := time.Now()
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchKey calls p.Key n times over cases, one at a time; prof, when not
// nil, gives the fuel of each call.
func benchKey(p policy.Policy, prof *plugins.Module, cases []benchCase, n int) benchStats {
	var k policy.Key
	return measure(prof, n, func(i int) error {
		k.Reset()
		return p.Key(cases[i%len(cases)].req, &k)
	})
}

// benchDecide calls p.Decide n times over cases, each from the default
// policy's decision as the gateway does.
func benchDecide(p policy.Policy, prof *plugins.Module, cases []benchCase, n int) benchStats {
	var d policy.Decision
	def := policy.Default{}
	defs := make([]policy.Decision, len(cases))
	for i, c := range cases {
		defs[i].Reset()
		_ = def.Decide(c.req, c.resp, &defs[i]) // the native default never fails
	}
	return measure(prof, n, func(i int) error {
		c := &cases[i%len(cases)]
		d = defs[i%len(cases)]
		return p.Decide(c.req, c.resp, &d)
	})
}

func measure(prof *plugins.Module, n int, call func(i int) error) benchStats {
	s := benchStats{calls: n}
	times := make([]time.Duration, n)
	var fuels []uint64
	if prof != nil {
		fuels = make([]uint64, 0, n)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	for i := range n {
		var before plugins.FuelProfile
		if prof != nil {
			before = prof.FuelProfile()
		}
		t := time.Now()
		err := call(i)
		times[i] = time.Since(t)
		if err != nil {
			s.errs++
		}
		if prof != nil {
			after := prof.FuelProfile()
			if after.Calls > before.Calls {
				fuels = append(fuels, after.Fuel-before.Fuel)
			}
		}
	}
	runtime.ReadMemStats(&ms)
	// The bookkeeping above allocates nothing per call (slices made
	// before): what is counted is the calls'.
	s.allocs = float64(ms.Mallocs-mallocs) / float64(n)
	slices.Sort(times)
	s.p50, s.p99 = times[n/2], times[n*99/100]
	if len(fuels) > 0 {
		var sum uint64
		for _, f := range fuels {
			sum += f
		}
		slices.Sort(fuels)
		s.fuelMean = float64(sum) / float64(len(fuels))
		s.fuelP99, s.fuelMax = fuels[len(fuels)*99/100], fuels[len(fuels)-1]
	}
	return s
}

// builtinBenchCases are realistic requests and responses: the design's
// measurement request (GET, 60-byte path, 5 query parameters, 8 header
// fields) and variations.
func builtinBenchCases() []benchCase {
	h := func(kv ...string) policy.Headers {
		var hs policy.Headers
		for i := 0; i+1 < len(kv); i += 2 {
			hs = append(hs, policy.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return hs
	}
	req := func(host, path, query string, headers policy.Headers) *policy.Request {
		headers = append(h("Host", host), headers...)
		return &policy.Request{Method: []byte("GET"), Scheme: []byte("https"), Host: []byte(host), Path: []byte(path),
			Query: []byte(query), Route: []byte("api"), Headers: headers}
	}
	browser := h("Accept", "application/json", "Accept-Encoding", "gzip, br", "Accept-Language", "en-GB,en;q=0.9",
		"User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"X-Request-Id", "0f8e4c1a-7b6d-4c3e-9a2f-1d5e6b7c8a90", "Cache-Control", "no-transform",
		"Referer", "https://www.example.com/")
	return []benchCase{
		{req("api.example.com", "/v1/catalog/products/electronics/phones/smartphones/item-12345",
			"utm_source=news&page=2&sort=price&utm_campaign=spring&color=black", browser), benchResponse()},
		{req("www.example.com", "/", "", h("User-Agent", "curl/8.5.0", "Accept", "*/*")), benchResponse()},
		{req("static.example.com", "/assets/app.3f2a1c.js", "", h("Accept", "*/*", "Accept-Encoding", "gzip")), benchResponse()},
		{req("api.example.com", "/v2/search", "q=phone&lang=en&limit=20&offset=40&fbclid=abc", browser), benchResponse()},
		{req("www.example.com", "/account", "", h("Cookie", "session=7c1f", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")), benchResponse()},
	}
}

// benchResponse is a typical cacheable response.
func benchResponse() *policy.Response {
	return &policy.Response{Status: 200, BodySize: 4096, Now: time.Unix(1700000000, 0), Headers: policy.Headers{
		{Name: []byte("Content-Type"), Value: []byte("application/json")},
		{Name: []byte("Cache-Control"), Value: []byte("public, max-age=60")},
		{Name: []byte("Date"), Value: []byte("Tue, 14 Nov 2023 22:13:20 GMT")},
		{Name: []byte("ETag"), Value: []byte(`"abc123"`)},
	}}
}
