// The policy of examples/normalize in AssemblyScript, with the SDK
// @flowcache/sdk (wasm/assemblyscript): the host lower-cased (without a
// trailing dot), the path as sent, the query parameters minus utm_*, fbclid
// and gclid (or the configuration's "drop" list), sorted stably by name.
// Requests carrying Cookie or Authorization bypass the cache; responses keep
// the default RFC 9111 decision.

import {
  BYPASS, DEFAULT, ERROR, JsonIter, KeyWriter, Params, Request, Span,
  fail, jsonString, pack, setError, compareBytes, sameBytes,
} from "@flowcache/sdk";

export { flowcache_abi_version, flowcache_alloc, flowcache_error } from "@flowcache/sdk";

const MAX_PARAMS: u32 = 64; // kept parameters; more fail the key, as in the Go SDK
const MAX_PATTERNS: u32 = 32;
const MAX_PATTERN_LEN: u32 = 64;

// The "drop" patterns: MAX_PATTERNS slots of MAX_PATTERN_LEN bytes, with
// their lengths and whether each is a prefix (it ended in '*').
const patternText = memory.data(MAX_PATTERNS * MAX_PATTERN_LEN);
const patternLen = memory.data(MAX_PATTERNS * 4, 4);
const patternPrefix = memory.data(MAX_PATTERNS);
let npatterns: u32 = 0;

function setPattern(ptr: usize, n: u32): void {
  const prefix = n > 0 && load<u8>(ptr + n - 1) == 0x2a; // '*'
  const len = prefix ? n - 1 : n;
  memory.copy(patternText + npatterns * MAX_PATTERN_LEN, ptr, len);
  store<u32>(patternLen + npatterns * 4, len);
  store<u8>(patternPrefix + npatterns, prefix ? 1 : 0);
  npatterns++;
}

function setPatternString(s: string): void {
  const tmp = memory.data(MAX_PATTERN_LEN);
  for (let i = 0; i < s.length; i++) store<u8>(tmp + i, <u8>s.charCodeAt(i));
  setPattern(tmp, <u32>s.length);
}

function dropped(name: Span): bool {
  for (let i: u32 = 0; i < npatterns; i++) {
    const p = patternText + i * MAX_PATTERN_LEN;
    const n = load<u32>(patternLen + i * 4);
    if (load<u8>(patternPrefix + i) != 0) {
      if (name.len >= n && sameBytes(name.ptr, p, n)) return true;
    } else if (name.len == n && sameBytes(name.ptr, p, n)) {
      return true;
    }
  }
  return false;
}

const config = new Span();
const key = new Span();
const value = new Span();
const item = new Span();
const str = new Span();
const members = new JsonIter();
const items = new JsonIter();

function initFail(msg: string): i32 {
  setError(msg);
  return 1;
}

// flowcache_init reads {"drop": ["utm_*", ...]}: the rules of the Go
// version (examples/normalize/main.go).
export function flowcache_init(ptr: u32, len: u32): i32 {
  npatterns = 0;
  setPatternString("utm_*");
  setPatternString("fbclid");
  setPatternString("gclid");
  config.set(ptr, len);
  if (!members.begin(config) || !members.isObject) return initFail("config: want an object");
  let r: i32;
  while ((r = members.next(key, value)) == 1) {
    if (!key.equals("drop")) return initFail("unknown key (want drop)");
    if (!items.begin(value) || items.isObject) return initFail("drop: want an array of parameter names");
    npatterns = 0;
    let ri: i32;
    while ((ri = items.next(key, item)) == 1) {
      if (npatterns == MAX_PATTERNS) return initFail("drop: at most 32 patterns");
      if (!jsonString(item, str) || str.len == 0 || str.len > MAX_PATTERN_LEN) {
        return initFail("drop: want non-empty strings of at most 64 bytes, without escapes");
      }
      setPattern(str.ptr, str.len);
    }
    if (ri < 0) return initFail("drop: malformed array");
  }
  return r < 0 ? initFail("config: malformed JSON") : 0;
}

const declared = memory.data<u8>([
  0x63, 0x6f, 0x6f, 0x6b, 0x69, 0x65, 0x2c, 0x20, // "cookie, "
  0x61, 0x75, 0x74, 0x68, 0x6f, 0x72, 0x69, 0x7a, 0x61, 0x74, 0x69, 0x6f, 0x6e, // "authorization"
]);

export function flowcache_headers(): u64 {
  return pack(declared, 21);
}

// The kept parameters: (ptr, raw length, name length), 12 bytes each.
const kept = memory.data(MAX_PARAMS * 12, 4);
const req = new Request();
const params = new Params();
const k = new KeyWriter();

export function flowcache_key(ptr: u32, len: u32): u64 {
  if (!req.parse(ptr, len)) return fail("malformed request blob");
  if (req.hasHeader("cookie") || req.hasHeader("authorization")) return BYPASS;

  // Insertion sort by name as the parameters come: stable, so repeated
  // names keep their order.
  let n: u32 = 0;
  params.reset(req.query);
  while (params.next()) {
    if (dropped(params.name)) continue;
    if (n == MAX_PARAMS) return fail("more than 64 query parameters");
    const p = params.raw.ptr;
    const nl = params.name.len;
    let j = n++;
    for (; j > 0; j--) {
      const prev = kept + (j - 1) * 12;
      if (compareBytes(p, nl, load<u32>(prev), load<u32>(prev, 8)) >= 0) break;
      memory.copy(prev + 12, prev, 12);
    }
    const at = kept + j * 12;
    store<u32>(at, <u32>p);
    store<u32>(at, params.raw.len, 4);
    store<u32>(at, nl, 8);
  }

  k.begin();
  k.host(req.host);
  k.path(req.path);
  for (let i: u32 = 0; i < n; i++) {
    const at = kept + i * 12;
    k.paramBytes(load<u32>(at), load<u32>(at, 4));
  }
  const res = k.finish();
  if (res == ERROR) setError("invalid key: a byte the host refuses in the host or target, or longer than 32 KiB");
  return res;
}

export function flowcache_decide(ptr: u32, len: u32): u64 {
  return DEFAULT;
}
