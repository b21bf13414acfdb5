package plugins

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

// meterCache keeps instrumented modules (see instrument) on disk, beside
// wazero's compilation cache, so that a restart neither instruments nor
// compiles an unchanged module again: instrumenting a 2MB Go guest costs
// about 20ms of CPU, a fifth of a load from a warm compilation cache.
//
// An entry is the instrumented module in a file named by the SHA-256 of the
// module as given and of this executable's identity (see newMeterCache), so
// a new build of flowcache, whose meter may instrument differently, never
// reads the entries of another. Entries are written to a temporary file
// and renamed, so a reader sees a whole entry or none.
//
// # Why trust the files?
//
// The directory is the compilation cache's, private to the process's user
// (Options.CacheDir): whoever can write it can already replace the machine
// code wazero runs, which is worse than an uninstrumented module.
type meterCache struct {
	dir  string // "" when disabled
	salt [sha256.Size]byte
}

// meterFormat names the layout of the entries; change it if they change.
const meterFormat = "flowcache-meter-1"

// newMeterCache returns the cache of instrumented modules in
// cacheDir/meter, or a disabled one when cacheDir is empty or the running
// executable cannot be identified (its path, size and modification time,
// with its module version and VCS revision when it was built with them).
func newMeterCache(cacheDir string) *meterCache {
	if cacheDir == "" {
		return &meterCache{}
	}
	exe, err := os.Executable()
	if err != nil {
		return &meterCache{}
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return &meterCache{}
	}
	h := sha256.New()
	h.Write([]byte(meterFormat + "\x00" + exe + "\x00"))
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(fi.Size()))               //nolint:gosec // a file size is not negative
	binary.LittleEndian.PutUint64(b[8:], uint64(fi.ModTime().UnixNano())) //nolint:gosec // the bits are what matter
	binary.LittleEndian.PutUint64(b[16:], uint64(initFuel))
	h.Write(b[:])
	if bi, ok := debug.ReadBuildInfo(); ok {
		h.Write([]byte(bi.Main.Version + "\x00"))
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				h.Write([]byte(s.Key + "=" + s.Value + "\x00"))
			}
		}
	}
	c := &meterCache{dir: filepath.Join(cacheDir, "meter")}
	h.Sum(c.salt[:0])
	return c
}

// path returns the file of wasm's entry; "" when the cache is disabled.
func (c *meterCache) path(wasm []byte) string {
	if c.dir == "" {
		return ""
	}
	h := sha256.New()
	h.Write(c.salt[:])
	h.Write(wasm)
	return filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil))+".wasm")
}

// instrument returns wasm instrumented, from the cache when it holds it
// (cached true), else by instrument. It stores nothing: remember does, once
// the result has compiled, so that an entry also says that the module was
// compiled once with this executable (the compilation cache has it, unless
// it was pruned since): see Options.Tiered.
func (c *meterCache) instrument(wasm []byte) (out []byte, cached bool, err error) {
	if p := c.path(wasm); p != "" {
		if b, err := os.ReadFile(p); err == nil { //nolint:gosec // G304: our own cache file
			now := time.Now()
			_ = os.Chtimes(p, now, now) // in use: the last file pruneCacheDir removes
			return b, true, nil
		}
	}
	if out, err = instrument(wasm); err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// remember stores out, the instrumentation of wasm, once it has compiled.
// A failure to write only costs the next load an instrumentation.
func (c *meterCache) remember(wasm, out []byte) {
	if p := c.path(wasm); p != "" {
		if _, err := os.Stat(p); err != nil {
			_ = c.put(p, out) // best effort: the next load instruments again
		}
	}
}

// forget removes the entry of wasm, one the runtime refused.
func (c *meterCache) forget(wasm []byte) {
	if p := c.path(wasm); p != "" {
		_ = os.Remove(p) // best effort: a stale entry is refused again, then instrumented anew
	}
}

func (c *meterCache) put(path string, b []byte) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, "*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return errors.Join(err, rerr)
		}
	}
	return err
}
