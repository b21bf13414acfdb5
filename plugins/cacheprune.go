package plugins

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DefaultCacheMaxSize bounds the compilation cache directory when
// [Options].CacheMaxSize is zero. A 2.3 MB Go module leaves about 11 MB of
// machine code and 2.3 MB of instrumented module there; 1 GiB holds some
// 75 such versions.
const DefaultCacheMaxSize = 1 << 30

// cacheFile is one file of the cache directory, for pruning.
type cacheFile struct {
	path string
	size int64
	mod  time.Time
}

// pruneCacheDir removes the least recently written files under dir
// (wazero's compiled code, the instrumented modules) until what is left
// takes at most max bytes. Every version of every module ever uploaded
// leaves files there, and nothing else ever removes them.
//
// Neither wazero nor the instrumented-module cache reads refresh a file's
// modification time except as meterCache.instrument does for its hits, so
// the order is roughly the order of first use: an entry still in use that
// is removed costs a compilation at the next start, nothing more (a
// running module holds its code in memory, and a file removed while read
// stays readable to whoever opened it).
func pruneCacheDir(dir string, max int64) (removed int, freed int64, err error) {
	var files []cacheFile
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed meanwhile, or unreadable: skip it
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		files = append(files, cacheFile{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if err != nil || total <= max {
		return 0, 0, err
	}
	slices.SortFunc(files, func(a, b cacheFile) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		if total <= max {
			break
		}
		if os.Remove(f.path) == nil {
			removed++
			freed += f.size
		}
		total -= f.size // gone, or not ours to remove: either way, go on
	}
	return removed, freed, nil
}

// pruneCache prunes the compilation cache in the background, one pass at
// a time: a load that finds a pass running leaves it to that pass, which
// already sees most of what that load wrote.
func (rt *Runtime) pruneCache() {
	if rt.cacheMax < 0 || rt.cacheDir == "" || !rt.pruning.CompareAndSwap(false, true) {
		return
	}
	rt.pruneWG.Add(1)
	go func() {
		defer rt.pruneWG.Done()
		defer rt.pruning.Store(false)
		removed, freed, err := pruneCacheDir(rt.cacheDir, rt.cacheMax)
		switch {
		case err != nil:
			rt.logger.LogAttrs(context.Background(), slog.LevelWarn, "compilation_cache_prune_failed",
				slog.String("dir", rt.cacheDir), slog.String("error", err.Error()))
		case removed > 0:
			rt.logger.LogAttrs(context.Background(), slog.LevelInfo, "compilation_cache_pruned",
				slog.String("dir", rt.cacheDir), slog.Int("files", removed), slog.Int64("bytes", freed),
				slog.Int64("max_bytes", rt.cacheMax))
		}
		rt.pruned.Add(1)
	}()
}
