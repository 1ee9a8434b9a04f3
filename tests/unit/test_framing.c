/* tests/unit/test_framing.c - ingest/avro_fp and ingest/framing: Parsing
 * Canonical Form and CRC-64-AVRO against the Avro project's published
 * vectors, round trips of every framing, writer schemas that differ from the
 * canonical one, and every kind of malformed message. */
#include "app/gen.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/avro_fp.h"
#include "ingest/framing.h"
#include "ingest/schema.h"

#include <avro.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static struct fr *codec(const struct sr_config *cfg)
{
    char err[512] = "";
    struct fr *f = fr_new(&cfg->ingest, err, sizeof err);
    ck_assert_msg(f != NULL, "fr_new: %s", err);
    return f;
}

static struct fr *default_codec(void)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    return codec(&cfg);
}

static bool str_eq(struct sr_str a, struct sr_str b)
{
    if (!a.p || !b.p)
        return !a.p && !b.p;
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* Every field of the canonical schema equal (category is not in it). */
static void assert_same_event(const struct sr_raw_event *want, const struct sr_raw_event *got,
                              const char *what)
{
    ck_assert_msg(got->ts_ms == want->ts_ms, "%s: ts %lld != %lld", what, (long long)got->ts_ms,
                  (long long)want->ts_ms);
    ck_assert_msg(str_eq(got->user_id, want->user_id), "%s: user_id", what);
    ck_assert_msg(str_eq(got->item_id, want->item_id), "%s: item_id", what);
    ck_assert_msg(str_eq(got->event_id, want->event_id), "%s: event_id", what);
    ck_assert_msg(str_eq(got->session_id, want->session_id), "%s: session_id", what);
    ck_assert_msg(got->type == want->type, "%s: type %d != %d", what, got->type, want->type);
    ck_assert_msg(got->has_price == want->has_price, "%s: has_price", what);
    if (want->has_price)
        ck_assert_msg(got->price == want->price, "%s: price %.17g != %.17g", what, got->price,
                      want->price);
    ck_assert_msg(got->has_quantity == want->has_quantity, "%s: has_quantity", what);
    if (want->has_quantity)
        ck_assert_msg(got->quantity == want->quantity, "%s: quantity", what);
}

static enum fr_reason decode_reason(struct fr *f, const void *buf, size_t len)
{
    struct sr_raw_event ev;
    struct fr_status st;
    int rc = fr_decode(f, buf, len, &ev, &st);
    if (rc == 0) {
        ck_assert_int_eq(st.reason, FR_OK);
        return FR_OK;
    }
    ck_assert_int_eq(rc, SR_EPARSE);
    ck_assert_msg(st.reason > FR_OK && st.reason < FR_REASON_COUNT, "reason %d", st.reason);
    ck_assert_msg(st.detail[0] != '\0', "reason %s without detail", fr_reason_name(st.reason));
    ck_assert_msg(strchr(st.detail, '\n') == NULL, "detail is not one line: %s", st.detail);
    return st.reason;
}

#define ASSERT_REASON(f, buf, len, want)                                                           \
    do {                                                                                           \
        enum fr_reason got_ = decode_reason((f), (buf), (len));                                    \
        ck_assert_msg(got_ == (want), "%s:%d: got %s, want %s", __FILE__, __LINE__,                \
                      fr_reason_name(got_), fr_reason_name(want));                                 \
    } while (0)

/* Writes an Avro binary record (no framing) of value into buf; returns its size. */
static size_t avro_write_value(avro_value_t *value, unsigned char *buf, size_t cap)
{
    avro_writer_t w = avro_writer_memory((const char *)buf, (int64_t)cap);
    ck_assert_ptr_nonnull(w);
    ck_assert_msg(avro_value_write(w, value) == 0, "avro_value_write: %s", avro_strerror());
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    return n;
}

/* Sets a value that is either of the wanted kind or a ["null", X] union. */
static avro_value_t *nonnull_branch(avro_value_t *field, avro_value_t *branch)
{
    if (avro_value_get_type(field) != AVRO_UNION)
        return field;
    ck_assert_int_eq(avro_value_set_branch(field, 1, branch), 0);
    return branch;
}

static void set_null_branch(avro_value_t *field)
{
    avro_value_t branch;
    ck_assert_int_eq(avro_value_get_type(field), AVRO_UNION);
    ck_assert_int_eq(avro_value_set_branch(field, 0, &branch), 0);
    ck_assert_int_eq(avro_value_set_null(&branch), 0);
}

static void set_str(avro_value_t *field, struct sr_str s)
{
    avro_value_t branch;
    if (!s.p) {
        set_null_branch(field);
        return;
    }
    char tmp[512];
    ck_assert_uint_lt(s.len, sizeof tmp);
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    ck_assert_int_eq(avro_value_set_string_len(nonnull_branch(field, &branch), tmp, s.len + 1), 0);
}

/* Fills a record of any writer schema shaped like streamrec.Event, field by
 * name: the canonical fields it has from ev, extra fields with a value. */
static void fill_record(avro_value_t *rec, avro_schema_t schema, const struct sr_raw_event *ev)
{
    size_t n;
    ck_assert_int_eq(avro_value_get_size(rec, &n), 0);
    for (size_t i = 0; i < n; i++) {
        avro_value_t field, branch;
        const char *name;
        ck_assert_int_eq(avro_value_get_by_index(rec, i, &field, &name), 0);
        if (!strcmp(name, "event_id")) {
            set_str(&field, ev->event_id);
        } else if (!strcmp(name, "session_id")) {
            set_str(&field, ev->session_id);
        } else if (!strcmp(name, "user_id")) {
            set_str(&field, ev->user_id);
        } else if (!strcmp(name, "item_id")) {
            set_str(&field, ev->item_id);
        } else if (!strcmp(name, "ts")) {
            ck_assert_int_eq(avro_value_set_long(&field, ev->ts_ms), 0);
        } else if (!strcmp(name, "type")) {
            avro_schema_t es = avro_schema_record_field_get(schema, "type");
            int idx = avro_schema_enum_get_by_name(es, sr_event_type_name(ev->type));
            ck_assert_int_ge(idx, 0);
            ck_assert_int_eq(avro_value_set_enum(&field, idx), 0);
        } else if (!strcmp(name, "price")) {
            if (ev->has_price)
                ck_assert_int_eq(avro_value_set_double(nonnull_branch(&field, &branch), ev->price),
                                 0);
            else
                set_null_branch(&field);
        } else if (!strcmp(name, "quantity")) {
            if (ev->has_quantity)
                ck_assert_int_eq(avro_value_set_int(nonnull_branch(&field, &branch), ev->quantity),
                                 0);
            else
                set_null_branch(&field);
        } else if (!strcmp(name, "campaign")) { /* extra optional string */
            ck_assert_int_eq(avro_value_set_string(nonnull_branch(&field, &branch), "spring"), 0);
        } else if (!strcmp(name, "score")) { /* extra double */
            ck_assert_int_eq(avro_value_set_double(&field, 0.25), 0);
        } else {
            ck_abort_msg("unexpected field %s", name);
        }
    }
}

/* Encodes ev with writer schema json into body; returns the body size. */
static size_t encode_with_schema(const char *json, const struct sr_raw_event *ev,
                                 unsigned char *body, size_t cap)
{
    avro_schema_t schema;
    ck_assert_msg(avro_schema_from_json_length(json, strlen(json), &schema) == 0, "schema: %s",
                  avro_strerror());
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    ck_assert_int_eq(avro_generic_value_new(cls, &rec), 0);
    fill_record(&rec, schema, ev);
    size_t n = avro_write_value(&rec, body, cap);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
    return n;
}

static size_t confluent(unsigned char *out, int32_t id, const unsigned char *body, size_t n)
{
    out[0] = 0;
    out[1] = (unsigned char)((uint32_t)id >> 24);
    out[2] = (unsigned char)((uint32_t)id >> 16);
    out[3] = (unsigned char)((uint32_t)id >> 8);
    out[4] = (unsigned char)id;
    memcpy(out + 5, body, n);
    return n + 5;
}

static size_t single_object(unsigned char *out, uint64_t fp, const unsigned char *body, size_t n)
{
    out[0] = 0xC3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(fp >> (8 * i));
    memcpy(out + 10, body, n);
    return n + 10;
}

static struct sr_raw_event sample_event(void)
{
    struct sr_raw_event ev = {0};
    ev.ts_ms = 1700000000123;
    ev.user_id = (struct sr_str){"user-42", 7};
    ev.item_id = (struct sr_str){"item-\"7\"", 8};
    ev.event_id = (struct sr_str){"e1", 2};
    ev.session_id = (struct sr_str){"s9", 2};
    ev.type = SR_PURCHASE;
    ev.has_price = true;
    ev.price = 19.99;
    ev.has_quantity = true;
    ev.quantity = 3;
    return ev;
}

/* ---- Parsing Canonical Form and CRC-64-AVRO --------------------------- */

/* Vectors from the Apache Avro repository, share/test/data/schema-tests.txt
 * (the inputs, canonical forms and fingerprints every Avro implementation
 * is tested against; the fingerprints there are CRC-64-AVRO as signed
 * 64-bit integers, cross-checked by the Java implementation). The numbers
 * in the comments are the test case numbers of that file. */
static const struct {
    const char *input, *canonical;
    int64_t fingerprint; /* 0 = that case has none */
} pcf_vectors[] = {
    /* 000 */ {"\"null\"", "\"null\"", 7195948357588979594LL},
    /* 001 */ {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594LL},
    /* 002 */ {"\"boolean\"", "\"boolean\"", -6970731678124411036LL},
    /* 004 */ {"\"int\"", "\"int\"", 8247732601305521295LL},
    /* 006 */ {"\"long\"", "\"long\"", -3434872931120570953LL},
    /* 008 */ {"\"float\"", "\"float\"", 5583340709985441680LL},
    /* 010 */ {"\"double\"", "\"double\"", -8181574048448539266LL},
    /* 012 */ {"\"bytes\"", "\"bytes\"", 5746618253357095269LL},
    /* 014 */ {"\"string\"", "\"string\"", -8142146995180207161LL},
    /* 016 */ {"[  ]", "[]", -1241056759729112623LL},
    /* 017 */ {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493LL},
    /* 018 */
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090LL},
    /* 019 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    /* 020 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771LL},
    /* 021 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110LL},
    /* 024 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    /* 025 */
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     7843277075252814651LL},
    /* 026 */
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"},\n"
     "            {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
     "  \"type\":\"record\", \"name\":\"foo\"\n}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},{"
     "\"name\":\"f2\",\"type\":\"int\"}]}",
     -4860222112080293046LL},
    /* 027 */
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", -6342190197741309591LL},
    /* 028 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245LL},
    /* 029 */
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1756455273707447556LL},
    /* 030 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786LL},
    /* 031 */
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059LL},
    /* 032 */
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     -8732877298790414990LL},
    /* 033 */
    {"  {\"name\":\"PigValue\",\"type\":\"record\",\n"
     "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
     "\"null\","
     "\"int\",\"long\",\"PigValue\"]}]}",
     -1759257747318642341LL},
};

