/*
 * flowcache.h: a header-only C SDK for Flow Cache policy modules (ABI
 * version 1, wasm/abi/ABI.md). No libc, no allocation on the request path,
 * no imports.
 *
 * Build a policy with clang's wasm32 target:
 *
 *     clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -I wasm/c -o policy.wasm policy.c
 *
 * The header defines, unless told otherwise:
 *
 *   - the exports flowcache_abi_version and flowcache_alloc (define
 *     FLOWCACHE_NO_ALLOC before including it to write your own
 *     flowcache_alloc); the policy defines flowcache_key and flowcache_decide
 *     (and, if it wants them, flowcache_init, flowcache_headers and
 *     flowcache_error) with FC_EXPORT;
 *   - memcpy, memmove, memset and memcmp, which clang calls for struct copies
 *     and loops it recognises even with -nostdlib. They are weak, so a
 *     module linking its own (wasi-libc) keeps those. With -mbulk-memory
 *     (WebAssembly 2.0, allowed by the ABI), memcpy and memset become the
 *     memory.copy and memory.fill instructions.
 *
 * Unaligned loads and stores are legal in WebAssembly: the alignment of a
 * load is a hint, never a trap, and the ABI's blobs (the header list in
 * particular) are unaligned. In C, an unaligned access through a cast
 * pointer is still undefined behaviour, so this header reads and writes
 * integers with __builtin_memcpy into a local (fc_load32, fc_store32, ...),
 * which clang compiles to one i32.load/i64.load with align=1: as fast as an
 * aligned load on every engine the gateway uses, and correct C.
 *
 * Everything the header defines starts with fc_ / FC_ (flowcache_ for the
 * exports). Lengths are u32; a blob or result never reaches 4 GiB.
 */
#ifndef FLOWCACHE_H
#define FLOWCACHE_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm__)
#error "flowcache.h targets WebAssembly: build with clang --target=wasm32"
#endif

#define FC_ABI_VERSION 1

/* FC_EXPORT(name) exports a function under the given WebAssembly name. */
#define FC_EXPORT(name) __attribute__((export_name(name), visibility("default")))

/* ---------------------------------------------------------------------
 * Unaligned integer access (see the header comment).
 * ------------------------------------------------------------------- */

