package policytest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

// CacheDir returns a compilation cache directory shared by every test
// process of the examples, so that a module is compiled by wazero's
// optimizing compiler once per machine rather than once per test. Under the
// race detector that compile takes seconds for a Go guest, and every test
// that loads one used to pay it.
//
// The directory is under the user's cache directory (not the shared temp
// directory): it holds executable code, so it must not be writable by
// another user. wazero names cached files by module hash and its own
// version and writes them atomically, so concurrent test processes can share it.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir, err := sharedCacheDir()
	if err != nil {
		t.Fatalf("compilation cache: %v", err)
	}
	return dir
}

// sharedCacheDir creates the shared cache directory once.
func sharedCacheDir() (string, error) {
	cacheOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "flowcache-test", "wazero")
		cacheErr = os.MkdirAll(cacheDir, 0o700)
	})
	return cacheDir, cacheErr
}
