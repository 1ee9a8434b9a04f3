/* tests/unit/test_ingest.c - ingest/: line reader, field conversions, CSV,
 * JSON lines and Avro decoding, sorting, presets on the real datasets. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/avro_event.h"
#include "ingest/fields.h"
#include "ingest/reader.h"
#include "ingest/schema.h"
#include "ingest/source.h"

#include <avro.h>
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ---------------------------------------------------------- */

/* A fresh temporary path ending in suffix (the file exists, empty). */
static void tmp_path(char *buf, size_t len, const char *suffix)
{
    snprintf(buf, len, "/tmp/sr_ingest_XXXXXX%s", suffix);
    int fd = mkstemps(buf, (int)strlen(suffix));
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void write_file(const char *path, const char *text, size_t len, bool gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(gzwrite(g, text, (unsigned)len), (int)len);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(text, 1, len, f), len);
        fclose(f);
    }
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text), false);
}

static bool str_is(struct sr_str s, const char *want)
{
    if (!want)
        return s.p == NULL && s.len == 0;
    return s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static struct src *open1(const char *path, const struct sr_config *cfg)
{
    char err[512] = "";
    struct src *s = src_open(&path, 1, cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "src_open(%s): %s", path, err);
    return s;
}

/* Drains s; returns the number of events and fills types[] (may be NULL). */
static uint64_t drain(struct src *s, uint64_t *types)
{
    struct sr_raw_event ev;
    uint64_t n = 0;
    int rc;
    while ((rc = src_next(s, &ev)) == 0) {
        n++;
        if (types)
            types[ev.type]++;
    }
    ck_assert_msg(rc == SR_EEOF, "src_next: %s (%s)", sr_strerror(rc), src_error(s));
    return n;
}

static const char *data_dir(void)
{
    const char *d = getenv("SR_DATA");
    if (!d || access(d, R_OK) != 0) {
        fprintf(stderr, "test_ingest: SR_DATA unset or missing, real-dataset checks skipped\n");
        return NULL;
    }
    return d;
}

/* ---- reader and fields ------------------------------------------------ */

START_TEST(test_reader_lines)
{
    /* Lines of varied lengths crossing block boundaries, CRLF, empty lines,
     * a final line without "\n"; the same bytes plain and gzip-compressed. */
    size_t cap = 3 * READER_BLOCK, len = 0;
    char *text = malloc(cap);
    size_t n_lines = 0;
    unsigned seed = 7;
    while (len < 2 * READER_BLOCK + 1000) {
        seed = seed * 1103515245u + 12345u;
        size_t l = (seed >> 16) % 300;
        len += (size_t)snprintf(text + len, cap - len, "%zu:", n_lines);
        for (size_t i = 0; i < l; i++)
            text[len++] = (char)('a' + i % 26);
        if (n_lines % 5 == 0)
            text[len++] = '\r';
        text[len++] = '\n';
        n_lines++;
    }
    len += (size_t)snprintf(text + len, cap - len, "last");
    n_lines++;
    for (int gz = 0; gz < 2; gz++) {
        char path[64];
        tmp_path(path, sizeof path, gz ? ".gz" : ".txt");
        write_file(path, text, len, gz);
        char err[256];
        struct reader *r = reader_open(path, err, sizeof err);
        ck_assert_msg(r != NULL, "%s", err);
        char *line;
        size_t l, got = 0;
        const char *expect = text;
        int rc;
        while ((rc = reader_next(r, &line, &l)) == 0) {
            const char *nl = strchr(expect, '\n');
            size_t el = nl ? (size_t)(nl - expect) : strlen(expect);
            size_t want = el && expect[el - 1] == '\r' ? el - 1 : el;
            ck_assert_uint_eq(l, want);
            ck_assert(memcmp(line, expect, l) == 0);
            expect += el + (nl ? 1 : 0);
            got++;
            ck_assert_uint_eq(reader_line_no(r), got);
        }
        ck_assert_int_eq(rc, SR_EEOF);
        ck_assert_uint_eq(got, n_lines);
        ck_assert_uint_eq(reader_bytes(r), len);
        ck_assert_int_eq(reader_next(r, &line, &l), SR_EEOF);
        reader_close(r);
        unlink(path);
    }
    free(text);
    reader_close(NULL);
}
END_TEST

START_TEST(test_reader_too_long_and_errors)
{
    size_t big = READER_MAX_LINE + 5000;
    size_t len = 0;
    char *text = malloc(big + 64);
    len += (size_t)sprintf(text, "first\n");
    memset(text + len, 'x', big);
    len += big;
    len += (size_t)sprintf(text + len, "\nafter\n");
    char path[64];
    tmp_path(path, sizeof path, ".txt");
    write_file(path, text, len, false);
    char err[256];
    struct reader *r = reader_open(path, err, sizeof err);
    char *line;
    size_t l;
    ck_assert_int_eq(reader_next(r, &line, &l), 0);
    ck_assert_uint_eq(l, 5);
    ck_assert_int_eq(reader_next(r, &line, &l), SR_ERANGE);
    ck_assert_uint_eq(reader_line_no(r), 2);
    ck_assert_int_eq(reader_next(r, &line, &l), 0);
    ck_assert(l == 5 && memcmp(line, "after", 5) == 0);
    ck_assert_uint_eq(reader_line_no(r), 3);
    ck_assert_int_eq(reader_next(r, &line, &l), SR_EEOF);
    reader_close(r);
    unlink(path);
    free(text);

    ck_assert_ptr_null(reader_open("/nonexistent/x.csv", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.csv"));
}
END_TEST

START_TEST(test_parse_ts)
{
    int64_t ms;
    ck_assert_int_eq(fields_parse_ts("1396437466.94", 13, SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 1396437466940);
    ck_assert_int_eq(fields_parse_ts("1511658000", 10, SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 1511658000000);
    ck_assert_int_eq(fields_parse_ts("1511658000123", 13, SR_TS_MS, &ms), 0);
    ck_assert_int_eq(ms, 1511658000123);
    ck_assert_int_eq(fields_parse_ts("1511658000123456", 16, SR_TS_US, &ms), 0);
    ck_assert_int_eq(ms, 1511658000123);
    ck_assert_int_eq(fields_parse_ts(" 12.3456 ", 9, SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 12345);
    /* ISO dates and datetimes (epochs checked with an independent tool). */
    ck_assert_int_eq(fields_parse_ts("2016-01-03", 10, SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 1451779200000);
    const char *dt = "2016-01-03T10:00:00Z";
    ck_assert_int_eq(fields_parse_ts(dt, strlen(dt), SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 1451815200000);
    dt = "2016-01-03 12:00:00.250+02:00";
    ck_assert_int_eq(fields_parse_ts(dt, strlen(dt), SR_TS_MS, &ms), 0);
    ck_assert_int_eq(ms, 1451815200250);
    dt = "1996-03-29T18:36:55";
    ck_assert_int_eq(fields_parse_ts(dt, strlen(dt), SR_TS_S, &ms), 0);
    ck_assert_int_eq(ms, 828124615000);
    dt = "2016-02-29";
    ck_assert_int_eq(fields_parse_ts(dt, strlen(dt), SR_TS_S, &ms), 0);
    /* Rejected. */
    const char *bad[] = {
        "",           "abc",         "12a",       "1.2.3", "2015-02-29",         "2016-13-01",
        "2016-01-32", "2016-01-03T", "2016-01-3", "-",     "9999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(fields_parse_ts(bad[i], strlen(bad[i]), SR_TS_S, &ms) == SR_EPARSE,
                      "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_type_map)
{
    struct fields_typemap m;
    char err[256];
    ck_assert_int_eq(fields_typemap_parse(&m, "pv=VIEW, buy = purchase", err, sizeof err), 0);
    enum sr_event_type t;
    ck_assert_int_eq(fields_type_lookup(&m, "pv", 2, &t), 0);
    ck_assert_int_eq(t, SR_VIEW);
    ck_assert_int_eq(fields_type_lookup(&m, "BUY", 3, &t), 0);
    ck_assert_int_eq(t, SR_PURCHASE);
    ck_assert_int_eq(fields_type_lookup(&m, "add_to_cart", 11, &t), 0); /* canonical */
    ck_assert_int_eq(t, SR_ADD_TO_CART);
    ck_assert_int_eq(fields_type_lookup(&m, "share", 5, &t), SR_EPARSE);
    ck_assert_int_eq(fields_typemap_parse(&m, "pv=LOOK", err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "pv=LOOK"));
    ck_assert_int_eq(fields_typemap_parse(&m, "pv", err, sizeof err), SR_ECONFIG);
}
END_TEST

/* ---- CSV -------------------------------------------------------------- */

START_TEST(test_csv_generic_mapping)
{
    char path[64];
    tmp_path(path, sizeof path, ".txt");
    write_text(path, "1000|u1|\"it|em\"\"1\"|click|9.5|3|e1|s1|c1\n"
                     "2000|u2|i2|Favorite|||||\n"
                     "\n"
                     "3000|u3|i3|like|1|1|e3|s3|c3\n");
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[256];
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.delimiter=|", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_override(&cfg,
                                        "ingest.columns=ts=0,user=1,item=2,type=3,price=4,"
                                        "quantity=5,event_id=6,session=7,category=8",
                                        err, sizeof err),
                     0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.ts_unit=ms", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.type_map=like=FAVORITE", err, sizeof err), 0);
    struct src *s = open1(path, &cfg);
    struct sr_raw_event ev;
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert_int_eq(ev.ts_ms, 1000);
    ck_assert(str_is(ev.user_id, "u1"));
    ck_assert(str_is(ev.item_id, "it|em\"1"));
    ck_assert_int_eq(ev.type, SR_CLICK);
    ck_assert(ev.has_price && ev.price == 9.5);
    ck_assert(ev.has_quantity && ev.quantity == 3);
    ck_assert(str_is(ev.event_id, "e1"));
    ck_assert(str_is(ev.session_id, "s1"));
    ck_assert(str_is(ev.category, "c1"));
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert_int_eq(ev.ts_ms, 2000);
    ck_assert_int_eq(ev.type, SR_FAVORITE);
    ck_assert(!ev.has_price && !ev.has_quantity);
    ck_assert(str_is(ev.event_id, NULL) && str_is(ev.session_id, NULL) &&
              str_is(ev.category, NULL));
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert_int_eq(ev.type, SR_FAVORITE); /* through the type map */
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_eq(st.records, 3);
    ck_assert_uint_eq(st.events, 3);
    ck_assert_uint_eq(st.bad, 0);
    src_close(s);

    /* No type column: default_type; tab given as "tab". */
    write_text(path, "u1\ti1\t5\nu2\ti2\t6\n");
    sr_config_defaults(&cfg);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.delimiter=tab", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.columns=user=0,item=1,ts=2", err, sizeof err),
                     0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.default_type=PURCHASE", err, sizeof err), 0);
    s = open1(path, &cfg);
    uint64_t types[SR_EVENT_TYPE_COUNT] = {0};
    ck_assert_uint_eq(drain(s, types), 2);
    ck_assert_uint_eq(types[SR_PURCHASE], 2);
    src_close(s);
    unlink(path);
}
END_TEST

START_TEST(test_csv_header_auto)
{
    char path[64];
    tmp_path(path, sizeof path, ".csv");
    /* DESIGN.md field names in another order; ts in ms or ISO. */
    write_text(path, "item_id,ts,user_id,type,session_id,price,quantity,event_id,category\n"
                     "i1,1451779200000,u1,PURCHASE,s1,2.5,1,e1,c1\n"
                     "i2,2016-01-03T10:00:00Z,u2,VIEW,,,,,\n"
                     "i3,5,u3,VIEW\n");
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    struct src *s = open1(path, &cfg);
    struct sr_raw_event ev;
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.user_id, "u1") && str_is(ev.item_id, "i1"));
    ck_assert_int_eq(ev.ts_ms, 1451779200000);
    ck_assert_int_eq(ev.type, SR_PURCHASE);
    ck_assert(str_is(ev.session_id, "s1") && str_is(ev.event_id, "e1") &&
              str_is(ev.category, "c1"));
    ck_assert(ev.has_price && ev.price == 2.5 && ev.has_quantity && ev.quantity == 1);
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.user_id, "u2"));
    ck_assert_int_eq(ev.ts_ms, 1451815200000);
    ck_assert(!ev.has_price && str_is(ev.session_id, NULL));
    /* The last line has fewer fields than the header. */
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_eq(st.records, 3);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_FIELDS], 1);
    src_close(s);

    /* Without such a header the first line is data (ts_unit s). */
    write_text(path, "u1,i1,VIEW,10\nu2,i2,CLICK,11\n");
    s = open1(path, &cfg);
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.user_id, "u1"));
    ck_assert_int_eq(ev.ts_ms, 10000);
    ck_assert_uint_eq(drain(s, NULL), 1);
    src_close(s);

    /* header=true skips a first line whatever it says. */
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.header=true", NULL, 0), 0);
    s = open1(path, &cfg);
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.user_id, "u2"));
    src_close(s);
    unlink(path);
}
END_TEST

