// The key builder's inner loops in WebAssembly (see fast_wasm.go for why).
// R0-R15 are i64 locals; addresses are wrapped to i32 at each access. The
// offsets of the KeyBuilder's and ParamFilter's fields come from go_asm.h.

#include "go_asm.h"
#include "textflag.h"

#define ONES $72340172838076673     // 0x0101010101010101
#define HIGHS $-9187201950435737472 // 0x8080808080808080
#define X21 $2387225703656530209    // 0x2121212121212121
#define X23 $2531906049332683555    // 0x2323232323232323 '#'
#define X25 $2676586395008836901    // 0x2525252525252525 0x7f-'Z'
#define X2F $3399988123389603631    // 0x2f2f2f2f2f2f2f2f '/'
#define X3F $4557430888798830399    // 0x3f3f3f3f3f3f3f3f '?', 0x80-'A'
#define X40 $4629771061636907072    // 0x4040404040404040 '@'
#define X26 $2748926567846913574    // 0x2626262626262626 '&'
#define X3D $4412750543122677053    // 0x3d3d3d3d3d3d3d3d '='
#define X7F $9187201950435737471    // 0x7f7f7f7f7f7f7f7f

// HASBYTE(X, C): push a word whose high bits flag (exactly as to whether
// there is one; the lowest flag is exact) a byte of X equal to the byte of
// the constant C; mask it with HIGHS. Uses R15.
#define HASBYTE(X, C) Get X; I64Const C; I64Xor; Set R15; Get R15; I64Const ONES; I64Sub; Get R15; I64Const $-1; I64Xor; I64And

// BADTARGET(X): push a word whose high bits flag a byte of X below 0x21,
// 0x7f or '#' (badTargetWord in swar.go). Uses R15.
#define BADTARGET(X) \
	Get X; I64Const X21; I64Sub; Get X; I64Const $-1; I64Xor; I64And; \
	HASBYTE(X, X7F); I64Or; HASBYTE(X, X23); I64Or

// BADHOSTBYTE(C): push 1 (i32) if the byte C may not be in a key host: below
// 0x21, 0x7f, '#', '/', '?' or '@'.
#define BADHOSTBYTE(C) \
	Get C; I64Const $0x21; I64LtU; Get C; I64Const $0x7f; I64Eq; I32Or; \
	Get C; I64Const $35; I64Eq; I32Or; Get C; I64Const $47; I64Eq; I32Or; \
	Get C; I64Const $63; I64Eq; I32Or; Get C; I64Const $64; I64Eq; I32Or

// LOWERWORD(P, B, X): lower-case the eight bytes at address P in place and
// set high bits of B for a byte a key host may not hold. Uses R15.
#define LOWERWORD(P, B, X) \
	Get P; I32WrapI64; I64Load $0; Set X; \
	Get X; I64Const X21; I64Sub; Get X; I64Const $-1; I64Xor; I64And; \
	HASBYTE(X, X7F); I64Or; HASBYTE(X, X23); I64Or; HASBYTE(X, X2F); I64Or; \
	HASBYTE(X, X3F); I64Or; HASBYTE(X, X40); I64Or; Get B; I64Or; Set B; \
	Get P; I32WrapI64; \
	Get X; I64Const HIGHS; I64Const $-1; I64Xor; I64And; Set R15; \
	Get R15; I64Const X3F; I64Add; Get R15; I64Const X25; I64Add; I64Const $-1; I64Xor; I64And; \
	Get X; I64Const $-1; I64Xor; I64And; I64Const HIGHS; I64And; I64Const $2; I64ShrU; \
	Get X; I64Or; I64Store $0