START_TEST(test_pcf_and_fingerprint_vectors)
{
    char err[256];
    for (size_t i = 0; i < sizeof pcf_vectors / sizeof pcf_vectors[0]; i++) {
        const char *in = pcf_vectors[i].input;
        char *pcf = NULL;
        int rc = avro_fp_canonical(in, strlen(in), &pcf, err, sizeof err);
        ck_assert_msg(rc == 0, "vector %zu: %s", i, err);
        ck_assert_msg(strcmp(pcf, pcf_vectors[i].canonical) == 0, "vector %zu: %s != %s", i, pcf,
                      pcf_vectors[i].canonical);
        uint64_t want = (uint64_t)pcf_vectors[i].fingerprint;
        ck_assert_msg(avro_fp_crc64(pcf, strlen(pcf)) == want, "vector %zu: crc", i);
        uint64_t fp = 0;
        ck_assert_int_eq(avro_fp_schema(in, strlen(in), &fp, err, sizeof err), 0);
        ck_assert_msg(fp == want, "vector %zu: fingerprint %016llx", i, (unsigned long long)fp);
        free(pcf);
    }
    /* linkedin/goavro crc64avro_test.go and the Avro Ruby test_fingerprints.rb
     * give the same value for "int" in hex, and the single-object header
     * bytes C3 01 8F 5C 39 3F 1A D5 75 72 (little-endian). */
    ck_assert(avro_fp_crc64("\"int\"", 5) == 0x7275d51a3f395c8fULL);
    ck_assert(avro_fp_crc64("\"string\"", 8) == 0x8f014872634503c7ULL);
    /* The fingerprint of no bytes is the algorithm's EMPTY constant. */
    ck_assert(avro_fp_crc64("", 0) == 0xc15d213aa4d7a795ULL);

    /* Not schemas. */
    const char *bad[] = {"",
                         "{",
                         "{\"name\":\"x\"}",
                         "{\"type\":\"record\",\"fields\":[]}",
                         "{\"type\":\"enum\",\"name\":\"e\"}",
                         "42"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *pcf = NULL;
        err[0] = '\0';
        ck_assert_msg(avro_fp_canonical(bad[i], strlen(bad[i]), &pcf, err, sizeof err) == SR_EPARSE,
                      "'%s' accepted", bad[i]);
        ck_assert(err[0] != '\0');
        ck_assert_ptr_null(pcf);
    }
}
END_TEST