/* ---- JSON lines ------------------------------------------------------- */

START_TEST(test_jsonl)
{
    char path[64];
    tmp_path(path, sizeof path, ".jsonl.gz");
    const char *text = "{\"event_id\":\"e1\",\"ts\":1000,\"user_id\":\"u1\",\"item_id\":\"i1\","
                       "\"type\":\"PURCHASE\","
                       "\"price\":9.5,\"quantity\":2,\"session_id\":\"s1\",\"extra\":[1,2]}\n"
                       "{\"ts\":\"2016-01-03\",\"user_id\":42,\"item_id\":\"i2\",\"type\":\"view\","
                       "\"event_id\":null,"
                       "\"price\":null,\"quantity\":null,\"session_id\":null}\n"
                       "{\"ts\":3000,\"user_id\":\"u3\",\"item_id\":\"i3\"}\n"
                       "not json\n"
                       "[1,2]\n"
                       "{\"ts\":1,\"item_id\":\"i\"}\n"
                       "{\"ts\":1,\"user_id\":{},\"item_id\":\"i\"}\n"
                       "{\"ts\":1,\"user_id\":\"\",\"item_id\":\"i\"}\n"
                       "{\"ts\":\"yesterday\",\"user_id\":\"u\",\"item_id\":\"i\"}\n"
                       "{\"user_id\":\"u\",\"item_id\":\"i\"}\n"
                       "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"SHARE\"}\n"
                       "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"price\":\"cheap\"}\n"
                       "{\"ts\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"quantity\":1.5}\n";
    write_file(path, text, strlen(text), true);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.default_type=ADD_TO_CART", NULL, 0), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.max_bad_reported=2", NULL, 0), 0);
    struct src *s = open1(path, &cfg);
    struct sr_raw_event ev;
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.event_id, "e1") && str_is(ev.user_id, "u1") && str_is(ev.item_id, "i1"));
    ck_assert_int_eq(ev.ts_ms, 1000);
    ck_assert_int_eq(ev.type, SR_PURCHASE);
    ck_assert(ev.has_price && ev.price == 9.5 && ev.has_quantity && ev.quantity == 2);
    ck_assert(str_is(ev.session_id, "s1"));
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert(str_is(ev.user_id, "42") && str_is(ev.event_id, NULL) && str_is(ev.session_id, NULL));
    ck_assert_int_eq(ev.ts_ms, 1451779200000);
    ck_assert_int_eq(ev.type, SR_VIEW);
    ck_assert(!ev.has_price && !ev.has_quantity);
    ck_assert_int_eq(src_next(s, &ev), 0);
    ck_assert_int_eq(ev.type, SR_ADD_TO_CART); /* no type: default_type */
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_eq(st.records, 13);
    ck_assert_uint_eq(st.events, 3);
    ck_assert_uint_eq(st.bad, 10);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_JSON], 4);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_ID], 1);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_TS], 2);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_TYPE], 1);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_NUMBER], 2);
    ck_assert_uint_eq(st.bytes, strlen(text));
    src_close(s);
    unlink(path);
}
END_TEST

