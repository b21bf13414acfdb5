//go:build wasip1

// Command device is a Flow Cache policy module that varies the cache key on
// the client's device class, read from User-Agent: "mobile", "tablet" or
// "desktop". An origin that renders differently per device gets three cached
// copies of a page, not one per User-Agent string (there are thousands).
// The rest of the key is the default one: lower-cased host, path and query.
// Requests carrying Cookie or Authorization bypass the cache, as with the
// native default policy.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o device.wasm ./examples/device
package main

import "github.com/flowcache/flowcache/wasm/sdk"

func init() {
	sdk.Register(sdk.Policy{
		Headers: []string{"user-agent", "cookie", "authorization"},
		Key:     key,
	})
}

func key(r *sdk.Request, k *sdk.KeyBuilder) error {
	if r.Header("cookie") != nil || r.Header("authorization") != nil {
		k.Bypass()
		return nil
	}
	k.Default(r)
	k.VariantString(class(r.Header("user-agent")))
	return nil
}

const (
	mobile  = "mobile"
	tablet  = "tablet"
	desktop = "desktop"
)

// A token is a User-Agent word that decides the class. The scan looks at
// every 4-byte window of the lower-cased value once, through a small table
// indexed by a multiplicative hash of the window: a handful of operations per
// byte and no per-token pass (in a wasm guest, loops over bytes with
// branches are what costs).
type token struct {
	word string // lower case, at least 4 bytes
	kind uint8
}

const (
	kindTablet uint8 = 1 << iota
	kindAndroid
	kindMobi
	kindPhone
)

var tokens = []token{
	{"ipad", kindTablet},
	{"tablet", kindTablet},
	{"kindle", kindTablet},
	{"silk/", kindTablet},
	{"playbook", kindTablet},
	{"android", kindAndroid},
	{"mobi", kindMobi},
	{"iphone", kindPhone},
	{"ipod", kindPhone},
	{"blackberry", kindPhone},
	{"windows phone", kindPhone},
	{"opera mini", kindPhone},
}

const hashShift = 32 - 6 // 64 slots

var (
	hashMul uint32   // chosen by init so that the tokens do not collide
	slots   [64]int8 // index+1 into tokens, 0 = empty
	lowered = make([]byte, 0, 1024)
)

func init() {
	for mul := uint32(0x9e3779b1); ; mul += 2 {
		slots = [64]int8{}
		ok := true
		for i, t := range tokens {
			s := (word4(t.word) * mul) >> hashShift
			if slots[s] != 0 {
				ok = false
				break
			}
			slots[s] = int8(i + 1)
		}
		if ok {
			hashMul = mul
			return
		}
	}
}

func word4(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// class returns the device class of a User-Agent value: a tablet names
// itself (iPad, Tablet, Kindle, Silk, PlayBook) or is an Android device
// without "Mobi"; a phone says "Mobi", iPhone, iPod, BlackBerry, Windows
// Phone or Opera Mini, or is any other Android device; everything else,
// including an empty value and crawlers, is a desktop.
func class(ua []byte) string {
	lowered = sdk.AppendLower(lowered[:0], ua)
	b := lowered
	var kinds uint8
	for i := 0; i+4 <= len(b); i++ {
		w := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
		if s := slots[(w*hashMul)>>hashShift]; s != 0 {
			t := &tokens[s-1]
			if w == word4(t.word) && len(b)-i >= len(t.word) && string(b[i:i+len(t.word)]) == t.word {
				kinds |= t.kind
			}
		}
	}
	switch {
	case kinds&kindTablet != 0 || kinds&kindAndroid != 0 && kinds&kindMobi == 0:
		return tablet
	case kinds != 0:
		return mobile
	}
	return desktop
}

func main() {}
