package plugins

import (
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/flowcache/flowcache/policy"
)

// dryRunRequests is the number of random requests an upload is tried with.
const dryRunRequests = 4

// dryRunCase is one request an upload is tried with, and the response its
// decide call sees.
type dryRunCase struct {
	req  policy.Request
	resp policy.Response
}

// dryRun calls Key and Decide on each case. A guest error result (the
// policy choosing the fallback) is accepted; a trap, exhausted fuel, a
// backstop, exit or malformed result is not.
//
// # Why random requests?
//
// A fixed request is recognisable: a module could behave on it only, pass
// the dry run, and loop on every real request. The cases are drawn afresh
// for each upload from a generator seeded from crypto/rand, so a module
// cannot tell them from traffic. The list is where an author's golden
// vectors go too, once uploads carry them.
func dryRun(m *Module, cases []dryRunCase) error {
	for i := range cases {
		c := &cases[i]
		var k policy.Key
		if err := m.Key(&c.req, &k); err != nil && !errors.Is(err, ErrGuest) {
			return fmt.Errorf("%w: key: %w", ErrDryRun, unwrapCall(err))
		}
		var d policy.Decision
		d.Reset()
		d.Store, d.TTL = true, time.Minute
		if err := m.Decide(&c.req, &c.resp, &d); err != nil && !errors.Is(err, ErrGuest) {
			return fmt.Errorf("%w: decide: %w", ErrDryRun, unwrapCall(err))
		}
	}
	return nil
}

// dryRunCases returns n random, realistic cases.
func dryRunCases(n int) []dryRunCase {
	var seed [32]byte
	_, _ = rand.Read(seed[:])                             // crypto/rand.Read never fails (it crashes the program instead)
	g := requestGen{r: mrand.New(mrand.NewChaCha8(seed))} //nolint:gosec // seeded from crypto/rand: unpredictable, not a secret
	cases := make([]dryRunCase, n)
	for i := range cases {
		cases[i] = g.next()
	}
	return cases
}

// Vocabulary of the random requests: words and values as real traffic has.
var (
	genWords = []string{"api", "v1", "v2", "users", "products", "catalog", "search", "items", "orders",
		"static", "assets", "images", "news", "blog", "docs", "account", "cart", "checkout", "category",
		"electronics", "phones", "books", "music", "video", "home", "about", "help", "feed", "media",
		"article", "posts", "comments", "tags", "public", "data", "reports", "latest", "top", "en", "fr"}
	genExts      = []string{"", "", "", ".json", ".html", ".png", ".jpg", ".js", ".css", ".xml", ".webp"}
	genHostParts = []string{"www", "api", "cdn", "shop", "static", "m", "app", "img", "edge", "assets"}
	genTLDs      = []string{"com", "net", "org", "io", "dev", "co.uk", "de", "fr"}
	genParams    = []string{"page", "q", "sort", "lang", "id", "limit", "offset", "utm_source", "utm_medium",
		"utm_campaign", "ref", "v", "format", "fields", "filter", "session", "_"}
	genAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"curl/8.5.0", "okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.32.3",
	}
	genAccepts  = []string{"*/*", "application/json", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "image/avif,image/webp,*/*"}
	genLangs    = []string{"en-US,en;q=0.9", "en-GB,en;q=0.8", "fr-FR,fr;q=0.9,en;q=0.5", "de-DE,de;q=0.9", "es-ES,es;q=0.9"}
	genControls = []string{"max-age=60", "public, max-age=300", "private, no-cache", "no-store", "max-age=3600, stale-while-revalidate=60", "s-maxage=120"}
	genTypes    = []string{"application/json", "text/html; charset=utf-8", "image/png", "text/css", "application/javascript"}
	genStatuses = []int{200, 200, 200, 200, 200, 200, 203, 204, 301, 404, 410}
)

// requestGen draws realistic requests and responses.
type requestGen struct{ r *mrand.Rand }

