/* tests/fuzz/mkcorpus.c - writes the seed corpora of the libFuzzer targets
 * into DIR/<target>/ (`make fuzz-corpus` runs it on tests/fuzz/corpus).
 * Deterministic: events come from the synthetic generator (app/gen.h) with
 * a fixed seed, messages from the project's own encoders (fr_encode,
 * ck_write_file), plus hand-made near-valid inputs. Files named crash-*
 * (inputs that once crashed a target) are never written or removed here. */
#include "app/gen.h"
#include "core/ckpt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/avro_fp.h"
#include "ingest/framing.h"
#include "tests/fuzz/fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_root;

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", g_root, target);
    mkdir(dir, 0755);
    if (fuzz_write_file(dir, name, p, n) != 0) {
        fprintf(stderr, "mkcorpus: cannot write %s/%s\n", dir, name);
        exit(1);
    }
}

static void puts_(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "mkcorpus: %s: %s\n", what, err);
    exit(1);
}

/* ---- hand-rolled Avro binary (writer schemas the encoder does not write) */

struct av {
    unsigned char b[2048];
    size_t n;
};

static void av_long(struct av *a, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        a->b[a->n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    a->b[a->n++] = (unsigned char)z;
}

static void av_str(struct av *a, struct sr_str s)
{
    av_long(a, s.len);
    memcpy(a->b + a->n, s.p, s.len);
    a->n += s.len;
}

static void av_opt_str(struct av *a, struct sr_str s)
{
    av_long(a, s.p ? 1 : 0);
    if (s.p)
        av_str(a, s);
}

static void av_double(struct av *a, double d)
{
    memcpy(a->b + a->n, &d, 8);
    a->n += 8;
}

/* Body of ev in fuzz_schema_extra's field order. */
static void body_extra(struct av *a, const struct sr_raw_event *ev)
{
    static const int sym[SR_EVENT_TYPE_COUNT] = {2, 3, 4, 1, 0}; /* VIEW..PURCHASE there */
    av_str(a, ev->user_id);
    av_opt_str(a, (struct sr_str){"spring", 6}); /* campaign */
    av_long(a, sym[ev->type]);
    av_str(a, ev->item_id);
    av_opt_str(a, ev->session_id);
    av_double(a, 0.25); /* score */
    av_long(a, ev->ts_ms);
    av_long(a, ev->has_quantity ? 1 : 0);
    if (ev->has_quantity)
        av_long(a, ev->quantity);
    av_opt_str(a, ev->event_id);
    av_long(a, ev->has_price ? 1 : 0);
    if (ev->has_price)
        av_double(a, ev->price);
}

/* Body of ev in fuzz_schema_missing's field order. */
static void body_missing(struct av *a, const struct sr_raw_event *ev)
{
    av_long(a, ev->ts_ms);
    av_long(a, ev->type);
    av_str(a, ev->item_id);
    av_str(a, ev->user_id);
    av_long(a, ev->has_quantity ? 1 : 0);
    if (ev->has_quantity)
        av_long(a, ev->quantity);
}

static size_t frame_confluent(unsigned char *out, int32_t id, const struct av *a)
{
    out[0] = 0;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (unsigned char)((uint32_t)id >> (24 - 8 * i));
    memcpy(out + 5, a->b, a->n);
    return a->n + 5;
}

static size_t frame_single(unsigned char *out, uint64_t fp, const struct av *a)
{
    out[0] = 0xC3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(fp >> (8 * i));
    memcpy(out + 10, a->b, a->n);
    return a->n + 10;
}

/* ---- targets ------------------------------------------------------------ */

static struct gen *events(uint64_t n)
{
    struct gen_cfg gc;
    gen_cfg_defaults(&gc);
    gc.events = n;
    gc.users = 50;
    gc.items = 40;
    gc.clusters = 4;
    gc.seed = 11;
    char err[256];
    struct gen *g = gen_new(&gc, err, sizeof err);
    if (!g)
        die("gen_new", err);
    return g;
}

static void framing_and_jsonl(void)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512];
    struct fr *f = fr_new(&cfg.ingest, err, sizeof err);
    if (!f)
        die("fr_new", err);
    uint64_t fp_extra, fp_missing;
    if (avro_fp_schema(fuzz_schema_extra, strlen(fuzz_schema_extra), &fp_extra, err, sizeof err) !=
            0 ||
        avro_fp_schema(fuzz_schema_missing, strlen(fuzz_schema_missing), &fp_missing, err,
                       sizeof err) != 0)
        die("avro_fp_schema", err);

    struct gen *g = events(8);
    struct gen_event ge;
    unsigned char msg[4096];
    char name[64];
    for (int i = 0; gen_next(g, &ge) == 0; i++) {
        for (int fmt = 0; fmt < FR_FORMAT_COUNT; fmt++) {
            const void *out;
            size_t len;
            if (fr_encode(f, (enum fr_format)fmt, &ge.raw, &out, &len) != 0)
                die("fr_encode", "refused a generated event");
            snprintf(name, sizeof name, "gen-%d-%s", i, fr_format_name((enum fr_format)fmt));
            put("framing", name, out, len);
            if (fmt == FR_JSON) {
                snprintf(name, sizeof name, "gen-%d", i);
                put("jsonl", name, out, len);
            }
            if (fmt == FR_CONFLUENT && i == 0) { /* near-valid: cut short, unknown id */
                put("framing", "trunc-confluent", out, len / 2);
                memcpy(msg, out, len);
                msg[4] = 99;
                put("framing", "unknown-id", msg, len);
                msg[0] = 0x7f;
                put("framing", "bad-magic", msg, len);
            }
            if (fmt == FR_SINGLE_OBJECT && i == 0) {
                put("framing", "trunc-single-object", out, 6);
                memcpy(msg, out, len);
                msg[5] ^= 0x40;
                put("framing", "unknown-fingerprint", msg, len);
            }
        }
        if (i < 3) { /* the two foreign writer schemas, both framings */
            struct av a = {.n = 0};
            body_extra(&a, &ge.raw);
            snprintf(name, sizeof name, "extra-%d-confluent", i);
            put("framing", name, msg, frame_confluent(msg, FUZZ_ID_EXTRA, &a));
            snprintf(name, sizeof name, "extra-%d-single-object", i);
            put("framing", name, msg, frame_single(msg, fp_extra, &a));
            a.n = 0;
            body_missing(&a, &ge.raw);
            snprintf(name, sizeof name, "missing-%d-confluent", i);
            put("framing", name, msg, frame_confluent(msg, FUZZ_ID_MISSING, &a));
            snprintf(name, sizeof name, "missing-%d-single-object", i);
            put("framing", name, msg, frame_single(msg, fp_missing, &a));
        }
    }
    gen_free(g);
    fr_free(f);

    static const char *const json[] = {
        "{\"ts\":\"2017-11-25T12:00:00Z\",\"user_id\":\"u1\",\"item_id\":\"i2\",\"type\":\"pv\"}",
        "{\"ts\":\"2017-11-25\",\"user_id\":17,\"item_id\":42,\"type\":\"buy\",\"price\":9.5,"
        "\"quantity\":2}",
        "{\"ts\":1511611200000,\"user_id\":\"u1\",\"item_id\":\"i2\",\"type\":null,"
        "\"session_id\":null,\"category\":\"c7\",\"event_id\":\"e\\u00e9\"}",
        "{\"ts\":1511611200000,\"user_id\":\"u1\",\"item_id\":\"i2\",\"extra\":[1,{\"a\":2}]}",
        "{\"ts\":-1,\"user_id\":\"\",\"item_id\":\"i2\",\"type\":\"SHIP\"}",
        "{\"ts\":1.5e300,\"user_id\":\"u\",\"item_id\":\"i\",\"price\":\"x\"}",
        "{\"user_id\":\"u\",\"item_id\":\"i\"}",
        "[1,2,3]",
        "{\"ts\":1511611200000,\"user_id\":\"u\",\"item_id\":\"i\",\"quantity\":2147483648}",
        "{\"ts\":\"2017-13-45T25:61:61.999+14:00\",\"user_id\":\"u\",\"item_id\":\"i\"}",
        "{\"ts\":1511611200000,\"user_id\":\"u\",\"item_id\":\"i\"",
    };
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
        snprintf(name, sizeof name, "hand-%zu", i);
        puts_("jsonl", name, json[i]);
        if (i < 4) {
            snprintf(name, sizeof name, "json-%zu", i);
            puts_("framing", name, json[i]);
        }
    }
}

