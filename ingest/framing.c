/* ingest/framing.c - Confluent, single-object and JSON payloads of events.
 *
 * Decoding an Avro body is two passes: a bounds check that walks the bytes
 * against the writer schema (body_check(), below) and then Avro C's
 * resolving reader. The first pass exists because Avro C allocates a
 * string's length as read from the wire before checking that the bytes are
 * there, and cannot say whether bytes are left over; with it, a corrupt or
 * truncated message costs no allocation, gets a precise reason (truncated
 * vs bad_avro) and trailing garbage is rejected. */
#include "ingest/framing.h"
#include "core/err.h"
#include "ingest/avro_event.h"
#include "ingest/avro_fp.h"
#include "ingest/jsonl.h"
#include "ingest/schema.h"

#include <avro.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFLUENT_HEADER 5  /* 0x00 + int32 id */
#define SINGLE_HEADER    10 /* 0xC3 0x01 + 8-byte fingerprint */
#define MAX_SCHEMA_FILE  (1 << 20)
#define MAX_NESTING      32

/* A known writer schema. */
struct fr_schema {
    int32_t id;             /* Confluent id; -1 = known by fingerprint only */
    uint64_t fp;            /* CRC-64-AVRO of its canonical form */
    avro_schema_t schema;   /* owned */
    struct avro_event *dec; /* owned: resolves it to streamrec.Event */
};

struct fr {
    /* settings */
    int format; /* enum sr_ingest_format: AUTO, JSONL or AVRO */
    int32_t canonical_id;
    size_t max_bytes;
    /* state: known writer schemas; [0] is the canonical one */
    struct fr_schema *schemas;
    size_t n_schemas, cap_schemas;
    struct jsonl *json;
    avro_reader_t mem; /* reads Avro bodies; created on first use */
    /* scratch: the last encoded message */
    unsigned char *out;
    size_t out_cap;
};

/* ---- names ------------------------------------------------------------ */

static const char *const format_names[FR_FORMAT_COUNT] = {"confluent", "single-object", "json"};
static const char *const reason_names[FR_REASON_COUNT] = {
    "ok",       "truncated", "bad_magic",     "unknown_schema_id", "unknown_fingerprint",
    "bad_avro", "bad_json",  "invalid_field", "oversized",
};

int fr_format_parse(const char *s, enum fr_format *out)
{
    for (int i = 0; i < FR_FORMAT_COUNT; i++)
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum fr_format)i;
            return 0;
        }
    return SR_EINVAL;
}

const char *fr_format_name(enum fr_format f)
{
    return (unsigned)f < FR_FORMAT_COUNT ? format_names[f] : "?";
}

const char *fr_reason_name(enum fr_reason r)
{
    return (unsigned)r < FR_REASON_COUNT ? reason_names[r] : "?";
}

/* ---- schemas ---------------------------------------------------------- */

int fr_add_schema(struct fr *f, int32_t id, const char *json, size_t len, char *errbuf,
                  size_t errlen)
{
    uint64_t fp;
    char why[256];
    if (avro_fp_schema(json, len, &fp, why, sizeof why) != 0)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "%s", why);
    for (size_t i = 0; i < f->n_schemas; i++) {
        struct fr_schema *s = &f->schemas[i];
        if (id >= 0 && s->id == id) {
            if (s->fp == fp)
                return 0;
            return sr_seterr(errbuf, errlen, SR_EINVAL,
                             "schema id %d is already %s, a different schema", (int)id,
                             i == 0 ? "the canonical event schema (ingest.schema_id)" : "taken");
        }
        if (id < 0 && s->fp == fp)
            return 0;
    }
    avro_schema_t schema;
    if (avro_schema_from_json_length(json, len, &schema) != 0)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "not an Avro schema: %s", avro_strerror());
    struct avro_event *dec = avro_event_new(schema, why, sizeof why);
    if (!dec) {
        avro_schema_decref(schema);
        return sr_seterr(errbuf, errlen, SR_EINVAL, "%s", why);
    }
    if (f->n_schemas == f->cap_schemas) {
        size_t cap = f->cap_schemas ? 2 * f->cap_schemas : 4;
        struct fr_schema *ns = realloc(f->schemas, cap * sizeof *ns);
        if (!ns) {
            avro_event_free(dec);
            avro_schema_decref(schema);
            return sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        }
        f->schemas = ns;
        f->cap_schemas = cap;
    }
    f->schemas[f->n_schemas++] = (struct fr_schema){id, fp, schema, dec};
    return 0;
}

