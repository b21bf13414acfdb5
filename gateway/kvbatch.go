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
func (s *kvService) mget(ctx *fasthttp.RequestCtx, ns *kvNamespace, c *kvCall) {
	var req kvMGet
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		kvError(ctx, fasthttp.StatusBadRequest, "body: "+err.Error())
		return
	}
	if len(req.Keys) > kvMaxBatch {
		kvError(ctx, fasthttp.StatusBadRequest, "at most 1000 keys per batch")
		return
	}
	for _, k := range req.Keys {
		if len(k) == 0 || len(k) > kvMaxKey {
			kvError(ctx, fasthttp.StatusBadRequest, "a key is 1 to 1024 bytes")
			return
		}
	}
	g := s.g
	nowMs := g.now().UnixMilli()
	out := append(c.rec[:0], `{"items":[`...)
	// Values found in L1 are encoded at once; the others are read from
	// L2 afterwards, and the answer is assembled in order.
	found := make([][]byte, len(req.Keys)) // encoded items, nil = not yet
	var missing []int
	for i, k := range req.Keys {
		if ns.l1 {
			c.ikey = appendKVKey(c.ikey[:0], ns.name, []byte(k))
			v, ok := g.l1.get(c.ikey, c.buf)
			c.buf = v
			if ok && parseKVRecord(v, &c.r) == nil && c.r.expires > nowMs {
				ns.m.hits.Inc()
				found[i] = appendKVItem(nil, k, &c.r, nowMs)
				continue
			}
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 && ns.l2 {
		s.mgetL2(ns, c, req.Keys, missing, found, nowMs)
	}
	for i, k := range req.Keys {
		if i > 0 {
			out = append(out, ',')
		}
		if found[i] != nil {
			out = append(out, found[i]...)
			continue
		}
		ns.m.misses.Inc()
		out = append(out, `{"key":`...)
		out = appendJSONString(out, []byte(k))
		out = append(out, `,"found":false}`...)
	}
	out = append(out, "]}\n"...)
	c.rec = out
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
}

// mgetL2 reads the keys at the indexes missing from L2 in one pipeline,
// keeping what it finds in L1 when the tier allows.
func (s *kvService) mgetL2(ns *kvNamespace, c *kvCall, keys []string, missing []int, found [][]byte, nowMs int64) {
	g := s.g
	mg, ok := g.l2.(l2MultiGetter)
	if !ok {
		return
	}
	ikeys := make([][]byte, len(missing))
	for j, i := range missing {
		ikeys[j] = appendKVKey(nil, ns.name, []byte(keys[i]))
	}
	since := g.inv.log.current()
	ctx, cancel := context.WithTimeout(context.Background(), kvL2Timeout)
	defer cancel()
	c.buf = mg.GetEach(ctx, ikeys, c.buf, func(j int, v []byte, err error) bool {
		if err != nil || len(v) == 0 || v[0] != kindKV {
			return true
		}
		if parseKVRecord(v, &c.r) != nil || c.r.expires <= nowMs {
			return true
		}
		i := missing[j]
		found[i] = appendKVItem(nil, keys[i], &c.r, nowMs)
		ns.m.hits.Inc()
		if ns.l1 {
			c.key = append(c.key[:0], keys[i]...)
			c.ikey = ikeys[j]
			c.buf = v
			s.storeL1(ns, c, true, since, nowMs)
		}
		return true
	})
	g.dropEvicted()
}

// appendKVItem appends the _mget item of a found value.
func appendKVItem(dst []byte, key string, r *kvRecord, nowMs int64) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, []byte(key))
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

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