static void csv(void)
{
    /* byte 0: preset (b % 5), header mode ((b >> 5) & 3), 0x80: first line = columns */
    static const struct {
        const char *name;
        unsigned char sel;
        const char *text;
    } in[] = {
        {"none", 0, "u1,i1,VIEW,1511544070\nu2,i9,PURCHASE,1511544071\nu3,,CLICK,1\n"},
        {"none-header-auto", 0x20,
         "user_id,item_id,type,ts,price,quantity,session_id,event_id\n"
         "u1,i1,CLICK,1511544070000,9.5,2,s1,e1\n\"u,2\",\"i\"\"3\",VIEW,1,,,,\n"},
        {"taobao", 1,
         "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n"
         "1,2576651,149192,cart,1511572885\n2,1,1,fav,x\n3,4,5,nope,1511544070\n"},
        {"yoochoose", 2,
         "session\titem\tts\n1\t214536502\t1396339215\n1\t214536500\t1396339231\n"
         "2\t214662742\t\n"},
        {"diginetica", 3,
         "sessionId;userId;itemId;timeframe;eventdate\n1;;81766;526309;2016-05-09\n"
         "1;;31331;1031018;2016-05-09\n2;5;32118;243569;2016-05-30\n"},
        {"movielens", 4,
         "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,2.5,964981247\n"
         "2,5,abc,964982224\n"},
        {"movielens-noheader", 4 | 0x60, "1,1,4.0,964982703\n1,3,2.5,964981247\n"},
        {"columns", 0x80,
         "user=1,item=0,ts=2,price=3,quantity=4,category=5\ni1,u1,1511544070,1.5,3,c9\n"
         "i2,u2,1511544071,,,\n"},
        {"columns-bad", 0x80, "user=0,item=0,ts=99\nu,i,1\n"},
        {"columns-offset", 0x80 | 3, "user=0,item=1,ts=2,ts_offset=3\nu;i;2016-05-09;12345\n"},
        {"quotes", 0,
         "\"u1\",\"i1\",\"VIEW\",\"1511544070\"\n\"unterminated,i,VIEW,1\n"
         "\"\",\"\",\"\",\"\"\n"},
        {"many-fields", 0,
         "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g,"
         "h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g,h,i,j,k,l,m,n\n"},
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        buf[0] = (char)in[i].sel;
        size_t n = strlen(in[i].text);
        memcpy(buf + 1, in[i].text, n);
        put("csv", in[i].name, buf, n + 1);
    }
}

