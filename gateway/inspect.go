package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway/internal/entry"
	"github.com/flowcache/flowcache/gateway/internal/freshness"
	"github.com/flowcache/flowcache/internal/httplex"
)

// Inspection is what GET /cache/lookup answers: what the cache holds for
// a URL and what a GET of it would get, found without asking the upstream
// and without changing anything stored. L1 is read with freecache's Peek
// (no access-time update), L2 with a plain GET, and nothing read from L2
// is promoted to L1.
type Inspection struct {
	URL    string `json:"url"`
	Route  string `json:"route"`
	Policy string `json:"policy"` // name@version, or "default"
	// Key is the policy's key of the request; Bypass means the request
	// would not use the cache.
	Key struct {
		Host    string `json:"host"`
		Target  string `json:"target"`
		Variant string `json:"variant,omitempty"`
		Bypass  bool   `json:"bypass"`
	} `json:"key"`
	// RecordKey is the storage key of the URL's record (route, host and
	// target, \x00 separated; quoted).
	RecordKey string `json:"record_key"`
	// InL1 and InL2 say which tier holds the record.
	InL1 bool `json:"in_l1"`
	InL2 bool `json:"in_l2"`
	// Vary lists the request fields the stored responses vary on (a
	// variant record); Variants every stored variant.
	Vary     []string         `json:"vary,omitempty"`
	Variants []InspectedEntry `json:"variants"`
	// Answer is what the request would get: "hit", "hit-l2", "stale"
	// (stale-while-revalidate), "revalidate" (the upstream would be asked
	// to validate), "miss" or "bypass", with the Cache-Status it would
	// carry for a hit or stale answer.
	Answer      string `json:"answer"`
	CacheStatus string `json:"cache_status,omitempty"`
}

// InspectedEntry is one stored response.
type InspectedEntry struct {
	// VaryValues are the request's values of the Vary fields this entry
	// was stored for; Variant the policy's key variant.
	VaryValues map[string]string `json:"vary_values,omitempty"`
	Variant    string            `json:"variant,omitempty"`
	// Matches is true for the entry the inspected request selects.
	Matches bool `json:"matches"`
	InL1    bool `json:"in_l1"`
	InL2    bool `json:"in_l2"`
	Status  int  `json:"status"`
	// StoredAt is when the response was received; Age its current age.
	StoredAt time.Time `json:"stored_at"`
	Age      float64   `json:"age_seconds"`
	// TTL is the freshness lifetime and TTLLeft what remains of it
	// (negative once stale); StaleWhileRevalidate and StaleIfError the
	// windows past it.
	TTL                  float64 `json:"ttl_seconds"`
	TTLLeft              float64 `json:"ttl_left_seconds"`
	StaleWhileRevalidate float64 `json:"stale_while_revalidate_seconds"`
	StaleIfError         float64 `json:"stale_if_error_seconds"`
	Size                 int64   `json:"size"`
	Tags                 string  `json:"tags,omitempty"`
	ETag                 string  `json:"etag,omitempty"`
	LastModified         string  `json:"last_modified,omitempty"`
	// Invalidated is true after a soft purge: served only once
	// revalidated.
	Invalidated bool `json:"invalidated"`
}

// errInspectURL reports a bad url parameter.
var errInspectURL = errors.New("url: want an absolute http or https URL")

