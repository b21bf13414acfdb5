// Package keypath carries configuration problems as values: an [Error] is a
// key path of config.toml ("routes[2].upstreams[0]") and what is wrong
// there. Validate methods return them joined with errors.Join; the command
// that read the file finds each path's line with errors.As, without parsing
// messages back.
//
// A key path is the TOML keys from the root joined with ".", an element of
// an array written as "[N]" after its array: "server.listen",
// "routes[0].upstreams[1]", "policies.norm.max_memory". A table key is
// written as it is, even when TOML would need quotes ("kv.namespaces.Bad
// Name").
package keypath

import (
	"errors"
	"fmt"
	"strings"
)

// Error is the problem Err at the key Path of a configuration. Path is ""
// when the problem is about no key in particular.
type Error struct {
	Path string
	Err  error
}

// Error formats the problem as "path: message", or the message alone when
// Path is "".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at path whose Err is fmt.Errorf(format, args...)
// (so %w wraps).
func Errorf(path, format string, args ...any) error {
	return &Error{Path: path, Err: fmt.Errorf(format, args...)}
}

// Join returns the key path of key under the table or array element at
// prefix: Join("routes[0]", "upstreams") is "routes[0].upstreams",
// Join("routes", "[0]") is "routes[0]". Either may be "".
func Join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}

// Under returns err with the path of every *Error in it (a tree of
// errors.Join) put under prefix, and every other error made an *Error at
// prefix; nil for nil. It is how a section's Validate, which knows its own
// keys, is placed in the whole file: Under("policies.norm", err).
func Under(prefix string, err error) error {
	leaves := Leaves(err)
	if len(leaves) == 0 {
		return nil
	}
	out := make([]error, len(leaves))
	for i, e := range leaves {
		var ke *Error
		if errors.As(e, &ke) {
			out[i] = &Error{Path: Join(prefix, ke.Path), Err: ke.Err}
		} else {
			out[i] = &Error{Path: prefix, Err: e}
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// Leaves lists the errors joined in err (errors.Join, nested or not), in
// order; err itself when it joins nothing; nil for nil.
func Leaves(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error }) // splitting a join, not matching an error
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Leaves(e)...)
	}
	return out
}
