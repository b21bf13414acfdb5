//go:build !wasm

package sdk

// fastState is what the assembly of fast_wasm.s needs; nothing here.
//
//lint:ignore U1000 the wasm build uses its fastState (fast_wasm.go)
type fastState struct{}

// scanQuery is scanQueryGo, but for the input buffer, which only the
// assembly scans in place: elsewhere every query is a source of its own.
func scanQuery(k *KeyBuilder, q []byte, src uint32, drop *ParamFilter) int {
	if src == srcInput {
		return -2
	}
	return scanQueryGo(k, q, src, drop)
}

func setSource(*KeyBuilder, uint32, []byte) {}

func finishKey(k *KeyBuilder, out []byte) int { return finishKeyGo(k, out) }

func checkSlots(in []byte) int { return checkSlotsGo(in) }
