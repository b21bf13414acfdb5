// Package policytest builds the example policy modules and runs them in
// tests. [Build] compiles an example with the standard toolchain
// (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared), skipping the test when that
// toolchain cannot; [Load] runs the module through the gateway's host,
// package plugins. [Host] is a second, minimal host written from ABI.md
// alone on wazero, without pooling or fuel, so that the examples also check
// the ABI independently of plugins.
package policytest
