package plugins

import (
	"github.com/flowcache/flowcache/plugins/internal/meter"
)

// moduleInfo is what load checks before compiling: imports and memories.
type moduleInfo struct {
	imports []importInfo
	// memories holds the minimum, in pages, of each memory the module
	// defines (not imported).
	memories []uint64
}

type importInfo struct {
	module, name string
	kind         meter.Kind
}

func (i importInfo) kindName() string { return i.kind.String() }

// scanModule reads the imports and memories of a binary module with
// meter.Inspect (the one WebAssembly binary reader of this package, the
// one that instruments modules), so that forbidden imports and oversized
// memories are refused before the (expensive) compilation, with a precise
// reason. It checks the module's structure but not its instructions:
// those are read by the instrumentation, and validated by wazero.
func scanModule(b []byte) (moduleInfo, error) {
	mod, err := meter.Inspect(b)
	if err != nil {
		return moduleInfo{}, meterDetail(err)
	}
	info := moduleInfo{
		imports:  make([]importInfo, len(mod.Imports)),
		memories: make([]uint64, len(mod.Memories)),
	}
	for i, imp := range mod.Imports {
		info.imports[i] = importInfo{module: imp.Module, name: imp.Name, kind: imp.Kind}
	}
	for i, m := range mod.Memories {
		info.memories[i] = uint64(m.Min)
	}
	return info, nil
}