/* Reads every <digits>.avsc in dir. The only I/O of the module. */
static int load_schema_dir(struct fr *f, const char *dir, char *errbuf, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.schema_dir: %s: %s", dir,
                         strerror(errno));
    int rc = 0;
    char *text = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        char *end;
        errno = 0;
        long id = strtol(name, &end, 10);
        if (end == name || name[0] < '0' || name[0] > '9' || strcmp(end, ".avsc") != 0)
            continue;
        char path[SR_CFG_STR_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (errno || id > INT32_MAX) {
            rc = sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.schema_dir: %s: id out of range",
                           path);
            break;
        }
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            rc = sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.schema_dir: %s: %s", path,
                           strerror(errno));
            break;
        }
        if (!text && !(text = malloc(MAX_SCHEMA_FILE))) {
            fclose(fp);
            rc = sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
            break;
        }
        size_t n = fread(text, 1, MAX_SCHEMA_FILE, fp);
        bool bad = ferror(fp) || n == MAX_SCHEMA_FILE;
        fclose(fp);
        if (bad) {
            rc = sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.schema_dir: %s: %s", path,
                           n == MAX_SCHEMA_FILE ? "larger than 1 MiB" : "read error");
            break;
        }
        char why[512];
        if (fr_add_schema(f, (int32_t)id, text, n, why, sizeof why) != 0) {
            rc = sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.schema_dir: %s: %s", path, why);
            break;
        }
    }
    free(text);
    closedir(d);
    return rc;
}

struct fr *fr_new(const struct sr_ingest_cfg *cfg, char *errbuf, size_t errlen)
{
    if (cfg->format == SR_FMT_CSV) {
        sr_seterr(errbuf, errlen, SR_ECONFIG,
                  "ingest.format: csv is not a message framing (allowed: auto|jsonl|avro)");
        return NULL;
    }
    struct fr *f = calloc(1, sizeof *f);
    if (!f) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    f->format = cfg->format;
    f->canonical_id = (int32_t)cfg->schema_id;
    f->max_bytes = (size_t)cfg->max_message_bytes;
    f->json = jsonl_new(cfg, errbuf, errlen);
    if (!f->json)
        goto err_free;
    const char *canon = ingest_event_schema_json();
    if (fr_add_schema(f, f->canonical_id, canon, strlen(canon), errbuf, errlen) != 0)
        goto err_free;
    if (cfg->schema_dir[0] && load_schema_dir(f, cfg->schema_dir, errbuf, errlen) != 0)
        goto err_free;
    return f;
err_free:
    fr_free(f);
    return NULL;
}

uint64_t fr_canonical_fingerprint(const struct fr *f)
{
    return f->schemas[0].fp;
}

void fr_free(struct fr *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_schemas; i++) {
        avro_event_free(f->schemas[i].dec);
        avro_schema_decref(f->schemas[i].schema);
    }
    free(f->schemas);
    jsonl_free(f->json);
    if (f->mem)
        avro_reader_free(f->mem);
    free(f->out);
    free(f);
}

/* ---- encoding --------------------------------------------------------- */

static int reserve(struct fr *f, size_t need)
{
    if (need <= f->out_cap)
        return 0;
    size_t cap = f->out_cap ? f->out_cap : 512;
    while (cap < need)
        cap *= 2;
    unsigned char *nb = realloc(f->out, cap);
    if (!nb)
        return SR_ENOMEM;
    f->out = nb;
    f->out_cap = cap;
    return 0;
}

/* Avro binary: zig-zag varint longs, length-prefixed strings, union branch
 * index then value, little-endian IEEE doubles. Writing the canonical
 * schema's layout directly keeps producing allocation-free; tests check it
 * byte for byte against Avro C's writer. */
static unsigned char *put_varint(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        *p++ = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    return p;
}

static unsigned char *put_avro_str(unsigned char *p, struct sr_str s)
{
    p = put_varint(p, s.len);
    if (s.len)
        memcpy(p, s.p, s.len);
    return p + s.len;
}

