package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve the limit, as the benchmark's binary
// does, so the smoke test runs the real process-starting path.
func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "limit" {
		if err := serveLimit(os.Getenv("E2EBENCH_ADDR")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func TestHistogram_percentile(t *testing.T) {
	t.Parallel()
	var h histogram
	if got := h.percentile(0.5); got != 0 {
		t.Errorf("empty percentile(0.5) = %d, want 0", got)
	}
	// 1..10000 µs, once each: p50 ≈ 5000, p99 ≈ 9900, within a bucket (1/32).
	for us := 1; us <= 10000; us++ {
		h.record(time.Duration(us) * time.Microsecond)
	}
	for _, tt := range []struct {
		p    float64
		want float64
	}{{0.5, 5000}, {0.99, 9900}, {0.0001, 1}, {1, 10000}} {
		got := float64(h.percentile(tt.p))
		if got > tt.want || got < tt.want*(1-1.0/histSub)-1 {
			t.Errorf("percentile(%v) = %v, want within 1/32 below %v", tt.p, got, tt.want)
		}
	}
	var other histogram
	other.record(time.Hour)
	h.merge(&other)
	if h.n != 10001 {
		t.Errorf("merged n = %d, want 10001", h.n)
	}
	if got := h.percentile(1); got < uint64(time.Hour.Microseconds())*31/32 {
		t.Errorf("after merge, percentile(1) = %d, want about an hour", got)
	}
}

func TestBucketOf_roundTrip(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, us := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1 << 20, 1<<40 + 12345, math.MaxUint64} {
		b := bucketOf(us)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d: out of order or range (prev %d, max %d)", us, b, prev, histBuckets)
		}
		prev = b
		low := bucketLow(b)
		if low > us || (us-low)*histSub > us {
			t.Errorf("bucketLow(bucketOf(%d)) = %d: not within 1/32 below", us, low)
		}
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := append([]float64(nil), tt.xs...)
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
		if fmt.Sprint(in) != fmt.Sprint(tt.xs) {
			t.Errorf("median modified its input: %v, was %v", tt.xs, in)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestZipf(t *testing.T) {
	t.Parallel()
	const n = 1000
	z := newZipf(n, 0.99)
	if got := z.rank(0); got != 1 {
		t.Errorf("rank(0) = %d, want 1", got)
	}
	if got := z.rank(0.9999999999); got < 1 || got > n {
		t.Errorf("rank(~1) = %d, want in 1..%d", got, n)
	}
	// Rank 1's share is 1/H(n, 0.99): about 0.133 for n = 1000.
	if p := z.cdf[0]; p < 0.12 || p > 0.15 {
		t.Errorf("P(rank 1) = %v, want about 0.133", p)
	}
	seen := map[int]bool{}
	for r := 1; r <= n; r++ {
		id := z.id(r)
		if id < 1 || id > n || seen[id] {
			t.Fatalf("id(%d) = %d: out of range or repeated", r, id)
		}
		seen[id] = true
	}
	wl := workloads(n, 10, 500)["zipf"]
	a, b := fillTargets(&wl, z), fillTargets(&wl, z)
	if len(a) != 500 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("fill: %d ids, deterministic %v; want 500, true", len(a), fmt.Sprint(a) == fmt.Sprint(b))
	}
	u := workloads(n, 10, 500)["uniform"]
	if got := fillTargets(&u, nil); fmt.Sprint(got) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Errorf("uniform fill = %v, want 1..10", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stat string
		want       int64
		wantErr    bool
	}{
		{name: "plain", stat: "1234 (flowcache) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0 0", want: 325},
		{name: "name with spaces and parens", stat: "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", want: 10},
		{name: "no name", stat: "42 a R 1", wantErr: true},
		{name: "short", stat: "42 (x) R 1 2 3", wantErr: true},
		{name: "not a number", stat: "42 (x) R 1 42 42 0 -1 0 0 0 0 0 u 3 0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.stat))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseStatCPU = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	if got := parseChildren([]byte("12 345 x 0 \n")); fmt.Sprint(got) != "[12 345]" {
		t.Errorf("parseChildren = %v, want [12 345]", got)
	}
	if selfCPU() < 0 {
		t.Error("selfCPU < 0")
	}
	if tree := procTree(os.Getpid()); len(tree) < 1 || tree[0] != os.Getpid() {
		t.Errorf("procTree(self) = %v, want it to start with %d", tree, os.Getpid())
	}
}

func TestReadResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		wantStatus int
		wantClose  bool
		wantErr    error // errBadResponse, or nil; other errors: any
		anyErr     bool
		rest       string // what must be left unread
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cache: HIT\r\n\r\nhelloNEXT", wantStatus: 200, rest: "NEXT"},
		{name: "no body", in: "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\nNEXT", wantStatus: 304, rest: "NEXT"},
		{name: "close", in: "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", wantStatus: 200, wantClose: true},
		{
			name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\nNEXT",
			wantStatus: 200, rest: "NEXT",
		},
		{name: "bad status line", in: "HTP/1.1 200 OK\r\n\r\n", wantErr: errBadResponse},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: errBadResponse},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: errBadResponse},
		{name: "bad header", in: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", wantErr: errBadResponse},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: errBadResponse},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naX\r\n", wantErr: errBadResponse},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", anyErr: true},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Le", anyErr: true},
	}
	for _, tt := range tests {
		r := bufio.NewReader(strings.NewReader(tt.in))
		status, closeConn, err := readResponse(r)
		switch {
		case tt.wantErr != nil || tt.anyErr:
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			}
			continue
		case err != nil:
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		rest, _ := r.Peek(r.Buffered())
		if status != tt.wantStatus || closeConn != tt.wantClose || string(rest) != tt.rest {
			t.Errorf("%s: = %d, close %v, rest %q; want %d, %v, %q", tt.name, status, closeConn, rest, tt.wantStatus, tt.wantClose, tt.rest)
		}
	}
}

