package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// upstreamPool is a route's set of upstream targets, used round-robin.
// Passive health (as nginx's max_fails/fail_timeout): MaxFails failures
// within FailTimeout mark a target down for FailTimeout; a down target is
// skipped unless every target is down.
type upstreamPool struct {
	targets     []*target
	next        atomic.Uint32
	maxFails    int
	failTimeout time.Duration
	timeout     time.Duration
	now         func() time.Time
	gauges      []string // metric names registered for the targets
	timed       bool     // the access log is on: do records each request's upstream time
	// relays maps an upstream request (*fasthttp.Request) to the function
	// that relays its interim responses to the client (see
	// interimTransport), while it is in flight.
	relays sync.Map
}

// upstreamHeadLimit bounds an upstream response head (fasthttp's default,
// 4KiB, is smaller than many real heads).
const upstreamHeadLimit = 64 << 10

// target is one upstream origin with its own keep-alive connection pool.
type target struct {
	url string
	hc  *fasthttp.HostClient

	mu        sync.Mutex
	fails     int
	firstFail time.Time
	downUntil atomic.Int64 // unix nanoseconds; 0 = up
}

func newUpstreamPool(rc *RouteConfig, now func() time.Time, set *metrics.Set) (*upstreamPool, error) {
	p := &upstreamPool{
		maxFails:    rc.MaxFails,
		failTimeout: rc.FailTimeout.D(),
		timeout:     rc.Timeout.D(),
		now:         now,
	}
	if p.maxFails <= 0 {
		p.maxFails = 1
	}
	connect := rc.ConnectTimeout.D()
	tlsConfig, err := upstreamTLSConfig(rc)
	if err != nil {
		return nil, err
	}
	for i, raw := range rc.Upstreams {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("gateway: routes %q: upstreams[%d]: invalid URL %q", rc.Name, i, raw)
		}
		addr := u.Host
		isTLS := u.Scheme == "https"
		if u.Port() == "" {
			if isTLS {
				addr += ":443"
			} else {
				addr += ":80"
			}
		}
		t := &target{url: raw}
		t.hc = &fasthttp.HostClient{
			Addr:      addr,
			IsTLS:     isTLS,
			TLSConfig: tlsConfig,
			Dial: func(addr string) (net.Conn, error) {
				c, err := fasthttp.DialTimeout(addr, connect)
				if err != nil {
					return nil, err
				}
				return trackConn(c), nil
			},
			MaxConns: rc.MaxConnsPerUpstream,
			// A wait for a free connection ends before the request's
			// deadline, so that it fails as ErrNoFreeConns (this
			// gateway's limit, not the target's fault: see do) rather
			// than as a timeout, which counts against the target.
			MaxConnWaitTimeout:            p.timeout * 9 / 10,
			ReadTimeout:                   p.timeout,
			WriteTimeout:                  p.timeout,
			MaxIdleConnDuration:           60 * time.Second,
			ReadBufferSize:                upstreamHeadLimit,
			StreamResponseBody:            true,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			// fasthttp retries once, only a GET or HEAD whose (idle,
			// reused) connection the origin had closed; every other retry
			// goes to the next target and is decided in do, where
			// passive health is tracked.
			MaxIdemponentCallAttempts: 2,
			RetryIfErr:                retryClosedIdle,
			Transport:                 &interimTransport{pool: p},
		}
		p.targets = append(p.targets, t)
		// A reload builds a new pool for the same route and target: the
		// gauge then reads the new pool.
		gauge := `flowcache_upstream_up{route="` + rc.Name + `",target="` + raw + `"}`
		set.UnregisterMetric(gauge)
		p.gauges = append(p.gauges, gauge)
		set.NewGauge(gauge, func() float64 {
			if t.isDown(now()) {
				return 0
			}
			return 1
		})
	}
	return p, nil
}

