/*
 * normalize.c: the policy of examples/normalize, in C with wasm/c/flowcache.h.
 *
 * The cache key: the host lower-cased (without a trailing dot), the path as
 * sent, and the query parameters minus utm_*, fbclid and gclid (or the
 * configuration's "drop" list), sorted stably by name. Requests carrying
 * Cookie or Authorization bypass the cache. Responses keep the default
 * RFC 9111 decision.
 *
 *     clang --target=wasm32 -nostdlib -O2 -mbulk-memory -Wl,--no-entry \
 *         -Wl,--export-dynamic -I wasm/c -o normalize-c.wasm examples/normalize-c/src/normalize.c
 */
#include "flowcache.h"

#define MAX_PARAMS 64       /* kept parameters; more fail the key, as in the Go SDK */
#define MAX_PATTERNS 32     /* "drop" patterns */
#define MAX_PATTERN_LEN 64

/* A "drop" pattern: a name, or a prefix when it ended in '*'. */
typedef struct {
    uint8_t text[MAX_PATTERN_LEN];
    uint32_t len;
    int prefix;
} pattern;

static pattern patterns[MAX_PATTERNS];
static uint32_t npatterns;

static void set_pattern(const char *s, uint32_t n) {
    pattern *p = &patterns[npatterns++];
    p->prefix = n > 0 && s[n - 1] == '*';
    p->len = p->prefix ? n - 1 : n;
    __builtin_memcpy(p->text, s, p->len);
}

static const char *last_error = "";

FC_EXPORT("flowcache_error") uint64_t flowcache_error(void) {
    uint32_t n = 0;
    while (last_error[n]) n++;
    return n ? fc_pack(last_error, n) : 0;
}

static int fail(const char *msg) {
    last_error = msg;
    return 1;
}

/* flowcache_init reads {"drop": ["utm_*", ...]}: the same rules as the Go
 * version (examples/normalize/main.go). Without "drop", the tracking
 * parameters utm_*, fbclid and gclid. */
FC_EXPORT("flowcache_init") int32_t flowcache_init(uint32_t ptr, uint32_t len) {
    fc_bytes config = {(const uint8_t *)(uintptr_t)ptr, len}, key, value;
    fc_json_iter members;
    npatterns = 0;
    set_pattern("utm_*", 5);
    set_pattern("fbclid", 6);
    set_pattern("gclid", 5);
    if (!fc_json_begin(config, &members) || members.close != '}') return fail("config: want an object");
    int r;
    while ((r = fc_json_next(&members, &key, &value)) == 1) {
        if (!fc_equal(key, FC_LIT("drop"))) return fail("unknown key (want drop)");
        fc_json_iter items;
        fc_bytes item, s;
        if (!fc_json_begin(value, &items) || items.close != ']')
            return fail("drop: want an array of parameter names");
        npatterns = 0;
        int ri;
        while ((ri = fc_json_next(&items, &key, &item)) == 1) {
            if (npatterns == MAX_PATTERNS) return fail("drop: at most 32 patterns");
            if (!fc_json_string(item, &s) || s.n == 0 || s.n > MAX_PATTERN_LEN)
                return fail("drop: want non-empty strings of at most 64 bytes, without escapes");
            set_pattern((const char *)s.p, s.n);
        }
        if (ri < 0) return fail("drop: malformed array");
    }
    return r < 0 ? fail("config: malformed JSON") : 0;
}

static const char declared[] = "cookie, authorization";

FC_EXPORT("flowcache_headers") uint64_t flowcache_headers(void) {
    return fc_pack(declared, sizeof declared - 1);
}

static int dropped(fc_bytes name) {
    for (uint32_t i = 0; i < npatterns; i++) {
        fc_bytes p = {patterns[i].text, patterns[i].len};
        if (patterns[i].prefix ? fc_has_prefix(name, p) : fc_equal(name, p)) return 1;
    }
    return 0;
}

static fc_param kept[MAX_PARAMS];
static uint8_t key_buf[FC_KEY_HEADER_SIZE + FC_KEY_MAX];

FC_EXPORT("flowcache_key") uint64_t flowcache_key(uint32_t ptr, uint32_t len) {
    fc_request r;
    fc_bytes v;
    if (!fc_request_parse((const uint8_t *)(uintptr_t)ptr, len, &r)) {
        last_error = "malformed request blob";
        return FC_ERROR;
    }
    if (fc_header(&r, "cookie", &v) || fc_header(&r, "authorization", &v)) return FC_BYPASS;

    /* The kept parameters, insertion-sorted by name as they come: stable,
     * so repeated names keep their order. */
    uint32_t n = 0;
    fc_params ps = fc_split_query(r.query);
    fc_param p;
    while (fc_params_next(&ps, &p)) {
        if (dropped(p.name)) continue;
        if (n == MAX_PARAMS) {
            last_error = "more than 64 query parameters";
            return FC_ERROR;
        }
        uint32_t j = n++;
        for (; j > 0 && fc_compare(p.name, kept[j - 1].name) < 0; j--) kept[j] = kept[j - 1];
        kept[j] = p;
    }

    fc_key k;
    fc_key_begin(&k, key_buf, sizeof key_buf);
    fc_key_host(&k, r.host);
    fc_key_path(&k, r.path);
    for (uint32_t i = 0; i < n; i++) fc_key_param(&k, kept[i].raw);
    uint64_t res = fc_key_finish(&k);
    if (res == FC_ERROR) last_error = "invalid key: a byte the host refuses in the host or target, or longer than 32 KiB";
    return res;
}

FC_EXPORT("flowcache_decide") uint64_t flowcache_decide(uint32_t ptr, uint32_t len) {
    (void)ptr;
    (void)len;
    return FC_DEFAULT;
}
