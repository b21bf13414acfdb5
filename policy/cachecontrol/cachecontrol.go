package cachecontrol

import (
	"github.com/flowcache/flowcache/policy"
	"github.com/flowcache/flowcache/policy/internal/directive"
)

// Directives holds the parsed cache directives of one or more field values.
// Delta-seconds fields are in seconds, -1 when the directive is absent:
//
//	MaxAge, SMaxAge, StaleWhileRevalidate, StaleIfError, MaxStale, MinFresh int64
//
// and every other directive is a bool: MaxStaleAny (max-stale without a
// value), NoStore, NoCache, Private, Public, MustRevalidate, ProxyRevalidate,
// NoTransform, OnlyIfCached, Immutable, MustUnderstand, NoCacheFields
// (no-cache="..."), PrivateFields (private="...").
//
// Its Reset method sets every field to absent; its Empty method reports
// whether no directive was found (as after Reset), so that a field holding
// only unknown directives can be told from one that says something.
//
// The zero value is not ready for use: call Reset (or ParseField) first, so
// that absent delta-seconds read -1. A Directives holds no reference to the
// bytes it was parsed from; it may be copied and kept.
//
// # Why an alias?
//
// Package policy's default policy parses Cache-Control too, and this
// package's ParseField takes policy.Headers; the type lives in an internal
// package both can import.
type Directives = directive.Directives

// MaxDelta is the largest delta-seconds value Parse keeps (2^31 seconds);
// larger values are clamped to it.
const MaxDelta = directive.MaxDelta

// Parse merges the directives of the field value v into d, which must have
// been Reset. It never fails and does not allocate; d keeps no reference to
// v. See the package documentation for how junk, repeats and invalid
// arguments are read.
func Parse(d *Directives, v []byte) {
	directive.Parse(d, v)
}

// ParseField resets d and merges into it the value of every field of h named
// name (case-insensitive), in order, as if they were one comma-separated
// list (RFC 9110, Section 5.3). It reports whether at least one such field is
// present, even if empty. It does not allocate.
func ParseField(d *Directives, h policy.Headers, name string) (present bool) {
	d.Reset()
	for i := range h {
		if policy.EqualFold(h[i].Name, name) {
			present = true
			directive.Parse(d, h[i].Value)
		}
	}
	return present
}