// upstreamTLSConfig returns the TLS client configuration of rc's https
// upstreams: the CA pool of tls_ca_file (nil: the system's), the
// tls_server_name (empty: fasthttp sends each target's URL host in SNI and
// checks the certificate against it) and tls_insecure_skip_verify.
func upstreamTLSConfig(rc *RouteConfig) (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         rc.TLSServerName,
		InsecureSkipVerify: rc.TLSInsecureSkipVerify, //nolint:gosec // G402: the operator asked for it; logged at start (logInsecureUpstreams)
	}
	if rc.TLSCAFile != "" {
		pool, err := loadCAFile(rc.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: routes %q: tls_ca_file: %w", rc.Name, err)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// loadCAFile reads a PEM file of CA certificates into a pool; a file with
// no certificate is an error.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path) //nolint:gosec // G304: reading the file the operator named is the point
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// logInsecureUpstreams warns, once per route, that a route does not verify
// its upstreams' certificates. Called at start and on every reload.
func logInsecureUpstreams(log *slog.Logger, cfg *Config) {
	for i := range cfg.Routes {
		if rc := &cfg.Routes[i]; rc.TLSInsecureSkipVerify {
			log.LogAttrs(context.Background(), warnLevel, "upstream_tls_verify_disabled",
				slog.String("route", rc.Name), slog.Any("upstreams", rc.Upstreams),
				slog.String("risk", "tls_insecure_skip_verify: any certificate is accepted; a man in the middle can read and change this route's traffic"))
		}
	}
}

func (t *target) isDown(now time.Time) bool {
	d := t.downUntil.Load()
	return d != 0 && now.UnixNano() < d
}

// failed records a failure at now; the MaxFails-th failure within
// FailTimeout marks the target down for FailTimeout.
func (p *upstreamPool) failed(t *target, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails == 0 || now.Sub(t.firstFail) > p.failTimeout {
		t.fails, t.firstFail = 0, now
	}
	t.fails++
	if t.fails >= p.maxFails {
		t.downUntil.Store(now.Add(p.failTimeout).UnixNano())
		t.fails = 0
	}
}

func (p *upstreamPool) succeeded(t *target) {
	if t.downUntil.Load() == 0 {
		t.mu.Lock()
		t.fails = 0
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	t.fails = 0
	t.downUntil.Store(0)
	t.mu.Unlock()
}

// pick returns the next live target round-robin, skipping those in skip
// (a bit set by index); when every target is down it returns the next one
// anyway (a dead pool must still be probed to come back).
func (p *upstreamPool) pick(now time.Time, skip uint64) (int, *target) {
	n := len(p.targets)
	start := int(p.next.Add(1)-1) % n
	fallback := -1
	for i := 0; i < n; i++ {
		j := (start + i) % n
		if j < 64 && skip&(1<<j) != 0 {
			continue
		}
		if fallback < 0 {
			fallback = j
		}
		if !p.targets[j].isDown(now) {
			return j, p.targets[j]
		}
	}
	if fallback < 0 {
		return -1, nil
	}
	return fallback, p.targets[fallback]
}

// do sends req to a live target and reads the response head into resp (the
// body is streamed: the caller reads resp.BodyStream() and must call
// resp.CloseBodyStream). A target that cannot be connected to is marked
// failed and the next one tried; any other failure is returned, wrapped in
// *upstreamError. The time of each exchange goes to lat and, when the
// access log is on (p.timed) and ctx is not nil (a background refresh),
// is added to ctx's upstreamTookKey.
func (p *upstreamPool) do(ctx *fasthttp.RequestCtx, req *fasthttp.Request, resp *fasthttp.Response, lat *metrics.PrometheusHistogram) error {
	var skip uint64
	var lastErr error
	for range p.targets {
		now := p.now()
		i, t := p.pick(now, skip)
		if t == nil {
			break
		}
		if i < 64 {
			skip |= 1 << i
		}
		start := time.Now()
		req.SetTimeout(p.timeout)
		// fasthttp refuses a request whose scheme is not its client's
		// (ErrHostClientRedirectToDifferentScheme), and an origin-form
		// target parses as http: the scheme is the target's.
		if t.hc.IsTLS {
			req.URI().SetScheme("https")
		} else {
			req.URI().SetScheme("http")
		}
		err := t.hc.Do(req, resp)
		took := time.Since(start)
		lat.Update(took.Seconds())
		if p.timed && ctx != nil {
			prev, _ := ctx.UserValue(upstreamTookKey).(time.Duration)
			ctx.SetUserValue(upstreamTookKey, prev+took)
		}
		if err == nil {
			p.succeeded(t)
			return nil
		}
		if se := (*StatusError)(nil); errors.As(err, &se) {
			return se // the client's body failed (clientBody), not the target
		}
		if !errors.Is(err, fasthttp.ErrNoFreeConns) {
			// ErrNoFreeConns is this gateway's own limit
			// (max_conns_per_upstream) reached: it says nothing of the
			// target's health, as nginx's max_conns does not.
			p.failed(t, now)
		}
		lastErr = &upstreamError{target: t.url, err: err}
		// Another target is tried when the request was not sent (a dial
		// error), or for a GET or HEAD after any failure but a timeout
		// (as nginx's proxy_next_upstream error).
		if !isDialError(err) && (isTimeout(err) || !req.Header.IsGet() && !req.Header.IsHead()) {
			return lastErr
		}
		resp.Reset()
		resp.StreamBody = true
	}
	if lastErr == nil {
		lastErr = errNoLiveUpstream
	}
	return lastErr
}

// retryClosedIdle lets fasthttp retry a GET or HEAD once when the origin
// closed the connection before answering (typically an idle keep-alive
// connection it had timed out).
func retryClosedIdle(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	return false, attempts < 2 && (req.Header.IsGet() || req.Header.IsHead()) &&
		(errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed))
}

// isDialError reports whether err happened before the request was sent, so
// that another target may safely be tried whatever the method.
func isDialError(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *upstreamPool) close() {
	for _, t := range p.targets {
		t.hc.CloseIdleConnections()
	}
}

// # Header filtering
//
// What the key does not hold must not reach the upstream (see README,
// Security model): hop-by-hop fields (RFC 9110, Section 7.6.1) and the
// fields a Connection header names are dropped both ways; the client's
// forwarding and override headers are dropped and the gateway writes its
// own X-Forwarded-For/-Proto/-Host and Forwarded.

// isHopByHop reports whether name is a hop-by-hop field.
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "te")
	case 7:
		return equalFold(name, "trailer") || equalFold(name, "upgrade")
	case 10:
		return equalFold(name, "connection") || equalFold(name, "keep-alive")
	case 16:
		return equalFold(name, "proxy-connection")
	case 17:
		return equalFold(name, "transfer-encoding")
	case 18:
		return equalFold(name, "proxy-authenticate")
	case 19:
		return equalFold(name, "proxy-authorization")
	}
	return false
}

