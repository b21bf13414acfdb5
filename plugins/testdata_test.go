package plugins

import _ "embed"

// Test modules, built from testdata/*.wat (each file has its command):
//
//go:generate sh -c "cd testdata && for f in *.wat; do wat2wasm $f -o ${f%.wat}.wasm; done"
var (
	//go:embed testdata/minimal.wasm
	minimalWasm []byte
	//go:embed testdata/loop.wasm
	loopWasm []byte
	//go:embed testdata/recursion.wasm
	recursionWasm []byte
	//go:embed testdata/membomb.wasm
	membombWasm []byte
	//go:embed testdata/hugemem.wasm
	hugememWasm []byte
	//go:embed testdata/trap.wasm
	trapWasm []byte
	//go:embed testdata/badresult.wasm
	badresultWasm []byte
	//go:embed testdata/exit.wasm
	exitWasm []byte
	//go:embed testdata/version.wasm
	versionWasm []byte
	//go:embed testdata/noexport.wasm
	noexportWasm []byte
	//go:embed testdata/mistyped.wasm
	mistypedWasm []byte
	//go:embed testdata/fsimport.wasm
	fsimportWasm []byte
	//go:embed testdata/initfail.wasm
	initfailWasm []byte
	//go:embed testdata/startloop.wasm
	startloopWasm []byte
	//go:embed testdata/cloak.wasm
	cloakWasm []byte
	//go:embed testdata/growfill.wasm
	growfillWasm []byte
	//go:embed testdata/hostile.wasm
	hostileWasm []byte
	//go:embed testdata/clock.wasm
	clockWasm []byte
)