static unsigned char *put_avro_opt_str(unsigned char *p, struct sr_str s)
{
    if (!s.p) {
        *p++ = 0; /* branch 0: null */
        return p;
    }
    *p++ = 2; /* branch 1 (zig-zag) */
    return put_avro_str(p, s);
}

static unsigned char *put_avro_body(unsigned char *p, const struct sr_raw_event *ev)
{
    p = put_avro_opt_str(p, ev->event_id);
    p = put_varint(p, ev->ts_ms);
    p = put_avro_str(p, ev->user_id);
    p = put_avro_str(p, ev->item_id);
    p = put_varint(p, (int64_t)ev->type);
    if (ev->has_price) {
        uint64_t bits;
        memcpy(&bits, &ev->price, 8);
        *p++ = 2;
        for (int i = 0; i < 8; i++)
            *p++ = (unsigned char)(bits >> (8 * i));
    } else {
        *p++ = 0;
    }
    if (ev->has_quantity) {
        *p++ = 2;
        p = put_varint(p, ev->quantity);
    } else {
        *p++ = 0;
    }
    return put_avro_opt_str(p, ev->session_id);
}

/* Valid UTF-8 without NUL bytes: what a JSON string may hold here. */
static bool utf8_valid(struct sr_str s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    for (uint32_t i = 0; i < s.len;) {
        unsigned char c = p[i];
        uint32_t n;
        uint32_t cp;
        if (c == 0) {
            return false; /* "\u0000": JSON readers (jansson, ours) refuse it */
        } else if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if ((uint64_t)i + n >= s.len) /* the sequence runs past the end */
            return false;
        for (uint32_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static unsigned char *put_lit(unsigned char *p, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(p, lit, n);
    return p + n;
}

static unsigned char *put_json_str(unsigned char *p, struct sr_str s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s.p)
        return put_lit(p, "null");
    *p++ = '"';
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = c;
        } else if (c < 0x20) {
            p = put_lit(p, "\\u00");
            *p++ = (unsigned char)hex[c >> 4];
            *p++ = (unsigned char)hex[c & 15];
        } else {
            *p++ = c;
        }
    }
    *p++ = '"';
    return p;
}

/* The shortest of %.15g .. %.17g that reads back as the same double. */
static unsigned char *put_double(unsigned char *p, double x)
{
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    char tmp[40];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        n = snprintf(tmp, sizeof tmp, fmts[i], x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    memcpy(p, tmp, (size_t)n);
    return p + n;
}

static unsigned char *put_json_body(unsigned char *p, const struct sr_raw_event *ev)
{
    char num[32];
    p = put_lit(p, "{\"event_id\":");
    p = put_json_str(p, ev->event_id);
    snprintf(num, sizeof num, ",\"ts\":%lld", (long long)ev->ts_ms);
    p = put_lit(p, num);
    p = put_lit(p, ",\"user_id\":");
    p = put_json_str(p, ev->user_id);
    p = put_lit(p, ",\"item_id\":");
    p = put_json_str(p, ev->item_id);
    p = put_lit(p, ",\"type\":\"");
    p = put_lit(p, sr_event_type_name(ev->type));
    p = put_lit(p, "\",\"price\":");
    p = ev->has_price ? put_double(p, ev->price) : put_lit(p, "null");
    if (ev->has_quantity) {
        snprintf(num, sizeof num, ",\"quantity\":%d", (int)ev->quantity);
        p = put_lit(p, num);
    } else {
        p = put_lit(p, ",\"quantity\":null");
    }
    p = put_lit(p, ",\"session_id\":");
    p = put_json_str(p, ev->session_id);
    *p++ = '}';
    return p;
}

int fr_encode(struct fr *f, enum fr_format fmt, const struct sr_raw_event *ev, const void **out,
              size_t *len)
{
    if (ev->user_id.len == 0 || ev->user_id.len > SR_MAX_ID_LEN || ev->item_id.len == 0 ||
        ev->item_id.len > SR_MAX_ID_LEN || (unsigned)ev->type >= SR_EVENT_TYPE_COUNT ||
        (ev->has_price && !isfinite(ev->price)) || (unsigned)fmt >= FR_FORMAT_COUNT)
        return SR_EINVAL;
    size_t strs = (size_t)ev->event_id.len + ev->user_id.len + ev->item_id.len + ev->session_id.len;
    /* JSON escaping turns one byte into at most six; fixed parts < 256. */
    int rc = reserve(f, 256 + 6 * strs);
    if (rc)
        return rc;
    unsigned char *p = f->out;
    switch (fmt) {
    case FR_CONFLUENT: {
        uint32_t id = (uint32_t)f->canonical_id;
        *p++ = 0;
        *p++ = (unsigned char)(id >> 24);
        *p++ = (unsigned char)(id >> 16);
        *p++ = (unsigned char)(id >> 8);
        *p++ = (unsigned char)id;
        p = put_avro_body(p, ev);
        break;
    }
    case FR_SINGLE_OBJECT: {
        uint64_t fp = f->schemas[0].fp;
        *p++ = 0xC3;
        *p++ = 0x01;
        for (int i = 0; i < 8; i++)
            *p++ = (unsigned char)(fp >> (8 * i));
        p = put_avro_body(p, ev);
        break;
    }
    default: /* FR_JSON */
        if (!utf8_valid(ev->event_id) || !utf8_valid(ev->user_id) || !utf8_valid(ev->item_id) ||
            !utf8_valid(ev->session_id))
            return SR_EINVAL;
        p = put_json_body(p, ev);
        break;
    }
    *out = f->out;
    *len = (size_t)(p - f->out);
    return 0;
}

/* ---- decoding --------------------------------------------------------- */

static int fail(struct fr_status *st, enum fr_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct fr_status *st, enum fr_reason r, const char *fmt, ...)
{
    st->reason = r;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->detail, sizeof st->detail, fmt, ap);
    va_end(ap);
    return SR_EPARSE;
}

