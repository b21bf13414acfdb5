package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// serveEnv, when set in the environment, makes this binary a server instead
// of the benchmark: "limit" serves the bare fasthttp baseline on the address
// in $E2EBENCH_ADDR. The benchmark starts itself that way, so the baseline
// runs in its own process, measured like every other server.
const serveEnv = "E2EBENCH_SERVE"

// serveLimit is the baseline: bare fasthttp answering every /obj/N?size=S
// from memory with the headers the origin sends (no cache lookup, no
// upstream): the ceiling of a Go HTTP/1.1 server on this machine.
func serveLimit(addr string) error {
	var bodies = map[int][]byte{}
	for _, size := range []int{1024, 4096, 1 << 20} {
		b := make([]byte, size)
		for i := range b {
			b[i] = 'a' + byte(i%26)
		}
		bodies[size] = b
	}
	h := func(ctx *fasthttp.RequestCtx) {
		size := 1024
		if v := ctx.QueryArgs().Peek("size"); v != nil {
			if n, err := strconv.Atoi(string(v)); err == nil {
				size = n
			}
		}
		b, ok := bodies[size]
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		ctx.Response.Header.Set("Cache-Control", "public, max-age=3600")
		ctx.Response.Header.Set("ETag", `"limit-`+strconv.Itoa(size)+`"`)
		ctx.SetContentType("application/octet-stream")
		ctx.Response.SetBodyRaw(b)
	}
	s := &fasthttp.Server{Handler: h, Name: "limit", Concurrency: 1 << 16}
	return s.ListenAndServe(addr)
}

// server is one process the benchmark started: a target or the origin.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	dir  string
	log  *bytes.Buffer
	done chan struct{}
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	_ = ln.Close() // only the number was wanted
	return addr, nil
}

// startServer runs argv (through taskset when cpu >= 0) with env added,
// and waits (at most 15s) until addr accepts connections.
func startServer(name, addr, dir string, cpu int, env []string, argv ...string) (*server, error) {
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var lg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lg, &lg
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers stop with it
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, dir: dir, log: &lg, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }() // the exit is seen through done
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close() // a probe
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited before listening on %s: %s", name, addr, tail(lg.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not listen on %s within 15s: %s", name, addr, tail(lg.String()))
		}
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after 5s.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM) // already gone is fine
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // as above
		<-s.done
	}
}

// cpuTicks is the CPU time of the server's process tree.
func (s *server) cpuTicks() int64 { return treeCPU(s.cmd.Process.Pid) }

// tail returns the last lines of a server's output, for an error.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// target is a server under test: how to start it against an origin.
type target struct {
	name  string
	cache bool // a cache in front of the origin (not the limit)
	start func(ctx context.Context, env *benchEnv, addr string) (*server, error)
}

// benchEnv is what starting a target needs.
type benchEnv struct {
	dir        string // scratch directory of the run
	originAddr string
	flowcache  string // path of the flowcache binary
	cpu        int    // servers' CPU, -1 when not pinned
	procs      int    // GOMAXPROCS / workers of the servers
	self       string // this binary, for the limit
}

// builtinTargets returns the targets the run knows, by name.
func builtinTargets() map[string]target {
	return map[string]target{
		"limit": {name: "limit", start: func(_ context.Context, e *benchEnv, addr string) (*server, error) {
			return startServer("limit", addr, e.dir, e.cpu,
				[]string{serveEnv + "=limit", "E2EBENCH_ADDR=" + addr, "GOMAXPROCS=" + strconv.Itoa(e.procs)}, e.self)
		}},
		"flowcache": {name: "flowcache", cache: true, start: startFlowcache},
		"nginx":     {name: "nginx", cache: true, start: startNginx},
		"varnish":   {name: "varnish", cache: true, start: startVarnish},
	}
}

// flowcacheConfig is the configuration the benchmark runs flowcache with:
// one route to the origin, L1 only, quiet logs, and the default policy or,
// when policy is a module's path, that module.
func flowcacheConfig(listen, admin, origin, policy string) string {
	conf := fmt.Sprintf(`[server]
listen = %q
[admin]
listen = %q
[cache]
l1_size = "1GiB"
max_object_size = "8MiB"
[log]
level = "warn"
[[routes]]
name = "bench"
host = "*"
path_prefix = "/"
upstreams = ["http://%s"]
max_conns_per_upstream = 1024
`, listen, admin, origin)
	if policy != "" {
		conf += fmt.Sprintf("policy = \"bench\"\n[policies.bench]\nmodule = %q\n", policy)
	}
	return conf
}

func startFlowcache(ctx context.Context, e *benchEnv, addr string) (*server, error) {
	return startFlowcacheWith(ctx, e, addr, "flowcache", "")
}

// policyTarget is flowcache with its route on the policy module at path.
func policyTarget(path string) target {
	name := "flowcache+" + strings.TrimSuffix(filepath.Base(path), ".wasm")
	return target{name: name, cache: true, start: func(ctx context.Context, e *benchEnv, addr string) (*server, error) {
		return startFlowcacheWith(ctx, e, addr, name, path)
	}}
}

