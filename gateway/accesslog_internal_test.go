package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/internal/poll"
)

// lockedBuffer is an io.Writer for the access log's writer goroutine and
// the test reading it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLines waits until read returns at least n lines, and returns them.
func waitLines(t *testing.T, read func() string, n int) []string {
	t.Helper()
	var lines []string
	poll.WaitFor(t, fmt.Sprintf("%d access log lines", n), func() bool {
		s := read()
		lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		return s != "" && len(lines) >= n
	})
	return lines
}

// accessGateway is a gateway whose access log (format, to out) is on.
func accessGateway(t *testing.T, format string, out io.Writer, edit func(*Config)) *Gateway {
	t.Helper()
	up := testOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		ctx.SetBodyString("hello")
	})
	cfg := testConfig(up)
	cfg.Log.Access = format
	if edit != nil {
		edit(cfg)
	}
	return newTestGatewayWith(t, cfg, Options{AccessLog: out})
}

// TestAccessLog_JSON: one JSON line per request with what the issue asks:
// method, host, target, status, bytes, duration, upstream duration (null
// when the upstream was not asked), the X-Cache outcome, route, policy,
// and the client as trusted_proxies resolve it.
func TestAccessLog_JSON(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	g := accessGateway(t, accessJSON, &out, func(c *Config) { c.Server.TrustedProxies = []string{"127.0.0.0/8"} })
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/a?x=1", "example.test", "X-Forwarded-For", "198.51.100.9"), loopbackAddr)
	serve(g, &ctx, newRequest("GET", "/a?x=1", "example.test"), remoteAddr)
	serve(g, &ctx, newRequest("HEAD", "/a?x=1", "example.test"), remoteAddr)
	lines := waitLines(t, out.String, 3)
	type line struct {
		Time     string   `json:"time"`
		Client   string   `json:"client"`
		Method   string   `json:"method"`
		Host     string   `json:"host"`
		Target   string   `json:"target"`
		Status   int      `json:"status"`
		Bytes    int64    `json:"bytes"`
		Duration float64  `json:"duration"`
		Upstream *float64 `json:"upstream_duration"`
		Cache    string   `json:"cache"`
		Route    string   `json:"route"`
		Policy   string   `json:"policy"`
	}
	var got []line
	for _, s := range lines {
		var l line
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", s, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, l.Time); err != nil {
			t.Errorf("time %q: %v", l.Time, err)
		}
		if l.Duration < 0 || l.Method == "" || l.Host != "example.test" || l.Target != "/a?x=1" || l.Route != "api" || l.Policy != "default" || l.Status != 200 {
			t.Errorf("line %q: a field is wrong", s)
		}
		got = append(got, l)
	}
	for i, want := range []struct {
		client, cache string
		bytes         int64
		upstream      bool
	}{
		{"198.51.100.9", "MISS", 5, true},
		{"203.0.113.7", "HIT", 5, false},
		{"203.0.113.7", "HIT", 0, false},
	} {
		l := got[i]
		if l.Client != want.client || l.Cache != want.cache || l.Bytes != want.bytes || (l.Upstream != nil) != want.upstream {
			t.Errorf("line %d = %+v, want client %s, cache %s, bytes %d, upstream measured %v", i, l, want.client, want.cache, want.bytes, want.upstream)
		}
		if l.Upstream != nil && *l.Upstream <= 0 {
			t.Errorf("line %d: upstream_duration %v, want > 0", i, *l.Upstream)
		}
	}
}