func (g requestGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g requestGen) chance(percent int) bool { return g.r.IntN(100) < percent }

func (g requestGen) hex(n int) []byte {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return b
}

func (g requestGen) host() string {
	h := g.pick(genWords) + "." + g.pick(genTLDs)
	if g.chance(80) {
		h = g.pick(genHostParts) + "." + h
	}
	return h
}

func (g requestGen) path() []byte {
	var p []byte
	for range 1 + g.r.IntN(5) {
		p = append(p, '/')
		switch {
		case g.chance(15):
			p = strconv.AppendInt(p, int64(g.r.IntN(100000)), 10)
		case g.chance(5):
			p = append(p, g.hex(12)...)
		default:
			p = append(p, g.pick(genWords)...)
		}
	}
	p = append(p, g.pick(genExts)...)
	if g.chance(10) {
		p = append(p, '/')
	}
	return p
}

func (g requestGen) query() []byte {
	var q []byte
	for i := range g.r.IntN(6) {
		if i > 0 {
			q = append(q, '&')
		}
		q = append(q, g.pick(genParams)...)
		q = append(q, '=')
		if g.chance(50) {
			q = strconv.AppendInt(q, int64(g.r.IntN(1000)), 10)
		} else {
			q = append(q, g.pick(genWords)...)
		}
	}
	return q
}

func (g requestGen) next() dryRunCase {
	host := g.host()
	scheme := "https"
	if g.chance(30) {
		scheme = "http"
	}
	method := "GET"
	if g.chance(15) {
		method = "HEAD"
	}
	h := policy.Headers{
		{Name: []byte("Host"), Value: []byte(host)},
		{Name: []byte("User-Agent"), Value: []byte(g.pick(genAgents))},
		{Name: []byte("Accept"), Value: []byte(g.pick(genAccepts))},
	}
	add := func(percent int, name string, value []byte) {
		if g.chance(percent) {
			h = append(h, policy.Header{Name: []byte(name), Value: value})
		}
	}
	add(80, "Accept-Encoding", []byte("gzip, deflate, br"))
	add(70, "Accept-Language", []byte(g.pick(genLangs)))
	add(40, "Referer", []byte(scheme+"://"+host+"/"+g.pick(genWords)))
	add(30, "Cookie", append([]byte("session="), g.hex(32)...))
	add(30, "X-Request-Id", g.hex(32))
	add(15, "Cache-Control", []byte("no-cache"))
	add(15, "If-None-Match", append(append([]byte(`"`), g.hex(16)...), '"'))
	add(10, "Origin", []byte(scheme+"://"+g.host()))
	g.r.Shuffle(len(h)-1, func(i, j int) { h[i+1], h[j+1] = h[j+1], h[i+1] }) // Host first
	req := policy.Request{
		Method: []byte(method), Scheme: []byte(scheme), Host: []byte(host),
		Path: g.path(), Query: g.query(), Route: []byte(g.pick(genWords)), Headers: h,
	}
	status := genStatuses[g.r.IntN(len(genStatuses))]
	rh := policy.Headers{
		{Name: []byte("Content-Type"), Value: []byte(g.pick(genTypes))},
		{Name: []byte("Cache-Control"), Value: []byte(g.pick(genControls))},
	}
	if g.chance(50) {
		rh = append(rh, policy.Header{Name: []byte("ETag"), Value: append(append([]byte(`"`), g.hex(16)...), '"')})
	}
	if g.chance(30) {
		rh = append(rh, policy.Header{Name: []byte("Vary"), Value: []byte("Accept-Encoding")})
	}
	now := time.Now().Add(-time.Duration(g.r.IntN(3600)) * time.Second)
	rh = append(rh, policy.Header{Name: []byte("Date"), Value: []byte(now.UTC().Format(time.RFC1123))})
	resp := policy.Response{Status: status, BodySize: int64(g.r.IntN(1 << 20)), Now: now, Headers: rh}
	return dryRunCase{req: req, resp: resp}
}