static inline uint32_t fc_load32(const void *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline uint64_t fc_load64(const void *p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

static inline void fc_store32(void *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

static inline void fc_store64(void *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

/* ---------------------------------------------------------------------
 * Eight bytes at a time. A policy's fuel counts instructions (ABI.md 7), so
 * the scans below handle a 64-bit word per iteration (SWAR: SIMD within a
 * register) instead of a byte: fewer instructions per byte, and less time.
 * A tail of 1 to 7 bytes is copied into a padded word (memory.copy with
 * -mbulk-memory), never read past its end.
 * ------------------------------------------------------------------- */

#define FC_ONES 0x0101010101010101ull
#define FC_HIGHS 0x8080808080808080ull

/* fc_zero_bytes has the high bit of a byte set where x has a zero byte
 * (exact for the lowest one; a byte above a zero byte may be flagged too). */
static inline uint64_t fc_zero_bytes(uint64_t x) { return (x - FC_ONES) & ~x & FC_HIGHS; }

/* fc_byte_eq flags the bytes of x equal to c (exact for the lowest). */
static inline uint64_t fc_byte_eq(uint64_t x, uint8_t c) { return fc_zero_bytes(x ^ (FC_ONES * c)); }

/* fc_byte_lt flags bytes of x below c (c <= 0x80), none at or above 0x80;
 * non-zero exactly when some byte is below c. */
static inline uint64_t fc_byte_lt(uint64_t x, uint8_t c) { return (x - FC_ONES * c) & ~x & FC_HIGHS; }

/* fc_tail loads the n < 8 bytes at p into the low bytes of a word whose
 * other bytes are pad. */
static inline uint64_t fc_tail(const uint8_t *p, uint32_t n, uint8_t pad) {
    uint64_t x = FC_ONES * pad;
    __builtin_memcpy(&x, p, n);
    return x;
}

/* fc_index_byte returns the index of the first byte c in p[0..n), or n. */
static inline uint32_t fc_index_byte(const uint8_t *p, uint32_t n, uint8_t c) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = fc_byte_eq(fc_load64(p + i), c);
        if (m) return i + (uint32_t)(__builtin_ctzll(m) >> 3);
    }
    if (i == n) return n;
    uint64_t m = fc_byte_eq(fc_tail(p + i, n - i, (uint8_t)~c), c);
    return m ? i + (uint32_t)(__builtin_ctzll(m) >> 3) : n;
}

/* fc_same reports whether p[0..n) and q[0..n) hold the same bytes. */
static inline int fc_same(const uint8_t *p, const uint8_t *q, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (fc_load64(p + i) != fc_load64(q + i)) return 0;
    return i == n || fc_tail(p + i, n - i, 0) == fc_tail(q + i, n - i, 0);
}

/* fc_lower_word lower-cases the ASCII letters of a word. */
static inline uint64_t fc_lower_word(uint64_t x) {
    uint64_t h = x & ~FC_HIGHS;
    uint64_t upper = (h + FC_ONES * (0x80 - 'A')) & ~(h + FC_ONES * (0x7f - 'Z')) & ~x & FC_HIGHS;
    return x | upper >> 2;
}

/* ---------------------------------------------------------------------
 * Byte strings.
 * ------------------------------------------------------------------- */

/* fc_bytes is a span of guest memory: p[0..n). It does not own the bytes. */
typedef struct {
    const uint8_t *p;
    uint32_t n;
} fc_bytes;

/* FC_LIT("text") is an fc_bytes of a string literal (without its NUL). */
#define FC_LIT(s) ((fc_bytes){(const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)})

static inline uint8_t fc_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* fc_equal reports whether a and b hold the same bytes. */
static inline int fc_equal(fc_bytes a, fc_bytes b) { return a.n == b.n && fc_same(a.p, b.p, a.n); }

/* fc_equal_fold reports whether a and b are equal ignoring ASCII case
 * (header names: RFC 9110 5.1). */
static inline int fc_equal_fold(fc_bytes a, fc_bytes b) {
    if (a.n != b.n) return 0;
    uint32_t i = 0;
    for (; i + 8 <= a.n; i += 8)
        if (fc_lower_word(fc_load64(a.p + i)) != fc_lower_word(fc_load64(b.p + i))) return 0;
    return i == a.n ||
           fc_lower_word(fc_tail(a.p + i, a.n - i, 0)) == fc_lower_word(fc_tail(b.p + i, a.n - i, 0));
}

/* fc_has_prefix reports whether s starts with prefix. */
static inline int fc_has_prefix(fc_bytes s, fc_bytes prefix) {
    return s.n >= prefix.n && fc_same(s.p, prefix.p, prefix.n);
}

/* fc_order compares two different words as the byte strings they hold. */
static inline int fc_order(uint64_t x, uint64_t y) {
    return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
}

/* fc_compare orders a and b as bytes (memcmp, then the shorter first):
 * <0, 0 or >0, like Go's bytes.Compare. */
static inline int fc_compare(fc_bytes a, fc_bytes b) {
    uint32_t n = a.n < b.n ? a.n : b.n, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = fc_load64(a.p + i), y = fc_load64(b.p + i);
        if (x != y) return fc_order(x, y);
    }
    if (i < n) {
        uint64_t x = fc_tail(a.p + i, n - i, 0), y = fc_tail(b.p + i, n - i, 0);
        if (x != y) return fc_order(x, y);
    }
    return a.n < b.n ? -1 : (a.n > b.n ? 1 : 0);
}

/* ---------------------------------------------------------------------
 * Results (ABI.md 1.2): a packed range ptr << 32 | len, 0 or -1.
 * ------------------------------------------------------------------- */

#define FC_BYPASS ((uint64_t)0)    /* key: bypass the cache */
#define FC_DEFAULT ((uint64_t)0)   /* decide: keep the default decision */
#define FC_ERROR ((uint64_t)-1)    /* the request uses the route's fallback */

static inline uint64_t fc_pack(const void *p, uint32_t n) {
    return (uint64_t)(uintptr_t)p << 32 | n;
}

/* ---------------------------------------------------------------------
 * Request blob (ABI.md 2) and header list (2.1).
 * ------------------------------------------------------------------- */

/* fc_str is an (offset, length) field of a blob: the bytes are blob + off. */
typedef struct {
    uint32_t off, len;
} fc_str;

/* The fixed part at the start of a request blob (56 bytes). Read it with
 * fc_request_parse, which checks every field lies inside the blob. */
typedef struct {
    fc_str method, scheme, host, path, query, route;
    uint32_t header_count, headers_off;
} fc_request_fixed;

#define FC_REQUEST_FIXED_SIZE 56

/* fc_headers iterates over a header list: u32 name_len, name, u32
 * value_len, value, back to back, unaligned. It is a value: copying it
 * copies the position. */
typedef struct {
    const uint8_t *p;
    uint32_t left;  /* bytes left */
    uint32_t count; /* fields left */
} fc_headers;

/* fc_request is a checked view of a request blob. */
typedef struct {
    fc_bytes method, scheme, host, path, query, route;
    fc_headers headers;
} fc_request;

/* fc_headers_next stores the next field in *name and *value and returns 1,
 * or returns 0 at the end (or on a list that runs past its blob). */
static inline int fc_headers_next(fc_headers *h, fc_bytes *name, fc_bytes *value) {
    if (h->count == 0 || h->left < 4) return 0;
    uint32_t nl = fc_load32(h->p);
    if (nl > h->left - 4) return 0;
    const uint8_t *v = h->p + 4 + nl;
    uint32_t left = h->left - 4 - nl;
    if (left < 4) return 0;
    uint32_t vl = fc_load32(v);
    if (vl > left - 4) return 0;
    *name = (fc_bytes){h->p + 4, nl};
    *value = (fc_bytes){v + 4, vl};
    h->p = v + 4 + vl;
    h->left = left - 4 - vl;
    h->count--;
    return 1;
}

/* fc_headers_check reports whether the list holds exactly its count of
 * whole fields within its bytes. */
static inline int fc_headers_check(fc_headers h) {
    fc_bytes n, v;
    uint32_t want = h.count;
    for (uint32_t i = 0; i < want; i++)
        if (!fc_headers_next(&h, &n, &v)) return 0;
    return 1;
}

/* fc_headers_get stores the value of the first field named name (ASCII
 * case-insensitive) in *value and returns 1, or returns 0. Only the headers
 * the module declared (flowcache_headers) are in the list. */
static inline int fc_headers_get(fc_headers h, fc_bytes name, fc_bytes *value) {
    fc_bytes n, v;
    while (fc_headers_next(&h, &n, &v)) {
        if (fc_equal_fold(n, name)) {
            *value = v;
            return 1;
        }
    }
    return 0;
}

static inline int fc_field(const uint8_t *blob, uint32_t len, fc_str s, fc_bytes *out) {
    if (s.off > len || s.len > len - s.off) return 0;
    *out = (fc_bytes){blob + s.off, s.len};
    return 1;
}

/* fc_request_parse checks the request blob at ptr (len bytes) and fills in
 * *r. It returns 1, or 0 if the blob is malformed (a policy then returns
 * FC_ERROR). */
static inline int fc_request_parse(const uint8_t *ptr, uint32_t len, fc_request *r) {
    if (len < FC_REQUEST_FIXED_SIZE) return 0;
    fc_str s[6];
    for (int i = 0; i < 6; i++) {
        s[i].off = fc_load32(ptr + 8 * i);
        s[i].len = fc_load32(ptr + 8 * i + 4);
    }
    if (!fc_field(ptr, len, s[0], &r->method) || !fc_field(ptr, len, s[1], &r->scheme) ||
        !fc_field(ptr, len, s[2], &r->host) || !fc_field(ptr, len, s[3], &r->path) ||
        !fc_field(ptr, len, s[4], &r->query) || !fc_field(ptr, len, s[5], &r->route))
        return 0;
    uint32_t count = fc_load32(ptr + 48), off = fc_load32(ptr + 52);
    if (count == 0) {
        r->headers = (fc_headers){ptr + len, 0, 0};
        return 1;
    }
    if (off > len) return 0;
    r->headers = (fc_headers){ptr + off, len - off, count};
    return fc_headers_check(r->headers);
}

/* Accessors, for symmetry with the other SDKs. */
static inline fc_bytes fc_method(const fc_request *r) { return r->method; }
static inline fc_bytes fc_scheme(const fc_request *r) { return r->scheme; }
static inline fc_bytes fc_host(const fc_request *r) { return r->host; }
static inline fc_bytes fc_path(const fc_request *r) { return r->path; }
static inline fc_bytes fc_query(const fc_request *r) { return r->query; }
static inline fc_bytes fc_route(const fc_request *r) { return r->route; }

/* fc_header looks up a request header by name, ASCII case-insensitively. */
static inline int fc_header(const fc_request *r, const char *name, fc_bytes *value) {
    uint32_t n = 0;
    while (name[n]) n++;
    return fc_headers_get(r->headers, (fc_bytes){(const uint8_t *)name, n}, value);
}

/* ---------------------------------------------------------------------
 * Query parameters, as sent (no percent-decoding): '&' separates them,
 * empty ones are skipped, the name ends at the first '='.
 * ------------------------------------------------------------------- */

typedef struct {
    fc_bytes raw;  /* "name=value", "name=" or "name" */
    fc_bytes name; /* raw up to the first '=' */
    fc_bytes value; /* after the first '=', empty without one */
    int has_value;
} fc_param;

typedef struct {
    const uint8_t *p;
    uint32_t left;
} fc_params;

static inline fc_params fc_split_query(fc_bytes q) { return (fc_params){q.p, q.n}; }

/* fc_params_next stores the next non-empty parameter in *out and returns 1,
 * or returns 0 at the end. */
static inline int fc_params_next(fc_params *it, fc_param *out) {
    while (it->left > 0) {
        const uint8_t *p = it->p;
        uint32_t end = fc_index_byte(p, it->left, '&');
        if (end < it->left) {
            it->p += end + 1;
            it->left -= end + 1;
        } else {
            it->p += end;
            it->left = 0;
        }
        if (end == 0) continue;
        uint32_t eq = fc_index_byte(p, end, '=');
        out->raw = (fc_bytes){p, end};
        if (eq < end) {
            out->name = (fc_bytes){p, eq};
            out->value = (fc_bytes){p + eq + 1, end - eq - 1};
            out->has_value = 1;
        } else {
            out->name = out->raw;
            out->value = (fc_bytes){p + end, 0};
            out->has_value = 0;
        }
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Key result (ABI.md 3): u32 flags, host_len, target_len, variant_len, then
 * host, target and variant bytes. fc_key writes one into a buffer, in that
 * order: the host, then the target (path, then query parameters), then the
 * variant.
 * ------------------------------------------------------------------- */

#define FC_KEY_HEADER_SIZE 16
#define FC_KEY_MAX 32768 /* host_len + target_len + variant_len */

typedef struct {
    uint8_t *buf;   /* the result blob */
    uint32_t cap;   /* bytes of buf */
    uint32_t n;     /* bytes written, header included */
    uint32_t host_len, target_len;
    int stage;      /* 0 host, 1 target, 2 variant */
    int params;     /* query parameters written to the target */
    int err;        /* 1: out of room, or a field written out of order */
} fc_key;

/* fc_key_begin starts a key result in buf (cap bytes; FC_KEY_HEADER_SIZE +
 * FC_KEY_MAX always suffices). */
static inline void fc_key_begin(fc_key *k, uint8_t *buf, uint32_t cap) {
    *k = (fc_key){buf, cap, FC_KEY_HEADER_SIZE, 0, 0, 0, 0, cap < FC_KEY_HEADER_SIZE};
}

static inline void fc_key_put(fc_key *k, fc_bytes b) {
    if (k->err || b.n > k->cap - k->n) {
        k->err = 1;
        return;
    }
    __builtin_memcpy(k->buf + k->n, b.p, b.n);
    k->n += b.n;
}

static inline void fc_key_byte(fc_key *k, uint8_t c) { fc_key_put(k, (fc_bytes){&c, 1}); }

/* fc_key_host appends h to the key's host, lower-cased (ASCII), without a
 * trailing dot. Call it before anything else. */
static inline void fc_key_host(fc_key *k, fc_bytes h) {
    if (k->stage != 0) {
        k->err = 1;
        return;
    }
    if (h.n > 0 && h.p[h.n - 1] == '.') h.n--;
    uint32_t at = k->n;
    fc_key_put(k, h);
    if (k->err) return;
    uint32_t i = at;
    for (; i + 8 <= k->n; i += 8) fc_store64(k->buf + i, fc_lower_word(fc_load64(k->buf + i)));
    if (i < k->n) {
        uint64_t x = fc_lower_word(fc_tail(k->buf + i, k->n - i, 0));
        __builtin_memcpy(k->buf + i, &x, k->n - i);
    }
    k->host_len += h.n;
}

static inline void fc_key_to_target(fc_key *k) {
    if (k->stage > 1) k->err = 1;
    k->stage = 1;
}

/* fc_key_path appends p to the target; an empty target becomes "/" when the
 * key is finished. */
static inline void fc_key_path(fc_key *k, fc_bytes p) {
    fc_key_to_target(k);
    fc_key_put(k, p);
}

/* fc_key_param appends the query parameter raw ("name=value") to the
 * target, after '?' for the first and '&' for the others. */
static inline void fc_key_param(fc_key *k, fc_bytes raw) {
    fc_key_to_target(k);
    if (k->n == FC_KEY_HEADER_SIZE + k->host_len) fc_key_byte(k, '/');
    fc_key_byte(k, k->params == 0 ? '?' : '&');
    fc_key_put(k, raw);
    k->params++;
}

/* fc_key_variant appends v to the variant: key material the target does not
 * show (a device class). Call it after the target. */
static inline void fc_key_variant(fc_key *k, fc_bytes v) {
    if (k->stage < 2) {
        fc_key_to_target(k);
        if (k->n == FC_KEY_HEADER_SIZE + k->host_len) fc_key_byte(k, '/');
        k->target_len = k->n - FC_KEY_HEADER_SIZE - k->host_len;
        k->stage = 2;
    }
    fc_key_put(k, v);
}

/* fc_valid_host and fc_valid_target are the host's checks (ABI.md 3): a
 * host holds no control character, space, DEL, '/', '?', '#' or '@'; a
 * target starts with '/' and holds no control character, space, DEL or
 * '#'. */
static inline uint64_t fc_bad_target_word(uint64_t x) {
    return fc_byte_lt(x, 0x21) | fc_byte_eq(x, 0x7f) | fc_byte_eq(x, '#');
}

static inline uint64_t fc_bad_host_word(uint64_t x) {
    return fc_bad_target_word(x) | fc_byte_eq(x, '/') | fc_byte_eq(x, '?') | fc_byte_eq(x, '@');
}

static inline int fc_valid_host(fc_bytes h) {
    uint32_t i = 0;
    for (; i + 8 <= h.n; i += 8)
        if (fc_bad_host_word(fc_load64(h.p + i))) return 0;
    return i == h.n || !fc_bad_host_word(fc_tail(h.p + i, h.n - i, 'a'));
}

static inline int fc_valid_target(fc_bytes t) {
    if (t.n == 0 || t.p[0] != '/') return 0;
    uint32_t i = 0;
    for (; i + 8 <= t.n; i += 8)
        if (fc_bad_target_word(fc_load64(t.p + i))) return 0;
    return i == t.n || !fc_bad_target_word(fc_tail(t.p + i, t.n - i, '/'));
}

/* fc_key_finish completes the result and returns it packed, or FC_ERROR if
 * it ran out of room, exceeds FC_KEY_MAX, or holds a byte the host refuses
 * (the request then uses the fallback, as the host would decide anyway). */
static inline uint64_t fc_key_finish(fc_key *k) {
    if (k->stage < 2) fc_key_variant(k, (fc_bytes){k->buf, 0});
    if (k->err) return FC_ERROR;
    uint32_t variant_len = k->n - FC_KEY_HEADER_SIZE - k->host_len - k->target_len;
    if (k->n - FC_KEY_HEADER_SIZE > FC_KEY_MAX) return FC_ERROR;
    const uint8_t *host = k->buf + FC_KEY_HEADER_SIZE;
    if (!fc_valid_host((fc_bytes){host, k->host_len}) ||
        !fc_valid_target((fc_bytes){host + k->host_len, k->target_len}))
        return FC_ERROR;
    fc_store32(k->buf, 0);
    fc_store32(k->buf + 4, k->host_len);
    fc_store32(k->buf + 8, k->target_len);
    fc_store32(k->buf + 12, variant_len);
    return fc_pack(k->buf, k->n);
}

/* ---------------------------------------------------------------------
 * Decision (ABI.md 5) and decide blob (4).
 * ------------------------------------------------------------------- */

#define FC_STORE 1u
#define FC_ADMIT 2u
#define FC_MUST_REVALIDATE 4u
#define FC_NO_CACHE 8u

#define FC_TIER_BOTH 0u
#define FC_TIER_L1 1u
#define FC_TIER_L2 2u

#define FC_DECISION_SIZE 32
#define FC_DECIDE_FIXED_SIZE 72

/* fc_decision is the 32-byte decision, field for field; durations in
 * milliseconds. Read and write it with fc_decision_load/fc_decision_store
 * (the blob need not be aligned for int64_t). */
typedef struct {
    uint32_t flags, tier;
    int64_t ttl_ms, swr_ms, sie_ms;
} fc_decision;

_Static_assert(sizeof(fc_decision) == FC_DECISION_SIZE, "fc_decision is 32 bytes");

static inline void fc_decision_load(const uint8_t *p, fc_decision *d) {
    d->flags = fc_load32(p);
    d->tier = fc_load32(p + 4);
    d->ttl_ms = (int64_t)fc_load64(p + 8);
    d->swr_ms = (int64_t)fc_load64(p + 16);
    d->sie_ms = (int64_t)fc_load64(p + 24);
}

static inline void fc_decision_store(uint8_t *p, const fc_decision *d) {
    fc_store32(p, d->flags);
    fc_store32(p + 4, d->tier);
    fc_store64(p + 8, (uint64_t)d->ttl_ms);
    fc_store64(p + 16, (uint64_t)d->swr_ms);
    fc_store64(p + 24, (uint64_t)d->sie_ms);
}

/* fc_decide is a checked view of a decide blob. */
typedef struct {
    uint8_t *blob;        /* the blob: its first 32 bytes are the default decision */
    fc_decision dflt;     /* the default decision (RFC 9111), decoded */
    uint32_t status;      /* response status code */
    int64_t body_size;    /* body length, -1 if unknown (streamed) */
    int64_t now_ms;       /* when the response was received, Unix milliseconds */
    fc_headers headers;   /* end-to-end response header fields */
    fc_request request;   /* the request, with the declared headers */
} fc_decide;

/* fc_decide_parse checks the decide blob at ptr (len bytes) and fills in
 * *d; it returns 1, or 0 if the blob is malformed. */
static inline int fc_decide_parse(uint8_t *ptr, uint32_t len, fc_decide *d) {
    if (len < FC_DECIDE_FIXED_SIZE) return 0;
    d->blob = ptr;
    fc_decision_load(ptr, &d->dflt);
    d->status = fc_load32(ptr + 32);
    uint32_t count = fc_load32(ptr + 36);
    d->body_size = (int64_t)fc_load64(ptr + 40);
    d->now_ms = (int64_t)fc_load64(ptr + 48);
    uint32_t hoff = fc_load32(ptr + 56), roff = fc_load32(ptr + 60);
    if (roff > len || hoff > roff) return 0;
    d->headers = (fc_headers){ptr + hoff, roff - hoff, count};
    if (!fc_headers_check(d->headers)) return 0;
    return fc_request_parse(ptr + roff, len - roff, &d->request);
}

/* fc_decide_return writes dec over the default decision at the start of the
 * blob and returns the packed result pointing there. */
static inline uint64_t fc_decide_return(fc_decide *d, const fc_decision *dec) {
    fc_decision_store(d->blob, dec);
    return fc_pack(d->blob, FC_DECISION_SIZE);
}

/* ---------------------------------------------------------------------
 * Configuration (ABI.md 6): flowcache_init receives a JSON object, always
 * well-formed (the host writes it from config.toml). fc_json_iter walks the
 * members of an object or the elements of an array and hands out each
 * value raw (a string keeps its quotes); fc_json_get finds one member;
 * fc_json_string and fc_json_int read scalars. Enough for a handful of
 * options, without allocating.
 * ------------------------------------------------------------------- */

static inline uint32_t fc_json_ws(const uint8_t *p, uint32_t i, uint32_t n) {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i;
}

/* fc_json_skip returns the index after the JSON value starting at p[i], or
 * n + 1 if it is malformed. Nesting is bounded by n. */
static inline uint32_t fc_json_skip(const uint8_t *p, uint32_t i, uint32_t n) {
    if (i >= n) return n + 1;
    if (p[i] == '"') {
        for (i++; i < n; i++) {
            if (p[i] == '\\') i++;
            else if (p[i] == '"') return i + 1;
        }
        return n + 1;
    }
    if (p[i] == '{' || p[i] == '[') {
        uint32_t depth = 0;
        for (; i < n; i++) {
            uint8_t c = p[i];
            if (c == '"') {
                i = fc_json_skip(p, i, n);
                if (i > n) return i;
                i--;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return n + 1;
    }
    uint32_t start = i;
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' && p[i] != '\n' &&
           p[i] != '\t' && p[i] != '\r' && p[i] != ':')
        i++;
    return i == start ? n + 1 : i;
}

/* fc_json_iter iterates over an object's members or an array's elements. */
typedef struct {
    const uint8_t *p;
    uint32_t i, n;
    uint8_t close; /* '}' or ']' */
    uint8_t first;
} fc_json_iter;

/* fc_json_begin starts iterating over v, an object or an array; it returns 1,
 * or 0 if v is neither. */
static inline int fc_json_begin(fc_bytes v, fc_json_iter *it) {
    uint32_t i = fc_json_ws(v.p, 0, v.n);
    if (i >= v.n || (v.p[i] != '{' && v.p[i] != '[')) return 0;
    *it = (fc_json_iter){v.p, i + 1, v.n, (uint8_t)(v.p[i] == '{' ? '}' : ']'), 1};
    return 1;
}

/* fc_json_next stores the next member's name (without quotes, escapes not
 * decoded; left alone for an array) in *key and its raw value in *value. It
 * returns 1, 0 at the end, or -1 if the text is malformed. */
static inline int fc_json_next(fc_json_iter *it, fc_bytes *key, fc_bytes *value) {
    const uint8_t *p = it->p;
    uint32_t n = it->n, i = fc_json_ws(p, it->i, n);
    if (i >= n) return -1;
    if (p[i] == it->close) {
        it->i = i;
        return 0;
    }
    if (!it->first) {
        if (p[i] != ',') return -1;
        i = fc_json_ws(p, i + 1, n);
    }
    it->first = 0;
    if (it->close == '}') {
        if (i >= n || p[i] != '"') return -1;
        uint32_t ke = fc_json_skip(p, i, n);
        if (ke > n) return -1;
        *key = (fc_bytes){p + i + 1, ke - i - 2};
        i = fc_json_ws(p, ke, n);
        if (i >= n || p[i] != ':') return -1;
        i = fc_json_ws(p, i + 1, n);
    }
    uint32_t ve = fc_json_skip(p, i, n);
    if (ve > n) return -1;
    *value = (fc_bytes){p + i, ve - i};
    it->i = ve;
    return 1;
}

/* fc_json_get stores the raw value of the member name of the object json in
 * *value and returns 1; it returns 0 if there is no such member, -1 if json
 * is not an object it can read. */
static inline int fc_json_get(fc_bytes json, const char *name, fc_bytes *value) {
    fc_json_iter it;
    fc_bytes k = {0, 0}, v;
    uint32_t nl = 0;
    while (name[nl]) nl++;
    if (!fc_json_begin(json, &it) || it.close != '}') return -1;
    int r;
    while ((r = fc_json_next(&it, &k, &v)) == 1) {
        if (fc_equal(k, (fc_bytes){(const uint8_t *)name, nl})) {
            *value = v;
            return 1;
        }
    }
    return r;
}

/* fc_json_string stores the characters of the JSON string v (without its
 * quotes) in *out and returns 1; it returns 0 if v is not a string or holds
 * an escape (a backslash), which this reader does not decode. */
static inline int fc_json_string(fc_bytes v, fc_bytes *out) {
    if (v.n < 2 || v.p[0] != '"' || v.p[v.n - 1] != '"') return 0;
    for (uint32_t i = 1; i + 1 < v.n; i++)
        if (v.p[i] == '\\') return 0;
    *out = (fc_bytes){v.p + 1, v.n - 2};
    return 1;
}

/* fc_json_int parses a JSON integer value (as returned by fc_json_get) into
 * *out and returns 1, or returns 0. */
static inline int fc_json_int(fc_bytes v, int64_t *out) {
    uint32_t i = 0;
    int neg = 0;
    if (v.n > 0 && v.p[0] == '-') neg = 1, i = 1;
    if (i == v.n) return 0;
    int64_t x = 0;
    for (; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9' || x > (INT64_MAX - 9) / 10) return 0;
        x = x * 10 + (v.p[i] - '0');
    }
    *out = neg ? -x : x;
    return 1;
}

/* ---------------------------------------------------------------------
 * Exports every module needs: flowcache_abi_version and flowcache_alloc.
 * flowcache_alloc hands out 8-byte-aligned memory after the linker's
 * __heap_base, growing the memory as needed, and never frees: the host
 * calls it a few times per instance (the configuration, the input buffer,
 * a larger input buffer now and then), never per request.
 * ------------------------------------------------------------------- */

FC_EXPORT("flowcache_abi_version") int32_t flowcache_abi_version(void) { return FC_ABI_VERSION; }

#ifndef FLOWCACHE_NO_ALLOC
extern unsigned char __heap_base;
static uintptr_t fc_heap_next;

FC_EXPORT("flowcache_alloc") uint32_t flowcache_alloc(uint32_t size) {
    if (fc_heap_next == 0) fc_heap_next = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
    uintptr_t p = fc_heap_next;
    if (size > UINT32_MAX - 8 - p) return 0;
    uintptr_t end = (p + size + 7) & ~(uintptr_t)7;
    uintptr_t have = __builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uintptr_t pages = (end - have + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
    }
    fc_heap_next = end;
    return (uint32_t)p;
}
#endif

/* ---------------------------------------------------------------------
 * memcpy, memmove, memset, memcmp for -nostdlib builds (weak: a libc's
 * win). no_builtin keeps clang from compiling their loops into calls to
 * themselves.
 * ------------------------------------------------------------------- */

#ifndef FLOWCACHE_NO_MEMFUNCS
__attribute__((weak, no_builtin("memcpy"))) void *memcpy(void *dst, const void *src, size_t n) {
#if defined(__wasm_bulk_memory__)
    __builtin_memcpy(dst, src, n); /* memory.copy */
#else
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    for (; n >= 8; n -= 8, d += 8, s += 8) fc_store64(d, fc_load64(s));
    for (; n > 0; n--) *d++ = *s++;
#endif
    return dst;
}

__attribute__((weak, no_builtin("memmove"))) void *memmove(void *dst, const void *src, size_t n) {
#if defined(__wasm_bulk_memory__)
    __builtin_memmove(dst, src, n); /* memory.copy handles overlap */
#else
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d < s || d >= s + n) {
        for (; n > 0; n--) *d++ = *s++;
    } else {
        for (d += n, s += n; n > 0; n--) *--d = *--s;
    }
#endif
    return dst;
}

__attribute__((weak, no_builtin("memset"))) void *memset(void *dst, int c, size_t n) {
#if defined(__wasm_bulk_memory__)
    __builtin_memset(dst, c, n); /* memory.fill */
#else
    uint8_t *d = (uint8_t *)dst;
    for (; n > 0; n--) *d++ = (uint8_t)c;
#endif
    return dst;
}

__attribute__((weak, no_builtin("memcmp"))) int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
#endif

#endif /* FLOWCACHE_H */
