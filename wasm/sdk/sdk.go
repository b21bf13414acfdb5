package sdk

import (
	"errors"
	"strconv"
	"strings"

	"github.com/flowcache/flowcache/wasm/abi"
)

// Policy is a cache policy: the functions the SDK calls from the module's
// exports. Every field is optional.
type Policy struct {
	// Init receives the policy's configuration from config.toml as a JSON
	// object ("{}" when empty), once per instance, before any other call.
	// Parse it into package variables with [ParseJSON] (not encoding/json,
	// which links file reads the host refuses). A non-nil error rejects the module: the gateway refuses to start
	// or the upload is refused, with the error's text in its message (ABI.md,
	// section 11): say which rule and field is wrong. config is the
	// policy's own copy.
	Init func(config []byte) error

	// Headers lists the request header fields Key and Decide read, in any
	// case ("user-agent", "cookie"). Only those are encoded by the host,
	// which saves time on every call; the others are absent from [Request].
	// Nil or empty means none; "*" means all of them.
	Headers []string

	// Key derives the cache key of a request into k, or calls k.Bypass().
	// Nil means the key of the native default policy ([KeyBuilder.Default]).
	// An error makes the host use the route's fallback policy for this
	// request; its text goes to the host's failure log and admin API.
	Key func(r *Request, k *KeyBuilder) error

	// Decide adjusts the host's default decision d for the response r. Nil
	// keeps the default. An error makes the host use the route's fallback
	// policy for this request; its text goes to the host's failure log and
	// admin API.
	Decide func(r *Response, d *Decision) error
}

// Register installs p as the module's policy. Call it once, from an init
// function of package main: the host runs package initialisation (through
// _initialize) before any export, and a -buildmode=c-shared module never
// runs main. It panics if called twice or if a header name is invalid.
//
// # Why a package-level policy?
//
// WebAssembly exports are functions of the module, not of a value: the SDK
// declares flowcache_key and the other exports once, and they need to find
// the policy. A module holds exactly one policy, so the state is per module,
// and the host runs one call at a time per instance: no locking is needed.
func Register(p Policy) {
	if g.registered {
		panic("sdk: Register called twice")
	}
	ng, err := newGuest(p)
	if err != nil {
		panic(err.Error())
	}
	g = *ng
}

// defaultKey is the key of a policy without Key: the native default
// policy's.
func defaultKey(r *Request, k *KeyBuilder) error {
	k.Default(r)
	return nil
}

// newGuest returns the state of a module running p.
func newGuest(p Policy) (*guest, error) {
	for _, h := range p.Headers {
		names, all, err := abi.ParseHeaderNames([]byte(h))
		if err != nil || len(names) != 1 && !all {
			return nil, errors.New("sdk: Policy.Headers: " + strconv.Quote(h) + " is not a field name")
		}
	}
	if len(p.Headers) > abi.MaxHeaderNames {
		return nil, errors.New("sdk: Policy.Headers: more than " + strconv.Itoa(abi.MaxHeaderNames) + " names")
	}
	list := strings.Join(p.Headers, ", ")
	keyFunc := p.Key
	if keyFunc == nil {
		keyFunc = defaultKey
	}
	return &guest{
		registered: true,
		policy:     p,
		keyFunc:    keyFunc,
		headers:    []byte(list),
		kb:         newKeyBuilder(),
	}, nil
}