START_TEST(test_pcf_event_schema)
{
    /* The canonical form of config/schemas/event.avsc, written out by hand
     * from the specification's rules: full names, doc/default/logicalType
     * stripped, name-type-fields order, no whitespace. */
    static const char want[] =
        "{\"name\":\"streamrec.Event\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"ts\",\"type\":\"long\"},"
        "{\"name\":\"user_id\",\"type\":\"string\"},"
        "{\"name\":\"item_id\",\"type\":\"string\"},"
        "{\"name\":\"type\",\"type\":{\"name\":\"streamrec.EventType\",\"type\":\"enum\","
        "\"symbols\":[\"VIEW\",\"CLICK\",\"ADD_TO_CART\",\"FAVORITE\",\"PURCHASE\"]}},"
        "{\"name\":\"price\",\"type\":[\"null\",\"double\"]},"
        "{\"name\":\"quantity\",\"type\":[\"null\",\"int\"]},"
        "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"]}]}";
    const char *json = ingest_event_schema_json();
    char err[256], *pcf = NULL;
    ck_assert_int_eq(avro_fp_canonical(json, strlen(json), &pcf, err, sizeof err), 0);
    ck_assert_str_eq(pcf, want);
    struct fr *f = default_codec();
    ck_assert(fr_canonical_fingerprint(f) == avro_fp_crc64(want, strlen(want)));
    fr_free(f);
    free(pcf);

    /* A name referenced in a nested namespace is qualified by it. */
    const char *nested = "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":["
                         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                         "\"symbols\":[\"X\"]}},{\"name\":\"f\",\"type\":\"E\"},"
                         "{\"name\":\"g\",\"type\":\"b.E\"}]}";
    ck_assert_int_eq(avro_fp_canonical(nested, strlen(nested), &pcf, err, sizeof err), 0);
    ck_assert_str_eq(pcf, "{\"name\":\"a.R\",\"type\":\"record\",\"fields\":[{\"name\":\"e\","
                          "\"type\":{\"name\":\"a.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
                          "{\"name\":\"f\",\"type\":\"a.E\"},{\"name\":\"g\",\"type\":\"b.E\"}]}");
    free(pcf);
}
END_TEST