static void config(void)
{
    FILE *f = fopen("config/streamrec.ini", "rb");
    if (f) {
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        put("config", "streamrec.ini", buf, n);
    }
    static const struct {
        const char *name, *text;
    } in[] = {
        {"ingest", "[ingest]\nformat = csv\npreset = taobao\ndelimiter = tab\nheader = true\n"
                   "columns = user=0,item=1,ts=2\nts_unit = ms\ntype_map = pv=VIEW\n"},
        {"learner", "[learner]\nk = 64\nloss = logistic\nlr = 0.05\nreg = 1e-4\n"
                    "adagrad = yes\nseed = 18446744073709551615\n"},
        {"durations", "[features]\ndedup_window_ms = 250ms\nsession_gap_ms = 30m\n"
                      "covis_half_life_ms = 7d\npop_windows = 1h,24h,7d\n"},
        {"kafka", "[kafka]\nbootstrap.servers = localhost:9092\nsecurity.protocol = SSL\n"
                  "; comment\n# comment\n[redis]\npassword = secret\nport = 6379\n"},
        {"bad-key", "[learner]\nkk = 3\n"},
        {"bad-range", "[learner]\nk = -1\nneg_pop_mix = 2\n"},
        {"bad-section", "[nope]\na = b\n"},
        {"syntax", "[ingest\nformat\n= x\n"},
        {"overrides", "[serve]\ntop_k = 10\n\0learner.k=8\neval.pop_window=24h\n"
                      "ingest.delimiter=;\nbad\n.x=1\nlearner.=2\nfeatures.weight.view=0\n"},
        {"validate", "[features]\nmin_ts_ms = 10\nmax_ts_ms = 5\n[eval]\npop_window = 3h\n"},
        {"long", "[metrics]\ninstance = "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        size_t n = strlen(in[i].text);
        if (!strcmp(in[i].name, "overrides")) /* the text holds a NUL: INI | overrides */
            n += 1 + strlen(in[i].text + n + 1);
        put("config", in[i].name, in[i].text, n);
    }
}

/* Writes w as a checkpoint into a temp dir and returns its bytes (malloc'd). */
static unsigned char *ckpt_bytes(struct ck_writer *w, const char *version, size_t *len)
{
    char dir[] = "/tmp/sr_mkcorpus_XXXXXX", err[512], path[256];
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    if (ck_write_file(w, dir, "x" CK_SUFFIX, version, 1700000000000, err, sizeof err) != 0)
        die("ck_write_file", err);
    snprintf(path, sizeof path, "%s/x" CK_SUFFIX, dir);
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 16);
    if (!f || !buf)
        die("read back", path);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    unlink(path);
    rmdir(dir);
    return buf;
}

