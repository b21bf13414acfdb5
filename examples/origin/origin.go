package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// endpoint is one path of the origin, with what it demonstrates.
type endpoint struct {
	pattern string // net/http ServeMux pattern
	doc     string
	handle  func(*origin, http.ResponseWriter, *http.Request)
}

var endpoints = []endpoint{
	{"/public", "Cache-Control: public, max-age=60; Last-Modified (If-Modified-Since answered 304)", (*origin).public},
	{"/short", "Cache-Control: max-age=5, stale-while-revalidate=30", (*origin).short},
	{"/s-maxage", "Cache-Control: max-age=0, s-maxage=60 (shared caches keep it 60s)", (*origin).sMaxAge},
	{"/no-store", "Cache-Control: no-store", (*origin).noStore},
	{"/private", "Cache-Control: private, max-age=60", (*origin).private},
	{"/no-cache", "Cache-Control: no-cache with an ETag (If-None-Match answered 304)", (*origin).noCache},
	{"/vary", "Vary: Accept-Language; the body depends on it; max-age=60", (*origin).vary},
	{"/set-cookie", "Set-Cookie with Cache-Control: max-age=60", (*origin).setCookie},
	{"/expires", "Expires 60s after Date, no Cache-Control", (*origin).expires},
	{"/cdn", "CDN-Cache-Control: max-age=60 with Cache-Control: no-cache", (*origin).cdn},
	{"/surrogate", "Surrogate-Control: max-age=60, Surrogate-Key tags (?tags=a+b to choose them)", (*origin).surrogate},
	{"/slow", "sleeps 1s (?ms=N to choose), then Cache-Control: max-age=60", (*origin).slow},
	{"/status/{code}", "answers with that status (200-599), Cache-Control: max-age=60", (*origin).status},
	{"/big", "?size=N bytes (default 1MiB, at most 1GiB), Cache-Control: max-age=60", (*origin).big},
	{"/time", "the current time, changes every call, Cache-Control: max-age=2", (*origin).time},
	{"/obj/{n}", "object n for load tests: ?size=N bytes (default 1KiB, at most 8MiB), public, max-age=3600, ETag; -obj-delay adds latency", (*origin).obj},
	{"/stats", "requests=N: requests answered since start (load tests count the cache's misses with it)", (*origin).stats},
}

// origin is the example origin's state: request counts and a clock.
type origin struct {
	now      func() time.Time
	started  time.Time     // Last-Modified of /public
	objDelay time.Duration // added before each /obj answer
	total    atomic.Int64  // requests answered, for /stats

	mu     sync.Mutex
	counts map[string]int
}

// newHandler returns the origin's handler. now is its clock.
func newHandler(now func() time.Time) http.Handler { return newOrigin(now, 0) }

// newOrigin returns the origin's handler with a latency added to every /obj
// answer.
func newOrigin(now func() time.Time, objDelay time.Duration) http.Handler {
	o := &origin{now: now, started: now().UTC().Truncate(time.Second), objDelay: objDelay, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", o.index)
	for _, e := range endpoints {
		mux.HandleFunc(e.pattern, func(w http.ResponseWriter, r *http.Request) { e.handle(o, w, r) })
	}
	return o.middleware(mux)
}

// middleware counts requests per path and answers unsafe methods.
func (o *origin) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.total.Add(1)
		o.mu.Lock()
		o.counts[r.URL.Path]++
		n := o.counts[r.URL.Path]
		o.mu.Unlock()
		w.Header().Set("X-Origin-Count", strconv.Itoa(n))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (o *origin) index(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	b.WriteString("Flow Cache example origin. Endpoints:\n\n")
	for _, e := range endpoints {
		fmt.Fprintf(&b, "  %-15s %s\n", e.pattern, e.doc)
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	text(w, b.String())
}

// text writes a text/plain body.
func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// A client that went away is not the origin's problem. Bodies are
	// text/plain, so echoing the path is no cross-site scripting risk.
	_, _ = io.WriteString(w, body) //nolint:gosec // G705: text/plain, see above
}

// stamp is a body that tells one response from another.
func (o *origin) stamp(w http.ResponseWriter, r *http.Request, what string) {
	text(w, fmt.Sprintf("%s: %s generated at %s (request #%s)\n",
		r.URL.Path, what, o.now().UTC().Format(time.RFC3339Nano), w.Header().Get("X-Origin-Count")))
}

func (o *origin) public(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Last-Modified", o.started.Format(http.TimeFormat))
	if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && r.Header.Get("If-None-Match") == "" && !o.started.After(ims) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	o.stamp(w, r, "cacheable for 60s")
}

func (o *origin) short(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=5, stale-while-revalidate=30")
	o.stamp(w, r, "fresh for 5s, then served stale for 30s while revalidating")
}

func (o *origin) sMaxAge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=0, s-maxage=60")
	o.stamp(w, r, "fresh for 60s in shared caches, 0s in browsers")
}

func (o *origin) noStore(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o.stamp(w, r, "never stored")
}

func (o *origin) private(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, max-age=60")
	o.stamp(w, r, "for one user only, never stored by a shared cache")
}

// noCacheETag is the entity tag of /no-cache, whose body never changes.
const noCacheETag = `"v1"`

