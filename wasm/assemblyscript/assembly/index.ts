// @flowcache/sdk: an AssemblyScript SDK for Flow Cache policy modules,
// ABI version 1 (wasm/abi/ABI.md in the Flow Cache repository).
//
// Nothing here allocates after the module's start: views and writers are
// created once (module globals) and reused for every call, and the key
// result, the error message and the decision live in static memory
// (memory.data). That matters with `--runtime stub`, the runtime to use: it
// never frees, so a policy that allocated per request would grow until its
// memory limit. Build with
//
//   asc assembly/index.ts --runtime stub --use abort= -O3 -o policy.wasm
//
// (`--use abort=` turns aborts into traps instead of an `env.abort` import,
// which the gateway refuses), and re-export the functions every module
// needs from the entry file:
//
//   export { flowcache_abi_version, flowcache_alloc, flowcache_error } from "@flowcache/sdk";
//
// Unaligned loads are legal in WebAssembly (an access's alignment is a hint,
// never a trap), and the ABI's header lists are unaligned: load<u32>(p)
// works at any address.

/** The ABI version this SDK implements. */
export const ABI_VERSION: i32 = 1;

/** Key result: bypass the cache. */
export const BYPASS: u64 = 0;
/** Decide result: keep the default decision. */
export const DEFAULT: u64 = 0;
/** Either result: the request uses the route's fallback policy. */
export const ERROR: u64 = u64.MAX_VALUE;

/** pack returns the packed range ptr << 32 | len. */
// @ts-ignore: decorator
@inline
export function pack(ptr: usize, len: u32): u64 {
  return (<u64>ptr << 32) | <u64>len;
}

// ---------------------------------------------------------------------------
// Eight bytes at a time. A policy's fuel counts instructions (ABI.md 7), so
// the scans handle a 64-bit word per iteration (SWAR: SIMD within a
// register) instead of a byte. A tail of 1 to 7 bytes is copied into a
// padded word (memory.copy), never read past its end.

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;
const word = memory.data(8, 8);

/** zeroBytes flags the zero bytes of x (exact for the lowest). */
// @ts-ignore: decorator
@inline function zeroBytes(x: u64): u64 {
  return (x - ONES) & ~x & HIGHS;
}

/** byteEq flags the bytes of x equal to c (exact for the lowest). */
// @ts-ignore: decorator
@inline function byteEq(x: u64, c: u64): u64 {
  return zeroBytes(x ^ (ONES * c));
}

/** byteLt is non-zero exactly when some byte of x is below c (c <= 0x80). */
// @ts-ignore: decorator
@inline function byteLt(x: u64, c: u64): u64 {
  return (x - ONES * c) & ~x & HIGHS;
}

/** tail loads the n < 8 bytes at p into the low bytes of a word whose other
 * bytes are pad. */
function tail(p: usize, n: u32, pad: u64): u64 {
  store<u64>(word, ONES * pad);
  memory.copy(word, p, n);
  return load<u64>(word);
}

/** indexByte returns the index of the first byte c in [p, p+n), or n. */
export function indexByte(p: usize, n: u32, c: u8): u32 {
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    const m = byteEq(load<u64>(p + i), c);
    if (m != 0) return i + <u32>(ctz(m) >> 3);
  }
  if (i == n) return n;
  const m = byteEq(tail(p + i, n - i, <u64>(~c & 0xff)), c);
  return m != 0 ? i + <u32>(ctz(m) >> 3) : n;
}

/** sameBytes reports whether [p, p+n) and [q, q+n) hold the same bytes. */
export function sameBytes(p: usize, q: usize, n: u32): bool {
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    if (load<u64>(p + i) != load<u64>(q + i)) return false;
  }
  return i == n || tail(p + i, n - i, 0) == tail(q + i, n - i, 0);
}

/** lowerWord lower-cases the ASCII letters of a word. */
function lowerWord(x: u64): u64 {
  const h = x & ~HIGHS;
  const upper = (h + ONES * (0x80 - 65)) & ~(h + ONES * (0x7f - 90)) & ~x & HIGHS;
  return x | (upper >> 2);
}