/* ---- round trips ------------------------------------------------------ */

START_TEST(test_roundtrip_generated)
{
    struct gen_cfg gc;
    gen_cfg_defaults(&gc);
    gc.events = 3000;
    gc.users = 500;
    gc.items = 300;
    gc.seed = 11;
    char err[256];
    struct gen *g = gen_new(&gc, err, sizeof err);
    ck_assert_msg(g != NULL, "%s", err);
    struct fr *enc = default_codec();
    struct fr *dec = default_codec();
    struct gen_event ge;
    uint64_t n = 0;
    while (gen_next(g, &ge) == 0) {
        struct sr_raw_event ev = ge.raw;
        ev.category = (struct sr_str){NULL, 0};
        /* Vary the optional fields: absent, odd prices, negative times. */
        if (n % 7 == 1)
            ev.event_id = (struct sr_str){NULL, 0};
        if (n % 5 == 2)
            ev.session_id = (struct sr_str){NULL, 0};
        if (n % 3 == 0)
            ev.has_price = false;
        if (n % 11 == 4)
            ev.price = ev.price / 3.0 + 1e-9 * (double)n;
        if (n % 13 == 5) {
            ev.has_quantity = true;
            ev.quantity = (int32_t)(n % 2 ? -2147483647 - 1 : 2147483647);
        }
        if (n % 17 == 6)
            ev.ts_ms = -(int64_t)n * 1000003;
        for (int fmt = 0; fmt < FR_FORMAT_COUNT; fmt++) {
            const void *msg;
            size_t len;
            ck_assert_int_eq(fr_encode(enc, (enum fr_format)fmt, &ev, &msg, &len), 0);
            struct sr_raw_event got;
            struct fr_status st;
            int rc = fr_decode(dec, msg, len, &got, &st);
            ck_assert_msg(rc == 0, "event %llu %s: %s: %s", (unsigned long long)n,
                          fr_format_name((enum fr_format)fmt), fr_reason_name(st.reason),
                          st.detail);
            ck_assert_int_eq(st.framing, fmt);
            assert_same_event(&ev, &got, fr_format_name((enum fr_format)fmt));
        }
        n++;
    }
    ck_assert_uint_eq(n, 3000);
    gen_free(g);
    fr_free(enc);
    fr_free(dec);
}
END_TEST

START_TEST(test_avro_bytes_match_avro_c)
{
    /* The hand-written Avro body equals what Avro C writes for the same
     * record with the canonical schema. */
    const char *json = ingest_event_schema_json();
    struct fr *f = default_codec();
    struct sr_raw_event ev = sample_event();
    unsigned char want[1024];
    for (int v = 0; v < 6; v++) {
        if (v == 1)
            ev.has_price = false;
        if (v == 2)
            ev.session_id = (struct sr_str){NULL, 0};
        if (v == 3)
            ev.event_id = (struct sr_str){"", 0};
        if (v == 4) {
            ev.ts_ms = -1;
            ev.quantity = -70000;
        }
        if (v == 5) {
            ev.user_id = (struct sr_str){"\xc3\xa9t\xc3\xa9", 6};
            ev.type = SR_VIEW;
        }
        size_t n = encode_with_schema(json, &ev, want, sizeof want);
        const void *msg;
        size_t len;
        ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &msg, &len), 0);
        ck_assert_uint_eq(len, n + 5);
        ck_assert_msg(memcmp((const unsigned char *)msg + 5, want, n) == 0, "variant %d", v);
        ck_assert_int_eq(((const unsigned char *)msg)[4], 1); /* ingest.schema_id default */
        ck_assert_int_eq(fr_encode(f, FR_SINGLE_OBJECT, &ev, &msg, &len), 0);
        ck_assert_uint_eq(len, n + 10);
        ck_assert(memcmp((const unsigned char *)msg + 10, want, n) == 0);
    }
    fr_free(f);
}
END_TEST

/* ---- writer schemas that differ from the canonical one ---------------- */