// droppedRequestHeader reports whether a client request field must not be
// forwarded. The fields an origin (or its framework) may believe about
// who the client is, or about the host, URL, scheme or method it acts on,
// are a family that grows with every framework; the gateway writes its own
// X-Forwarded-For/-Proto/-Host and Forwarded, and drops every client field
// whose name (any case) matches one of these patterns:
//
//	Forwarded, X-Forwarded-*               forwarding fields
//	X-Real-IP, *-Client-IP, *-Connecting-IP client address claims (True-Client-IP, CF-Connecting-IP)
//	X-*-Host*                              host overrides (X-Host, X-Original-Host, X-HTTP-Host-Override)
//	X-*-Original-*, X-Original-*           original URL, host or method (X-Original-URL, X-Envoy-Original-Path)
//	X-Rewrite-*                            rewritten URL (X-Rewrite-URL)
//	*-Method-Override, X-*-Method          method overrides (X-HTTP-Method-Override, X-HTTP-Method)
//	X-*-Scheme, X-*-Proto, X-*-Protocol,   scheme overrides (X-Url-Scheme, X-Proto)
//	Front-End-Https
//
// where "*" is any text, "X-*-" includes "X-", and the match is on whole
// dash-separated words: "X-Ghost" is kept, "X-Hosted-By" is dropped. It
// does not allocate.
func droppedRequestHeader(name []byte) bool {
	if len(name) < 6 {
		return false
	}
	x := (name[0]|0x20) == 'x' && name[1] == '-'
	if x {
		rest := name[1:] // "-..."
		if containsFold(rest, "-host") || containsFold(rest, "-original-") ||
			hasSuffixFold(rest, "-method") || hasSuffixFold(rest, "-scheme") || hasSuffixFold(rest, "-proto") || hasSuffixFold(rest, "-protocol") ||
			hasPrefixFold(rest, "-forwarded-") || hasPrefixFold(rest, "-rewrite-") || equalFold(rest, "-real-ip") {
			return true
		}
	}
	return equalFold(name, "forwarded") || equalFold(name, "front-end-https") ||
		hasSuffixFold(name, "-client-ip") || hasSuffixFold(name, "-connecting-ip") ||
		hasSuffixFold(name, "-method-override")
}

// conditionalHeader reports the request validators, and Range, that the
// gateway strips from a cacheable miss: it wants the full representation to
// store, and answers the client's condition itself; a Range request gets the
// full 200, which RFC 9110, Section 14.2 allows. Range and If-Range go
// together: a bypassed request forwards both unchanged.
func conditionalHeader(name []byte) bool {
	return equalFold(name, "if-none-match") || equalFold(name, "if-modified-since") ||
		equalFold(name, "if-range") || equalFold(name, "if-match") || equalFold(name, "if-unmodified-since") ||
		equalFold(name, "range")
}

