package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pinnedEnv marks the benchmark re-executed under taskset.
const pinnedEnv = "E2EBENCH_PINNED"

// options are e2ebench's flags.
type options struct {
	targets     []string
	extra       []target
	workloads   []string
	duration    time.Duration
	warm        time.Duration
	fillMax     time.Duration
	rounds      int
	conns       int
	origin      string
	flowcache   string
	originDelay time.Duration
	pin         bool
	zipfObjs    int
	uniformObjs int
	zipfFill    int
	out         string
	policy      string
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("e2ebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targets := fs.String("targets", "limit,flowcache,nginx,varnish", "servers to compare, in order (nginx and varnish are skipped when not installed)")
	var extra listFlag
	fs.Var(&extra, "target", "an extra target NAME=COMMAND, run with bash -c; it must listen on $ADDR and proxy to $ORIGIN (repeatable)")
	wls := fs.String("workloads", "hot,uniform,zipf,miss,big", "workloads to run, in order")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of each measured run")
	fs.DurationVar(&o.warm, "warm", time.Second, "warm-up run of the hot, miss and big workloads")
	fs.DurationVar(&o.fillMax, "fill-max", 4*time.Second, "bound of the fill pass of uniform and zipf")
	fs.IntVar(&o.rounds, "rounds", 3, "measured rounds, targets interleaved in each (the report gives medians)")
	fs.IntVar(&o.conns, "conns", 64, "keep-alive connections, one request in flight each")
	fs.StringVar(&o.origin, "origin", "bin/origin", "the example origin binary (make build)")
	fs.StringVar(&o.flowcache, "flowcache", "bin/flowcache", "the flowcache binary (make build)")
	fs.DurationVar(&o.originDelay, "origin-delay", 2*time.Millisecond, "latency the origin adds to every answer (a backend's own time)")
	// Re-executed under taskset (see reexecPinned), this process sees one
	// CPU: the environment says it was asked to pin.
	pinDefault := os.Getenv(pinnedEnv) != "" || hostCPUs() >= 2
	if _, err := exec.LookPath("taskset"); err != nil {
		pinDefault = false
	}
	fs.BoolVar(&o.pin, "pin", pinDefault, "servers on CPU 0 with one core's worth of threads, client and origin on CPU 1 (needs taskset and 2 CPUs)")
	fs.IntVar(&o.zipfObjs, "zipf-objects", 100000, "distinct objects of the zipf workload")
	fs.IntVar(&o.uniformObjs, "uniform-objects", 10000, "distinct objects of the uniform workload")
	fs.IntVar(&o.zipfFill, "zipf-fill", 50000, "requests of the zipf fill pass")
	fs.StringVar(&o.out, "out", "", "also write the report (Markdown) to this file")
	fs.StringVar(&o.policy, "policy", "", "a policy module (.wasm): adds the target flowcache+NAME, flowcache with its route on that policy")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.targets = splitList(*targets)
	o.workloads = splitList(*wls)
	known := workloads(1, 1, 1)
	var errs []error
	for _, w := range o.workloads {
		if _, ok := known[w]; !ok {
			errs = append(errs, fmt.Errorf("-workloads: unknown %q (hot, uniform, zipf, miss, big)", w))
		}
	}
	builtin := builtinTargets()
	for _, t := range o.targets {
		if _, ok := builtin[t]; !ok {
			errs = append(errs, fmt.Errorf("-targets: unknown %q (limit, flowcache, nginx, varnish; others with -target)", t))
		}
	}
	for _, spec := range extra {
		t, err := commandTarget(spec)
		errs = append(errs, err)
		if err == nil {
			o.extra = append(o.extra, t)
		}
	}
	switch {
	case o.duration <= 0 || o.duration > 10*time.Minute:
		errs = append(errs, errors.New("-duration: want (0, 10m]"))
	case o.warm < 0 || o.warm > time.Minute, o.fillMax <= 0 || o.fillMax > 10*time.Minute:
		errs = append(errs, errors.New("-warm: want [0, 1m]; -fill-max: want (0, 10m]"))
	}
	if o.rounds < 1 || o.rounds > 20 || o.conns < 1 || o.conns > 4096 {
		errs = append(errs, errors.New("-rounds: want 1-20; -conns: want 1-4096"))
	}
	if o.zipfObjs < 2 || o.uniformObjs < 1 || o.zipfFill < 0 {
		errs = append(errs, errors.New("-zipf-objects, -uniform-objects, -zipf-fill: want positive counts"))
	}
	if o.originDelay < 0 || o.originDelay > time.Second {
		errs = append(errs, errors.New("-origin-delay: want [0, 1s]"))
	}
	return o, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sample is one measured run of one target.
type sample struct {
	workload, target string
	round            int
	rps              float64
	p50, p99         uint64 // µs
	cpuPerReq        float64
	clientCPUPerReq  float64
	hit              float64 // NaN when not a cache
	errors           int64
	firstErr         error
	mbps             float64
}

// run is e2ebench: it starts the servers, runs every workload and prints the
// report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.pin && os.Getenv(pinnedEnv) == "" {
		return reexecPinned()
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "e2ebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := &benchEnv{dir: dir, flowcache: o.flowcache, cpu: -1, procs: 2, self: self}
	if o.pin {
		env.cpu, env.procs = 0, 1
	}
	for _, p := range []*string{&env.flowcache, &o.origin} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}

	var targets []target
	builtin := builtinTargets()
	for _, name := range o.targets {
		targets = append(targets, builtin[name])
	}
	if o.policy != "" {
		abs, err := filepath.Abs(o.policy)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("-policy: %w", err)
		}
		targets = append(targets, policyTarget(abs))
	}
	targets = append(targets, o.extra...)
	needOrigin := slices.Contains(o.workloads, "miss")
	for _, t := range targets {
		needOrigin = needOrigin || t.cache
	}
	var origin *server
	if needOrigin {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		originCPU := -1
		if o.pin {
			originCPU = 1
		}
		origin, err = startServer("origin", addr, dir, originCPU, []string{"GOMAXPROCS=" + strconv.Itoa(env.procs)},
			o.origin, "-addr", addr, "-obj-delay", o.originDelay.String())
		if err != nil {
			return fmt.Errorf("%w (make build)", err)
		}
		defer origin.stop()
		env.originAddr = addr
	}

	start := time.Now()
	head := header(o, targets)
	fmt.Fprint(stdout, head)
	var samples []sample
	wls := workloads(o.zipfObjs, o.uniformObjs, o.zipfFill)
	for _, name := range o.workloads {
		wl := wls[name]
		ss, err := runWorkload(ctx, o, env, origin, &wl, targets, stderr)
		samples = append(samples, ss...)
		if err != nil {
			return err
		}
	}
	rep := head + report(o, samples) + fmt.Sprintf("\nload average at the end: %s; wall time %s\n", loadAvg(), time.Since(start).Round(time.Second))
	fmt.Fprint(stdout, strings.TrimPrefix(rep, head))
	if o.out != "" {
		return os.WriteFile(o.out, []byte(rep), 0o644)
	}
	return nil
}