/* The bounds check of an Avro body: a cursor over the bytes. */
struct cur {
    const unsigned char *p, *end;
    enum fr_reason reason; /* why the walk stopped */
    const char *what;      /* what was being read */
};

static bool cur_fail(struct cur *c, enum fr_reason r, const char *what)
{
    c->reason = r;
    c->what = what;
    return false;
}

static bool read_varint(struct cur *c, int64_t *out, const char *what)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p == c->end)
            return cur_fail(c, FR_TRUNCATED, what);
        unsigned char b = *c->p++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return true;
        }
    }
    return cur_fail(c, FR_BAD_AVRO, what); /* more than 10 bytes */
}

static bool skip(struct cur *c, int64_t n, const char *what)
{
    if (n < 0)
        return cur_fail(c, FR_BAD_AVRO, what);
    if ((uint64_t)n > (uint64_t)(c->end - c->p))
        return cur_fail(c, FR_TRUNCATED, what);
    c->p += n;
    return true;
}

/* Walks one value of schema s; false with c->reason set when the bytes do
 * not hold one. */
static bool check_value(struct cur *c, avro_schema_t s, int depth)
{
    if (depth > MAX_NESTING)
        return cur_fail(c, FR_BAD_AVRO, "value nested too deep");
    int64_t v;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return true;
    case AVRO_BOOLEAN:
        if (!skip(c, 1, "boolean"))
            return false;
        return c->p[-1] <= 1 || cur_fail(c, FR_BAD_AVRO, "boolean");
    case AVRO_INT32:
        if (!read_varint(c, &v, "int"))
            return false;
        return (v >= INT32_MIN && v <= INT32_MAX) || cur_fail(c, FR_BAD_AVRO, "int");
    case AVRO_INT64:
        return read_varint(c, &v, "long");
    case AVRO_FLOAT:
        return skip(c, 4, "float");
    case AVRO_DOUBLE:
        return skip(c, 8, "double");
    case AVRO_STRING:
    case AVRO_BYTES:
        return read_varint(c, &v, "string length") && skip(c, v, "string");
    case AVRO_FIXED:
        return skip(c, avro_schema_fixed_size(s), "fixed");
    case AVRO_ENUM:
        if (!read_varint(c, &v, "enum"))
            return false;
        return (v >= 0 && v < avro_schema_enum_number_of_symbols(s)) ||
               cur_fail(c, FR_BAD_AVRO, "enum index");
    case AVRO_UNION:
        if (!read_varint(c, &v, "union branch"))
            return false;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return cur_fail(c, FR_BAD_AVRO, "union branch");
        return check_value(c, avro_schema_union_branch(s, (int)v), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if (!check_value(c, avro_schema_record_field_get_by_index(s, (int)i), depth + 1))
                return false;
        return true;
    case AVRO_ARRAY:
    case AVRO_MAP: {
        bool map = avro_typeof(s) == AVRO_MAP;
        avro_schema_t item = map ? avro_schema_map_values(s) : avro_schema_array_items(s);
        for (;;) {
            int64_t n, bytes;
            if (!read_varint(c, &n, "block count"))
                return false;
            if (n == 0)
                return true;
            if (n < 0) { /* a negative count is followed by the block's size */
                if (n == INT64_MIN)
                    return cur_fail(c, FR_BAD_AVRO, "block count");
                if (!read_varint(c, &bytes, "block size"))
                    return false;
                n = -n;
            }
            /* Every item takes at least one byte unless it is null: bound
             * the loop by the bytes left. */
            if (avro_typeof(item) != AVRO_NULL && (uint64_t)n > (uint64_t)(c->end - c->p))
                return cur_fail(c, FR_TRUNCATED, "block");
            if ((uint64_t)n > (1u << 20))
                return cur_fail(c, FR_BAD_AVRO, "block count");
            for (int64_t k = 0; k < n; k++)
                if ((map && !(read_varint(c, &v, "map key") && skip(c, v, "map key"))) ||
                    !check_value(c, item, depth + 1))
                    return false;
        }
    }
    case AVRO_LINK:
        return check_value(c, avro_schema_link_target(s), depth + 1);
    default:
        return cur_fail(c, FR_BAD_AVRO, "unsupported schema type");
    }
}

