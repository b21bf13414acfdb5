package l2

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Op is the condition of a [Tier.WriteNow].
type Op uint8

// Conditions of WriteNow. The stored value is read in Redis, in the same
// script as the write, so the check and the write are atomic. A value that
// was soft-purged (or written before the current soft generation) counts
// as absent. Cond.Kind and Cond.Lease name the first payload byte of a
// value and of a lease placeholder; the 8 bytes at payload offset
// Cond.At are the version (a value's ETag, a lease's token).
const (
	// OpAlways writes.
	OpAlways Op = iota
	// OpNoValue writes if no value is stored (nothing, or a lease).
	OpNoValue
	// OpVersion writes if a value of version Cond.Version is stored.
	OpVersion
	// OpNothing writes if the key holds nothing at all (SET NX): taking a
	// lease.
	OpNothing
	// OpLease writes if the key holds the lease whose token is
	// Cond.Version: filling a lease. A delete removes the lease, and with
	// it the right to fill.
	OpLease
)

// Cond is the condition of a [Tier.WriteNow].
type Cond struct {
	Op Op
	// Kind and Lease are the first payload byte of a value and of a lease
	// placeholder.
	Kind, Lease byte
	// At is the offset of the 8-byte version in the payload.
	At int
	// Version is compared with the stored version (OpVersion, OpLease).
	Version [8]byte
}

// Found is what a WriteNow's key held before the call.
type Found uint8

// What WriteNow found under its key.
const (
	FoundNothing Found = iota // absent, purged, or neither a value nor a lease
	FoundValue
	FoundLease
)

// ErrCondition is returned by WriteNow when its condition did not hold;
// nothing was written.
var ErrCondition = errors.New("l2: condition not met")

// writeNowScript checks ARGV's condition against KEYS[1] and sets it.
// ARGV: op, kind byte, lease byte, version offset (1-based in the
// payload), version, soft generation (4 bytes, big endian), value, ttl ms.
// It returns {written (0/1), found (0 nothing, 1 value, 2 lease)}.
// Generations are compared as numbers: Lua's string order follows the
// locale.
var writeNowScript = redis.NewScript(`
local function u32(s, i)
  local a, b, c, d = string.byte(s, i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local cur = redis.call('GET', KEYS[1])
local found, ver = 0, ''
if cur and string.len(cur) > 5 and bit.band(string.byte(cur, 1), 4) == 0 and u32(cur, 2) >= u32(ARGV[6], 1) then
  local k = string.sub(cur, 6, 6)
  if k == ARGV[2] then found = 1 elseif k == ARGV[3] then found = 2 end
  local at = 5 + tonumber(ARGV[4])
  ver = string.sub(cur, at, at + 7)
end
local op, ok = ARGV[1], false
if op == '0' then ok = true
elseif op == '1' then ok = found ~= 1
elseif op == '2' then ok = found == 1 and ver == ARGV[5]
elseif op == '3' then ok = found == 0
elseif op == '4' then ok = found == 2 and ver == ARGV[5]
end
if not ok then return {0, found} end
redis.call('SET', KEYS[1], ARGV[7], 'PX', ARGV[8])
return {1, found}`)

// WriteNow writes value under key at once (not queued, never compressed,
// so that the script can read its version), expiring after ttl, if c
// holds, and joins the tag indexes of tags (space-separated) first. It
// returns what the key held before; ErrCondition (and what was found) if c
// did not hold; ErrUnavailable when the breaker is open or Redis failed.
//
// It publishes nothing: the caller tells the other nodes with Publish.
func (t *Tier) WriteNow(ctx context.Context, key, value []byte, ttl time.Duration, tags []byte, c Cond) (Found, error) {
	if t.closed.Load() {
		return FoundNothing, ErrClosed
	}
	if ttl < time.Millisecond || len(value) > t.cfg.MaxValueSize {
		return FoundNothing, fmt.Errorf("l2: write: ttl %v or size %d out of bounds", ttl, len(value))
	}
	if !t.br.allow() {
		t.st.rejected.Add(1)
		return FoundNothing, ErrUnavailable
	}
	gen, softGen := t.gen.Load(), t.softGen.Load()
	ekey := string(t.appendEntryKey(nil, gen, key))
	if len(tags) > 0 {
		now := time.Now()
		pipe := t.client.Pipeline()
		score := float64(now.Add(ttl).UnixMilli())
		nowMs := "(" + strconv.FormatInt(now.UnixMilli(), 10)
		for rest := tags; len(rest) > 0; {
			var tag []byte
			tag, rest = nextTag(rest)
			if len(tag) == 0 {
				continue
			}
			k := t.tagKey(tag)
			pipe.ZAddGT(ctx, k, redis.Z{Score: score, Member: key})
			trimIndex(ctx, pipe, k, ttl.Milliseconds(), nowMs)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.callFailed(ctx, err)
			return FoundNothing, fmt.Errorf("%w: index: %w", ErrUnavailable, err)
		}
	}
	env := make([]byte, envHeaderLen, envHeaderLen+len(value))
	env[0] = envVersion | codecNone
	binary.BigEndian.PutUint32(env[1:], softGen)
	env = append(env, value...)
	var sg [4]byte
	binary.BigEndian.PutUint32(sg[:], softGen)
	r, err := writeNowScript.Run(ctx, t.client, []string{ekey},
		strconv.Itoa(int(c.Op)), string(c.Kind), string(c.Lease), c.At+1, string(c.Version[:]),
		string(sg[:]), env, ttl.Milliseconds()).Int64Slice()
	if err != nil || len(r) != 2 {
		if err == nil {
			err = errors.New("unexpected reply")
		}
		t.callFailed(ctx, err)
		return FoundNothing, fmt.Errorf("%w: write: %w", ErrUnavailable, err)
	}
	t.callDone(time.Time{})
	found := Found(r[1]) //nolint:gosec // the script returns 0, 1 or 2
	if r[0] != 1 {
		return found, ErrCondition
	}
	t.st.written.Add(1)
	return found, nil
}