// reexecPinned runs this benchmark again under taskset on CPU 1, so the
// client (and its Go threads) stay off the servers' CPU.
func reexecPinned() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return err
	}
	env := append(os.Environ(), pinnedEnv+"=1")
	return syscall.Exec(ts, append([]string{"taskset", "-c", "1", self}, os.Args[1:]...), env)
}

// runWorkload starts every target afresh (empty caches), warms or fills
// them, then measures o.rounds rounds, the order of the targets rotating
// from one round to the next; the servers are stopped before it returns.
func runWorkload(ctx context.Context, o *options, env *benchEnv, origin *server, wl *workload, targets []target, stderr io.Writer) ([]sample, error) {
	type live struct {
		t   target
		srv *server
	}
	var lives []live
	defer func() {
		for _, l := range lives {
			if l.srv != origin {
				l.srv.stop()
			}
		}
		_ = os.RemoveAll(filepath.Join("/dev/shm", "e2ebench-nginx-"+strconv.Itoa(os.Getpid()))) // nginx's tmpfs cache
	}()
	if wl.miss {
		lives = append(lives, live{t: target{name: "origin"}, srv: origin})
	}
	for _, t := range targets {
		if wl.miss && !t.cache {
			continue // the limit answers from memory: no miss to compare
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s, err := t.start(ctx, env, addr)
		if errors.Is(err, errSkip) {
			fmt.Fprintf(stderr, "%s: skipped (%v)\n", t.name, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		lives = append(lives, live{t: t, srv: s})
	}
	var z *zipf
	if wl.zipfS > 0 {
		z = newZipf(wl.objs, wl.zipfS)
	}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	// Warm: the same requests for everyone.
	for _, l := range lives {
		spec := &loadSpec{addr: l.srv.addr, conns: o.conns, duration: o.warm, wl: wl, z: z, tag: tag + "w" + l.t.name, seed: 999}
		if wl.fill != "" {
			spec.fixed, spec.duration = fillTargets(wl, z), o.fillMax
		}
		if spec.duration > 0 {
			if r := runLoad(ctx, spec); r.requests == 0 && r.errors > 0 {
				return nil, fmt.Errorf("%s/%s: warm-up: every request failed: %w", wl.name, l.t.name, r.firstErr)
			}
		}
	}
	var out []sample
	for r := range o.rounds {
		for i := range lives {
			l := lives[(i+r)%len(lives)]
			if err := ctx.Err(); err != nil {
				return out, err
			}
			s := measure(ctx, o, origin, wl, z, l.t, l.srv, r+1, tag)
			fmt.Fprintf(stderr, "%s %s r%d: %.0f req/s p50 %dµs p99 %dµs cpu %.1fµs/req errors %d\n",
				wl.name, l.t.name, r+1, s.rps, s.p50, s.p99, s.cpuPerReq, s.errors)
			if s.firstErr != nil {
				fmt.Fprintf(stderr, "  first error: %v\n", s.firstErr)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// measure runs one bounded load against one target and reads the CPU its
// process tree and the client used, and the requests the origin answered.
func measure(ctx context.Context, o *options, origin *server, wl *workload, z *zipf, t target, srv *server, round int, tag string) sample {
	o0 := originRequests(origin, t.cache)
	c0, self0 := srv.cpuTicks(), selfCPU()
	res := runLoad(ctx, &loadSpec{
		addr: srv.addr, conns: o.conns, duration: o.duration, wl: wl, z: z,
		tag: tag + "r" + strconv.Itoa(round) + t.name, seed: uint64(time.Now().UnixNano()),
	})
	c1, self1 := srv.cpuTicks(), selfCPU()
	o1 := originRequests(origin, t.cache)
	s := sample{
		workload: wl.name, target: t.name, round: round,
		p50: res.lat.percentile(0.50), p99: res.lat.percentile(0.99),
		errors: res.errors, firstErr: res.firstErr, hit: math.NaN(),
	}
	if sec := res.elapsed.Seconds(); sec > 0 {
		s.rps = float64(res.requests) / sec
		s.mbps = float64(res.bytes) / sec / 1e6
	}
	if res.requests > 0 {
		perTick := 1e6 / clockTicks / float64(res.requests)
		s.cpuPerReq = float64(c1-c0) * perTick
		s.clientCPUPerReq = float64(self1-self0) * perTick
		if o0 >= 0 && o1 >= 0 {
			s.hit = min(1, max(0, 1-float64(o1-o0)/float64(res.requests)))
		}
	}
	return s
}

// originRequests returns the origin's request count, or -1 when there is
// no origin, the target is not a cache, or the count cannot be read.
func originRequests(origin *server, cache bool) int64 {
	if origin == nil || !cache {
		return -1
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + origin.addr + "/stats")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	n, err := parseOriginStats(resp.Body)
	if err != nil {
		return -1
	}
	return n
}

// parseOriginStats reads the origin's "requests=N" answer.
func parseOriginStats(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 4096))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "requests="); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("origin /stats: no requests= line")
}

// loadAvg returns /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// hostCPUs returns the machine's online CPUs, whatever this process's
// affinity (runtime.NumCPU counts only the CPUs it may run on).
func hostCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := parseCPUList(strings.TrimSpace(string(b)))
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// parseCPUList counts the CPUs of a kernel CPU list such as "0-3,6,8-9";
// 0 when it is malformed.
func parseCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// cpuModel returns /proc/cpuinfo's first model name.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// version runs argv and returns the first line of its output.
func version(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// header describes the machine and the run.
func header(o *options, targets []target) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# e2ebench %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- host: %d CPUs (%s), %s, load average at start %s\n", hostCPUs(), cpuModel(), runtime.GOOS+"/"+runtime.GOARCH, loadAvg())
	if o.pin {
		b.WriteString("- pinned: every server on CPU 0 (GOMAXPROCS=1, nginx 1 worker, Varnish 1 thread pool); the load client and the origin on CPU 1\n")
	} else {
		b.WriteString("- not pinned: servers, client and origin share every CPU (servers: GOMAXPROCS=2, 2 nginx workers, 2 Varnish pools)\n")
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.name)
	}
	fmt.Fprintf(&b, "- targets: %s; %d connections; %s per measured run, %d rounds interleaved; origin delay %s\n",
		strings.Join(names, ", "), o.conns, o.duration, o.rounds, o.originDelay)
	var vs []string
	if slices.Contains(names, "nginx") {
		if v := version("nginx", "-v"); v != "" {
			vs = append(vs, v)
		}
	}
	if slices.Contains(names, "varnish") {
		if v := version("varnishd", "-V"); v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) > 0 {
		fmt.Fprintf(&b, "- peers: %s\n", strings.Join(vs, "; "))
	}
	b.WriteString("- the client is Go on the same machine: its CPU per request is shown; a server faster than the client cannot show it\n\n")
	return b.String()
}

// report renders the samples: for each workload, each target's medians over
// the rounds and its ratio to the baseline of the same round (the limit, or
// the origin straight for the miss workload).
func report(o *options, samples []sample) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, s := range samples {
		if seen[s.workload] {
			continue
		}
		seen[s.workload] = true
		var ws []sample
		for _, x := range samples {
			if x.workload == s.workload {
				ws = append(ws, x)
			}
		}
		b.WriteString(workloadTable(ws))
	}
	return b.String()
}

// workloadTitle describes a workload in the report.
var workloadTitle = map[string]string{
	"hot":     "hot: one URL, 1 KiB",
	"uniform": "uniform: 10k URLs, 4 KiB, after a fill pass",
	"zipf":    "zipf: s=0.99 over 100k URLs, 4 KiB, after the same 50k-request fill pass",
	"miss":    "miss: every request a new URL, 1 KiB (ratio to the origin straight)",
	"big":     "big: one URL, 1 MiB",
}

// workloadTable renders one workload's samples.
func workloadTable(ws []sample) string {
	base := "limit"
	if ws[0].workload == "miss" {
		base = "origin"
	}
	baseRPS := map[int]float64{}
	var order []string
	for _, s := range ws {
		if s.target == base {
			baseRPS[s.round] = s.rps
		}
		if !slices.Contains(order, s.target) {
			order = append(order, s.target)
		}
	}
	// The baseline first, then the order of the command line.
	slices.SortStableFunc(order, func(a, b string) int {
		switch {
		case a == base && b != base:
			return -1
		case b == base && a != base:
			return 1
		}
		return 0
	})
	var b strings.Builder
	title := workloadTitle[ws[0].workload]
	if title == "" {
		title = ws[0].workload
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	fmt.Fprintf(&b, "| target | req/s | × %s | p50 µs | p99 µs | server CPU µs/req | client CPU µs/req | MB/s | hit | errors |\n", base)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range order {
		var rps, ratio, p50, p99, cpu, ccpu, mbps, hit []float64
		var errs int64
		for _, s := range ws {
			if s.target != t {
				continue
			}
			rps = append(rps, s.rps)
			if br := baseRPS[s.round]; br > 0 {
				ratio = append(ratio, s.rps/br)
			}
			p50 = append(p50, float64(s.p50))
			p99 = append(p99, float64(s.p99))
			cpu = append(cpu, s.cpuPerReq)
			ccpu = append(ccpu, s.clientCPUPerReq)
			mbps = append(mbps, s.mbps)
			if !math.IsNaN(s.hit) {
				hit = append(hit, s.hit)
			}
			errs += s.errors
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %.0f | %.0f | %.1f | %.1f | %.0f | %s | %d |\n", t,
			median(rps), fmtOr(median(ratio), "%.2f"), median(p50), median(p99), median(cpu), median(ccpu),
			median(mbps), fmtOr(median(hit), "%.3f"), errs)
	}
	b.WriteString("\n")
	return b.String()
}

// fmtOr formats x, or "–" when it is NaN.
func fmtOr(x float64, format string) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}