/* Post-decode checks every framing shares (DESIGN.md, Events). */
static int check_event(const struct sr_raw_event *ev, struct fr_status *st)
{
    if (ev->user_id.len == 0 || ev->user_id.len > SR_MAX_ID_LEN)
        return fail(st, FR_INVALID_FIELD, "user_id has %u bytes (allowed 1..%d)",
                    (unsigned)ev->user_id.len, SR_MAX_ID_LEN);
    if (ev->item_id.len == 0 || ev->item_id.len > SR_MAX_ID_LEN)
        return fail(st, FR_INVALID_FIELD, "item_id has %u bytes (allowed 1..%d)",
                    (unsigned)ev->item_id.len, SR_MAX_ID_LEN);
    if (ev->has_price && !isfinite(ev->price))
        return fail(st, FR_INVALID_FIELD, "price is not a finite number");
    return 0;
}

static int decode_avro(struct fr *f, struct fr_schema *s, const unsigned char *body, size_t n,
                       struct sr_raw_event *ev, struct fr_status *st)
{
    struct cur c = {body, body + n, FR_OK, NULL};
    if (!check_value(&c, s->schema, 0))
        return fail(st, c.reason, "%s reading %s at byte %zu of the %zu-byte Avro body",
                    c.reason == FR_TRUNCATED ? "ran out of bytes" : "invalid data", c.what,
                    (size_t)(c.p - body), n);
    if (c.p != c.end)
        return fail(st, FR_BAD_AVRO, "%zu bytes left over after the record (%zu-byte body)",
                    (size_t)(c.end - c.p), n);
    if (!f->mem) {
        f->mem = avro_reader_memory((const char *)body, (int64_t)n);
        if (!f->mem) {
            fail(st, FR_BAD_AVRO, "out of memory");
            return SR_ENOMEM;
        }
    } else {
        avro_reader_memory_set_source(f->mem, (const char *)body, (int64_t)n);
    }
    if (avro_value_read(f->mem, avro_event_input(s->dec)) != 0)
        return fail(st, FR_BAD_AVRO, "avro: %s", avro_strerror());
    enum src_bad why;
    if (avro_event_get(s->dec, ev, &why) != 0)
        return fail(st, why == SRC_BAD_ID ? FR_INVALID_FIELD : FR_BAD_AVRO, "%s",
                    why == SRC_BAD_ID ? "user_id or item_id is empty"
                                      : "record lacks a required field or has an unknown type");
    return check_event(ev, st);
}

