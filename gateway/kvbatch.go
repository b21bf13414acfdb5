package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// kvMaxBatch bounds the keys of one _mget or _mset.
const kvMaxBatch = 1000

// kvMGet is the body of POST /kv/NS/_mget.
type kvMGet struct {
	Keys []string `json:"keys"`
}

// mget answers POST /kv/NS/_mget {"keys":["a","b"]} with
//
//	{"items":[{"key":"a","found":true,"value":"<base64>","etag":"\"…\"",
//	  "max_age":N,"age":N,"content_type":"…"},{"key":"b","found":false}]}
//
// in the order asked. Keys missing from L1 are read from L2 in one round
// trip.
//
// # Why a parser of its own?
//
// encoding/json costs as much as the 100 L1 reads of a batch, and allocates
// a string per key. parseMGetKeys reads the common form (strings without
// escapes) in place; anything else goes to encoding/json.
func (s *kvService) mget(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	var ok bool
	c.keys, ok = parseMGetKeys(ctx.PostBody(), c.keys[:0])
	if !ok {
		var req kvMGet
		if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
			kvError(ctx, fasthttp.StatusBadRequest, "body: "+err.Error())
			return
		}
		c.keys = c.keys[:0]
		for _, k := range req.Keys {
			c.keys = append(c.keys, []byte(k))
		}
	}
	if len(c.keys) > kvMaxBatch {
		kvError(ctx, fasthttp.StatusBadRequest, "at most 1000 keys per batch")
		return
	}
	for _, k := range c.keys {
		if len(k) == 0 || len(k) > kvMaxKey {
			kvError(ctx, fasthttp.StatusBadRequest, "a key is 1 to 1024 bytes")
			return
		}
	}
	g := s.g
	nowMs := g.now().UnixMilli()
	out := c.out[:0]
	out = append(out, `{"items":[`...)
	c.spans, c.missing = c.spans[:0], c.missing[:0]
	for i, k := range c.keys {
		if i > 0 {
			out = append(out, ',')
		}
		start := len(out)
		hit := false
		if ns.l1 {
			c.ikey = appendKVKey(c.ikey[:0], ns.name, k)
			v, ok := g.l1.get(c.ikey, c.buf)
			c.buf = v
			hit = ok && parseKVRecord(v, &c.r) == nil && s.live(&c.r, nowMs)
		}
		if hit {
			ns.m.hits.Inc()
			out = appendKVItem(out, k, &c.r, nowMs)
		} else {
			c.missing = append(c.missing, i)
			out = append(out, `{"key":`...)
			out = appendJSONString(out, k)
			out = append(out, `,"found":false}`...)
		}
		c.spans = append(c.spans, kvSpan{start, len(out)})
	}
	out = append(out, "]}\n"...)
	if len(c.missing) > 0 && ns.l2 {
		out = s.mgetL2(ns, c, out, nowMs)
	}
	ns.m.misses.Add(len(c.missing))
	ctx.SetContentType("application/json")
	// The answer becomes the response body without a copy; the
	// response's old buffer is the next call's scratch.
	c.out = ctx.Response.SwapBody(out)
}

// kvSpan is where one item is in a _mget answer.
type kvSpan struct{ start, end int }

// mgetL2 reads c.keys[c.missing] from L2 in one pipeline, keeping what it
// finds in L1 when the tier allows, and returns the answer out with their
// items replaced. c.missing keeps the keys still missing.
func (s *kvService) mgetL2(ns *kvNamespace, c *kvCall, out []byte, nowMs int64) []byte {
	g := s.g
	mg, ok := g.l2.(l2MultiGetter)
	if !ok {
		return out
	}
	ikeys := make([][]byte, len(c.missing))
	for j, i := range c.missing {
		ikeys[j] = appendKVKey(nil, ns.name, c.keys[i])
	}
	since := g.inv.log.current()
	found := make(map[int][]byte, len(c.missing))
	ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
	defer cancel()
	c.buf = mg.GetEach(ctx, ikeys, c.buf, func(j int, v []byte, err error) bool {
		if err != nil || len(v) == 0 || v[0] != kindKV {
			return true
		}
		if parseKVRecord(v, &c.r) != nil || !s.live(&c.r, nowMs) {
			return true
		}
		i := c.missing[j]
		found[i] = appendKVItem(nil, c.keys[i], &c.r, nowMs)
		ns.m.hits.Inc()
		if ns.l1 {
			c.key = append(c.key[:0], c.keys[i]...)
			c.ikey = ikeys[j]
			c.buf = v
			s.storeL1(ns, c, true, since, nowMs)
		}
		return true
	})
	g.dropEvicted()
	if len(found) == 0 {
		return out
	}
	res := make([]byte, 0, len(out)+len(found)*256)
	last := 0
	still := c.missing[:0]
	for _, i := range c.missing {
		item, ok := found[i]
		if !ok {
			still = append(still, i)
			continue
		}
		sp := c.spans[i]
		res = append(res, out[last:sp.start]...)
		res = append(res, item...)
		last = sp.end
	}
	c.missing = still
	return append(res, out[last:]...)
}