/* ---- Avro ------------------------------------------------------------- */

/* Writer schema different from the canonical one: reordered fields, enum
 * symbols in another order plus one the reader lacks, an extra optional
 * field, no event_id and no quantity. */
static const char other_writer_schema[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"PURCHASE\",\"SHARE\",\"FAVORITE\",\"VIEW\",\"CLICK\",\"ADD_TO_CART\"]}},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"price\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"user_id\",\"type\":\"string\"}]}";

struct test_event {
    const char *event_id; /* NULL = null */
    int64_t ts;
    const char *user, *item;
    const char *type;
    bool has_price;
    double price;
    bool has_quantity;
    int quantity;
    const char *session;
};

static const struct test_event avro_events[] = {
    {"e1", 1000, "u1", "i1", "PURCHASE", true, 9.5, true, 2, "s1"},
    {NULL, 2000, "u2", "i2", "VIEW", false, 0, false, 0, NULL},
    {"e3", 3000, "", "i3", "CLICK", false, 0, false, 0, NULL}, /* empty user: bad_id */
    {"e4", 4000, "u4", "i4", "ADD_TO_CART", true, 0.25, true, 7, "s4"},
};
#define N_AVRO_EVENTS (sizeof avro_events / sizeof avro_events[0])

static void set_field(avro_value_t *rec, const char *name, int kind, const void *val)
{
    avro_value_t f, b;
    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return; /* this writer has no such field */
    bool is_union = avro_value_get_type(&f) == AVRO_UNION;
    if (is_union) {
        ck_assert_int_eq(avro_value_set_branch(&f, val ? 1 : 0, &b), 0);
        if (!val) {
            ck_assert_int_eq(avro_value_set_null(&b), 0);
            return;
        }
        f = b;
    }
    switch (kind) {
    case 's':
        ck_assert_int_eq(avro_value_set_string(&f, val), 0);
        break;
    case 'l':
        ck_assert_int_eq(avro_value_set_long(&f, *(const int64_t *)val), 0);
        break;
    case 'd':
        ck_assert_int_eq(avro_value_set_double(&f, *(const double *)val), 0);
        break;
    case 'i':
        ck_assert_int_eq(avro_value_set_int(&f, *(const int *)val), 0);
        break;
    case 'e': {
        avro_schema_t es = avro_value_get_schema(&f);
        int idx = avro_schema_enum_get_by_name(es, val);
        ck_assert_int_ge(idx, 0);
        ck_assert_int_eq(avro_value_set_enum(&f, idx), 0);
        break;
    }
    }
}

/* Writes events [0, n) repeated reps times to an OCF at path with the schema. */
static void write_avro(const char *path, const char *schema_json, size_t reps)
{
    avro_schema_t schema;
    ck_assert_msg(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema) == 0,
                  "%s", avro_strerror());
    unlink(path);
    avro_file_writer_t w;
    ck_assert_msg(avro_file_writer_create(path, schema, &w) == 0, "%s", avro_strerror());
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    ck_assert_int_eq(avro_generic_value_new(cls, &rec), 0);
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < N_AVRO_EVENTS; i++) {
            const struct test_event *e = &avro_events[i];
            set_field(&rec, "event_id", 's', e->event_id);
            set_field(&rec, "ts", 'l', &e->ts);
            set_field(&rec, "user_id", 's', e->user);
            set_field(&rec, "item_id", 's', e->item);
            set_field(&rec, "type", 'e', e->type);
            set_field(&rec, "price", 'd', e->has_price ? &e->price : NULL);
            set_field(&rec, "quantity", 'i', e->has_quantity ? &e->quantity : NULL);
            set_field(&rec, "session_id", 's', e->session);
            set_field(&rec, "referrer", 's', i % 2 ? "ad" : NULL);
            ck_assert_msg(avro_file_writer_append_value(w, &rec) == 0, "%s", avro_strerror());
        }
    avro_file_writer_close(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
}