// LOWERHOST(P, E, B, X): lower-case the bytes from address P to E in place
// and set high bits of B for a byte a key host may not hold (lowerHostGo in
// swar.go): eight bytes at a time, the last word overlapping the one before
// (lower-casing twice is harmless), or byte by byte under eight bytes.
// Advances P; uses R15.
#define LOWERHOST(P, E, B, X) \
	Get E; Get P; I64Sub; I64Const $8; I64GeU; \
	If; \
		Block; Loop; \
			Get P; I64Const $8; I64Add; Get E; I64GtU; BrIf $1; \
			LOWERWORD(P, B, X); \
			Get P; I64Const $8; I64Add; Set P; \
			Br $0; \
		End; End; \
		Get P; Get E; I64LtU; If; Get E; I64Const $8; I64Sub; Set P; LOWERWORD(P, B, X); End; \
	Else; \
		Block; Loop; \
			Get P; Get E; I64GeU; BrIf $1; \
			Get P; I32WrapI64; I64Load8U $0; Set X; \
			BADHOSTBYTE(X); If; Get B; I64Const $0x80; I64Or; Set B; End; \
			Get X; I64Const $65; I64Sub; I64Const $26; I64LtU; \
			If; Get P; I32WrapI64; Get X; I64Const $32; I64Or; I64Store8 $0; End; \
			Get P; I64Const $1; I64Add; Set P; \
			Br $0; \
		End; End; \
	End

// VALIDTARGET(P, E, B, X): set high bits of B for a byte from address P to
// E that cannot be in a request target (validTargetGo in swar.go, but for
// the leading '/'): eight bytes at a time, the last word overlapping, or
// byte by byte under eight bytes. Advances P; uses R15.
#define VALIDTARGET(P, E, B, X) \
	Get E; Get P; I64Sub; I64Const $8; I64GeU; \
	If; \
		Block; Loop; \
			Get P; I64Const $8; I64Add; Get E; I64GtU; BrIf $1; \
			Get P; I32WrapI64; I64Load $0; Set X; \
			BADTARGET(X); Get B; I64Or; Set B; \
			Get P; I64Const $8; I64Add; Set P; \
			Br $0; \
		End; End; \
		Get E; I64Const $8; I64Sub; I32WrapI64; I64Load $0; Set X; \
		BADTARGET(X); Get B; I64Or; Set B; \
	Else; \
		Block; Loop; \
			Get P; Get E; I64GeU; BrIf $1; \
			Get P; I32WrapI64; I64Load8U $0; Set X; \
			Get X; I64Const $0x21; I64LtU; Get X; I64Const $0x7f; I64Eq; I32Or; Get X; I64Const $35; I64Eq; I32Or; \
			If; Get B; I64Const $0x80; I64Or; Set B; End; \
			Get P; I64Const $1; I64Add; Set P; \
			Br $0; \
		End; End; \
	End

// COPY(D, S, N, I): copy N bytes from address S to address D (the ranges do
// not overlap): eight bytes at a time and the last eight overlapping, or 4,
// 2 and 1 bytes by the bits of N under eight. Written out, small copies cost
// less than memory.copy, which calls out of the guest. Uses I.
#define COPY(D, S, N, I) \
	Get N; I64Const $8; I64GeU; \
	If; \
		I64Const $0; Set I; \
		Block; Loop; \
			Get I; I64Const $8; I64Add; Get N; I64GtU; BrIf $1; \
			Get D; Get I; I64Add; I32WrapI64; Get S; Get I; I64Add; I32WrapI64; I64Load $0; I64Store $0; \
			Get I; I64Const $8; I64Add; Set I; \
			Br $0; \
		End; End; \
		Get D; Get N; I64Add; I64Const $8; I64Sub; I32WrapI64; \
		Get S; Get N; I64Add; I64Const $8; I64Sub; I32WrapI64; I64Load $0; I64Store $0; \
	Else; \
		I64Const $0; Set I; \
		Get N; I64Const $4; I64And; I64Eqz; I32Eqz; \
		If; Get D; I32WrapI64; Get S; I32WrapI64; I32Load $0; I32Store $0; I64Const $4; Set I; End; \
		Get N; I64Const $2; I64And; I64Eqz; I32Eqz; \
		If; Get D; Get I; I64Add; I32WrapI64; Get S; Get I; I64Add; I32WrapI64; I32Load16U $0; I32Store16 $0; \
			Get I; I64Const $2; I64Add; Set I; End; \
		Get N; I64Const $1; I64And; I64Eqz; I32Eqz; \
		If; Get D; Get I; I64Add; I32WrapI64; Get S; Get I; I64Add; I32WrapI64; I32Load8U $0; I32Store8 $0; End; \
	End

