// Package abi is the Flow Cache policy ABI, version 1: the contract between
// the gateway (the host) and a WebAssembly cache-policy module (the guest).
//
// The normative description, enough to write a policy in any language that
// compiles to WebAssembly, is ABI.md in this directory. This package is its
// Go encoding, used on both sides:
//
//   - host side (package plugins): [AppendRequest], [AppendRequestHeader],
//     [AppendDecideInput], [AppendResponseHeader], [AppendDecideRequest]
//     build the blobs pushed into guest memory, appending to a reused buffer
//     without allocating; [DecodeKey] and [DecodeDecision] check and read
//     what the guest returns; [ParseHeaderNames] reads the optional header
//     declaration.
//   - guest side (the Go SDK): [ParseRequest] and [ParseDecide] check a blob
//     once and return views whose accessors do not allocate; [AppendKey],
//     [PutKeyHeader] and [PutDecision] write the results.
//
// The package uses the standard library only and imports nothing else from
// this module, so that a guest module never pulls the gateway into its build.
//
// # Notes
//
// All integers are little-endian (WebAssembly's byte order). Offsets inside
// a blob are relative to the start of that blob, so the host encodes before it
// knows where the guest buffer lives.
package abi