static void check_avro_event(const struct sr_raw_event *ev, const struct test_event *e,
                             bool has_event_id, bool has_quantity)
{
    ck_assert_int_eq(ev->ts_ms, e->ts);
    ck_assert(str_is(ev->user_id, e->user));
    ck_assert(str_is(ev->item_id, e->item));
    ck_assert_str_eq(sr_event_type_name(ev->type), e->type);
    ck_assert(str_is(ev->event_id, has_event_id ? e->event_id : NULL));
    ck_assert(str_is(ev->session_id, e->session));
    ck_assert(ev->has_price == e->has_price);
    if (e->has_price)
        ck_assert(ev->price == e->price);
    ck_assert(ev->has_quantity == (has_quantity && e->has_quantity));
    if (has_quantity && e->has_quantity)
        ck_assert_int_eq(ev->quantity, e->quantity);
    ck_assert(str_is(ev->category, NULL));
}

static void check_avro_file(const char *path, bool canonical)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    struct src *s = open1(path, &cfg);
    struct sr_raw_event ev;
    for (size_t i = 0; i < N_AVRO_EVENTS; i++) {
        if (avro_events[i].user[0] == '\0')
            continue; /* skipped as bad_id */
        ck_assert_int_eq(src_next(s, &ev), 0);
        check_avro_event(&ev, &avro_events[i], canonical, canonical);
    }
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_eq(st.records, N_AVRO_EVENTS);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_ID], 1);
    ck_assert_uint_eq(st.bad, 1);
    ck_assert_uint_gt(st.bytes, 0);
    src_close(s);
}

