package l2

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// TestTier_WriteNow walks the conditions of WriteNow against a real Redis:
// a value is 'V' + 8-byte version, a lease 'L' + 8-byte token.
func TestTier_WriteNow(t *testing.T) {
	t.Parallel()
	tr := newTier(t, ModeStandalone, []string{redistest.Start(t).Addr}, nil, Deps{})
	ctx := context.Background()
	key := []byte("k")
	rec := func(kind byte, v byte) []byte { return []byte{kind, v, v, v, v, v, v, v, v} }
	cond := func(op Op, v byte) Cond {
		c := Cond{Op: op, Kind: 'V', Lease: 'L', At: 1}
		for i := range c.Version {
			c.Version[i] = v
		}
		return c
	}
	steps := []struct {
		name  string
		value []byte
		cond  Cond
		found Found
		err   error
	}{
		{"version on nothing", rec('V', 1), cond(OpVersion, 1), FoundNothing, ErrCondition},
		{"lease on nothing", rec('L', 7), cond(OpNothing, 0), FoundNothing, nil},
		{"second lease", rec('L', 8), cond(OpNothing, 0), FoundLease, ErrCondition},
		{"fill with a wrong token", rec('V', 1), cond(OpLease, 8), FoundLease, ErrCondition},
		{"fill", rec('V', 1), cond(OpLease, 7), FoundLease, nil},
		{"fill again", rec('V', 2), cond(OpLease, 7), FoundValue, ErrCondition},
		{"add when present", rec('V', 2), cond(OpNoValue, 0), FoundValue, ErrCondition},
		{"cas wrong", rec('V', 2), cond(OpVersion, 9), FoundValue, ErrCondition},
		{"cas", rec('V', 2), cond(OpVersion, 1), FoundValue, nil},
		{"always", rec('V', 3), cond(OpAlways, 0), FoundValue, nil},
	}
	for _, s := range steps {
		found, err := tr.WriteNow(ctx, key, s.value, time.Minute, []byte("tag1"), s.cond)
		if found != s.found || !errors.Is(err, s.err) && (err != nil || s.err != nil) {
			t.Fatalf("%s: WriteNow = %v, %v; want %v, %v", s.name, found, err, s.found, s.err)
		}
	}
	if v, err := tr.Get(ctx, key, nil); err != nil || !bytes.Equal(v, rec('V', 3)) {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// A soft purge makes the value count as absent; a tag purge removes it.
	if _, err := tr.Purge(ctx, Invalidation{Kind: KindTag, Tags: []string{"tag1"}, Soft: true}); err != nil {
		t.Fatal(err)
	}
	if found, err := tr.WriteNow(ctx, key, rec('V', 4), time.Minute, nil, cond(OpNoValue, 0)); err != nil || found != FoundNothing {
		t.Fatalf("add after a soft purge = %v, %v; want written over nothing", found, err)
	}
	if _, err := tr.Purge(ctx, Invalidation{Kind: KindTag, Tags: []string{"tag1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Get(ctx, key, nil); !errors.Is(err, ErrMiss) {
		t.Fatalf("Get after a tag purge: %v, want a miss (WriteNow joined the tag's index)", err)
	}
}