// parseMGetKeys reads {"keys":["a","b",...]} (any white space) whose
// strings hold no escapes, appending to keys slices of body. It reports
// false for any other body, which encoding/json then reads.
func parseMGetKeys(body []byte, keys [][]byte) ([][]byte, bool) {
	p := kvJSON{b: body}
	if !p.lit('{') || !p.lit('"') || !p.word(`keys"`) || !p.lit(':') || !p.lit('[') {
		return keys, false
	}
	if p.lit(']') {
		return keys, p.lit('}') && p.end()
	}
	for {
		if !p.lit('"') {
			return keys, false
		}
		i := p.i
		for p.i < len(p.b) && p.b[p.i] != '"' {
			if c := p.b[p.i]; c == '\\' || c < 0x20 {
				return keys, false
			}
			p.i++
		}
		if p.i == len(p.b) || !utf8.Valid(p.b[i:p.i]) {
			return keys, false
		}
		keys = append(keys, p.b[i:p.i])
		p.i++
		if p.lit(',') {
			continue
		}
		return keys, p.lit(']') && p.lit('}') && p.end()
	}
}

// kvJSON is the cursor of parseMGetKeys.
type kvJSON struct {
	b []byte
	i int
}

func (p *kvJSON) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// lit skips white space and the byte c.
func (p *kvJSON) lit(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// word reads w exactly, with no white space before it.
func (p *kvJSON) word(w string) bool {
	if len(p.b)-p.i >= len(w) && string(p.b[p.i:p.i+len(w)]) == w {
		p.i += len(w)
		return true
	}
	return false
}

func (p *kvJSON) end() bool {
	p.space()
	return p.i == len(p.b)
}

// appendKVItem appends the _mget item of a found value.
func appendKVItem(dst, key []byte, r *kvRecord, nowMs int64) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, key)
	dst = append(dst, `,"found":true,"value":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.value)
	dst = append(dst, `","etag":"\"`...)
	dst = appendHex64(dst, r.etag)
	dst = append(dst, `\"","max_age":`...)
	dst = strconv.AppendInt(dst, max(0, (r.expires-nowMs)/1000), 10)
	dst = append(dst, `,"age":`...)
	dst = strconv.AppendInt(dst, max(0, (nowMs-r.stored)/1000), 10)
	if len(r.ct) > 0 {
		dst = append(dst, `,"content_type":`...)
		dst = appendJSONString(dst, r.ct)
	}
	return append(dst, '}')
}

// kvMSet is the body of POST /kv/NS/_mset.
type kvMSet struct {
	Items []kvMSetItem `json:"items"`
}

// kvMSetItem is one value of a _mset: Value is base64 (standard, padded);
// TTL is in seconds (0: the namespace's default_ttl); Tags as
// Surrogate-Key.
type kvMSetItem struct {
	Key         string `json:"key"`
	Value       []byte `json:"value"`
	TTL         int64  `json:"ttl"`
	ContentType string `json:"content_type"`
	Tags        string `json:"tags"`
}

// mset answers POST /kv/NS/_mset {"items":[{"key":"a","value":"<base64>",
// "ttl":60}]} with {"items":[{"key":"a","etag":"\"…\""},{"key":"b",
// "status":413,"error":"…"}]}: each item is written as a PUT would be,
// unconditionally; the answer is 200 with each item's outcome.
func (s *kvService) mset(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	var req kvMSet
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		kvError(ctx, fasthttp.StatusBadRequest, "body: "+err.Error())
		return
	}
	if len(req.Items) > kvMaxBatch {
		kvError(ctx, fasthttp.StatusBadRequest, "at most 1000 items per batch")
		return
	}
	var out []byte
	out = append(out, `{"items":[`...)
	for i := range req.Items {
		it := &req.Items[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"key":`...)
		out = appendJSONString(out, []byte(it.Key))
		etag, status, msg := s.msetItem(ns, c, it)
		if status != 0 {
			out = append(out, `,"status":`...)
			out = strconv.AppendInt(out, int64(status), 10)
			out = append(out, `,"error":`...)
			out = appendJSONString(out, []byte(msg))
		} else {
			out = append(out, `,"etag":"\"`...)
			out = appendHex64(out, etag)
			out = append(out, `\""`...)
		}
		out = append(out, '}')
	}
	out = append(out, "]}\n"...)
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
}

// msetItem writes one _mset item; status 0 means written.
func (s *kvService) msetItem(ns *kvNamespace, c *kvCall, it *kvMSetItem) (etag uint64, status int, msg string) {
	if len(it.Key) == 0 || len(it.Key) > kvMaxKey {
		return 0, fasthttp.StatusBadRequest, "a key is 1 to 1024 bytes"
	}
	w := kvWrite{value: it.Value, ct: []byte(it.ContentType), tags: []byte(it.Tags), ttl: ns.ttl}
	w.cond.Kind, w.cond.Lease, w.cond.At = kindKV, kindLease, kvVersionAt
	if it.TTL != 0 {
		if it.TTL < 0 || it.TTL > int64(ns.max/time.Second) {
			return 0, fasthttp.StatusBadRequest, "ttl: 1 to max_ttl seconds"
		}
		w.ttl = time.Duration(it.TTL) * time.Second
	}
	if err := kvCheckFields(w.ct, w.tags); err != nil {
		return 0, fasthttp.StatusBadRequest, err.Error()
	}
	c.key = append(c.key[:0], it.Key...)
	c.ikey = appendKVKey(c.ikey[:0], ns.name, c.key)
	etag, err := s.write(ns, c, &w)
	if err != nil {
		return 0, kvWriteStatus(err), err.Error()
	}
	return etag, 0, ""
}