func startFlowcacheWith(_ context.Context, e *benchEnv, addr, name, policy string) (*server, error) {
	if _, err := os.Stat(e.flowcache); err != nil {
		return nil, fmt.Errorf("flowcache binary: %w (make build)", err)
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "flowcache.toml")
	if err := os.WriteFile(conf, []byte(flowcacheConfig(addr, admin, e.originAddr, policy)), 0o600); err != nil {
		return nil, err
	}
	return startServer(name, addr, dir, e.cpu, []string{"GOMAXPROCS=" + strconv.Itoa(e.procs)},
		e.flowcache, "serve", "-config", conf)
}

// nginxConfig is nginx with proxy_cache, tuned as an operator would for a
// benchmark: keep-alive to clients and to the origin, no access log, the
// cache on tmpfs when there is one, cache lock on (coalescing, as
// flowcache does).
func nginxConfig(dir, cacheDir, listen, origin string, workers int, userLine string) string {
	return fmt.Sprintf(`%s
worker_processes %d;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  default_type application/octet-stream;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 100000;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fcgi; uwsgi_temp_path %s/tmp/uwsgi; scgi_temp_path %s/tmp/scgi;
  proxy_cache_path %s levels=1:2 keys_zone=pcache:64m max_size=4g inactive=60m use_temp_path=off;
  upstream origin {
    server %s;
    keepalive 64;
    keepalive_requests 100000;
  }
  server {
    listen %s backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_cache pcache;
      proxy_cache_key $scheme$host$request_uri;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 5s;
      proxy_cache_revalidate on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_cache_background_update on;
    }
  }
}
`, userLine, workers, dir, dir, dir, dir, dir, dir, dir, cacheDir, origin, listen)
}

func startNginx(_ context.Context, e *benchEnv, addr string) (*server, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, errSkip
	}
	dir := filepath.Join(e.dir, "nginx")
	cacheDir := filepath.Join(dir, "cache")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		// tmpfs: what an operator benchmarking nginx would use; removed
		// with the server (stop leaves it; the run's cleanup removes it).
		cacheDir = filepath.Join("/dev/shm", "e2ebench-nginx-"+strconv.Itoa(os.Getpid()))
	}
	_ = os.RemoveAll(cacheDir) // a leftover of an earlier workload
	for _, d := range []string{filepath.Join(dir, "tmp"), cacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// As root, nginx's workers would switch to "nobody", who cannot
	// write the directories made here: run them as root instead.
	userLine := ""
	if os.Geteuid() == 0 {
		userLine = "user root;"
		if u, err := user.LookupId("0"); err == nil {
			userLine = "user " + u.Username + ";"
		}
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(dir, cacheDir, addr, e.originAddr, e.procs, userLine)), 0o600); err != nil {
		return nil, err
	}
	s, err := startServer("nginx", addr, dir, e.cpu, nil, bin, "-p", dir, "-c", conf)
	if s != nil {
		s.dir = cacheDir
	}
	return s, err
}

func startVarnish(_ context.Context, e *benchEnv, addr string) (*server, error) {
	bin, err := exec.LookPath("varnishd")
	if err != nil {
		return nil, errSkip
	}
	dir := filepath.Join(e.dir, "varnish")
	_ = os.RemoveAll(dir) // a leftover of an earlier workload
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return startServer("varnish", addr, dir, e.cpu, nil, bin, "-F", "-n", dir, "-a", addr, "-b", e.originAddr,
		"-s", "malloc,1G", "-T", "none",
		"-p", "thread_pools="+strconv.Itoa(e.procs), "-p", "thread_pool_min=100", "-p", "thread_pool_max=2000")
}

// errSkip says a peer is not installed: the run goes on without it.
var errSkip = errors.New("not installed")

// commandTarget is a target given on the command line: NAME=COMMAND, run
// with bash -c, with PORT, ADDR and ORIGIN (http://host:port) in its
// environment; it must listen on $ADDR and proxy to $ORIGIN.
func commandTarget(spec string) (target, error) {
	name, command, ok := strings.Cut(spec, "=")
	if !ok || name == "" || command == "" || strings.ContainsAny(name, " \t,") {
		return target{}, fmt.Errorf("-target %q: want NAME=COMMAND", spec)
	}
	return target{name: name, cache: true, start: func(_ context.Context, e *benchEnv, addr string) (*server, error) {
		_, port, _ := net.SplitHostPort(addr) // addr comes from freeAddr
		dir := filepath.Join(e.dir, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		return startServer(name, addr, dir, e.cpu,
			[]string{"PORT=" + port, "ADDR=" + addr, "ORIGIN=http://" + e.originAddr, "GOMAXPROCS=" + strconv.Itoa(e.procs)},
			"bash", "-c", command)
	}}, nil
}
