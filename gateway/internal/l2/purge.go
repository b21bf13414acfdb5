package l2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is what an [Invalidation] names.
type Kind uint8

// Invalidation kinds.
const (
	// KindURL: every variant of one URL (Host + Path exactly).
	KindURL Kind = iota + 1
	// KindTag: every entry tagged with one of Tags (Surrogate-Key).
	KindTag
	// KindPrefix: every entry of Host whose Path starts with Path.
	KindPrefix
	// KindAll: everything, by moving to a new generation.
	KindAll
)

// String returns "url", "tag", "prefix" or "all".
func (k Kind) String() string {
	switch k {
	case KindURL:
		return "url"
	case KindTag:
		return "tag"
	case KindPrefix:
		return "prefix"
	case KindAll:
		return "all"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Invalidation is a purge, as applied to L2 and published to every node.
type Invalidation struct {
	// Kind says which of the fields below name the entries.
	Kind Kind `json:"k"`
	// Soft marks the entries stale instead of removing them: they may still
	// be served stale (and revalidated), never fresh.
	Soft bool `json:"s,omitempty"`
	// Host and Path: the URL (KindURL) or the path prefix (KindPrefix).
	Host string `json:"h,omitempty"`
	Path string `json:"p,omitempty"`
	// Tags are the surrogate keys (KindTag).
	Tags []string `json:"t,omitempty"`
	// Gen is the new (soft) generation after a KindAll purge; set by Purge.
	Gen uint64 `json:"g,omitempty"`
	// Origin is the NodeID of the publishing node; set by Publish.
	Origin string `json:"o,omitempty"`
	// Epoch is the purge epoch this invalidation moved Redis to; set by
	// Publish, and on delivery.
	Epoch uint64 `json:"-"`
}

func (inv *Invalidation) validate() error {
	switch inv.Kind {
	case KindURL, KindPrefix:
		if inv.Host == "" {
			return fmt.Errorf("l2: %s purge: host is required", inv.Kind)
		}
		if strings.IndexByte(inv.Path, 0) >= 0 {
			return fmt.Errorf("l2: %s purge: path contains NUL", inv.Kind)
		}
	case KindTag:
		if len(inv.Tags) == 0 {
			return errors.New("l2: tag purge: no tags")
		}
	case KindAll:
	default:
		return fmt.Errorf("l2: purge: unknown kind %d", inv.Kind)
	}
	return nil
}

// softPurgeScript sets the invalidated bit in byte 0 of an existing value,
// keeping its TTL (SETRANGE does). Returns 1 if the key existed.
const softPurgeScript = `
local b = redis.call('GETRANGE', KEYS[1], 0, 0)
if b == '' then return 0 end
redis.call('SETRANGE', KEYS[1], 0, string.char(bit.bor(string.byte(b), 4)))
return 1`

// Purge applies inv to L2, then publishes it (see Publish) so that every
// node drops the entries from its L1. It returns the number of entries
// removed or marked (0 for KindAll, which moves to a new generation).
//
// Purge is an admin operation: it ignores the circuit breaker and runs until
// ctx ends. If it fails after changing L2 but before publishing, the epoch
// is not bumped and other nodes keep their L1 copies: the caller should
// report the purge as failed so that it is retried.
//
// Order matters: L2 first, then the message. A node that drops its L1 copy
// on the message and misses again must not find the old value in L2.
func (t *Tier) Purge(ctx context.Context, inv Invalidation) (int, error) {
	if t.closed.Load() {
		return 0, ErrClosed
	}
	if err := inv.validate(); err != nil {
		return 0, err
	}
	// Writes fetched before this point must not land after the purge.
	t.invalSeq.Add(1)
	var n int
	var err error
	switch inv.Kind {
	case KindAll:
		n, err = t.purgeAll(ctx, &inv)
	case KindTag:
		n, err = t.purgeTags(ctx, inv.Tags, inv.Soft)
	case KindURL:
		n, err = t.purgeHost(ctx, inv.Host, globEscape(inv.Path)+"\x00*", inv.Soft)
	case KindPrefix:
		n, err = t.purgeHost(ctx, inv.Host, globEscape(inv.Path)+"*", inv.Soft)
	}
	if err != nil {
		return n, fmt.Errorf("l2: %s purge: %w", inv.Kind, err)
	}
	return n, t.Publish(ctx, &inv)
}

// purgeAll moves to a new generation (hard) or soft generation (soft).
// Old entries are never read again (hard: their keys hold the old
// generation; soft: their envelope does) and expire with their TTL.
func (t *Tier) purgeAll(ctx context.Context, inv *Invalidation) (int, error) {
	key, limit, cur := t.kGen, uint64(maxGen), t.gen.Load()
	if inv.Soft {
		key, limit, cur = t.kSoftGen, maxSoftGen, uint64(t.softGen.Load())
	}
	g, err := bumpScript.Run(ctx, t.client, []string{key}, min(cur, limit-1), limit).Uint64()
	if err != nil {
		return 0, err
	}
	inv.Gen = g
	t.setGen(inv)
	return 0, nil
}

// bumpScript moves the counter KEYS[1] one step (see stateScriptLib);
// ARGV[1] is this node's value, used if the stored one is not plausible.
var bumpScript = redis.NewScript(stateScriptLib + `
return nextCounter(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))`)

// stateScriptLib defines nextCounter(key, fallback, limit), the INCR of
// the {meta} counters: a stored value that is not 1 to 15 decimal digits
// below limit (nodes refuse to read such a value; see parseCounter) is
// replaced by fallback before the increment, so that a corrupt or hostile
// value can never stop purges from moving the counter on.
const stateScriptLib = `
local function nextCounter(key, fallback, limit)
  limit = limit or 999999999999999
  local v = redis.call('GET', key)
  local n = nil
  if v and string.len(v) <= 15 and string.match(v, '^%d+$') then n = tonumber(v) end
  if not n or n >= limit then n = fallback end
  n = n + 1
  redis.call('SET', key, string.format('%d', n))
  return n
end
`

// Bounds of the {meta} counters. A purge moves a generation by one, so a
// real one never comes near them.
const (
	maxGen     = 999_999_999_999_999 // 15 digits: exact in Lua's numbers
	maxSoftGen = 1<<32 - 1
)

// setGen installs the generation a purge-all of this node moved Redis to.
func (t *Tier) setGen(inv *Invalidation) {
	if inv.Soft {
		t.raiseGen(0, uint32(inv.Gen)) //nolint:gosec // bounded by maxSoftGen in the script
	} else {
		t.raiseGen(inv.Gen, 0)
	}
}

// applyGen raises the local generation after a received KindAll
// invalidation, by one step at most: it reports false, changing nothing,
// when the message claims a generation more than one step ahead of this
// node's (the caller then reads the generation from Redis). A generation
// at or below this node's is already applied.
func (t *Tier) applyGen(inv *Invalidation) bool {
	if inv.Kind != KindAll {
		return true
	}
	cur := t.gen.Load()
	if inv.Soft {
		cur = uint64(t.softGen.Load())
	}
	if inv.Gen > cur+1 {
		return false
	}
	t.setGen(inv)
	return true
}

// purgeTags removes (or marks) every live entry of each tag. The tag's set
// holds entry keys with their expiry as score; only members that have not
// expired are read. A hard purge also deletes the set.
func (t *Tier) purgeTags(ctx context.Context, tags []string, soft bool) (int, error) {
	now := "(" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	pipe := t.client.Pipeline()
	ranges := make([]*redis.StringSliceCmd, len(tags))
	for i, tag := range tags {
		ranges[i] = pipe.ZRangeArgs(ctx, redis.ZRangeArgs{Key: t.tagKey([]byte(tag)), Start: now, Stop: "+inf", ByScore: true})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var keys []string
	for _, r := range ranges {
		keys = append(keys, r.Val()...)
	}
	var extra []string
	if !soft {
		for _, tag := range tags {
			extra = append(extra, t.tagKey([]byte(tag)))
		}
	}
	return t.removeEntries(ctx, keys, soft, extra, "", nil)
}

// purgeHost removes (or marks) the entries of host whose index member
// (path NUL key) matches the glob pattern. It walks only this host's
// index, with ZSCAN (incremental, so Redis is never blocked by a big host).
func (t *Tier) purgeHost(ctx context.Context, host, pattern string, soft bool) (int, error) {
	idx := t.hostKey([]byte(host))
	var members []string
	var cursor uint64
	for {
		kv, next, err := t.client.ZScan(ctx, idx, cursor, pattern, 512).Result()
		if err != nil {
			return 0, err
		}
		for i := 0; i < len(kv); i += 2 { // member, score, member, score...
			members = append(members, kv[i])
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	keys := make([]string, 0, len(members))
	for _, m := range members {
		if i := strings.IndexByte(m, 0); i >= 0 {
			keys = append(keys, m[i+1:])
		}
	}
	var remove []string
	if !soft {
		remove = members
	}
	return t.removeEntries(ctx, keys, soft, nil, idx, remove)
}

// removeEntries deletes (or soft-purges) the current-generation entries of
// keys, deletes the keys in extra, and removes members from the sorted set
// idx, in one pipeline. Every command names one key, so a cluster client
// splits the pipeline by node and no hash tags are needed.
func (t *Tier) removeEntries(ctx context.Context, keys []string, soft bool, extra []string, idx string, members []string) (int, error) {
	if len(keys) == 0 && len(extra) == 0 {
		return 0, nil
	}
	gen := t.gen.Load()
	pipe := t.client.Pipeline()
	cmds := make([]*redis.Cmd, 0, len(keys))
	dels := make([]*redis.IntCmd, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	var buf []byte
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		buf = t.appendEntryKey(buf[:0], gen, []byte(k))
		if soft {
			cmds = append(cmds, pipe.Eval(ctx, softPurgeScript, []string{string(buf)}))
		} else {
			dels = append(dels, pipe.Del(ctx, string(buf)))
		}
	}
	for _, k := range extra {
		pipe.Del(ctx, k)
	}
	if len(members) > 0 {
		args := make([]any, len(members))
		for i, m := range members {
			args[i] = m
		}
		pipe.ZRem(ctx, idx, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	n := 0
	for _, c := range cmds {
		if v, _ := c.Int(); v == 1 {
			n++
		}
	}
	for _, c := range dels {
		n += int(c.Val())
	}
	return n, nil
}

// globEscape quotes the glob metacharacters of s for MATCH.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