// inConnection reports whether name is one of the comma-separated tokens
// of a Connection field value.
func inConnection(conn, name []byte) bool {
	for len(conn) > 0 {
		var tok []byte
		if i := bytes.IndexByte(conn, ','); i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			tok, conn = conn, nil
		}
		if equalFoldBytes(trimOWS(tok), name) {
			return true
		}
	}
	return false
}

// droppedResponseHeader reports whether an upstream response field is not
// passed to the client: hop-by-hop fields, the ones named in Connection,
// and the fields meant for this cache only (Surrogate-Control,
// Surrogate-Key). CDN-Cache-Control (RFC 9213) is meant for every CDN
// cache, a CDN in front of this one included: it is passed on unchanged.
func droppedResponseHeader(name, conn []byte) bool {
	return isHopByHop(name) || forCacheOnly(name) || (len(conn) > 0 && inConnection(conn, name))
}

// forCacheOnly reports the response fields addressed to this cache and
// removed before the client.
func forCacheOnly(name []byte) bool {
	return (len(name) == 17 && equalFold(name, "surrogate-control")) ||
		(len(name) == 13 && equalFold(name, "surrogate-key"))
}

// buildUpstreamRequest fills out from the client's request: method, target
// (the policy key's target for cacheable requests), Host, end-to-end headers,
// the gateway's forwarding headers and, except for GET and HEAD, the body.
// stripConditionals removes the client's validators (cacheable misses).
func (g *Gateway) buildUpstreamRequest(ctx *fasthttp.RequestCtx, rt *route, target []byte, stripConditionals bool, out *fasthttp.Request) {
	in := &ctx.Request
	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Header.Method())
	out.SetRequestURIBytes(target)
	conn := peekRequest(&in.Header, "connection")
	for k, v := range in.Header.All() {
		if isHopByHop(k) || droppedRequestHeader(k) || equalFold(k, "host") ||
			equalFold(k, "content-length") || (len(conn) > 0 && inConnection(conn, k)) ||
			(stripConditionals && conditionalHeader(k)) {
			continue
		}
		out.Header.AddBytesKV(k, v)
	}
	// The Host is the one routed and keyed (canonicalRequest), sent as
	// set: UseHostHeader keeps fasthttp from taking another one from the
	// parsed URI.
	out.UseHostHeader = true
	host := in.Header.Host()
	switch {
	case rt.cfg.UpstreamHost != "":
		out.Header.SetHost(rt.cfg.UpstreamHost)
	case len(host) == 0: // HTTP/1.0 without Host: the route's own
		out.Header.SetHostBytes(rt.hostless)
	default:
		out.Header.SetHostBytes(host)
	}
	ip, https := g.client(ctx)
	proto := "http"
	if https {
		proto = "https"
	}
	var ipBuf [64]byte
	ipStr := appendAddr(ipBuf[:0], ip)
	out.Header.SetBytesV("X-Forwarded-For", ipStr)
	out.Header.Set("X-Forwarded-Proto", proto)
	if len(host) > 0 {
		out.Header.SetBytesV("X-Forwarded-Host", host)
	}
	fwd := make([]byte, 0, 64+len(host))
	fwd = append(fwd, "for="...)
	if ip.Is6() {
		fwd = append(fwd, `"[`...)
		fwd = append(fwd, ipStr...)
		fwd = append(fwd, `]"`...)
	} else {
		fwd = append(fwd, ipStr...)
	}
	if len(host) > 0 { // a normal host: no '"' nor '\\' to escape
		fwd = append(fwd, `;host="`...)
		fwd = append(fwd, host...)
		fwd = append(fwd, '"')
	}
	fwd = append(fwd, ";proto="...)
	fwd = append(fwd, proto...)
	out.Header.SetBytesV("Forwarded", fwd)

	if in.Header.IsGet() || in.Header.IsHead() {
		return // a GET or HEAD body is never forwarded
	}
	g.setUpstreamBody(ctx, out)
}

// appendAddr appends the text of a client address, or "unknown" when
// the peer has none (not TCP).
func appendAddr(dst []byte, ip netip.Addr) []byte {
	if !ip.IsValid() || ip.IsUnspecified() {
		return append(dst, "unknown"...)
	}
	return ip.AppendTo(dst)
}
