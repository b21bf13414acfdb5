package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/gateway/internal/l2"
)

// meterEntries counts the instrumented modules in a runtime's cache
// directory: one per module it instrumented (plugins' meterCache).
func meterEntries(t *testing.T, cacheDir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(cacheDir, "meter"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".wasm" {
			n++
		}
	}
	return n
}

type hint struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
	Node   string `json:"node"`
}

// TestPolicySync_Prefetch: an upload to A publishes a hint (name, sha256,
// size) before A compiles, with the module stored in Redis; a node
// receiving a hint compiles the module into its cache without activating
// anything, and one with a wrong sha256 is not compiled.
func TestPolicySync_Prefetch(t *testing.T) {
	t.Parallel()
	r := gatewaytest.StartRedis(t)
	c := newSyncCluster(t, "standalone", []string{r.Addr})
	a := c.node(t, nil)
	bCache := t.TempDir()
	b := c.nodeIn(t, gateway.Options{}, bCache, nil)
	v0 := a.info(t, "tagged").Active
	waitServes(t, b, v0, tagName(0))

	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = client.Close() }) // the test is over
	sub := client.Subscribe(ctx, "psync:policy:prefetch")
	t.Cleanup(func() { _ = sub.Close() }) // the test is over
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	wasm := tagged(t, tagName(1))
	v1 := a.put(t, "tagged", wasm)
	msg, err := sub.ReceiveTimeout(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var h hint
	if err := json.Unmarshal([]byte(msg.(*redis.Message).Payload), &h); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	if h.Name != "tagged" || h.SHA256 != hex.EncodeToString(sum[:]) || h.Size != len(wasm) || h.Node == "" {
		t.Errorf("hint = %+v, want policy tagged, sha256 %x, %d bytes, a node", h, sum, len(wasm))
	}
	if got, err := client.Get(ctx, "psync:policy:module:"+h.SHA256).Bytes(); err != nil || len(got) != len(wasm) {
		t.Errorf("module in Redis: %d bytes, %v; want %d", len(got), err, len(wasm))
	}
	waitServes(t, b, v1.Version, tagName(1))

	// A hint alone: B compiles (its meter cache gains the module) and
	// activates nothing.
	before := meterEntries(t, bCache)
	wasm2 := tagged(t, tagName(2))
	sum2 := sha256.Sum256(wasm2)
	sha2 := hex.EncodeToString(sum2[:])
	if err := client.Set(ctx, "psync:policy:module:"+sha2, wasm2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	publish := func(h hint) {
		body, _ := json.Marshal(h) // a struct of strings and an int
		if err := client.Publish(ctx, "psync:policy:prefetch", l2.NewSigner("").Seal(nil, l2.DomainPrefetch, body)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	publish(hint{Name: "tagged", SHA256: sha2, Size: len(wasm2), Node: "elsewhere"})
	gatewaytest.WaitFor(t, "B to compile the hinted module", func() bool { return meterEntries(t, bCache) == before+1 })
	if got := b.info(t, "tagged").Active; got != v1.Version {
		t.Errorf("after a hint, B runs %s, want %s still", got, v1.Version)
	}

	// A hint whose module does not match its sha256 is not compiled: the
	// key of module 3 holds module 5, never seen (it would add an entry).
	sum3 := sha256.Sum256(tagged(t, tagName(3)))
	wasm5 := tagged(t, tagName(5))
	if err := client.Set(ctx, "psync:policy:module:"+hex.EncodeToString(sum3[:]), wasm5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	publish(hint{Name: "tagged", SHA256: hex.EncodeToString(sum3[:]), Size: len(wasm5), Node: "elsewhere"})
	// Then a good one, to know the bad one was handled (one at a time, in order).
	wasm4 := tagged(t, tagName(4))
	sum4 := sha256.Sum256(wasm4)
	if err := client.Set(ctx, "psync:policy:module:"+hex.EncodeToString(sum4[:]), wasm4, 0).Err(); err != nil {
		t.Fatal(err)
	}
	gatewaytest.WaitFor(t, "B to compile the next hinted module", func() bool {
		publish(hint{Name: "tagged", SHA256: hex.EncodeToString(sum4[:]), Size: len(wasm4), Node: "elsewhere"})
		return meterEntries(t, bCache) >= before+2
	})
	if n := meterEntries(t, bCache); n != before+2 {
		t.Errorf("B instrumented %d modules after the hints, want %d (the mismatched one skipped)", n-before, 2)
	}
}
