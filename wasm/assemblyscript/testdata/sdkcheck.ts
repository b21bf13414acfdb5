// sdkcheck.ts: the policy of wasm/c/testdata/sdkcheck.c in AssemblyScript,
// exercising what examples/normalize-as does not reach in the SDK; the
// tests of examples/normalize-as build it and hold it to the C version's
// behaviour (see that file for what it does).

import {
  BYPASS, DEFAULT, ERROR, MUST_REVALIDATE, STORE, ADMIT, Decide, Decision, KeyWriter, Params,
  Request, Span, findHeader, jsonGet, jsonInt, jsonIsInt, jsonString, pack,
} from "../assembly/index";

export { flowcache_abi_version, flowcache_alloc, flowcache_error } from "../assembly/index";

let ttlMs: i64 = 0;
let tier: u32 = 0;
const nameBuf = memory.data(64);
let nameLen: u32 = 0;

const config = new Span();
const v = new Span();
const s = new Span();

export function flowcache_init(ptr: u32, len: u32): i32 {
  config.set(ptr, len);
  if (jsonGet(config, "ttl_ms", v) == 1) {
    if (!jsonIsInt(v)) return 2;
    ttlMs = jsonInt(v);
  }
  if (jsonGet(config, "tier", v) == 1) {
    if (!jsonIsInt(v)) return 3;
    tier = <u32>jsonInt(v);
  }
  if (jsonGet(config, "name", v) == 1) {
    if (!jsonString(v, s) || s.len > 64) return 4;
    memory.copy(nameBuf, s.ptr, s.len);
    nameLen = s.len;
  }
  return jsonGet(config, "nope", v) == 0 ? 0 : 5;
}

const star = memory.data<u8>([0x2a]);

export function flowcache_headers(): u64 {
  return pack(star, 1);
}

const req = new Request();
const params = new Params();
const k = new KeyWriter();
const paramBuf = memory.data(1024);
const tmp = new Span();
const digit = memory.data(1);

export function flowcache_key(ptr: u32, len: u32): u64 {
  if (!req.parse(ptr, len)) return ERROR;
  if (req.hasHeader("x-bypass")) return BYPASS;
  k.begin();
  k.host(req.header("X-KEY-HOST", v) ? v : req.host);
  k.path(req.path);
  params.reset(req.query);
  while (params.next()) {
    if (params.raw.len > 1024) return ERROR;
    memory.copy(paramBuf, params.name.ptr, params.name.len);
    let n = params.name.len;
    if (params.hasValue) {
      store<u8>(paramBuf + n, 0x3d);
      n++;
      memory.copy(paramBuf + n, params.value.ptr, params.value.len);
      n += params.value.len;
    }
    k.param(tmp.set(paramBuf, n));
  }
  k.variant(req.method);
  k.variantString("|");
  k.variant(req.scheme);
  k.variantString("|");
  k.variant(req.route);
  k.variantString("|");
  k.variant(tmp.set(nameBuf, nameLen));
  k.variantString("|");
  store<u8>(digit, <u8>(0x30 + req.headers.count % 10));
  k.variant(tmp.set(digit, 1));
  return k.finish();
}

const d = new Decide();
const dec = new Decision();

export function flowcache_decide(ptr: u32, len: u32): u64 {
  if (!d.parse(ptr, len)) return ERROR;
  if (findHeader(d.request.headers, "X-No-Store", v)) {
    dec.flags = 0;
    dec.tier = 0;
    dec.ttlMs = 0;
    dec.swrMs = 0;
    dec.sieMs = 0;
    return d.result(dec);
  }
  if (d.status != 200 || !d.header("x-policy-ttl", v)) return DEFAULT;
  dec.flags = STORE | ADMIT | (d.dflt.flags & MUST_REVALIDATE);
  dec.tier = tier;
  dec.ttlMs = ttlMs + d.bodySize;
  dec.swrMs = d.nowMs % 1000;
  dec.sieMs = d.dflt.ttlMs;
  return d.result(dec);
}