// SLOTBAD(o): push 1 (i32) if the request blob's field at o (u32 offset, u32
// length; R0 the blob, R1 its length) ends past the blob.
#define SLOTBAD(o) Get R0; I32WrapI64; I64Load32U $(o); Get R0; I32WrapI64; I64Load32U $(o+4); I64Add; Get R1; I64GtU

// func checkSlots(in []byte) int
TEXT ·checkSlots(SB), NOSPLIT, $0-32
	I64Load in_base+0(FP)
	Set R0
	I64Load in_len+8(FP)
	Set R1
	Get R1
	I64Const $56 // abi.RequestFixedSize
	I64LtU
	If
		Get SP
		I64Const $const_slotsBad
		I64Store ret+24(FP)
		RET
	End
	SLOTBAD(0)
	SLOTBAD(8)
	I32Or
	SLOTBAD(16)
	I32Or
	SLOTBAD(24)
	I32Or
	SLOTBAD(32)
	I32Or
	SLOTBAD(40)
	I32Or
	If
		Get SP
		I64Const $const_slotsBad
		I64Store ret+24(FP)
		RET
	End
	// The header count, the low half of the last word.
	Get SP
	I64Const $const_slotsNoHeaders
	I64Const $const_slotsHeaders
	Get R0
	I32WrapI64
	I32Load $48
	I32Eqz
	Select
	I64Store ret+24(FP)
	RET