static int decode_json(struct fr *f, const unsigned char *buf, size_t len, struct sr_raw_event *ev,
                       struct fr_status *st)
{
    st->framing = FR_JSON;
    enum src_bad why;
    if (jsonl_decode(f->json, (const char *)buf, len, ev, &why) == 0)
        return check_event(ev, st);
    switch (why) {
    case SRC_BAD_JSON: {
        /* Not JSON, not an object, or fields of the wrong kind: parse again
         * (failures only) to tell which and to quote jansson's reason. */
        json_error_t jerr;
        json_t *root = json_loadb((const char *)buf, len, 0, &jerr);
        bool object = json_is_object(root);
        json_decref(root);
        if (!root)
            return fail(st, FR_BAD_JSON, "%s at byte %d", jerr.text, jerr.position);
        if (!object)
            return fail(st, FR_BAD_JSON, "not a JSON object");
        return fail(st, FR_INVALID_FIELD,
                    "user_id or item_id missing, or an id field neither string nor integer");
    }
    case SRC_BAD_TS:
        return fail(st, FR_INVALID_FIELD, "ts missing or not a time");
    case SRC_BAD_TYPE:
        return fail(st, FR_INVALID_FIELD, "type is not an event type");
    case SRC_BAD_ID:
        return fail(st, FR_INVALID_FIELD, "user_id or item_id is empty");
    case SRC_BAD_NUMBER:
        return fail(st, FR_INVALID_FIELD, "price or quantity is not a number in range");
    default:
        return fail(st, FR_INVALID_FIELD, "invalid field");
    }
}

int fr_decode(struct fr *f, const void *buf, size_t len, struct sr_raw_event *ev,
              struct fr_status *st)
{
    const unsigned char *b = buf;
    st->framing = FR_CONFLUENT;
    st->reason = FR_OK;
    st->schema_id = -1;
    st->fingerprint = 0;
    st->detail[0] = '\0';
    memset(ev, 0, sizeof *ev);
    if (len > f->max_bytes)
        return fail(st, FR_OVERSIZED, "%zu bytes (ingest.max_message_bytes is %zu)", len,
                    f->max_bytes);
    if (len == 0)
        return fail(st, FR_TRUNCATED, "empty message");
    if (f->format == SR_FMT_JSONL)
        return decode_json(f, b, len, ev, st);

    if (b[0] == 0x00) {
        if (len < CONFLUENT_HEADER)
            return fail(st, FR_TRUNCATED, "%zu bytes, shorter than the 5-byte Confluent header",
                        len);
        int32_t id =
            (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
        st->schema_id = id;
        for (size_t i = 0; i < f->n_schemas; i++)
            if (f->schemas[i].id == id && id >= 0)
                return decode_avro(f, &f->schemas[i], b + CONFLUENT_HEADER, len - CONFLUENT_HEADER,
                                   ev, st);
        return fail(st, FR_UNKNOWN_SCHEMA_ID, "schema id %d is not known (ingest.schema_dir)",
                    (int)id);
    }
    if (b[0] == 0xC3) {
        st->framing = FR_SINGLE_OBJECT;
        if (len < 2)
            return fail(st, FR_TRUNCATED, "1 byte, shorter than the single-object header");
        if (b[1] != 0x01)
            return fail(st, FR_BAD_MAGIC, "single-object marker 0xC3 0x%02X, want 0xC3 0x01", b[1]);
        if (len < SINGLE_HEADER)
            return fail(st, FR_TRUNCATED,
                        "%zu bytes, shorter than the 10-byte single-object header", len);
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++)
            fp |= (uint64_t)b[2 + i] << (8 * i);
        st->fingerprint = fp;
        for (size_t i = 0; i < f->n_schemas; i++)
            if (f->schemas[i].fp == fp)
                return decode_avro(f, &f->schemas[i], b + SINGLE_HEADER, len - SINGLE_HEADER, ev,
                                   st);
        return fail(st, FR_UNKNOWN_FINGERPRINT, "schema fingerprint %016llx is not known",
                    (unsigned long long)fp);
    }
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (f->format == SR_FMT_AUTO && i < len && b[i] == '{')
        return decode_json(f, b, len, ev, st);
    st->framing = FR_JSON;
    return fail(st, FR_BAD_MAGIC, "first byte 0x%02X is no accepted framing (%s)", b[0],
                f->format == SR_FMT_AVRO ? "0x00 Confluent, 0xC3 single-object"
                                         : "0x00 Confluent, 0xC3 single-object, '{' JSON");
}