static void ckpt(void)
{
    size_t len;
    unsigned char *b;

    struct ck_writer *w = ck_writer_new();
    b = ckpt_bytes(w, "", &len);
    put("ckpt", "empty", b, len);
    put("ckpt", "trunc-header", b, 50);
    free(b);

    struct ck_buf *s = ck_section(w, CK_SEC_META, "meta");
    ck_put_u64(s, 12345);
    ck_put_i64(s, -1);
    ck_put_u32(s, 3);
    s = ck_section(w, CK_SEC_CONFIG, "config");
    const char *conf = "[learner]\nk = 8\n";
    ck_put_str(s, conf, strlen(conf));
    s = ck_section(w, CK_SEC_OFFSETS, "offsets");
    ck_put_u32(s, 2);
    for (uint32_t p = 0; p < 2; p++) {
        ck_put_str(s, "events", 6);
        ck_put_u32(s, p);
        ck_put_i64(s, 1000 + p);
    }
    s = ck_section(w, CK_SEC_USER_IDS, "user_ids");
    ck_put_u32(s, 4);
    const char *ids[] = {"u0", "u1", "user-\xc3\xa9", ""};
    for (int i = 0; i < 4; i++)
        ck_put_str(s, ids[i], strlen(ids[i]));
    s = ck_section(w, CK_SEC_MF_USERS, "mf_users");
    ck_put_u32(s, 4);
    ck_put_u32(s, 4);
    for (int i = 0; i < 16; i++)
        ck_put_f32(s, (float)i * 0.125f - 1.0f);
    s = ck_section(w, CK_SEC_MF_STATE, "mf_state");
    ck_put_f64(s, 0.05);
    for (int i = 0; i < 4; i++)
        ck_put_u64(s, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1));
    ck_section(w, CK_SEC_RANKER, "ranker"); /* empty section */
    b = ckpt_bytes(w, "streamrec-0.1 k=4", &len);
    put("ckpt", "sections", b, len);
    put("ckpt", "trunc-table", b, 96 + 48 * 2);
    put("ckpt", "trunc-payload", b, len - 10);
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    c[len - 70] ^= 1; /* a payload byte: section checksum mismatch */
    put("ckpt", "flipped-payload", c, len);
    memcpy(c, b, len);
    c[8] = 2; /* format 2 (the target recomputes the header checksum) */
    put("ckpt", "format-2", c, len);
    memcpy(c, b, len);
    c[96 + 16] = 0xff; /* first section's length beyond the file */
    put("ckpt", "section-too-long", c, len);
    memcpy(c, b, len);
    c[96 + 48] = CK_SEC_META; /* two sections with one id */
    put("ckpt", "duplicate-id", c, len);
    free(c);
    free(b);
    ck_writer_free(w);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkcorpus DIR\n");
        return 2;
    }
    g_root = argv[1];
    mkdir(g_root, 0755);
    framing_and_jsonl();
    csv();
    config();
    ckpt();
    return 0;
}