// func scanQuery(k *KeyBuilder, q []byte, src uint32, drop *ParamFilter) int
//
// scanQueryGo in fast.go, with the filter's word patterns: it adds the kept
// parameters of q to k.params and returns how many, or -1 when they do not
// fit. Source 1 is the input buffer (k.fast.bases[1], k.fast.inLen): q must
// lie inside it. Another source's address is recorded in k.fast.bases[src].
// It returns -2, doing nothing, when q is not inside the input buffer for
// source 1 or when drop has a pattern longer than eight bytes (drop.long):
// the caller then takes the Go way.
TEXT ·scanQuery(SB), NOSPLIT, $0-56
	I64Load q_len+16(FP)
	I64Eqz
	If
		Get SP
		I64Const $0
		I64Store ret+48(FP)
		RET
	End
	I64Load drop+40(FP)
	Set R7
	Get R7
	I64Eqz
	I32Eqz
	If
		Get R7
		I32WrapI64
		I32Load8U $ParamFilter_long
		If
			Get SP
			I64Const $-2
			I64Store ret+48(FP)
			RET
		End
		Get R7
		I64Const $ParamFilter_first
		I64Add
		Set R7 // &drop.first; 0: no filter
	End
	I64Load q_base+8(FP)
	Set R0 // base
	Get R0
	I64Load q_len+16(FP)
	I64Add
	Set R1 // end
	Get R0
	Set R2 // pos
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_np
	Set R4 // index of the next ent
	I64Load k+0(FP)
	I64Const $KeyBuilder_params
	I64Add
	Get R4
	I64Const $4
	I64Shl
	I64Add
	Set R3 // address of the next ent
	I64Load32U src+32(FP)
	Set R6
	Get R6
	I64Const $1
	I64Eq
	If
		// The input buffer: offsets count from its start.
		I64Load k+0(FP)
		I32WrapI64
		I64Load $(KeyBuilder_fast+fastState_bases+8)
		Set R5
		Get R0
		Get R5
		I64LtU
		Get R1
		Get R5
		I64Load k+0(FP)
		I32WrapI64
		I64Load $(KeyBuilder_fast+fastState_inLen)
		I64Add
		I64GtU
		I32Or
		If
			Get SP
			I64Const $-2
			I64Store ret+48(FP)
			RET
		End
	Else
		// k.fast.bases[src] = q's address: offsets count from it.
		Get R0
		Set R5
		I64Load k+0(FP)
		Get R6
		I64Const $3
		I64Shl
		I64Add
		I32WrapI64
		Get R0
		I64Store $(KeyBuilder_fast+fastState_bases)
	End

	Block
	Loop // a parameter
		Get R2
		Get R1
		I64GeU
		BrIf $1
		Get R2
		Set R8 // its start
		I64Const $-1
		Set R9 // its first '=', -1 if none
		Block // up to the next '&'
		Block
		Loop // eight bytes at a time
			Get R2
			I64Const $8
			I64Add
			Get R1
			I64GtU
			BrIf $1
			Get R2
			I32WrapI64
			I64Load $0
			Set R10
			// The lowest flag of HASBYTE is exact.
			HASBYTE(R10, X3D)
			I64Const HIGHS
			I64And
			Set R12
			Get R9
			I64Const $0
			I64LtS
			Get R12
			I64Eqz
			I32Eqz
			I32And
			If
				Get R2
				Get R12
				I64Ctz
				I64Const $3
				I64ShrU
				I64Add
				Set R9
			End
			HASBYTE(R10, X26)
			I64Const HIGHS
			I64And
			Set R12
			Get R12
			I64Eqz
			I32Eqz
			If
				Get R2
				Get R12
				I64Ctz
				I64Const $3
				I64ShrU
				I64Add
				Set R2
				// An '=' after the '&' is the next parameter's.
				Get R9
				Get R2
				I64GeS
				If
					I64Const $-1
					Set R9
				End
				Br $3
			End
			Get R2
			I64Const $8
			I64Add
			Set R2
			Br $0
		End
		End
		Block
		Loop // the last bytes, one at a time
			Get R2
			Get R1
			I64GeU
			BrIf $1
			Get R2
			I32WrapI64
			I64Load8U $0
			Set R10
			Get R10
			I64Const $38 // '&'
			I64Eq
			BrIf $1
			Get R10
			I64Const $61 // '='
			I64Eq
			Get R9
			I64Const $0
			I64LtS
			I32And
			If
				Get R2
				Set R9
			End
			Get R2
			I64Const $1
			I64Add
			Set R2
			Br $0
		End
		End
		End
		// R2: the '&' or the end. An empty parameter is skipped.
		Get R2
		Get R8
		I64Eq
		If
			Get R2
			I64Const $1
			I64Add
			Set R2
			Br $1
		End
		// R11: the name's length.
		Get R2
		Get R9
		Get R9
		I64Const $0
		I64LtS
		Select
		Get R8
		I64Sub
		Set R11
		Get R7
		I64Eqz
		I32Eqz
		If // a filter
			// Most names start with a byte no pattern starts with.
			I64Const $1
			Set R15
			Get R11
			I64Eqz
			I32Eqz
			If
				Get R8
				I32WrapI64
				I64Load8U $0
				Set R10
				Get R7
				Get R10
				I64Const $6
				I64ShrU
				I64Const $3
				I64Shl
				I64Add
				I32WrapI64
				I64Load $0
				Get R10
				I64ShrU
				I64Const $1
				I64And
				Set R15
			End
			Get R15
			I64Eqz
			I32Eqz
			If
				// R12: the name's first (up to) eight bytes, zero-padded:
				// one load when eight bytes of q are left, else byte by
				// byte.
				Get R8
				I64Const $8
				I64Add
				Get R1
				I64LeU
				If
					Get R8
					I32WrapI64
					I64Load $0
					Set R12
					Get R11
					I64Const $8
					I64LtU
					If
						Get R12
						I64Const $1
						Get R11
						I64Const $3
						I64Shl
						I64Shl
						I64Const $1
						I64Sub
						I64And
						Set R12
					End
				Else
				I64Const $0
				Set R12
				I64Const $0
				Set R10
				Block
				Loop
					Get R10
					Get R11
					I64GeU
					BrIf $1
					Get R10
					I64Const $8
					I64GeU
					BrIf $1
					Get R8
					Get R10
					I64Add
					I32WrapI64
					I64Load8U $0
					Get R10
					I64Const $3
					I64Shl
					I64Shl
					Get R12
					I64Or
					Set R12
					Get R10
					I64Const $1
					I64Add
					Set R10
					Br $0
				End
				End
				End
				I64Load drop+40(FP)
				I32WrapI64
				I64Load $ParamFilter_words // the slice's array
				Set R13
				I64Load drop+40(FP)
				I32WrapI64
				I64Load $(ParamFilter_words+8) // its length
				I64Const $wordPattern__size
				I64Mul
				Get R13
				I64Add
				Set R14
				Block
				Loop // each pattern
					Get R13
					Get R14
					I64GeU
					BrIf $1
					// (nl == p.n || p.prefix && nl > p.n) && x&p.mask == p.w
					Get R11
					Get R13
					I32WrapI64
					I64Load $wordPattern_n
					I64Eq
					Get R13
					I32WrapI64
					I32Load8U $wordPattern_prefix
					Get R11
					Get R13
					I32WrapI64
					I64Load $wordPattern_n
					I64GtU
					I32And
					I32Or
					Get R12
					Get R13
					I32WrapI64
					I64Load $wordPattern_mask
					I64And
					Get R13
					I32WrapI64
					I64Load $wordPattern_w
					I64Eq
					I32And
					If // dropped: on to the next parameter
						Get R2
						I64Const $1
						I64Add
						Set R2
						Br $5
					End
					Get R13
					I64Const $wordPattern__size
					I64Add
					Set R13
					Br $0
				End
				End
			End
		End
		// Kept.
		Get R4
		I64Const $const_MaxParams
		I64GeU
		If
			Get SP
			I64Const $-1
			I64Store ret+48(FP)
			RET
		End
		// ent{src, off, n, name}, as two words.
		Get R3
		I32WrapI64
		Get R6
		Get R8
		Get R5
		I64Sub
		I64Const $32
		I64Shl
		I64Or
		I64Store $0
		Get R3
		I32WrapI64
		Get R2
		Get R8
		I64Sub
		Get R11
		I64Const $32
		I64Shl
		I64Or
		I64Store $8
		Get R3
		I64Const $16
		I64Add
		Set R3
		Get R4
		I64Const $1
		I64Add
		Set R4
		Get R2
		I64Const $1
		I64Add
		Set R2
		Br $0
	End
	End
	Get SP
	Get R4
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_np
	I64Sub
	I64Store ret+48(FP)
	// k.np = R4; k.srcLen += len(q)
	I64Load k+0(FP)
	I32WrapI64
	Get R4
	I64Store $KeyBuilder_np
	I64Load k+0(FP)
	I32WrapI64
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_srcLen
	I64Load q_len+16(FP)
	I64Add
	I64Store $KeyBuilder_srcLen
	RET