// TestAccessLog_Combined: the combined format, with the extra fields
// after it, escaped so that a field never spans a separator.
func TestAccessLog_Combined(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	g := accessGateway(t, accessCombined, &out, nil)
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/c", "example.test", "User-Agent", `evil" agent`, "Referer", "http://r.example/"), remoteAddr)
	serve(g, &ctx, newRequest("GET", "/x", "nowhere.test"), remoteAddr)
	lines := waitLines(t, out.String, 2)
	re := regexp.MustCompile(`^203\.0\.113\.7 - - \[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /c HTTP/1\.1" 200 5 "http://r\.example/" "evil\\x22\\x20agent" host=example\.test cache=MISS route=api policy=default duration=\d+\.\d{6} upstream_duration=\d+\.\d{6}$`)
	if !re.MatchString(lines[0]) {
		t.Errorf("combined line\n%s\ndoes not match\n%s", lines[0], re)
	}
	if !strings.Contains(lines[1], `"-" "-" host=nowhere.test`) {
		t.Errorf("combined line without referer and agent: %s", lines[1])
	}
}

// TestAccessLog_NoRoute: a request that matched no route is logged with
// route and policy "-".
func TestAccessLog_NoRoute(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	g := accessGateway(t, accessJSON, &out, func(c *Config) { c.Routes[0].Host = "only.test" })
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/x", "other.test"), remoteAddr)
	l := waitLines(t, out.String, 1)[0]
	if !strings.Contains(l, `"status":404`) || !strings.Contains(l, `"route":"-","policy":"-"`) {
		t.Errorf("no-route line: %s", l)
	}
}

// TestAccessLog_Reopen: after the file is moved away (logrotate),
// ReopenAccessLog makes the next lines go to a new file at the path.
func TestAccessLog_Reopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "access.log")
	g := accessGateway(t, accessJSON, io.Discard, func(c *Config) { c.Log.AccessFile = path })
	read := func(p string) func() string {
		return func() string { b, _ := os.ReadFile(p); return string(b) } //nolint:errcheck // a missing file reads as empty until written
	}
	var ctx fasthttp.RequestCtx
	serve(g, &ctx, newRequest("GET", "/one", "example.test"), remoteAddr)
	waitLines(t, read(path), 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := g.ReopenAccessLog(); err != nil {
		t.Fatal(err)
	}
	serve(g, &ctx, newRequest("GET", "/two", "example.test"), remoteAddr)
	if l := waitLines(t, read(path), 1); len(l) != 1 || !strings.Contains(l[0], `"/two"`) {
		t.Errorf("new file = %q, want the /two line only", l)
	}
	if l := waitLines(t, read(path+".1"), 1); len(l) != 1 || !strings.Contains(l[0], `"/one"`) {
		t.Errorf("rotated file = %q, want the /one line only", l)
	}
}

// TestAccessLog_Sample: access_sample draws each request; with a tiny
// fraction nearly nothing is written (and the queue stays empty).
func TestAccessLog_Sample(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	g := accessGateway(t, accessJSON, &out, func(c *Config) { c.Log.AccessSample = 1e-12 })
	var ctx fasthttp.RequestCtx
	for range 200 {
		serve(g, &ctx, newRequest("GET", "/s", "example.test"), remoteAddr)
	}
	if err := g.access.close(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); s != "" {
		t.Errorf("access_sample 1e-12 logged %q", s)
	}
}

func TestLogConfig_ValidateAccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*LogConfig)
		want string
	}{
		{"unknown format", func(c *LogConfig) { c.Access = "xml" }, `log.access: must be off, json or combined; got "xml"`},
		{"zero sample", func(c *LogConfig) { c.Access = "json"; c.AccessSample = 0 }, "log.access_sample: must be in (0, 1]; got 0"},
		{"sample over 1", func(c *LogConfig) { c.Access = "json"; c.AccessSample = 1.5 }, "log.access_sample: must be in (0, 1]; got 1.5"},
		{"file while off", func(c *LogConfig) { c.AccessFile = "/tmp/x" }, "log.access_file: set while log.access is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://127.0.0.1:1")
			tc.edit(&cfg.Log)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"é\xff", `"é\ufffd"`},
	} {
		got := string(appendJSONString(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendJSONString(%q) = %s: not valid JSON", tc.in, got)
		}
	}
}

// FuzzAppendJSONString: any bytes give one valid JSON string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00", "\xff\xfe", "é", "\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := appendJSONString(nil, in)
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: %v", in, out, err)
		}
		if utf8.Valid(in) && s != string(in) {
			t.Fatalf("round trip of %q = %q", in, s)
		}
	})
}

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

// TestAccessLog_Drops: when the writer is stuck, requests are still
// answered; the lines that find no free buffer are dropped and counted.
func TestAccessLog_Drops(t *testing.T) {
	t.Parallel()
	w := blockedWriter{release: make(chan struct{})}
	g := accessGateway(t, accessJSON, w, nil)
	defer close(w.release) // before the cleanup's Shutdown, which flushes
	var ctx fasthttp.RequestCtx
	const n = 3 * accessLines
	for range n {
		serve(g, &ctx, newRequest("GET", "/d", "example.test"), remoteAddr)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d while the access log is stuck", ctx.Response.StatusCode())
		}
	}
	// At most accessLines wait, and 64KiB (a few hundred lines) sit in the
	// writer's buffer.
	if d := g.access.dropped.Get(); d < n-2*accessLines {
		t.Errorf("dropped %d lines of %d with a stuck writer, want at least %d", d, n, n-2*accessLines)
	}
}