START_TEST(test_avro_canonical)
{
    char path[64];
    tmp_path(path, sizeof path, ".avro");
    write_avro(path, ingest_event_schema_json(), 1);
    check_avro_file(path, true);
    /* Without the extension the content (magic "Obj\1") decides. */
    char other[64];
    tmp_path(other, sizeof other, ".dat");
    ck_assert_int_eq(rename(path, other), 0);
    check_avro_file(other, true);
    unlink(other);
}
END_TEST

START_TEST(test_avro_other_writer)
{
    char path[64];
    tmp_path(path, sizeof path, ".avro");
    write_avro(path, other_writer_schema, 1);
    check_avro_file(path, false);
    unlink(path);
}
END_TEST

START_TEST(test_avro_incompatible_writer)
{
    /* A writer without user_id (required) cannot be read as an Event. */
    char path[64];
    tmp_path(path, sizeof path, ".avro");
    write_avro(path,
               "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
               "{\"name\":\"ts\",\"type\":\"long\"},{\"name\":\"item_id\",\"type\":\"string\"},"
               "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\","
               "\"symbols\":[\"VIEW\",\"CLICK\",\"ADD_TO_CART\",\"FAVORITE\",\"PURCHASE\"]}}]}",
               1);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512] = "";
    const char *p = path;
    ck_assert_ptr_null(src_open(&p, 1, &cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "user_id"));
    unlink(path);
}
END_TEST

START_TEST(test_avro_event_binary)
{
    /* One binary record (as in a Kafka message), other writer schema. */
    avro_schema_t ws;
    ck_assert_int_eq(
        avro_schema_from_json_length(other_writer_schema, strlen(other_writer_schema), &ws), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(ws);
    avro_value_t rec;
    avro_generic_value_new(cls, &rec);
    const struct test_event *e = &avro_events[0];
    set_field(&rec, "ts", 'l', &e->ts);
    set_field(&rec, "user_id", 's', e->user);
    set_field(&rec, "item_id", 's', e->item);
    set_field(&rec, "type", 'e', e->type);
    set_field(&rec, "price", 'd', &e->price);
    set_field(&rec, "session_id", 's', e->session);
    set_field(&rec, "referrer", 's', "x");
    char buf[256];
    avro_writer_t w = avro_writer_memory(buf, sizeof buf);
    ck_assert_int_eq(avro_value_write(w, &rec), 0);
    size_t len = (size_t)avro_writer_tell(w);

    char err[256];
    struct avro_event *d = avro_event_new(ws, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    struct sr_raw_event ev;
    enum src_bad why;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(avro_event_decode(d, buf, len, &ev, &why), 0);
        check_avro_event(&ev, e, false, false);
    }
    /* Cut inside the second field. (Cut after a string, Avro C 1.11 leaks
     * that string when the read fails: ASan would flag the library.) */
    ck_assert_int_eq(avro_event_decode(d, buf, 1, &ev, &why), SR_EPARSE);
    ck_assert_int_eq(why, SRC_BAD_AVRO);
    /* A symbol streamrec does not know is a bad record, not some other type. */
    set_field(&rec, "type", 'e', "SHARE");
    avro_writer_reset(w);
    ck_assert_int_eq(avro_value_write(w, &rec), 0);
    len = (size_t)avro_writer_tell(w);
    ck_assert_int_eq(avro_event_decode(d, buf, len, &ev, &why), SR_EPARSE);
    ck_assert_int_eq(why, SRC_BAD_AVRO);
    set_field(&rec, "type", 'e', "FAVORITE");
    avro_writer_reset(w);
    ck_assert_int_eq(avro_value_write(w, &rec), 0);
    len = (size_t)avro_writer_tell(w);
    ck_assert_int_eq(avro_event_decode(d, buf, len, &ev, &why), 0);
    ck_assert_int_eq(ev.type, SR_FAVORITE);
    avro_event_free(d);
    avro_event_free(NULL);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(cls);
    avro_schema_decref(ws);
}
END_TEST

START_TEST(test_schema_matches_avsc)
{
    /* make runs the tests from the repository root. */
    json_error_t jerr;
    json_t *file = json_load_file("config/schemas/event.avsc", 0, &jerr);
    ck_assert_msg(file != NULL, "config/schemas/event.avsc (cwd must be the repo root): %s",
                  jerr.text);
    json_t *compiled = json_loads(ingest_event_schema_json(), 0, &jerr);
    ck_assert_msg(compiled != NULL, "ingest_event_schema_json(): %s", jerr.text);
    ck_assert(json_equal(file, compiled));
    json_decref(file);
    json_decref(compiled);
    /* And Avro C accepts it. */
    avro_schema_t s;
    const char *text = ingest_event_schema_json();
    ck_assert_int_eq(avro_schema_from_json_length(text, strlen(text), &s), 0);
    avro_schema_decref(s);
}
END_TEST

/* ---- bad input -------------------------------------------------------- */

START_TEST(test_bad_lines_counted)
{
    char path[64];
    tmp_path(path, sizeof path, ".csv");
    size_t big = READER_MAX_LINE + 10;
    char *text = malloc(big + 1024);
    size_t len = (size_t)sprintf(text, "u1,i1,VIEW,1,9.5\n"       /* good */
                                       "u2,i2,VIEW\n"             /* fields */
                                       "\"u3,i3,VIEW,1,1\n"       /* fields: open quote */
                                       "u4,i4,VIEW,yesterday,1\n" /* ts */
                                       "u5,i5,SHARE,1,1\n"        /* type */
                                       ",i6,VIEW,1,1\n"           /* id */
                                       "u7,,VIEW,1,1\n"           /* id */
                                       "u8,i8,VIEW,1,cheap\n"     /* number */
                                       "u9,i9,CLICK,2,\n");       /* good, no price */
    memset(text + len, 'z', big);
    len += big;
    len += (size_t)sprintf(text + len, "\nu10,i10,PURCHASE,3,1\n"); /* too long, good */
    write_file(path, text, len, false);
    free(text);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    ck_assert_int_eq(
        sr_config_override(&cfg, "ingest.columns=user=0,item=1,type=2,ts=3,price=4", NULL, 0), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.max_bad_reported=3", NULL, 0), 0);
    for (int sort = 0; sort < 2; sort++) {
        cfg.ingest.sort = sort;
        struct src *s = open1(path, &cfg);
        uint64_t types[SR_EVENT_TYPE_COUNT] = {0};
        ck_assert_uint_eq(drain(s, types), 3);
        ck_assert_uint_eq(types[SR_VIEW], 1);
        ck_assert_uint_eq(types[SR_CLICK], 1);
        ck_assert_uint_eq(types[SR_PURCHASE], 1);
        struct src_stats st;
        src_stats(s, &st);
        ck_assert_uint_eq(st.records, 11);
        ck_assert_uint_eq(st.bad, 8);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_FIELDS], 2);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_TS], 1);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_TYPE], 1);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_ID], 2);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_NUMBER], 1);
        ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_TOO_LONG], 1);
        src_close(s);
    }
    unlink(path);
    for (int r = 0; r < SRC_BAD_COUNT; r++)
        ck_assert_ptr_nonnull(strstr(src_bad_name((enum src_bad)r), "_"));
    ck_assert_str_eq(src_bad_name(SRC_BAD_TS), "bad_ts");
}
END_TEST