// Inspect returns what the cache holds for a GET of rawURL with the given
// request header fields ("Name: value" each, e.g. for Vary), without
// asking the upstream or changing anything stored. A request that matches
// no route is an error wrapping errNoRoute. Safe for concurrent use.
func (g *Gateway) Inspect(ctx context.Context, rawURL string, header []string) (*Inspection, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w, got %q", errInspectURL, rawURL)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(u.RequestURI())
	req.Header.SetHost(u.Host)
	for _, h := range header {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !httplex.IsToken([]byte(name)) {
			return nil, fmt.Errorf("header: want \"Name: value\", got %q", h)
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	if err := canonicalRequest(req); err != nil {
		return nil, fmt.Errorf("url %q: %w", rawURL, err)
	}
	rt := g.st.Load().router.matchNormal(req.Header.Host(), req.URI().PathOriginal())
	if rt == nil {
		return nil, fmt.Errorf("url %q: %w", rawURL, errNoRoute)
	}
	in := &Inspection{URL: rawURL, Route: rt.cfg.Name, Policy: "default", Variants: []InspectedEntry{}}
	var rctx fasthttp.RequestCtx
	rctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	x := acquireExchange(g, &rctx, rt)
	defer releaseExchange(x)
	x.loadRequest()
	if u.Scheme == "https" {
		x.req.Scheme = schemeHTTPS
	} else {
		x.req.Scheme = schemeHTTP
	}
	x.policyKey()
	if l, ok := x.pol.(PolicyLease); ok {
		in.Policy = string(l.Label())
	}
	in.Key.Host, in.Key.Target, in.Key.Variant = string(x.key.Host), string(x.key.Target), string(x.key.Variant)
	in.Key.Bypass = x.key.Bypass || rt.cfg.NoCache
	if in.Key.Bypass {
		in.Answer = "bypass"
		return in, nil
	}
	x.requestDirectives()
	x.pkey = appendPrimaryKey(x.pkey[:0], x.space, &x.key)
	in.RecordKey = fmt.Sprintf("%q", x.pkey)
	x.now = g.now()
	rec, inL1, inL2 := g.peekTiers(ctx, x.pkey)
	in.InL1, in.InL2 = inL1, inL2
	in.Answer = "miss"
	kind, _, gen, payload, ok := parseRecordHead(rec)
	if !ok {
		return in, nil
	}
	if kind == kindEntry {
		ie, ok := g.inspectEntry(x, payload, inL1, inL2)
		if ok {
			ie.Matches = len(x.key.Variant) == 0
			in.Variants = append(in.Variants, ie)
			if ie.Matches {
				in.Answer, in.CacheStatus = g.inspectAnswer(x, payload, !inL1)
			}
		}
		return in, nil
	}
	vr, ok := parseVariantRecord(payload)
	if !ok {
		return in, nil
	}
	names := strings.Split(string(vr.names), ",")
	if len(vr.names) > 0 {
		in.Vary = names
	}
	mine := appendMaterial(nil, x.key.Variant, vr.names, x.req.Headers)
	var key []byte
	forEachVariant(&key, x.pkey, gen, payload, func(key, material []byte) bool {
		v, vL1, vL2 := g.peekTiers(ctx, key)
		k, _, _, p, ok := parseRecordHead(v)
		if !ok || k != kindEntry {
			return true
		}
		ie, ok := g.inspectEntry(x, p, vL1, vL2)
		if !ok {
			return true
		}
		ie.Variant, ie.VaryValues = splitMaterial(material, names)
		ie.Matches = bytes.Equal(material, mine)
		in.Variants = append(in.Variants, ie)
		if ie.Matches {
			in.Answer, in.CacheStatus = g.inspectAnswer(x, p, !vL1)
		}
		return true
	})
	return in, nil
}

// peekTiers reads key from L1 without touching its access time, and from
// L2 (without promoting what it finds); the value is L1's when both have
// it.
func (g *Gateway) peekTiers(ctx context.Context, key []byte) (v []byte, inL1, inL2 bool) {
	if b, err := g.l1.c.Peek(key); err == nil {
		v, inL1 = b, true
	} else if b, ok := g.l1.getLarge(key, g.now()); ok {
		v, inL1 = b, true // the large-object tier is part of L1
	}
	if !g.l2.Enabled() {
		return v, inL1, false
	}
	b, ok, err := g.l2.Get(ctx, key, nil)
	if !ok || (err != nil && !errors.Is(err, errL2Invalidated)) {
		return v, inL1, false
	}
	if _, untrusted := g.l2.(l2Untrusted); untrusted && checkL2Record(b, int64(g.cfg.Cache.MaxObjectSize)) != nil {
		return v, inL1, false
	}
	if err != nil { // invalidated in L2 since it was written: read it as soft-purged
		if m, marked := appendInvalidated(nil, b); marked {
			b = m
		}
	}
	if !inL1 {
		v = b
	}
	return v, inL1, true
}

// inspectEntry describes the entry encoded in payload.
func (g *Gateway) inspectEntry(x *exchange, payload []byte, inL1, inL2 bool) (InspectedEntry, bool) {
	var e entry.Entry
	if entry.Decode(payload, &e) != nil || !storableStatus(e.Status) {
		return InspectedEntry{}, false
	}
	age := freshness.CurrentAge(time.Duration(e.InitialAge), time.Unix(0, e.ResponseTime), x.now)
	return InspectedEntry{
		InL1: inL1, InL2: inL2, Status: e.Status,
		StoredAt:             time.Unix(0, e.ResponseTime).UTC(),
		Age:                  age.Seconds(),
		TTL:                  time.Duration(e.TTL).Seconds(),
		TTLLeft:              (time.Duration(e.TTL) - age).Seconds(),
		StaleWhileRevalidate: time.Duration(e.SWR).Seconds(),
		StaleIfError:         time.Duration(e.SIE).Seconds(),
		Size:                 e.BodyLen,
		Tags:                 string(e.Tags),
		ETag:                 string(e.ETag),
		LastModified:         string(e.LastModified),
		Invalidated:          e.Flags.Has(entry.FlagInvalidated) || e.ResponseTime <= g.inv.softAll.Load(),
	}, true
}

// inspectAnswer is the answer the request would get from the entry in
// payload, assessed as serveCacheable does; fromL2 when only L2 has it.
func (g *Gateway) inspectAnswer(x *exchange, payload []byte, fromL2 bool) (answer, cacheStatus string) {
	if entry.Decode(payload, &x.ent) != nil {
		return "miss", ""
	}
	age := freshness.CurrentAge(time.Duration(x.ent.InitialAge), time.Unix(0, x.ent.ResponseTime), x.now)
	switch x.assess(age) {
	case freshness.Fresh:
		answer, detail := "hit", ""
		if fromL2 {
			answer, detail = "hit-l2", "l2"
		}
		cs := appendCacheStatus(nil, "", 0, false, false, detail)
		return answer, string(appendTTL(cs, time.Duration(x.ent.TTL), age))
	case freshness.StaleWhileRevalidate:
		cs := appendCacheStatus(nil, fwdStale, 0, false, false, "stale-while-revalidate")
		return "stale", string(appendTTL(cs, time.Duration(x.ent.TTL), age))
	}
	return "revalidate", ""
}

// splitMaterial decodes variant material (appendMaterial): the policy's
// variant, then one value per Vary name.
func splitMaterial(material []byte, names []string) (variant string, values map[string]string) {
	v, rest, ok := bytes.Cut(material, []byte{1})
	if !ok {
		return string(material), nil
	}
	values = make(map[string]string, len(names))
	for _, n := range names {
		var val []byte
		val, rest, _ = bytes.Cut(rest, []byte{0})
		values[n] = string(val)
	}
	return string(v), values
}

// handleLookup answers GET /cache/lookup?url=URL[&header=Name:%20value]...
func (g *Gateway) handleLookup(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		adminMethodNotAllowed(ctx, "GET")
		return
	}
	args := ctx.QueryArgs()
	var header []string
	for _, h := range args.PeekMulti("header") {
		header = append(header, string(h))
	}
	in, err := g.Inspect(ctx, string(args.Peek("url")), header)
	if err != nil {
		status := fasthttp.StatusBadRequest
		if errors.Is(err, errNoRoute) {
			status = fasthttp.StatusNotFound
		}
		adminError(ctx, status, err)
		return
	}
	adminJSON(ctx, fasthttp.StatusOK, in)
}
