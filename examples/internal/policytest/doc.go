// Package policytest builds the example policy modules and runs them in
// tests. [Build] compiles an example with the standard toolchain
// (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared), skipping the test when that
// toolchain cannot; [Host] is a minimal host written from ABI.md alone, on
// wazero, that runs a module as a policy.Policy. The gateway's own host is
// package plugins; this one exists so that the examples check the ABI
// independently of it.
package policytest
