/*
 * sdkcheck.c: a policy that exercises what examples/normalize-c does not
 * reach in flowcache.h, for the tests of examples/normalize-c
 * (sdk_test.go). Its behaviour is made to be checked, not useful:
 *
 *   init    {"ttl_ms": N, "tier": T, "name": "S"}: integers, and a string
 *           echoed in the variant.
 *   key     every header is declared ("*"). Host: X-Key-Host (any case)
 *           when sent, else the request's; target: the path and the
 *           query's parameters in order, each re-read from its name and
 *           value; variant: method|scheme|route|name|the header count.
 *           X-Bypass bypasses.
 *   decide  a 200 with X-Policy-TTL: store and admit, keep the default's
 *           must_revalidate, tier T, ttl N + body_size, swr now % 1000,
 *           sie the default's ttl. A request with X-No-Store: not stored.
 *           Otherwise the default.
 */
#include "flowcache.h"

static int64_t ttl_ms, tier;
static uint8_t name_buf[64];
static uint32_t name_len;

FC_EXPORT("flowcache_init") int32_t flowcache_init(uint32_t ptr, uint32_t len) {
    fc_bytes config = {(const uint8_t *)(uintptr_t)ptr, len}, v, s;
    if (fc_json_get(config, "ttl_ms", &v) == 1 && !fc_json_int(v, &ttl_ms)) return 2;
    if (fc_json_get(config, "tier", &v) == 1 && !fc_json_int(v, &tier)) return 3;
    if (fc_json_get(config, "name", &v) == 1) {
        if (!fc_json_string(v, &s) || s.n > sizeof name_buf) return 4;
        __builtin_memcpy(name_buf, s.p, s.n);
        name_len = s.n;
    }
    return fc_json_get(config, "nope", &v) == 0 ? 0 : 5;
}

static const char all[] = "*";

FC_EXPORT("flowcache_headers") uint64_t flowcache_headers(void) { return fc_pack(all, 1); }

static uint8_t out[FC_KEY_HEADER_SIZE + FC_KEY_MAX];
static uint8_t param_buf[1024];

FC_EXPORT("flowcache_key") uint64_t flowcache_key(uint32_t ptr, uint32_t len) {
    fc_request r;
    fc_bytes v;
    if (!fc_request_parse((const uint8_t *)(uintptr_t)ptr, len, &r)) return FC_ERROR;
    if (fc_header(&r, "x-bypass", &v)) return FC_BYPASS;
    fc_key k;
    fc_key_begin(&k, out, sizeof out);
    fc_key_host(&k, fc_header(&r, "X-KEY-HOST", &v) ? v : fc_host(&r));
    fc_key_path(&k, fc_path(&r));
    fc_params ps = fc_split_query(fc_query(&r));
    fc_param p;
    while (fc_params_next(&ps, &p)) {
        /* name, then "=value" when it has one: the raw parameter again */
        uint32_t n = 0;
        if (p.raw.n > sizeof param_buf) return FC_ERROR;
        __builtin_memcpy(param_buf, p.name.p, p.name.n);
        n = p.name.n;
        if (p.has_value) {
            param_buf[n++] = '=';
            __builtin_memcpy(param_buf + n, p.value.p, p.value.n);
            n += p.value.n;
        }
        fc_key_param(&k, (fc_bytes){param_buf, n});
    }
    fc_key_variant(&k, fc_method(&r));
    fc_key_variant(&k, FC_LIT("|"));
    fc_key_variant(&k, fc_scheme(&r));
    fc_key_variant(&k, FC_LIT("|"));
    fc_key_variant(&k, fc_route(&r));
    fc_key_variant(&k, FC_LIT("|"));
    fc_key_variant(&k, (fc_bytes){name_buf, name_len});
    fc_key_variant(&k, FC_LIT("|"));
    uint8_t digit = (uint8_t)('0' + r.headers.count % 10);
    fc_key_variant(&k, (fc_bytes){&digit, 1});
    return fc_key_finish(&k);
}

FC_EXPORT("flowcache_decide") uint64_t flowcache_decide(uint32_t ptr, uint32_t len) {
    fc_decide d;
    fc_bytes v;
    if (!fc_decide_parse((uint8_t *)(uintptr_t)ptr, len, &d)) return FC_ERROR;
    if (fc_headers_get(d.request.headers, FC_LIT("X-No-Store"), &v)) {
        fc_decision no = {0, 0, 0, 0, 0};
        return fc_decide_return(&d, &no);
    }
    if (d.status != 200 || !fc_headers_get(d.headers, FC_LIT("x-policy-ttl"), &v)) return FC_DEFAULT;
    fc_decision dec = {
        .flags = FC_STORE | FC_ADMIT | (d.dflt.flags & FC_MUST_REVALIDATE),
        .tier = (uint32_t)tier,
        .ttl_ms = ttl_ms + d.body_size,
        .swr_ms = d.now_ms % 1000,
        .sie_ms = d.dflt.ttl_ms,
    };
    return fc_decide_return(&d, &dec);
}
