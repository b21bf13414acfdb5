// Package normalizewat holds normalize.wasm, a policy module written in
// WebAssembly text (normalize.wat) from the ABI specification alone, and its
// tests. It implements the key of examples/normalize; the tests check that
// the two modules, one in WAT and one in Go, give the same key for the same
// requests.
package normalizewat