// ENTAT(I): push the address (i32) of ents[I] (R0: ents).
#define ENTAT(I) Get R0; Get I; I64Const $4; I64Shl; I64Add; I32WrapI64
// ENT(I, o): push the word at offset o of ents[I].
#define ENT(I, o) ENTAT(I); I64Load $(o)
// PREVENT(I, o): push the word at offset o of ents[I-1].
#define PREVENT(I, o) Get R0; Get I; I64Const $4; I64Shl; I64Add; I64Const $16; I64Sub; I32WrapI64; I64Load $(o)
// ADDR(LO): push the address of the bytes of the ent whose first word is
// LO: bases[src] + off (R2: bases).
#define ADDR(LO) Get R2; Get LO; I64Const $0xffffffff; I64And; I64Const $3; I64Shl; I64Add; I32WrapI64; I64Load $0; Get LO; I64Const $32; I64ShrU; I64Add

// func finishKey(k *KeyBuilder, out []byte) int
//
// finishKeyGo in fast.go: complete the key result in out (see there).
TEXT ·finishKey(SB), NOSPLIT, $0-40
	I64Load k+0(FP)
	Set R3
	// The host and the path Host and Path recorded (k.hostRec, k.pathRec)
	// go after what out holds, the fixed part only when there are any.
	I64Load out_base+8(FP)
	I64Load out_len+16(FP)
	I64Add
	Set R6 // p
	Get R3
	I32WrapI64
	I64Load $(KeyBuilder_hostRec+8)
	Set R5
	Get R5
	I64Eqz
	I32Eqz
	If
		Get R3
		I32WrapI64
		I64Load $KeyBuilder_hostRec
		Set R9
		// Without a trailing dot.
		Get R9
		Get R5
		I64Add
		I64Const $1
		I64Sub
		I32WrapI64
		I64Load8U $0
		I64Const $46 // '.'
		I64Eq
		If
			Get R5
			I64Const $1
			I64Sub
			Set R5
		End
		COPY(R6, R9, R5, R10)
		Get R6
		Get R5
		I64Add
		Set R6
		Get R3
		I32WrapI64
		Get R5
		I64Store $KeyBuilder_hostLen
	End
	Get R3
	I32WrapI64
	I64Load $(KeyBuilder_pathRec+8)
	Set R5
	Get R5
	I64Eqz
	I32Eqz
	If
		Get R3
		I32WrapI64
		I64Load $KeyBuilder_pathRec
		Set R9
		COPY(R6, R9, R5, R10)
		Get R6
		Get R5
		I64Add
		Set R6
	End
	Get SP
	Get R6
	I64Load out_base+8(FP)
	I64Sub
	I64Store out_len+16(FP)
	// The host.
	I64Load out_base+8(FP)
	I64Const $16 // abi.KeyHeaderSize
	I64Add
	Set R6
	Get R6
	Get R3
	I32WrapI64
	I64Load $KeyBuilder_hostLen
	I64Add
	Set R7 // the host's end: the target's start
	I64Const $0
	Set R8
	LOWERHOST(R6, R7, R8, R9)
	Get R8
	I64Const HIGHS
	I64And
	I64Eqz
	I32Eqz
	If
		Get SP
		I64Const $-1
		I64Store ret+32(FP)
		RET
	End
	// The parameters.
	Get R3
	I64Const $KeyBuilder_params
	I64Add
	Set R0
	Get R3
	I32WrapI64
	I64Load $KeyBuilder_np
	Set R1
	Get R3
	I64Const $(KeyBuilder_fast+fastState_bases)
	I64Add
	Set R2
	// bases[0] = &k.pbuf[0]
	Get R2
	I32WrapI64
	Get R3
	I32WrapI64
	I64Load $KeyBuilder_pbuf
	I64Store $0
	I64Load k+0(FP)
	I32WrapI64
	I32Load8U $KeyBuilder_sorted
	If
		I64Const $1
		Set R3 // i
		Block
		Loop
			Get R3
			Get R1
			I64GeU
			BrIf $1
			ENT(R3, 0)
			Set R4 // cur: src, off
			ENT(R3, 8)
			Set R5 // cur: n, name
			ADDR(R4)
			Set R6 // cur's name
			Get R5
			I64Const $32
			I64ShrU
			Set R7 // its length
			Get R3
			Set R8 // j
			Block
			Loop // while j > 0 && cur < ents[j-1]
				Get R8
				I64Eqz
				BrIf $1
				PREVENT(R8, 0)
				Set R13
				ADDR(R13)
				Set R9 // prev's name
				PREVENT(R8, 8)
				I64Const $32
				I64ShrU
				Set R10 // its length
				// R15: cur < prev, as bytes.Compare: the first byte that
				// differs, else the shorter.
				Get R7
				Get R10
				Get R7
				Get R10
				I64LtU
				Select
				Set R12
				Get R7
				Get R10
				I64LtU
				I64ExtendI32U
				Set R15
				I64Const $0
				Set R11
				Block
				Loop
					Get R11
					Get R12
					I64GeU
					BrIf $1
					Get R6
					Get R11
					I64Add
					I32WrapI64
					I64Load8U $0
					Set R13
					Get R9
					Get R11
					I64Add
					I32WrapI64
					I64Load8U $0
					Set R14
					Get R13
					Get R14
					I64Ne
					If
						Get R13
						Get R14
						I64LtU
						I64ExtendI32U
						Set R15
						Br $2
					End
					Get R11
					I64Const $1
					I64Add
					Set R11
					Br $0
				End
				End
				Get R15
				I64Eqz
				BrIf $1
				// ents[j] = ents[j-1]
				ENTAT(R8)
				PREVENT(R8, 0)
				I64Store $0
				ENTAT(R8)
				PREVENT(R8, 8)
				I64Store $8
				Get R8
				I64Const $1
				I64Sub
				Set R8
				Br $0
			End
			End
			// ents[j] = cur
			ENTAT(R8)
			Get R4
			I64Store $0
			ENTAT(R8)
			Get R5
			I64Store $8
			Get R3
			I64Const $1
			I64Add
			Set R3
			Br $0
		End
		End
	End

	I64Load out_base+8(FP)
	I64Load out_len+16(FP)
	I64Add
	Set R6 // p
	// An empty target becomes "/".
	Get R6
	I64Load out_base+8(FP)
	I64Const $16
	I64Add
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_hostLen
	I64Add
	I64Eq
	If
		Get R6
		I32WrapI64
		I32Const $47
		I32Store8 $0
		Get R6
		I64Const $1
		I64Add
		Set R6
	End
	I64Const $0
	Set R3 // i
	Block
	Loop
		Get R3
		Get R1
		I64GeU
		BrIf $1
		ENT(R3, 0)
		Set R4
		ENT(R3, 8)
		I64Const $0xffffffff
		I64And
		Set R5 // n
		Get R6
		I32WrapI64
		I32Const $63 // '?'
		I32Const $38 // '&'
		Get R3
		I64Eqz
		Select
		I32Store8 $0
		Get R6
		I64Const $1
		I64Add
		Set R6
		// The parameter's n bytes.
		ADDR(R4)
		Set R9 // from
		COPY(R6, R9, R5, R10)
		Get R6
		Get R5
		I64Add
		Set R6
		Get R3
		I64Const $1
		I64Add
		Set R3
		Br $0
	End
	End
	// The target, from the host's end (the sort used R7).
	Get R6
	Set R1 // the end
	I64Load out_base+8(FP)
	I64Const $16
	I64Add
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_hostLen
	I64Add
	Tee R7
	Set R6
	I64Const $0
	Set R8
	VALIDTARGET(R6, R1, R8, R9)
	Get R7
	I32WrapI64
	I64Load8U $0
	I64Const $47 // '/'
	I64Ne
	Get R8
	I64Const HIGHS
	I64And
	I64Eqz
	I32Eqz
	I32Or
	If
		Get SP
		I64Const $-2
		I64Store ret+32(FP)
		RET
	End
	// The variant, after the target.
	I64Load k+0(FP)
	I32WrapI64
	I64Load $(KeyBuilder_variant+8)
	Set R10
	Get R10
	I64Eqz
	I32Eqz
	If
		Get R1
		I32WrapI64
		I64Load k+0(FP)
		I32WrapI64
		I64Load $KeyBuilder_variant
		I32WrapI64
		Get R10
		I32WrapI64
		MemoryCopy
	End
	// The fixed part (abi.PutKeyHeader): flags 0, then the host's, the
	// target's and the variant's lengths (u32 each).
	I64Load out_base+8(FP)
	I32WrapI64
	I64Load k+0(FP)
	I32WrapI64
	I64Load $KeyBuilder_hostLen
	I64Const $32
	I64Shl
	I64Store $0
	I64Load out_base+8(FP)
	I32WrapI64
	Get R1
	Get R7
	I64Sub
	Get R10
	I64Const $32
	I64Shl
	I64Or
	I64Store $8
	Get SP
	Get R1
	Get R10
	I64Add
	I64Load out_base+8(FP)
	I64Sub
	I64Store ret+32(FP)
	RET
