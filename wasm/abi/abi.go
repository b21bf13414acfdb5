package abi

import (
	"encoding/binary"
	"strconv"
	"time"
)

// Version is the ABI version this package implements. A module's
// flowcache_abi_version export must return it.
const Version = 1

// Export names. Every policy module exports [ExportABIVersion],
// [ExportAlloc], [ExportKey], [ExportDecide] and its linear memory as
// [ExportMemory]; [ExportInit], [ExportHeaders] and [ExportInitialize] are
// optional.
const (
	// ExportABIVersion is "() -> i32": returns [Version].
	ExportABIVersion = "flowcache_abi_version"
	// ExportAlloc is "(size i32) -> i32": returns the address of a guest
	// buffer of at least size bytes, 8-byte aligned, or 0 on failure. The host
	// writes every input blob there; a new call may replace the buffer.
	ExportAlloc = "flowcache_alloc"
	// ExportKey is "(ptr i32, len i32) -> i64": reads a request blob and
	// returns a key result (see [Pack], [ResultBypass], [ResultError]).
	ExportKey = "flowcache_key"
	// ExportDecide is "(ptr i32, len i32) -> i64": reads a decide blob and
	// returns a decision result (see [Pack], [ResultDefault], [ResultError]).
	ExportDecide = "flowcache_decide"
	// ExportInit is the optional "(ptr i32, len i32) -> i32": receives the
	// policy's configuration as a JSON object; returns 0 on success.
	ExportInit = "flowcache_init"
	// ExportHeaders is the optional "() -> i64": returns a packed pointer to
	// the list of request header names the module reads (see
	// [ParseHeaderNames]). Without it, every request header is encoded.
	ExportHeaders = "flowcache_headers"
	// ExportInitialize is the WASI reactor initialiser ("() -> ()") that Go
	// (-buildmode=c-shared), TinyGo and wasi-libc guests export. The host
	// calls it once per instance, before anything else.
	ExportInitialize = "_initialize"
	// ExportMemory is the name of the exported linear memory.
	ExportMemory = "memory"
)

// Special results of flowcache_key and flowcache_decide. Any other value is a
// pointer and a length packed by [Pack].
const (
	// ResultBypass, returned by flowcache_key, sends the request to the
	// upstream without caching.
	ResultBypass uint64 = 0
	// ResultDefault, returned by flowcache_decide, keeps the default
	// decision the host pre-filled.
	ResultDefault uint64 = 0
	// ResultError, returned by either call, makes the host answer this
	// request with the route's fallback policy. Unlike a trap, it keeps the
	// instance.
	ResultError uint64 = 1<<64 - 1
)

// Pack returns ptr<<32 | n, the form in which flowcache_key,
// flowcache_decide and flowcache_headers return a guest memory range.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits a value made by [Pack].
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) } //nolint:gosec // splitting a packed i64 is the point

// Request blob layout: a fixed part of [RequestFixedSize] bytes, then the
// field bytes, then the header list.
const (
	reqMethod      = 0  // u32 off, u32 len
	reqScheme      = 8  // u32 off, u32 len
	reqHost        = 16 // u32 off, u32 len
	reqPath        = 24 // u32 off, u32 len
	reqQuery       = 32 // u32 off, u32 len
	reqRoute       = 40 // u32 off, u32 len
	reqHeaderCount = 48 // u32
	reqHeadersOff  = 52 // u32

	// RequestFixedSize is the size of a request blob's fixed part.
	RequestFixedSize = 56
)

// Decide blob layout: the default decision, the response's fixed fields, the
// response header list, then the request blob (last).
const (
	decDecision    = 0  // DecisionSize bytes
	decStatus      = 32 // u32
	decHeaderCount = 36 // u32
	decBodySize    = 40 // i64
	decNow         = 48 // i64 unix milliseconds
	decHeadersOff  = 56 // u32
	decRequestOff  = 60 // u32 (0 until the request is appended)
	decReserved    = 64 // u64, zero

	// DecideFixedSize is the size of a decide blob's fixed part.
	DecideFixedSize = 72
)

// Decision layout ([DecisionSize] bytes, 8-byte aligned fields).
const (
	dcnFlags = 0  // u32
	dcnTier  = 4  // u32
	dcnTTL   = 8  // i64 milliseconds
	dcnSWR   = 16 // i64 milliseconds
	dcnSIE   = 24 // i64 milliseconds

	// DecisionSize is the size of an encoded decision.
	DecisionSize = 32
)

// Decision flags.
const (
	FlagStore          = 1 << 0
	FlagAdmit          = 1 << 1
	FlagMustRevalidate = 1 << 2
	FlagNoCache        = 1 << 3

	decisionFlags = FlagStore | FlagAdmit | FlagMustRevalidate | FlagNoCache
)

// Key result layout: a fixed part of [KeyHeaderSize] bytes followed by the
// host, target and variant bytes, in that order, with nothing after them.
const (
	keyFlags      = 0  // u32
	keyHostLen    = 4  // u32
	keyTargetLen  = 8  // u32
	keyVariantLen = 12 // u32

	// KeyHeaderSize is the size of a key result's fixed part.
	KeyHeaderSize = 16

	// KeyFlagBypass in a key result's flags means "bypass the cache", the
	// same as returning [ResultBypass].
	KeyFlagBypass = 1 << 0
)

// Tier says which cache tiers may hold a response. Its values are those of
// policy.Tier.
type Tier uint8

// Tiers.
const (
	TierBoth Tier = 0
	TierL1   Tier = 1
	TierL2   Tier = 2
)

// Request holds the fixed fields of a request blob. The slices are only read.
type Request struct {
	Method, Scheme, Host, Path, Query, Route []byte
}

// Response holds the fixed fields of a decide blob's response.
type Response struct {
	// Status is the response status code (100-999).
	Status int
	// BodySize is the body length in bytes, or -1 if unknown.
	BodySize int64
	// NowUnixMilli is the time the response was received, in Unix
	// milliseconds.
	NowUnixMilli int64
}

// Key is a decoded key result. After [DecodeKey] its slices alias the
// decoded bytes (guest memory): copy them before the next guest call.
type Key struct {
	Bypass                bool
	Host, Target, Variant []byte
}

// Decision is a decoded decision. Durations travel as whole milliseconds.
type Decision struct {
	Store, Admit, MustRevalidate, NoCache   bool
	Tier                                    Tier
	TTL, StaleWhileRevalidate, StaleIfError time.Duration
}

// DecodeError reports a malformed blob or result, naming what was being
// decoded, the byte offset and the reason.
type DecodeError struct {
	// What names the blob: "key result", "decision", "request blob",
	// "decide blob", "header names".
	What string
	// Offset is the byte offset in the blob where decoding failed.
	Offset int
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *DecodeError) Error() string {
	return "abi: " + e.What + ": at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func derr(what string, off int, reason string) error {
	return &DecodeError{What: what, Offset: off, Reason: reason}
}

var le = binary.LittleEndian

// u32 reads a little-endian u32 at off; the caller checked the bounds.
func u32(b []byte, off int) uint32 { return le.Uint32(b[off:]) }

// ulen returns the length or offset n as a wire u32. Blobs stay far below
// 4GiB: the host caps its input at 1GiB and guest memories are 32-bit.
func ulen(n int) uint32 { return uint32(n) } //nolint:gosec // see above

// put32 writes v at off; the caller checked the bounds.
func put32(b []byte, off int, v uint32) { le.PutUint32(b[off:], v) }

var zeros [DecideFixedSize]byte
