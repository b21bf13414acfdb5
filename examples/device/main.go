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

// class returns the device class of a User-Agent value, in one pass over it:
// a tablet names itself (iPad, Tablet, Kindle, Silk, PlayBook) or is an
// Android device without "Mobile"; a phone says "Mobi", iPhone, iPod,
// BlackBerry, Windows Phone or Opera Mini, or is any other Android device;
// everything else, including an empty value and crawlers, is a desktop.
func class(ua []byte) string {
	var isTablet, isAndroid, isMobi, isPhone bool
	for i := 0; i < len(ua); i++ {
		rest := ua[i:]
		switch ua[i] | 0x20 { // ASCII lower case (maps a few symbols too: harmless, the prefixes decide)
		case 'i':
			isTablet = isTablet || sdk.HasPrefixFold(rest, "ipad")
			isPhone = isPhone || sdk.HasPrefixFold(rest, "iphone") || sdk.HasPrefixFold(rest, "ipod")
		case 't':
			isTablet = isTablet || sdk.HasPrefixFold(rest, "tablet")
		case 'k':
			isTablet = isTablet || sdk.HasPrefixFold(rest, "kindle")
		case 's':
			isTablet = isTablet || sdk.HasPrefixFold(rest, "silk/")
		case 'p':
			isTablet = isTablet || sdk.HasPrefixFold(rest, "playbook")
		case 'a':
			isAndroid = isAndroid || sdk.HasPrefixFold(rest, "android")
		case 'm':
			isMobi = isMobi || sdk.HasPrefixFold(rest, "mobi")
		case 'b':
			isPhone = isPhone || sdk.HasPrefixFold(rest, "blackberry")
		case 'w':
			isPhone = isPhone || sdk.HasPrefixFold(rest, "windows phone")
		case 'o':
			isPhone = isPhone || sdk.HasPrefixFold(rest, "opera mini")
		}
	}
	switch {
	case isTablet || isAndroid && !isMobi:
		return tablet
	case isPhone || isMobi || isAndroid:
		return mobile
	}
	return desktop
}

func main() {}