function order(x: u64, y: u64): i32 {
  return bswap<u64>(x) < bswap<u64>(y) ? -1 : 1;
}

// ---------------------------------------------------------------------------
// Byte spans and ASCII comparisons with string literals.

function lower(c: u32): u32 {
  return c - 65 < 26 ? c + 32 : c;
}

/** A span of guest memory. It does not own its bytes. */
@final
export class Span {
  ptr: usize = 0;
  len: u32 = 0;

  set(ptr: usize, len: u32): Span {
    this.ptr = ptr;
    this.len = len;
    return this;
  }

  copyFrom(o: Span): Span {
    this.ptr = o.ptr;
    this.len = o.len;
    return this;
  }

  at(i: u32): u8 {
    return load<u8>(this.ptr + i);
  }

  /** equals reports whether the bytes are the ASCII string s. */
  equals(s: string): bool {
    const n = <u32>s.length;
    if (n != this.len) return false;
    for (let i: u32 = 0; i < n; i++) {
      if (<u32>load<u8>(this.ptr + i) != <u32>s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** equalsFold is equals ignoring ASCII case (header names). */
  equalsFold(s: string): bool {
    const n = <u32>s.length;
    if (n != this.len) return false;
    for (let i: u32 = 0; i < n; i++) {
      if (lower(load<u8>(this.ptr + i)) != lower(<u32>s.charCodeAt(i))) return false;
    }
    return true;
  }

  /** equalsSpan reports whether o holds the same bytes. */
  equalsSpan(o: Span): bool {
    return this.len == o.len && sameBytes(this.ptr, o.ptr, this.len);
  }

  /** hasPrefix reports whether the bytes start with those of p. */
  hasPrefix(p: Span): bool {
    return this.len >= p.len && sameBytes(this.ptr, p.ptr, p.len);
  }

  /** compare orders the bytes like Go's bytes.Compare: -1, 0 or 1. */
  compare(o: Span): i32 {
    return compareBytes(this.ptr, this.len, o.ptr, o.len);
  }
}

/** compareBytes orders two byte ranges: memcmp, then the shorter first. */
export function compareBytes(a: usize, an: u32, b: usize, bn: u32): i32 {
  const n = an < bn ? an : bn;
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    const x = load<u64>(a + i);
    const y = load<u64>(b + i);
    if (x != y) return order(x, y);
  }
  if (i < n) {
    const x = tail(a + i, n - i, 0);
    const y = tail(b + i, n - i, 0);
    if (x != y) return order(x, y);
  }
  return an < bn ? -1 : an > bn ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Header lists (ABI.md 2.1): u32 name_len, name, u32 value_len, value.

/** Headers iterates over a header list. */
@final
export class Headers {
  ptr: usize = 0;
  left: u32 = 0;
  count: u32 = 0;

  reset(ptr: usize, len: u32, count: u32): Headers {
    this.ptr = ptr;
    this.left = len;
    this.count = count;
    return this;
  }

  copyFrom(o: Headers): Headers {
    return this.reset(o.ptr, o.left, o.count);
  }

  /** next stores the next field in name and value; false at the end. */
  next(name: Span, value: Span): bool {
    if (this.count == 0 || this.left < 4) return false;
    const nl = load<u32>(this.ptr);
    if (nl > this.left - 4) return false;
    const v = this.ptr + 4 + nl;
    const left = this.left - 4 - nl;
    if (left < 4) return false;
    const vl = load<u32>(v);
    if (vl > left - 4) return false;
    name.set(this.ptr + 4, nl);
    value.set(v + 4, vl);
    this.ptr = v + 4 + vl;
    this.left = left - 4 - vl;
    this.count--;
    return true;
  }
}

const scratchHeaders = new Headers();
const scratchName = new Span();
const scratchValue = new Span();

/** checkHeaders reports whether the list holds its count of whole fields. */
function checkHeaders(h: Headers): bool {
  const it = scratchHeaders.copyFrom(h);
  const n = h.count;
  for (let i: u32 = 0; i < n; i++) {
    if (!it.next(scratchName, scratchValue)) return false;
  }
  return true;
}

/** findHeader stores in value the first field of h named name (ASCII
 * case-insensitive) and returns true, or returns false. */
export function findHeader(h: Headers, name: string, value: Span): bool {
  const it = scratchHeaders.copyFrom(h);
  while (it.next(scratchName, value)) {
    if (scratchName.equalsFold(name)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Request blob (ABI.md 2).

export const REQUEST_FIXED_SIZE: u32 = 56;

/** A checked view of a request blob. */
@final
export class Request {
  readonly method: Span = new Span();
  readonly scheme: Span = new Span();
  readonly host: Span = new Span();
  readonly path: Span = new Span();
  readonly query: Span = new Span();
  readonly route: Span = new Span();
  readonly headers: Headers = new Headers();

  /** parse checks the blob at ptr (len bytes) and reads it; false if it is
   * malformed (return ERROR then). */
  parse(ptr: usize, len: u32): bool {
    if (len < REQUEST_FIXED_SIZE) return false;
    if (!field(ptr, len, 0, this.method) || !field(ptr, len, 8, this.scheme) ||
        !field(ptr, len, 16, this.host) || !field(ptr, len, 24, this.path) ||
        !field(ptr, len, 32, this.query) || !field(ptr, len, 40, this.route)) return false;
    const count = load<u32>(ptr + 48);
    const off = load<u32>(ptr + 52);
    if (count == 0) {
      this.headers.reset(ptr + len, 0, 0);
      return true;
    }
    if (off > len) return false;
    this.headers.reset(ptr + off, len - off, count);
    return checkHeaders(this.headers);
  }

  /** header stores the value of the first header named name (ASCII
   * case-insensitive; only declared headers are encoded) and returns true,
   * or returns false. */
  header(name: string, value: Span): bool {
    return findHeader(this.headers, name, value);
  }

  /** hasHeader reports whether a header named name was sent. */
  hasHeader(name: string): bool {
    return findHeader(this.headers, name, scratchValue);
  }
}

function field(blob: usize, len: u32, at: u32, out: Span): bool {
  const off = load<u32>(blob + at);
  const n = load<u32>(blob + at + 4);
  if (off > len || n > len - off) return false;
  out.set(blob + off, n);
  return true;
}

// ---------------------------------------------------------------------------
// Query parameters, as sent: '&' separates them, empty ones are skipped, a
// name ends at the first '='.

/** Params iterates over the parameters of a raw query. */
@final
export class Params {
  readonly raw: Span = new Span();
  readonly name: Span = new Span();
  readonly value: Span = new Span();
  hasValue: bool = false;
  private p: usize = 0;
  private left: u32 = 0;

  reset(query: Span): Params {
    this.p = query.ptr;
    this.left = query.len;
    return this;
  }

  /** next moves to the next non-empty parameter (raw, name, value); false
   * at the end. */
  next(): bool {
    while (this.left > 0) {
      const p = this.p;
      const end = indexByte(p, this.left, 0x26); // '&'
      if (end < this.left) {
        this.p += end + 1;
        this.left -= end + 1;
      } else {
        this.p += end;
        this.left = 0;
      }
      if (end == 0) continue;
      const eq = indexByte(p, end, 0x3d); // '='
      this.raw.set(p, end);
      if (eq < end) {
        this.name.set(p, eq);
        this.value.set(p + eq + 1, end - eq - 1);
        this.hasValue = true;
      } else {
        this.name.set(p, end);
        this.value.set(p + end, 0);
        this.hasValue = false;
      }
      return true;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------
// Key result (ABI.md 3): u32 flags, host_len, target_len, variant_len, then
// the host, target and variant bytes, written in that order.

export const KEY_HEADER_SIZE: u32 = 16;
export const KEY_MAX: u32 = 32768;
const keyBuf = memory.data(16 + 32768, 8);

function badTargetWord(x: u64): u64 {
  return byteLt(x, 0x21) | byteEq(x, 0x7f) | byteEq(x, 0x23); // controls, space, DEL, '#'
}

function badHostWord(x: u64): u64 {
  return badTargetWord(x) | byteEq(x, 0x2f) | byteEq(x, 0x3f) | byteEq(x, 0x40); // '/', '?', '@'
}

/** validHost reports whether [p, p+n) may be a key's host. */
export function validHost(p: usize, n: u32): bool {
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    if (badHostWord(load<u64>(p + i)) != 0) return false;
  }
  return i == n || badHostWord(tail(p + i, n - i, 0x61)) == 0;
}

/** validTarget reports whether [p, p+n) may be a key's target. */
export function validTarget(p: usize, n: u32): bool {
  if (n == 0 || load<u8>(p) != 0x2f) return false;
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) {
    if (badTargetWord(load<u64>(p + i)) != 0) return false;
  }
  return i == n || badTargetWord(tail(p + i, n - i, 0x2f)) == 0;
}

/** KeyWriter writes a key result into a static buffer: the host, then the
 * target (path, then query parameters), then the variant. */
@final
export class KeyWriter {
  private n: u32 = KEY_HEADER_SIZE;
  private hostLen: u32 = 0;
  private targetLen: u32 = 0;
  private stage: i32 = 0; // 0 host, 1 target, 2 variant
  private params: i32 = 0;
  private err: bool = false;

  /** begin starts a new key. */
  begin(): KeyWriter {
    this.n = KEY_HEADER_SIZE;
    this.hostLen = 0;
    this.targetLen = 0;
    this.stage = 0;
    this.params = 0;
    this.err = false;
    return this;
  }

  private put(ptr: usize, len: u32): void {
    if (this.err || len > KEY_HEADER_SIZE + KEY_MAX - this.n) {
      this.err = true;
      return;
    }
    memory.copy(keyBuf + this.n, ptr, len);
    this.n += len;
  }

  private putByte(c: u8): void {
    if (this.err || this.n == KEY_HEADER_SIZE + KEY_MAX) {
      this.err = true;
      return;
    }
    store<u8>(keyBuf + this.n, c);
    this.n++;
  }

  /** host appends h, lower-cased (ASCII), without a trailing dot. Call it
   * first. */
  host(h: Span): void {
    if (this.stage != 0) {
      this.err = true;
      return;
    }
    let n = h.len;
    if (n > 0 && load<u8>(h.ptr + n - 1) == 0x2e) n--;
    const at = this.n;
    this.put(h.ptr, n);
    if (this.err) return;
    let i = at;
    for (; i + 8 <= this.n; i += 8) store<u64>(keyBuf + i, lowerWord(load<u64>(keyBuf + i)));
    if (i < this.n) {
      store<u64>(word, lowerWord(tail(keyBuf + i, this.n - i, 0)));
      memory.copy(keyBuf + i, word, this.n - i);
    }
    this.hostLen += n;
  }

  private toTarget(): void {
    if (this.stage > 1) this.err = true;
    this.stage = 1;
  }

  /** path appends p to the target; an empty target becomes "/". */
  path(p: Span): void {
    this.toTarget();
    this.put(p.ptr, p.len);
  }

  /** param appends the parameter raw ("name=value") after '?' or '&'. */
  param(raw: Span): void {
    this.paramBytes(raw.ptr, raw.len);
  }

  /** paramBytes is param for a byte range. */
  paramBytes(ptr: usize, len: u32): void {
    this.toTarget();
    if (this.n == KEY_HEADER_SIZE + this.hostLen) this.putByte(0x2f); // '/'
    this.putByte(this.params == 0 ? 0x3f : 0x26); // '?' or '&'
    this.put(ptr, len);
    this.params++;
  }

  /** variant appends v to the variant (key material the target does not
   * show). Call it after the target. */
  variant(v: Span): void {
    this.toVariant();
    this.put(v.ptr, v.len);
  }

  /** variantString appends the ASCII string s to the variant. */
  variantString(s: string): void {
    this.toVariant();
    for (let i = 0; i < s.length; i++) this.putByte(<u8>s.charCodeAt(i));
  }

  private toVariant(): void {
    if (this.stage == 2) return;
    this.toTarget();
    if (this.n == KEY_HEADER_SIZE + this.hostLen) this.putByte(0x2f);
    this.targetLen = this.n - KEY_HEADER_SIZE - this.hostLen;
    this.stage = 2;
  }

  /** finish completes the result and returns it packed, or ERROR if it is
   * longer than KEY_MAX or holds a byte the host refuses. */
  finish(): u64 {
    this.toVariant();
    if (this.err) return ERROR;
    const host = keyBuf + KEY_HEADER_SIZE;
    if (!validHost(host, this.hostLen) || !validTarget(host + this.hostLen, this.targetLen)) return ERROR;
    store<u32>(keyBuf, 0);
    store<u32>(keyBuf + 4, this.hostLen);
    store<u32>(keyBuf + 8, this.targetLen);
    store<u32>(keyBuf + 12, this.n - KEY_HEADER_SIZE - this.hostLen - this.targetLen);
    return pack(keyBuf, this.n);
  }
}

// ---------------------------------------------------------------------------
// Decision (ABI.md 5) and decide blob (4).

export const STORE: u32 = 1;
export const ADMIT: u32 = 2;
export const MUST_REVALIDATE: u32 = 4;
export const NO_CACHE: u32 = 8;
export const TIER_BOTH: u32 = 0;
export const TIER_L1: u32 = 1;
export const TIER_L2: u32 = 2;
export const DECISION_SIZE: u32 = 32;
export const DECIDE_FIXED_SIZE: u32 = 72;

/** The 32-byte decision; durations in milliseconds. */
@final
export class Decision {
  flags: u32 = 0;
  tier: u32 = 0;
  ttlMs: i64 = 0;
  swrMs: i64 = 0;
  sieMs: i64 = 0;

  load(p: usize): Decision {
    this.flags = load<u32>(p);
    this.tier = load<u32>(p + 4);
    this.ttlMs = load<i64>(p + 8);
    this.swrMs = load<i64>(p + 16);
    this.sieMs = load<i64>(p + 24);
    return this;
  }

  store(p: usize): void {
    store<u32>(p, this.flags);
    store<u32>(p + 4, this.tier);
    store<i64>(p + 8, this.ttlMs);
    store<i64>(p + 16, this.swrMs);
    store<i64>(p + 24, this.sieMs);
  }
}

/** A checked view of a decide blob. */
@final
export class Decide {
  blob: usize = 0;
  /** The default decision (RFC 9111) the host computed. */
  readonly dflt: Decision = new Decision();
  status: u32 = 0;
  /** Body length in bytes, -1 if unknown (streamed). */
  bodySize: i64 = 0;
  /** When the response was received, Unix milliseconds. */
  nowMs: i64 = 0;
  /** End-to-end response header fields. */
  readonly headers: Headers = new Headers();
  /** The request, with the declared headers. */
  readonly request: Request = new Request();

  /** parse checks the blob at ptr (len bytes); false if malformed. */
  parse(ptr: usize, len: u32): bool {
    if (len < DECIDE_FIXED_SIZE) return false;
    this.blob = ptr;
    this.dflt.load(ptr);
    this.status = load<u32>(ptr + 32);
    const count = load<u32>(ptr + 36);
    this.bodySize = load<i64>(ptr + 40);
    this.nowMs = load<i64>(ptr + 48);
    const hoff = load<u32>(ptr + 56);
    const roff = load<u32>(ptr + 60);
    if (roff > len || hoff > roff) return false;
    this.headers.reset(ptr + hoff, roff - hoff, count);
    if (!checkHeaders(this.headers)) return false;
    return this.request.parse(ptr + roff, len - roff);
  }

  /** header looks up a response header (ASCII case-insensitive). */
  header(name: string, value: Span): bool {
    return findHeader(this.headers, name, value);
  }

  /** result writes d over the default decision and returns the packed
   * result pointing there. */
  result(d: Decision): u64 {
    d.store(this.blob);
    return pack(this.blob, DECISION_SIZE);
  }
}

// ---------------------------------------------------------------------------
// Configuration (ABI.md 6): flowcache_init receives a JSON object, always
// well-formed. JsonIter walks an object's members or an array's elements and
// hands out raw values (a string keeps its quotes).

function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipSpace(p: usize, i: u32, n: u32): u32 {
  while (i < n && isSpace(load<u8>(p + i))) i++;
  return i;
}

/** skipValue returns the index after the JSON value at p[i], or n + 1. */
function skipValue(p: usize, i: u32, n: u32): u32 {
  if (i >= n) return n + 1;
  let c = <u32>load<u8>(p + i);
  if (c == 0x22) { // '"'
    for (i++; i < n; i++) {
      c = load<u8>(p + i);
      if (c == 0x5c) i++; // '\\'
      else if (c == 0x22) return i + 1;
    }
    return n + 1;
  }
  if (c == 0x7b || c == 0x5b) { // '{' '['
    let depth: u32 = 0;
    for (; i < n; i++) {
      c = load<u8>(p + i);
      if (c == 0x22) {
        i = skipValue(p, i, n);
        if (i > n) return i;
        i--;
      } else if (c == 0x7b || c == 0x5b) {
        depth++;
      } else if (c == 0x7d || c == 0x5d) {
        if (--depth == 0) return i + 1;
      }
    }
    return n + 1;
  }
  const start = i;
  while (i < n) {
    c = load<u8>(p + i);
    if (c == 0x2c || c == 0x7d || c == 0x5d || c == 0x3a || isSpace(c)) break;
    i++;
  }
  return i == start ? n + 1 : i;
}

/** JsonIter iterates over an object's members or an array's elements. */
@final
export class JsonIter {
  private p: usize = 0;
  private i: u32 = 0;
  private n: u32 = 0;
  private first: bool = true;
  /** Whether the value iterated is an object (else an array). */
  isObject: bool = false;

  /** begin starts iterating over v; false if it is neither an object nor
   * an array. */
  begin(v: Span): bool {
    const i = skipSpace(v.ptr, 0, v.len);
    if (i >= v.len) return false;
    const c = load<u8>(v.ptr + i);
    if (c != 0x7b && c != 0x5b) return false;
    this.p = v.ptr;
    this.i = i + 1;
    this.n = v.len;
    this.first = true;
    this.isObject = c == 0x7b;
    return true;
  }

  /** next stores the next member's name (without quotes, escapes not
   * decoded; untouched for an array) in key and its raw value in value.
   * It returns 1, 0 at the end, -1 if the text is malformed. */
  next(key: Span, value: Span): i32 {
    const p = this.p;
    const n = this.n;
    let i = skipSpace(p, this.i, n);
    if (i >= n) return -1;
    const c = load<u8>(p + i);
    if (c == (this.isObject ? 0x7d : 0x5d)) {
      this.i = i;
      return 0;
    }
    if (!this.first) {
      if (c != 0x2c) return -1;
      i = skipSpace(p, i + 1, n);
    }
    this.first = false;
    if (this.isObject) {
      if (i >= n || load<u8>(p + i) != 0x22) return -1;
      const ke = skipValue(p, i, n);
      if (ke > n) return -1;
      key.set(p + i + 1, ke - i - 2);
      i = skipSpace(p, ke, n);
      if (i >= n || load<u8>(p + i) != 0x3a) return -1;
      i = skipSpace(p, i + 1, n);
    }
    const ve = skipValue(p, i, n);
    if (ve > n) return -1;
    value.set(p + i, ve - i);
    this.i = ve;
    return 1;
  }
}

/** jsonString stores the characters of the JSON string v (without quotes)
 * in out; false if v is not a string or holds an escape. */
export function jsonString(v: Span, out: Span): bool {
  if (v.len < 2 || load<u8>(v.ptr) != 0x22 || load<u8>(v.ptr + v.len - 1) != 0x22) return false;
  for (let i: u32 = 1; i + 1 < v.len; i++) {
    if (load<u8>(v.ptr + i) == 0x5c) return false;
  }
  out.set(v.ptr + 1, v.len - 2);
  return true;
}

const jsonScratch = new JsonIter();
const jsonKey = new Span();

/** jsonGet stores in value the raw value of the member name of the object
 * json and returns 1; it returns 0 if there is no such member, -1 if json
 * is not an object it can read. */
export function jsonGet(json: Span, name: string, value: Span): i32 {
  if (!jsonScratch.begin(json) || !jsonScratch.isObject) return -1;
  let r: i32;
  while ((r = jsonScratch.next(jsonKey, value)) == 1) {
    if (jsonKey.equals(name)) return 1;
  }
  return r;
}

/** jsonIsInt reports whether v is a JSON integer that fits an i64 (read it
 * with jsonInt). */
export function jsonIsInt(v: Span): bool {
  let i: u32 = 0;
  if (v.len > 0 && load<u8>(v.ptr) == 0x2d) i = 1; // '-'
  if (i == v.len || v.len - i > 18) return false;
  for (; i < v.len; i++) {
    const c = load<u8>(v.ptr + i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** jsonInt returns the JSON integer v (jsonIsInt), or 0. */
export function jsonInt(v: Span): i64 {
  if (!jsonIsInt(v)) return 0;
  const neg = load<u8>(v.ptr) == 0x2d;
  let x: i64 = 0;
  for (let i: u32 = neg ? 1 : 0; i < v.len; i++) x = x * 10 + <i64>(load<u8>(v.ptr + i) - 0x30);
  return neg ? -x : x;
}

// ---------------------------------------------------------------------------
// flowcache_error (ABI.md 11): the message of the last failure, UTF-8, in a
// static buffer.

const errBuf = memory.data(1024);
let errLen: u32 = 0;

/** setError records msg (cut at 1024 bytes) as the reason of the failure
 * being returned (ERROR, or a non-zero flowcache_init result). */
export function setError(msg: string): void {
  let n: u32 = 0;
  for (let i = 0; i < msg.length; i++) {
    let c = <u32>msg.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < msg.length) {
      const d = <u32>msg.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    const w: u32 = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (n + w > 1024) break;
    if (w == 1) {
      store<u8>(errBuf + n, <u8>c);
    } else if (w == 2) {
      store<u8>(errBuf + n, <u8>(0xc0 | (c >> 6)));
      store<u8>(errBuf + n + 1, <u8>(0x80 | (c & 0x3f)));
    } else if (w == 3) {
      store<u8>(errBuf + n, <u8>(0xe0 | (c >> 12)));
      store<u8>(errBuf + n + 1, <u8>(0x80 | ((c >> 6) & 0x3f)));
      store<u8>(errBuf + n + 2, <u8>(0x80 | (c & 0x3f)));
    } else {
      store<u8>(errBuf + n, <u8>(0xf0 | (c >> 18)));
      store<u8>(errBuf + n + 1, <u8>(0x80 | ((c >> 12) & 0x3f)));
      store<u8>(errBuf + n + 2, <u8>(0x80 | ((c >> 6) & 0x3f)));
      store<u8>(errBuf + n + 3, <u8>(0x80 | (c & 0x3f)));
    }
    n += w;
  }
  errLen = n;
}

/** fail records msg with setError and returns ERROR. */
export function fail(msg: string): u64 {
  setError(msg);
  return ERROR;
}

// ---------------------------------------------------------------------------
// The exports every module needs; re-export them from the entry file.

/** flowcache_abi_version returns 1. */
export function flowcache_abi_version(): i32 {
  return ABI_VERSION;
}

/** flowcache_alloc returns at least size bytes from the runtime's heap
 * (16-byte aligned), or 0 when the memory cannot grow enough. It grows the
 * memory itself, when the block would not fit, before asking the runtime
 * (whose own growth traps on failure), so that a memory limit gives 0, as
 * the ABI wants. The host calls it a few times per instance (configuration,
 * input buffer), never per request. */
export function flowcache_alloc(size: u32): u32 {
  if (size > 0x7fff0000) return 0;
  // Where the runtime's next block starts, near enough: an empty block
  // (a few bytes, once per call) and a margin for the block's header.
  const end = <u64>heap.alloc(0) + <u64>size + 64;
  const have = <u64>memory.size() << 16;
  if (end > have && memory.grow(<i32>((end - have + 0xffff) >> 16)) < 0) return 0;
  return <u32>heap.alloc(<usize>size);
}

/** flowcache_error returns the message of the last failure (setError). */
export function flowcache_error(): u64 {
  return errLen == 0 ? 0 : pack(errBuf, errLen);
}