/* Fields reordered, two extra fields (one optional), enum symbols reordered. */
static const char variant_extra[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"campaign\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"PURCHASE\",\"FAVORITE\",\"VIEW\",\"CLICK\",\"ADD_TO_CART\"]}},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"score\",\"type\":\"double\"},"
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"quantity\",\"type\":[\"null\",\"int\"],\"default\":null},"
    "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"price\",\"type\":[\"null\",\"double\"],\"default\":null}]}";

/* Optional fields left out (price, session_id, event_id); required ones reordered. */
static const char variant_missing[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"VIEW\",\"CLICK\",\"ADD_TO_CART\",\"FAVORITE\",\"PURCHASE\"]}},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"quantity\",\"type\":[\"null\",\"int\"],\"default\":null}]}";

/* Lacks item_id, which the reader requires. */
static const char variant_unusable[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"ts\",\"type\":\"long\"},{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"VIEW\",\"CLICK\",\"ADD_TO_CART\",\"FAVORITE\",\"PURCHASE\"]}}]}";

static void check_variant(struct fr *f, const char *schema, int32_t id, bool missing_optionals)
{
    char err[256];
    uint64_t fp;
    ck_assert_int_eq(avro_fp_schema(schema, strlen(schema), &fp, err, sizeof err), 0);
    ck_assert(fp != fr_canonical_fingerprint(f));
    for (int t = 0; t < SR_EVENT_TYPE_COUNT; t++) {
        struct sr_raw_event ev = sample_event();
        ev.type = (enum sr_event_type)t;
        ev.quantity = t - 2;
        unsigned char body[1024], msg[1100];
        size_t n = encode_with_schema(schema, &ev, body, sizeof body);
        struct sr_raw_event want = ev;
        if (missing_optionals) {
            want.has_price = false;
            want.session_id = (struct sr_str){NULL, 0};
            want.event_id = (struct sr_str){NULL, 0};
        }
        for (int framing = 0; framing < 2; framing++) {
            size_t len =
                framing == 0 ? confluent(msg, id, body, n) : single_object(msg, fp, body, n);
            struct sr_raw_event got;
            struct fr_status st;
            int rc = fr_decode(f, msg, len, &got, &st);
            ck_assert_msg(rc == 0, "type %d framing %d: %s: %s", t, framing,
                          fr_reason_name(st.reason), st.detail);
            assert_same_event(&want, &got, schema);
            if (framing == 0)
                ck_assert_int_eq(st.schema_id, id);
            else
                ck_assert(st.fingerprint == fp);
        }
        /* The same body under the canonical id is misread: never silently
         * accepted as a valid event of the wrong shape. */
        size_t len = confluent(msg, 1, body, n);
        struct sr_raw_event got;
        struct fr_status st;
        if (fr_decode(f, msg, len, &got, &st) == 0)
            ck_assert_msg(!str_eq(got.user_id, ev.user_id) || !str_eq(got.item_id, ev.item_id),
                          "a foreign body decoded as the same event");
    }
}

START_TEST(test_writer_schema_variants)
{
    char err[512];
    struct fr *f = default_codec();
    ck_assert_msg(fr_add_schema(f, 7, variant_extra, strlen(variant_extra), err, sizeof err) == 0,
                  "%s", err);
    ck_assert_msg(fr_add_schema(f, 8, variant_missing, strlen(variant_missing), err, sizeof err) ==
                      0,
                  "%s", err);
    check_variant(f, variant_extra, 7, false);
    check_variant(f, variant_missing, 8, true);

    /* Unusable or conflicting schemas are refused with a reason. */
    err[0] = '\0';
    ck_assert_int_eq(
        fr_add_schema(f, 9, variant_unusable, strlen(variant_unusable), err, sizeof err),
        SR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "item_id"));
    ck_assert_int_eq(fr_add_schema(f, 7, variant_missing, strlen(variant_missing), err, sizeof err),
                     SR_EINVAL);
    ck_assert_int_eq(fr_add_schema(f, 1, variant_missing, strlen(variant_missing), err, sizeof err),
                     SR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "canonical"));
    ck_assert_int_eq(fr_add_schema(f, 10, "{\"type\":", 8, err, sizeof err), SR_EINVAL);
    /* Re-adding a known schema under its id is a no-op. */
    ck_assert_int_eq(fr_add_schema(f, 7, variant_extra, strlen(variant_extra), err, sizeof err), 0);
    fr_free(f);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

START_TEST(test_schema_dir)
{
    char dir[] = "/tmp/sr_framing_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file(dir, "7.avsc", variant_extra);
    write_file(dir, "8.avsc", variant_missing);
    write_file(dir, "1.avsc", ingest_event_schema_json()); /* the canonical id: same schema, fine */
    write_file(dir, "README.txt", "not a schema");
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512];
    snprintf(err, sizeof err, "ingest.schema_dir=%s", dir);
    ck_assert_int_eq(sr_config_override(&cfg, err, err, sizeof err), 0);
    struct fr *f = codec(&cfg);
    check_variant(f, variant_extra, 7, false);
    check_variant(f, variant_missing, 8, true);
    fr_free(f);

    /* A file that is not a schema, or that redefines the canonical id, is
     * an error naming the file. */
    write_file(dir, "1.avsc", variant_missing);
    err[0] = '\0';
    ck_assert_ptr_null(fr_new(&cfg.ingest, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "1.avsc"));
    write_file(dir, "1.avsc", ingest_event_schema_json());
    write_file(dir, "9.avsc", "{\"type\": \"record\"");
    ck_assert_ptr_null(fr_new(&cfg.ingest, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "9.avsc"));
    /* The canonical schema may live under another id. */
    write_file(dir, "9.avsc", variant_unusable);
    ck_assert_ptr_null(fr_new(&cfg.ingest, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "item_id"));
    unlink(strcat(strcpy(err, dir), "/9.avsc"));
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.schema_id=3", err, sizeof err), 0);
    f = codec(&cfg);
    struct sr_raw_event ev = sample_event(), got;
    const void *msg;
    size_t len;
    struct fr_status st;
    ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &msg, &len), 0);
    ck_assert_int_eq(((const unsigned char *)msg)[4], 3);
    ck_assert_int_eq(fr_decode(f, msg, len, &got, &st), 0);
    fr_free(f);
    /* A missing directory. */
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.schema_dir=/nonexistent/sr", err, sizeof err),
                     0);
    ck_assert_ptr_null(fr_new(&cfg.ingest, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ingest.schema_dir"));

    const char *names[] = {"7.avsc", "8.avsc", "1.avsc", "README.txt"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

/* ---- malformed messages ----------------------------------------------- */

START_TEST(test_truncated_every_length)
{
    struct fr *f = default_codec();
    struct sr_raw_event ev = sample_event();
    for (int fmt = 0; fmt < FR_FORMAT_COUNT; fmt++) {
        const void *p;
        size_t len;
        ck_assert_int_eq(fr_encode(f, (enum fr_format)fmt, &ev, &p, &len), 0);
        unsigned char msg[1024];
        memcpy(msg, p, len);
        ASSERT_REASON(f, msg, len, FR_OK);
        for (size_t k = 0; k < len; k++) {
            /* A JSON prefix is not JSON; an Avro prefix runs out of bytes. */
            enum fr_reason want = fmt == FR_JSON && k > 0 ? FR_BAD_JSON : FR_TRUNCATED;
            enum fr_reason got = decode_reason(f, msg, k);
            ck_assert_msg(got == want, "%s cut at %zu of %zu: %s", fr_format_name(fmt), k, len,
                          fr_reason_name(got));
        }
    }
    fr_free(f);
}
END_TEST

START_TEST(test_bad_magic_and_unknown_schemas)
{
    struct fr *f = default_codec();
    struct sr_raw_event ev = sample_event();
    const void *p;
    size_t len;
    unsigned char msg[1024];

    const char *not_framed[] = {"\x01\x00\x00\x00\x01", "x{}", "[1,2]", "\x7f",
                                "\xc3\x02zzzzzzzzz",    "  \t"};
    for (size_t i = 0; i < sizeof not_framed / sizeof not_framed[0]; i++)
        ASSERT_REASON(f, not_framed[i], strlen(not_framed[i]), FR_BAD_MAGIC);

    ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &p, &len), 0);
    memcpy(msg, p, len);
    msg[4] = 99; /* id 99 */
    ASSERT_REASON(f, msg, len, FR_UNKNOWN_SCHEMA_ID);
    msg[1] = 0x80; /* a negative id */
    ASSERT_REASON(f, msg, len, FR_UNKNOWN_SCHEMA_ID);

    ck_assert_int_eq(fr_encode(f, FR_SINGLE_OBJECT, &ev, &p, &len), 0);
    for (int b = 2; b < 10; b++) {
        memcpy(msg, p, len);
        msg[b] ^= 0x10;
        ASSERT_REASON(f, msg, len, FR_UNKNOWN_FINGERPRINT);
    }

    /* ingest.format narrows what is accepted. */
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[256];
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.format=avro", err, sizeof err), 0);
    struct fr *favro = codec(&cfg);
    ck_assert_int_eq(fr_encode(favro, FR_JSON, &ev, &p, &len), 0);
    ASSERT_REASON(favro, p, len, FR_BAD_MAGIC);
    ck_assert_int_eq(fr_encode(favro, FR_SINGLE_OBJECT, &ev, &p, &len), 0);
    ASSERT_REASON(favro, p, len, FR_OK);
    fr_free(favro);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.format=jsonl", err, sizeof err), 0);
    struct fr *fjson = codec(&cfg);
    ck_assert_int_eq(fr_encode(fjson, FR_CONFLUENT, &ev, &p, &len), 0);
    ASSERT_REASON(fjson, p, len, FR_BAD_JSON);
    ASSERT_REASON(fjson, "[1]", 3, FR_BAD_JSON);
    fr_free(fjson);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.format=csv", err, sizeof err), 0);
    err[0] = '\0';
    ck_assert_ptr_null(fr_new(&cfg.ingest, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ingest.format"));
    fr_free(f);
}
END_TEST

START_TEST(test_bad_avro_bodies)
{
    struct fr *f = default_codec();
    struct sr_raw_event ev = sample_event();
    const void *p;
    size_t len;
    unsigned char msg[1024];
    ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &p, &len), 0);
    memcpy(msg, p, len);

    /* Bytes left over after the record. */
    msg[len] = 0;
    ASSERT_REASON(f, msg, len + 1, FR_BAD_AVRO);
    /* event_id's union branch (byte 5) out of range, and negative. */
    msg[5] = 6;
    ASSERT_REASON(f, msg, len, FR_BAD_AVRO);
    msg[5] = 1;
    ASSERT_REASON(f, msg, len, FR_BAD_AVRO);
    msg[5] = 2;
    /* event_id's length (byte 6): negative. */
    msg[6] = 0x03;
    ASSERT_REASON(f, msg, len, FR_BAD_AVRO);
    /* A huge length: runs out, with no allocation of that size. */
    unsigned char huge[] = {0, 0, 0, 0, 1, 2, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    ASSERT_REASON(f, huge, sizeof huge, FR_TRUNCATED);
    /* A varint longer than 10 bytes. */
    unsigned char longvar[20] = {0, 0, 0, 0, 1, 0};
    memset(longvar + 6, 0xff, 12);
    ASSERT_REASON(f, longvar, sizeof longvar, FR_BAD_AVRO);

    /* Enum index out of range: hand-built canonical record. */
    unsigned char rec[] = {0,  0,   0, 0, 1, /* header */
                           0,                /* event_id null */
                           2,                /* ts 1 */
                           2,  'u',          /* user_id */
                           2,  'i',          /* item_id */
                           18,               /* type 9 */
                           0,  0,   0};
    ASSERT_REASON(f, rec, sizeof rec, FR_BAD_AVRO);
    rec[11] = 8; /* PURCHASE */
    ASSERT_REASON(f, rec, sizeof rec, FR_OK);
    rec[8] = 0; /* empty user_id ... */
    ASSERT_REASON(f, rec, 8, FR_TRUNCATED);
    unsigned char empty_user[] = {0, 0, 0, 0, 1, 0, 2, 0, 2, 'i', 8, 0, 0, 0};
    ASSERT_REASON(f, empty_user, sizeof empty_user, FR_INVALID_FIELD);
    fr_free(f);
}
END_TEST

START_TEST(test_bad_json_and_invalid_fields)
{
    struct fr *f = default_codec();
    const char *bad_json[] = {"{", "{\"ts\":1,", "{ not json }", "{\"a\":1}}", "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++)
        ASSERT_REASON(f, bad_json[i], strlen(bad_json[i]), FR_BAD_JSON);

    const char *invalid[] = {
        "{\"ts\":1,\"item_id\":\"i\",\"type\":\"VIEW\"}",                 /* no user_id */
        "{\"ts\":1,\"user_id\":[1],\"item_id\":\"i\",\"type\":\"VIEW\"}", /* user_id an array */
        "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"BOGUS\"}",
        "{\"ts\":\"yesterday\",\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\"}",
        "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\"}",         /* no ts */
        "{\"ts\":1,\"user_id\":\"\",\"item_id\":\"i\",\"type\":\"VIEW\"}", /* empty id */
        "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\",\"price\":\"abc\"}",
        "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\",\"quantity\":1.5}",
        "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\",\"session_id\":{}}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        ASSERT_REASON(f, invalid[i], strlen(invalid[i]), FR_INVALID_FIELD);

    /* Ids longer than 128 bytes, in JSON and in Avro. */
    char long_id[200], msg[600];
    memset(long_id, 'x', 129);
    long_id[129] = '\0';
    int n = snprintf(msg, sizeof msg,
                     "{\"ts\":1,\"user_id\":\"%s\",\"item_id\":\"i\",\"type\":\"VIEW\"}", long_id);
    ASSERT_REASON(f, msg, (size_t)n, FR_INVALID_FIELD);
    long_id[128] = '\0';
    n = snprintf(msg, sizeof msg,
                 "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"%s\",\"type\":\"VIEW\"}", long_id);
    ASSERT_REASON(f, msg, (size_t)n, FR_OK);
    long_id[128] = 'x';
    struct sr_raw_event ev = sample_event();
    ev.item_id = (struct sr_str){long_id, 129};
    unsigned char body[600], framed[700];
    size_t bn = encode_with_schema(ingest_event_schema_json(), &ev, body, sizeof body);
    ASSERT_REASON(f, framed, confluent(framed, 1, body, bn), FR_INVALID_FIELD);
    /* A NaN price written by another producer. */
    ev = sample_event();
    ev.price = NAN;
    bn = encode_with_schema(ingest_event_schema_json(), &ev, body, sizeof body);
    ASSERT_REASON(f, framed, confluent(framed, 1, body, bn), FR_INVALID_FIELD);
    fr_free(f);
}
END_TEST

START_TEST(test_oversized)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[256];
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.max_message_bytes=64", err, sizeof err), 0);
    struct fr *f = codec(&cfg);
    char msg[200];
    /* Exactly the limit is accepted; one more byte is not. */
    int n = snprintf(msg, sizeof msg,
                     "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"VIEW\"}");
    while (n < 64)
        msg[n++] = ' ';
    ASSERT_REASON(f, msg, 64, FR_OK);
    msg[64] = ' ';
    ASSERT_REASON(f, msg, 65, FR_OVERSIZED);
    memset(msg, 0, sizeof msg); /* also before any header check */
    ASSERT_REASON(f, msg, sizeof msg, FR_OVERSIZED);
    fr_free(f);
}
END_TEST

START_TEST(test_encode_errors_and_names)
{
    struct fr *f = default_codec();
    const void *p;
    size_t len;
    struct sr_raw_event ev = sample_event();
    ev.user_id = (struct sr_str){"", 0};
    ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &p, &len), SR_EINVAL);
    ev = sample_event();
    ev.price = INFINITY;
    ck_assert_int_eq(fr_encode(f, FR_SINGLE_OBJECT, &ev, &p, &len), SR_EINVAL);
    ev = sample_event();
    ev.user_id = (struct sr_str){"bad\xff", 4};
    ck_assert_int_eq(fr_encode(f, FR_JSON, &ev, &p, &len), SR_EINVAL);
    ck_assert_int_eq(fr_encode(f, FR_CONFLUENT, &ev, &p, &len), 0);  /* Avro strings are bytes */
    ev.user_id = (struct sr_str){"\xe2\x82\xac\xf0\x9f\x98\x80", 7}; /* valid UTF-8 */
    ck_assert_int_eq(fr_encode(f, FR_JSON, &ev, &p, &len), 0);
    ev.user_id = (struct sr_str){"\xed\xa0\x80", 3}; /* a surrogate */
    ck_assert_int_eq(fr_encode(f, FR_JSON, &ev, &p, &len), SR_EINVAL);

    /* The reason names are a contract (DLQ header streamrec.error). */
    static const char *const names[FR_REASON_COUNT] = {
        "ok",       "truncated", "bad_magic",     "unknown_schema_id", "unknown_fingerprint",
        "bad_avro", "bad_json",  "invalid_field", "oversized"};
    for (int r = 0; r < FR_REASON_COUNT; r++)
        ck_assert_str_eq(fr_reason_name((enum fr_reason)r), names[r]);
    enum fr_format fmt;
    ck_assert_int_eq(fr_format_parse("single-object", &fmt), 0);
    ck_assert_int_eq(fmt, FR_SINGLE_OBJECT);
    ck_assert_int_eq(fr_format_parse("avro", &fmt), SR_EINVAL);
    fr_free(f);
}
END_TEST

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(test_mutations_never_crash)
{
    /* Random byte flips and random bytes after each framing's header:
     * every outcome is a valid event or a named reason with a detail. */
    struct fr *f = default_codec();
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    struct sr_raw_event ev = sample_event();
    unsigned char msg[256];
    int by_reason[FR_REASON_COUNT] = {0};
    for (int it = 0; it < 30000; it++) {
        const void *p;
        size_t len;
        ck_assert_int_eq(fr_encode(f, (enum fr_format)(it % FR_FORMAT_COUNT), &ev, &p, &len), 0);
        memcpy(msg, p, len);
        if (it % 2) {
            for (int k = 0; k < 1 + (int)(xorshift(&rng) % 3); k++) {
                size_t at = xorshift(&rng) % len;
                msg[at] ^= (unsigned char)(1u << (xorshift(&rng) % 8));
            }
        } else {
            size_t hdr = it % 3 == 0 ? 5 : it % 3 == 1 ? 10 : 0;
            len = hdr + xorshift(&rng) % 40;
            for (size_t k = hdr; k < len; k++)
                msg[k] = (unsigned char)xorshift(&rng);
        }
        struct sr_raw_event got;
        struct fr_status st;
        int rc = fr_decode(f, msg, len, &got, &st);
        if (rc == 0) {
            ck_assert(got.user_id.len >= 1 && got.user_id.len <= SR_MAX_ID_LEN);
            ck_assert(got.item_id.len >= 1 && got.item_id.len <= SR_MAX_ID_LEN);
            ck_assert((unsigned)got.type < SR_EVENT_TYPE_COUNT);
        } else {
            ck_assert_int_eq(rc, SR_EPARSE);
            ck_assert(st.reason > FR_OK && st.reason < FR_REASON_COUNT);
            ck_assert(st.detail[0] != '\0');
        }
        by_reason[st.reason]++;
    }
    /* The mutations reach the decoders' different failure paths. */
    ck_assert_int_gt(by_reason[FR_TRUNCATED], 0);
    ck_assert_int_gt(by_reason[FR_BAD_AVRO], 0);
    ck_assert_int_gt(by_reason[FR_BAD_JSON], 0);
    ck_assert_int_gt(by_reason[FR_UNKNOWN_SCHEMA_ID], 0);
    ck_assert_int_gt(by_reason[FR_UNKNOWN_FINGERPRINT], 0);
    fr_free(f);
}
END_TEST

Suite *framing_suite(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("framing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pcf_and_fingerprint_vectors);
    tcase_add_test(tc, test_pcf_event_schema);
    tcase_add_test(tc, test_roundtrip_generated);
    tcase_add_test(tc, test_avro_bytes_match_avro_c);
    tcase_add_test(tc, test_writer_schema_variants);
    tcase_add_test(tc, test_schema_dir);
    tcase_add_test(tc, test_truncated_every_length);
    tcase_add_test(tc, test_bad_magic_and_unknown_schemas);
    tcase_add_test(tc, test_bad_avro_bodies);
    tcase_add_test(tc, test_bad_json_and_invalid_fields);
    tcase_add_test(tc, test_oversized);
    tcase_add_test(tc, test_encode_errors_and_names);
    tcase_add_test(tc, test_mutations_never_crash);
    suite_add_tcase(s, tc);
    return s;
}
