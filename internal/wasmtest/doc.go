// Package wasmtest runs the tests of the packages under wasm/ inside a
// WebAssembly guest (GOOS=wasip1 GOARCH=wasm, under wazero), where policy
// modules run them: the Go SDK has assembly for that target only
// (wasm/sdk/fast_wasm.s), and its tests hold it to the same cases as the
// portable Go that `go test ./...` checks on the host. It has no code of
// its own outside its test.
package wasmtest
