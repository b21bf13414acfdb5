// Package policy is the vocabulary shared by the gateway and every cache
// policy: the [Policy] interface the gateway calls for each request (Key) and
// each storable response (Decide), the read-only request and response views a
// policy sees, and the built-in [Default] policy, which applies the shared-cache
// rules of RFC 9111 in native Go.
//
// The package imports only the standard library, and this module's
// internal/httplex (the lexical rules of HTTP field values, itself standard
// library only). It holds no mutable package-level state.
//
// # Ownership
//
// The gateway owns every value passed to a policy. Views ([Request],
// [Response]) are valid only during one call; outputs ([Key], [Decision]) are
// reused across calls, so a policy appends to their slices and never keeps
// them. This is what lets a WebAssembly policy run with no allocation per call.
package policy