START_TEST(test_bad_avro_truncated)
{
    /* Several blocks; the last one cut short: the earlier blocks are read,
     * the broken rest counts as one bad_avro record. */
    char path[64];
    tmp_path(path, sizeof path, ".avro");
    write_avro(path, ingest_event_schema_json(), 2000);
    FILE *f = fopen(path, "r+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    ck_assert_int_eq(ftruncate(fileno(f), size - 40), 0);
    fclose(f);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    struct src *s = open1(path, &cfg);
    uint64_t n = drain(s, NULL);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_lt(n, 2000 * 3);
    ck_assert_uint_eq(st.bad_by_reason[SRC_BAD_AVRO], 1);
    ck_assert_uint_eq(st.bad, st.bad_by_reason[SRC_BAD_AVRO] + st.bad_by_reason[SRC_BAD_ID]);
    ck_assert_uint_eq(st.records, n + st.bad); /* every record read is an event or counted bad */
    /* one record in four has an empty user id */
    ck_assert_uint_le(st.bad_by_reason[SRC_BAD_ID], n / 3 + 1);
    ck_assert_uint_ge(st.bad_by_reason[SRC_BAD_ID] + 1, n / 3);
    src_close(s);
    unlink(path);
}
END_TEST

START_TEST(test_open_errors)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512] = "";
    const char *missing = "/nonexistent/dir/events.csv";
    ck_assert_ptr_null(src_open(&missing, 1, &cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, missing));
    ck_assert_ptr_null(strchr(err, '\n'));

    const char *dir = "/tmp";
    err[0] = '\0';
    ck_assert_ptr_null(src_open(&dir, 1, &cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/tmp"));

    char path[64];
    tmp_path(path, sizeof path, ".csv");
    write_text(path, "u,i,VIEW,1\n");
    const char *p = path;
    struct sr_config bad = cfg;
    snprintf(bad.ingest.columns, sizeof bad.ingest.columns, "user=0,item=x");
    ck_assert_ptr_null(src_open(&p, 1, &bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ingest.columns"));
    snprintf(bad.ingest.columns, sizeof bad.ingest.columns, "user=0,item=1,colour=2,ts=3");
    ck_assert_ptr_null(src_open(&p, 1, &bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "colour"));
    snprintf(bad.ingest.columns, sizeof bad.ingest.columns, "user=0,item=1");
    ck_assert_ptr_null(src_open(&p, 1, &bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ts"));
    bad = cfg;
    bad.ingest.format = 42;
    ck_assert_ptr_null(src_open(&p, 1, &bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "format"));
    bad = cfg;
    snprintf(bad.ingest.type_map, sizeof bad.ingest.type_map, "pv=SEEN");
    ck_assert_ptr_null(src_open(&p, 1, &bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "type_map"));
    ck_assert_ptr_null(src_open(&p, 0, &cfg, err, sizeof err));
    src_close(NULL);

    /* A truncated gzip file is a read error naming the file, not a crash. */
    char gz[64];
    tmp_path(gz, sizeof gz, ".csv.gz");
    size_t len = 0;
    char *text = malloc(200000);
    for (int i = 0; len < 190000; i++)
        len += (size_t)sprintf(text + len, "u%d,i%d,VIEW,%d\n", i, i * 7 % 1000, i);
    write_file(gz, text, len, true);
    free(text);
    FILE *f = fopen(gz, "r+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    ck_assert_int_eq(ftruncate(fileno(f), size / 2), 0);
    fclose(f);
    const char *g = gz;
    struct src *s = src_open(&g, 1, &cfg, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    struct sr_raw_event ev;
    int rc;
    uint64_t n = 0;
    while ((rc = src_next(s, &ev)) == 0)
        n++;
    ck_assert_int_eq(rc, SR_EIO);
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(src_error(s), gz));
    ck_assert_int_eq(src_next(s, &ev), SR_EIO);
    src_close(s);
    unlink(gz);
    unlink(path);
}
END_TEST

/* ---- sorting ---------------------------------------------------------- */

START_TEST(test_sort_stable_small)
{
    char a[64], b[64];
    tmp_path(a, sizeof a, ".csv");
    tmp_path(b, sizeof b, ".csv");
    write_text(a, "ua,x1,VIEW,30\nub,x2,VIEW,10\nuc,x3,VIEW,20\nud,x4,VIEW,10\n");
    write_text(b, "ue,x5,VIEW,20\nuf,x6,VIEW,5\nug,x7,VIEW,10\n");
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.sort=true", NULL, 0), 0);
    const char *paths[] = {a, b};
    char err[256];
    struct src *s = src_open(paths, 2, &cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    const char *want[] = {"uf", "ub", "ud", "ug", "uc", "ue", "ua"};
    const int64_t want_ts[] = {5, 10, 10, 10, 20, 20, 30};
    struct sr_raw_event ev;
    for (size_t i = 0; i < 7; i++) {
        ck_assert_int_eq(src_next(s, &ev), 0);
        ck_assert_msg(str_is(ev.user_id, want[i]), "position %zu: %.*s", i, (int)ev.user_id.len,
                      ev.user_id.p);
        ck_assert_int_eq(ev.ts_ms, want_ts[i] * 1000);
    }
    ck_assert_int_eq(src_next(s, &ev), SR_EEOF);
    src_close(s);
    unlink(a);
    unlink(b);
}
END_TEST

/* Reference order for the stability check: (ts, position in the file). */
struct ref_event {
    int64_t ts;
    size_t pos;
    char key[56]; /* user \x1f item \x1f type */
};

static int ref_cmp(const void *x, const void *y)
{
    const struct ref_event *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void event_key(const struct sr_raw_event *ev, char *key, size_t len)
{
    snprintf(key, len, "%.*s\x1f%.*s\x1f%d", (int)ev->user_id.len, ev->user_id.p,
             (int)ev->item_id.len, ev->item_id.p, (int)ev->type);
}

struct dataset {
    const char *files[2];
    int preset;
    uint64_t events;
    int64_t types[SR_EVENT_TYPE_COUNT]; /* -1: not checked here */
    int64_t min_ts_s, max_ts_s;         /* whole seconds; 0: not checked */
    bool session_is_user;
    bool has_category;
};

static const struct dataset datasets[] = {
    {{"taobao-userbehavior-sample/UserBehavior_sample.csv.gz", NULL},
     SR_PRESET_TAOBAO,
     96168,
     {85773, 0, 5292, 2959, 2144},
     1511658000,
     1511664909,
     false,
     true},
    {{"movielens-latest-small/ratings.csv.gz", NULL},
     SR_PRESET_MOVIELENS,
     100836,
     {-1, -1, 0, 0, 0},
     828124615,
     1537799250,
     false,
     false},
    {{"yoochoose-clicks-100k/yoochoose-clicks-100k_train_full.tsv.gz", NULL},
     SR_PRESET_YOOCHOOSE,
     70278,
     {0, 70278, 0, 0, 0},
     1396314141,
     1396831392,
     true,
     false},
    {{"yoochoose-clicks-100k/yoochoose-clicks-100k_train_full.tsv.gz",
      "yoochoose-clicks-100k/yoochoose-clicks-100k_test.tsv.gz"},
     SR_PRESET_YOOCHOOSE,
     70278 + 13568,
     {0, 70278 + 13568, 0, 0, 0},
     1396314141,
     1396918201,
     true,
     false},
    {{"diginetica-views-sample/sample_train-item-views.csv.gz", NULL},
     SR_PRESET_DIGINETICA,
     12391,
     {12391, 0, 0, 0, 0},
     0,
     0,
     true,
     false},
};

/* Ratings >= 4.0 in ratings.csv, counted independently of the CSV decoder. */
static int64_t movielens_positives(const char *path)
{
    gzFile g = gzopen(path, "rb");
    ck_assert_ptr_nonnull(g);
    char line[256];
    int64_t n = 0;
    ck_assert_ptr_nonnull(gzgets(g, line, sizeof line)); /* header */
    while (gzgets(g, line, sizeof line)) {
        double r;
        if (sscanf(line, "%*[^,],%*[^,],%lf", &r) == 1 && r >= 4.0)
            n++;
    }
    gzclose(g);
    return n;
}

START_TEST(test_presets_real_data)
{
    const char *dir = data_dir();
    if (!dir)
        return;
    const struct dataset *d = &datasets[_i];
    char paths_buf[2][512];
    const char *paths[2];
    size_t n_paths = 0;
    for (size_t i = 0; i < 2 && d->files[i]; i++) {
        snprintf(paths_buf[i], sizeof paths_buf[i], "%s/%s", dir, d->files[i]);
        paths[n_paths++] = paths_buf[i];
    }
    int64_t types_want[SR_EVENT_TYPE_COUNT];
    memcpy(types_want, d->types, sizeof types_want);
    if (d->preset == SR_PRESET_MOVIELENS) {
        types_want[SR_CLICK] = movielens_positives(paths[0]);
        types_want[SR_VIEW] = (int64_t)d->events - types_want[SR_CLICK];
    }

    struct sr_config cfg;
    char err[512];
    sr_config_defaults(&cfg);
    ck_assert_int_eq(src_apply_preset(&cfg, d->preset, err, sizeof err), 0);
    ck_assert(cfg.ingest.sort);
    ck_assert_int_eq(cfg.ingest.preset, d->preset);

    /* Pass 1, file order: the reference for the sorted pass. */
    cfg.ingest.sort = false;
    struct ref_event *ref = calloc(d->events, sizeof *ref);
    struct src *s = src_open(paths, n_paths, &cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    struct sr_raw_event ev;
    size_t n = 0;
    int rc;
    while ((rc = src_next(s, &ev)) == 0) {
        ck_assert_uint_lt(n, d->events);
        ref[n].ts = ev.ts_ms;
        ref[n].pos = n;
        event_key(&ev, ref[n].key, sizeof ref[n].key);
        n++;
    }
    ck_assert_int_eq(rc, SR_EEOF);
    ck_assert_uint_eq(n, d->events);
    src_close(s);
    qsort(ref, n, sizeof *ref, ref_cmp);

    /* Pass 2, sorted as the preset says. */
    cfg.ingest.sort = true;
    s = src_open(paths, n_paths, &cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    uint64_t types[SR_EVENT_TYPE_COUNT] = {0};
    n = 0;
    while ((rc = src_next(s, &ev)) == 0) {
        ck_assert_uint_lt(n, d->events);
        types[ev.type]++;
        char key[56];
        event_key(&ev, key, sizeof key);
        ck_assert_int_eq(ev.ts_ms, ref[n].ts); /* non-decreasing ... */
        ck_assert_msg(strcmp(key, ref[n].key) == 0, "%s: position %zu is %s, stable order has %s",
                      d->files[0], n, key, ref[n].key); /* ... and stable */
        if (d->session_is_user)
            ck_assert(ev.session_id.len == ev.user_id.len &&
                      memcmp(ev.session_id.p, ev.user_id.p, ev.user_id.len) == 0);
        if (d->has_category)
            ck_assert_uint_gt(ev.category.len, 0);
        n++;
    }
    ck_assert_int_eq(rc, SR_EEOF);
    struct src_stats st;
    src_stats(s, &st);
    ck_assert_uint_eq(st.events, d->events);
    ck_assert_uint_eq(st.records, d->events);
    ck_assert_uint_eq(st.bad, 0);
    for (int t = 0; t < SR_EVENT_TYPE_COUNT; t++)
        if (types_want[t] >= 0)
            ck_assert_msg((int64_t)types[t] == types_want[t], "%s: %s %lu, want %ld", d->files[0],
                          sr_event_type_name((enum sr_event_type)t), (unsigned long)types[t],
                          (long)types_want[t]);
    if (d->min_ts_s) {
        ck_assert_int_eq(ref[0].ts / 1000, d->min_ts_s);
        ck_assert_int_eq(ref[n - 1].ts / 1000, d->max_ts_s);
    }
    if (d->preset == SR_PRESET_DIGINETICA) {
        /* Dates 2016-01-03 .. 2016-06-01, plus the in-session offset. */
        ck_assert_int_ge(ref[0].ts, 1451779200000);
        ck_assert_int_lt(ref[0].ts, 1451779200000 + 86400000);
        ck_assert_int_ge(ref[n - 1].ts, 1464739200000);
    }
    src_close(s);
    free(ref);
}
END_TEST

START_TEST(test_preset_config)
{
    struct sr_config cfg;
    char err[256];
    sr_config_defaults(&cfg);
    ck_assert_int_eq(src_apply_preset(&cfg, SR_PRESET_MOVIELENS, err, sizeof err), 0);
    ck_assert(cfg.features.weight[SR_VIEW] == 0.0);
    ck_assert_int_eq(cfg.ingest.header, SR_HEADER_TRUE);
    /* Keys set afterwards win. */
    ck_assert_int_eq(sr_config_override(&cfg, "ingest.sort=false", err, sizeof err), 0);
    ck_assert(!cfg.ingest.sort);
    sr_config_defaults(&cfg);
    ck_assert_int_eq(src_apply_preset(&cfg, SR_PRESET_YOOCHOOSE, err, sizeof err), 0);
    ck_assert_str_eq(cfg.ingest.delimiter, "tab");
    ck_assert_int_eq(cfg.ingest.default_type, SR_CLICK);
    ck_assert(cfg.features.weight[SR_VIEW] > 0.0);
    ck_assert_int_eq(sr_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_int_eq(src_apply_preset(&cfg, 99, err, sizeof err), SR_ECONFIG);
}
END_TEST

Suite *ingest_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reader_lines);
    tcase_add_test(tc, test_reader_too_long_and_errors);
    tcase_add_test(tc, test_parse_ts);
    tcase_add_test(tc, test_type_map);
    tcase_add_test(tc, test_csv_generic_mapping);
    tcase_add_test(tc, test_csv_header_auto);
    tcase_add_test(tc, test_jsonl);
    tcase_add_test(tc, test_avro_canonical);
    tcase_add_test(tc, test_avro_other_writer);
    tcase_add_test(tc, test_avro_incompatible_writer);
    tcase_add_test(tc, test_avro_event_binary);
    tcase_add_test(tc, test_schema_matches_avsc);
    tcase_add_test(tc, test_bad_lines_counted);
    tcase_add_test(tc, test_bad_avro_truncated);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_sort_stable_small);
    tcase_add_loop_test(tc, test_presets_real_data, 0, (int)(sizeof datasets / sizeof datasets[0]));
    tcase_add_test(tc, test_preset_config);
    suite_add_tcase(s, tc);
    return s;
}