func TestRequestSource_next(t *testing.T) {
	t.Parallel()
	wls := workloads(100, 10, 50)
	for _, tt := range []struct {
		wl   string
		want string // prefix of the request line
	}{
		{"hot", "GET /obj/1?size=1024 HTTP/1.1\r\nHost: h:1\r\n\r\n"},
		{"big", "GET /obj/2?size=1048576 HTTP/1.1\r\n"},
		{"miss", "GET /obj/1?size=1024&u=T-1 HTTP/1.1\r\n"},
		{"uniform", "GET /obj/"},
	} {
		wl := wls[tt.wl]
		s := &requestSource{wl: &wl, host: "h:1", tag: "T", rng: newTestRand()}
		got := string(s.next(nil))
		if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, "\r\n\r\n") {
			t.Errorf("%s: next = %q, want prefix %q", tt.wl, got, tt.want)
		}
	}
}

func TestParseOptions_errors(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	_, err := parseOptions([]string{"-workloads", "hot,nope", "-targets", "limit,caddy", "-target", "bad", "-rounds", "0", "-duration", "0s"}, &stderr)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`unknown "nope"`, `unknown "caddy"`, `-target "bad"`, "-rounds", "-duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	o, err := parseOptions([]string{"-target", "ours=./ours -listen $ADDR", "-pin=false"}, &stderr)
	if err != nil || len(o.extra) != 1 || o.extra[0].name != "ours" || !o.extra[0].cache {
		t.Errorf("-target ours=...: %+v, %v", o, err)
	}
	if n, err := parseOriginStats(strings.NewReader("requests=42\n")); n != 42 || err != nil {
		t.Errorf("parseOriginStats = %d, %v; want 42", n, err)
	}
	if _, err := parseOriginStats(strings.NewReader("nothing\n")); err == nil {
		t.Error("parseOriginStats(nothing): no error")
	}
}

func TestParseCPUList(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"0": 1, "0-1": 2, "0-3,6,8-9": 7, "": 0, "3-1": 0, "x": 0, "0-": 0} {
		if got := parseCPUList(in); got != want {
			t.Errorf("parseCPUList(%q) = %d, want %d", in, got, want)
		}
	}
	if hostCPUs() < 1 {
		t.Error("hostCPUs() < 1")
	}
}

func TestWorkloadTable(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	ss := []sample{
		{workload: "hot", target: "flowcache", round: 1, rps: 80, p50: 10, p99: 20, cpuPerReq: 5, hit: 1},
		{workload: "hot", target: "limit", round: 1, rps: 100, p50: 8, p99: 15, cpuPerReq: 4, hit: nan},
		{workload: "hot", target: "limit", round: 2, rps: 50, hit: nan},
		{workload: "hot", target: "flowcache", round: 2, rps: 45, hit: 1, errors: 2},
	}
	got := workloadTable(ss)
	// Ratios per round: 0.8 and 0.9 → median 0.85; the limit comes first.
	for _, want := range []string{"## hot: one URL, 1 KiB", "| limit | 75 | 1.00 |", "| flowcache | 62 | 0.85 |", "| 1.000 | 2 |", "| – | 0 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "| limit") > strings.Index(got, "| flowcache") {
		t.Errorf("the baseline is not first:\n%s", got)
	}
}

// TestRun_smoke runs the whole benchmark, briefly, against the limit only
// (started as a process, as in a real run): workloads, fill passes, CPU
// accounting and the report.
func TestRun_smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process and loads it for about a second")
	}
	t.Parallel()
	var out, errb bytes.Buffer
	file := t.TempDir() + "/report.md"
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := run(ctx, []string{
		"-targets", "limit", "-workloads", "hot,uniform,zipf,big", "-pin=false",
		"-duration", "150ms", "-warm", "50ms", "-fill-max", "1s", "-rounds", "2", "-conns", "4",
		"-zipf-objects", "200", "-uniform-objects", "20", "-zipf-fill", "100", "-out", file,
	}, &out, &errb)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	rep, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## hot", "## uniform", "## zipf", "## big", "| limit |", "wall time"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	if strings.Contains(errb.String(), "first error") {
		t.Errorf("requests failed:\n%s", errb.String())
	}
	if !strings.Contains(out.String(), "| limit |") {
		t.Errorf("stdout lacks the tables:\n%s", out.String())
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