func (o *origin) noCache(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", noCacheETag)
	if etagMatch(r.Header.Values("If-None-Match"), noCacheETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	text(w, "/no-cache: stored, but revalidated with If-None-Match before every use\n")
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110,
// Section 13.1.2): "*", or any listed tag equal to etag ignoring W/.
func etagMatch(fields []string, etag string) bool {
	for _, f := range fields {
		for t := range strings.SplitSeq(f, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
	}
	return false
}

var greetings = map[string]string{"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola"}

func (o *origin) vary(w http.ResponseWriter, r *http.Request) {
	lang := "en"
	if al := r.Header.Get("Accept-Language"); len(al) >= 2 {
		if _, ok := greetings[strings.ToLower(al[:2])]; ok {
			lang = strings.ToLower(al[:2])
		}
	}
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Vary", "Accept-Language")
	w.Header().Set("Content-Language", lang)
	text(w, fmt.Sprintf("%s (request #%s)\n", greetings[lang], w.Header().Get("X-Origin-Count")))
}

func (o *origin) setCookie(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	http.SetCookie(w, &http.Cookie{
		Name: "session", Value: w.Header().Get("X-Origin-Count"), Path: "/",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	o.stamp(w, r, "sets a cookie: not stored by default")
}

func (o *origin) expires(w http.ResponseWriter, r *http.Request) {
	now := o.now().UTC()
	w.Header().Set("Date", now.Format(http.TimeFormat))
	w.Header().Set("Expires", now.Add(60*time.Second).Format(http.TimeFormat))
	o.stamp(w, r, "expires 60s after its Date")
}

func (o *origin) cdn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("CDN-Cache-Control", "max-age=60")
	o.stamp(w, r, "kept 60s by CDNs (CDN-Cache-Control), revalidated by browsers")
}

func (o *origin) surrogate(w http.ResponseWriter, r *http.Request) {
	tags := "origin surrogate"
	if q := r.URL.Query().Get("tags"); q != "" {
		tags = strings.Join(strings.Fields(q), " ")
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Surrogate-Control", "max-age=60")
	w.Header().Set("Surrogate-Key", tags)
	o.stamp(w, r, "kept 60s by surrogates, tagged "+tags)
}

func (o *origin) slow(w http.ResponseWriter, r *http.Request) {
	d := time.Second
	if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms >= 0 && ms <= 60_000 {
		d = time.Duration(ms) * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	o.stamp(w, r, fmt.Sprintf("took %s", d))
}

func (o *origin) status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "status must be 200-599", http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	body := fmt.Sprintf("%d %s (request #%s)\n", code, http.StatusText(code), w.Header().Get("X-Origin-Count"))
	if code == http.StatusNoContent || code == http.StatusNotModified {
		body = ""
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body) // see text
}

// maxBig bounds /big: enough to exceed any max_object_size, small enough
// not to fill a disk by mistake.
const maxBig = 1 << 30

func (o *origin) big(w http.ResponseWriter, r *http.Request) {
	size := int64(1 << 20)
	if s := r.URL.Query().Get("size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxBig {
			http.Error(w, "size must be 0-1073741824", http.StatusBadRequest)
			return
		}
		size = n
	}
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	if r.Method == http.MethodHead {
		return
	}
	// A repeating pattern, written in chunks: the origin never holds the
	// whole body either.
	var chunk [32 << 10]byte
	for i := range chunk {
		chunk[i] = "0123456789abcdef"[i%16]
	}
	for size > 0 {
		n := min(size, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
}

// maxObj bounds /obj bodies.
const maxObj = 8 << 20

// objPool holds the bytes /obj bodies are cut from: random letters, so that
// a compressing cache gains what it would on real data, built once.
var objPool = sync.OnceValue(func() []byte {
	p := make([]byte, maxObj+4096)
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	x := uint32(42)
	for i := range p {
		x ^= x << 13 // xorshift32: deterministic across runs and Go versions
		x ^= x >> 17
		x ^= x << 5
		p[i] = alpha[x%uint32(len(alpha))]
	}
	return p
})

func (o *origin) obj(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		http.Error(w, "object id must be a non-negative integer", http.StatusBadRequest)
		return
	}
	size := 1024
	if s := r.URL.Query().Get("size"); s != "" {
		size, err = strconv.Atoi(s)
		if err != nil || size < 0 || size > maxObj {
			http.Error(w, "size must be 0-8388608", http.StatusBadRequest)
			return
		}
	}
	if o.objDelay > 0 {
		t := time.NewTimer(o.objDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	etag := `"` + strconv.Itoa(n) + "-" + strconv.Itoa(size) + `"`
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", etag)
	h.Set("Content-Type", "application/octet-stream")
	if etagMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(size))
	if r.Method == http.MethodHead {
		return
	}
	off := (n * 7919) % 4096
	_, _ = w.Write(objPool()[off : off+size]) // a client that went away is not the origin's problem
}

func (o *origin) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	text(w, "requests="+strconv.FormatInt(o.total.Load(), 10)+"\n")
}

func (o *origin) time(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "max-age=2")
	text(w, o.now().UTC().Format(time.RFC3339Nano)+"\n")
}

// run starts the origin and serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: origin [-addr HOST:PORT] [-obj-delay D]\n\nThe example origin of Flow Cache's quick start. GET / lists its endpoints.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:9000", "listen address, host:port (port 0 picks a free one)")
	objDelay := fs.Duration("obj-delay", 0, "latency added to every /obj answer (a backend's own time, for load tests)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *objDelay < 0 || *objDelay > time.Minute {
		return fmt.Errorf("-obj-delay %s: want 0 to 1m", *objDelay)
	}
	srv := &http.Server{Handler: newOrigin(time.Now, *objDelay), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "origin listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
