/* ingest/source.c - files in order, decoded by format, optionally sorted.
 *
 * The unsorted path pulls one line (or Avro record) at a time and hands
 * out an event borrowed from the reader's buffer. The sorted path first
 * pulls every event into a record array and one string arena (no malloc
 * per event), then stable-sorts an index by event time. */
#include "ingest/source.h"
#include "core/err.h"
#include "core/log.h"
#include "ingest/avro_event.h"
#include "ingest/csv.h"
#include "ingest/jsonl.h"
#include "ingest/reader.h"

#include <avro.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One event in the sort arena: strings as offsets into one char array. */
enum { S_USER = 0, S_ITEM, S_EVENT, S_SESSION, S_CATEGORY, S_COUNT };
#define REC_PRICE    0x01u
#define REC_QUANTITY 0x02u
#define REC_STR(i)   (0x04u << (i)) /* string i present (not null) */

struct rec {
    int64_t ts_ms;
    double price;
    uint64_t off; /* first byte of the strings in the arena, one after another */
    uint32_t len[S_COUNT];
    int32_t quantity;
    uint8_t type;
    uint8_t flags;
};

struct sort_key {
    int64_t ts_ms;
    uint32_t idx;
};

struct src_sorted {
    struct rec *recs; /* [cap] */
    size_t n, cap;
    char *arena; /* [arena_cap] */
    size_t arena_len, arena_cap;
    uint32_t *order; /* [n], record indices in stable time order */
    size_t pos;      /* next index into order */
};

struct src_file {
    char *path;
    int format; /* enum sr_ingest_format, never AUTO */
};

struct src {
    /* settings */
    struct sr_ingest_cfg cfg;
    struct sr_movielens_cfg ml;
    struct src_file *files; /* [n_files], owned */
    size_t n_files;
    /* decoders, made once and reset per file */
    struct csv *csv;
    struct jsonl *jsonl;
    /* the current file */
    size_t cur;
    bool in_file;
    struct reader *rd;
    avro_file_reader_t av;
    struct avro_event *ae;
    uint64_t av_record; /* records read from the current Avro file */
    /* state */
    bool failed;
    uint64_t bytes_closed; /* uncompressed bytes of finished line files */
    uint64_t avro_bytes;   /* uncompressed bytes read by Avro readers */
    uint64_t reported;     /* bad records logged */
    struct src_stats st;
    bool loaded;
    struct src_sorted sorted;
    char err[512];
};

static const char *const bad_names[SRC_BAD_COUNT] = {
    "bad_fields", "bad_ts", "bad_type", "bad_id", "bad_number", "bad_json", "bad_avro", "too_long",
};
static const char *const bad_text[SRC_BAD_COUNT] = {
    "wrong number of fields",
    "timestamp missing or unparsable",
    "event type not in the type map",
    "user or item id empty",
    "price, quantity or rating unparsable",
    "not a JSON object with the required fields",
    "Avro record could not be decoded",
    "line too long",
};

const char *src_bad_name(enum src_bad r)
{
    return (unsigned)r < SRC_BAD_COUNT ? bad_names[r] : "bad_unknown";
}

static bool has_suffix(const char *s, size_t len, const char *suf)
{
    size_t l = strlen(suf);
    return len >= l && strncasecmp(s + len - l, suf, l) == 0;
}

/* Decides a file's format (extension, then content) and checks that it can
 * be read; an Avro file's writer schema must resolve to streamrec.Event. */
static int probe_file(const char *path, int format, int *out, char *errbuf, size_t errlen)
{
    FILE *f = reader_fopen(path, NULL, errbuf, errlen);
    if (!f)
        return SR_EIO;
    unsigned char head[256];
    size_t n = fread(head, 1, sizeof head, f);
    bool read_err = ferror(f);
    fclose(f);
    if (read_err)
        return sr_seterr(errbuf, errlen, SR_EIO, "cannot read %s (not a readable file?)", path);
    if (format == SR_FMT_AUTO) {
        size_t len = strlen(path);
        if (has_suffix(path, len, ".gz"))
            len -= 3;
        if (has_suffix(path, len, ".avro"))
            format = SR_FMT_AVRO;
        else if (has_suffix(path, len, ".jsonl") || has_suffix(path, len, ".json"))
            format = SR_FMT_JSONL;
        else if (n >= 4 && memcmp(head, "Obj\x01", 4) == 0)
            format = SR_FMT_AVRO;
        else {
            size_t i = 0;
            if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
                i = 3;
            while (i < n &&
                   (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
                i++;
            format = i < n && head[i] == '{' ? SR_FMT_JSONL : SR_FMT_CSV;
        }
    }
    if (format != SR_FMT_CSV && format != SR_FMT_JSONL && format != SR_FMT_AVRO)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.format: unknown format %d", format);
    if (format == SR_FMT_AVRO) {
        FILE *af = reader_fopen(path, NULL, errbuf, errlen);
        if (!af)
            return SR_EIO;
        avro_file_reader_t av;
        if (avro_file_reader_fp(af, path, 1, &av) != 0)
            return sr_seterr(errbuf, errlen, SR_EIO,
                             "%s: not a readable Avro object container file: %s", path,
                             avro_strerror());
        char why[256];
        /* avro_file_reader_get_writer_schema() returns a new reference. */
        avro_schema_t ws = avro_file_reader_get_writer_schema(av);
        struct avro_event *ae = avro_event_new(ws, why, sizeof why);
        avro_schema_decref(ws);
        avro_file_reader_close(av);
        if (!ae)
            return sr_seterr(errbuf, errlen, SR_EIO, "%s: %s", path, why);
        avro_event_free(ae);
    }
    *out = format;
    return 0;
}

struct src *src_open(const char *const *paths, size_t n, const struct sr_config *cfg, char *errbuf,
                     size_t errlen)
{
    if (n == 0) {
        sr_seterr(errbuf, errlen, SR_EINVAL, "no input files");
        return NULL;
    }
    struct src *s = calloc(1, sizeof *s);
    if (!s) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = cfg->ingest;
    s->ml = cfg->movielens;
    s->files = calloc(n, sizeof *s->files);
    if (!s->files) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        goto err_close;
    }
    s->n_files = n;
    bool need_csv = false, need_jsonl = false;
    for (size_t i = 0; i < n; i++) {
        s->files[i].path = strdup(paths[i]);
        if (!s->files[i].path) {
            sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
            goto err_close;
        }
        if (probe_file(paths[i], s->cfg.format, &s->files[i].format, errbuf, errlen) != 0)
            goto err_close;
        need_csv |= s->files[i].format == SR_FMT_CSV;
        need_jsonl |= s->files[i].format == SR_FMT_JSONL;
    }
    if (need_csv && !(s->csv = csv_new(&s->cfg, &s->ml, errbuf, errlen)))
        goto err_close;
    if (need_jsonl && !(s->jsonl = jsonl_new(&s->cfg, errbuf, errlen)))
        goto err_close;
    return s;

err_close:
    src_close(s);
    return NULL;
}

static void close_file(struct src *s)
{
    if (s->rd) {
        s->bytes_closed += reader_bytes(s->rd);
        reader_close(s->rd);
        s->rd = NULL;
    }
    if (s->av) {
        avro_file_reader_close(s->av);
        s->av = NULL;
    }
    avro_event_free(s->ae);
    s->ae = NULL;
    s->in_file = false;
    s->cur++;
}

static int open_file(struct src *s)
{
    const struct src_file *f = &s->files[s->cur];
    char why[384];
    if (f->format == SR_FMT_AVRO) {
        FILE *fp = reader_fopen(f->path, &s->avro_bytes, why, sizeof why);
        if (!fp)
            goto err;
        if (avro_file_reader_fp(fp, f->path, 1, &s->av) != 0) {
            snprintf(why, sizeof why, "%s: not a readable Avro object container file: %s", f->path,
                     avro_strerror());
            s->av = NULL;
            goto err;
        }
        avro_schema_t ws = avro_file_reader_get_writer_schema(s->av); /* a new reference */
        s->ae = avro_event_new(ws, why, sizeof why);
        avro_schema_decref(ws);
        if (!s->ae)
            goto err;
        s->av_record = 0;
    } else {
        s->rd = reader_open(f->path, why, sizeof why);
        if (!s->rd)
            goto err;
        if (f->format == SR_FMT_CSV)
            csv_reset(s->csv);
    }
    s->in_file = true;
    return 0;
err:
    snprintf(s->err, sizeof s->err, "%s", why);
    if (s->av)
        avro_file_reader_close(s->av);
    s->av = NULL;
    s->failed = true;
    return SR_EIO;
}

static void count_bad(struct src *s, enum src_bad why, uint64_t where, const char *what,
                      const char *line, size_t len)
{
    s->st.bad++;
    s->st.bad_by_reason[why]++;
    if ((int64_t)s->reported >= s->cfg.max_bad_reported)
        return;
    s->reported++;
    if (len > 120)
        len = 120;
    SR_WARN(SR_MOD_INGEST, "%s %s %" PRIu64 ": skipped, %s (%s)%s%.*s", s->files[s->cur].path, what,
            where, bad_text[why], bad_names[why], line ? ": " : "", line ? (int)len : 0,
            line ? line : "");
    if ((int64_t)s->reported == s->cfg.max_bad_reported)
        SR_WARN(SR_MOD_INGEST,
                "further bad records are counted by reason, not logged "
                "(ingest.max_bad_reported=%" PRId64 ")",
                s->cfg.max_bad_reported);
}

static bool is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* The next event in file order. */
static int next_unsorted(struct src *s, struct sr_raw_event *ev)
{
    enum src_bad why = SRC_BAD_FIELDS;
    for (;;) {
        if (s->failed)
            return SR_EIO;
        if (!s->in_file) {
            if (s->cur == s->n_files)
                return SR_EEOF;
            int rc = open_file(s);
            if (rc)
                return rc;
        }
        const struct src_file *f = &s->files[s->cur];
        if (f->format == SR_FMT_AVRO) {
            int rc = avro_file_reader_read_value(s->av, avro_event_input(s->ae));
            if (rc == EOF) {
                close_file(s);
                continue;
            }
            s->av_record++;
            s->st.records++;
            if (rc != 0) {
                /* The rest of the file cannot be trusted: count one bad
                 * record and go on with the next file. */
                count_bad(s, SRC_BAD_AVRO, s->av_record, "record", avro_strerror(),
                          strlen(avro_strerror()));
                close_file(s);
                continue;
            }
            if (avro_event_get(s->ae, ev, &why) == 0)
                return 0;
            count_bad(s, why, s->av_record, "record", NULL, 0);
            continue;
        }
        char *line;
        size_t len;
        int rc = reader_next(s->rd, &line, &len);
        if (rc == SR_EEOF) {
            close_file(s);
            continue;
        }
        if (rc == SR_EIO) {
            snprintf(s->err, sizeof s->err, "%s: %s", f->path, reader_error(s->rd));
            s->failed = true;
            return SR_EIO;
        }
        if (rc == SR_ERANGE) {
            s->st.records++;
            count_bad(s, SRC_BAD_TOO_LONG, reader_line_no(s->rd), "line", line, len);
            continue;
        }
        if (is_blank(line, len))
            continue;
        if (f->format == SR_FMT_CSV)
            rc = csv_decode(s->csv, line, len, ev, &why);
        else
            rc = jsonl_decode(s->jsonl, line, len, ev, &why);
        if (rc == SR_EAGAIN) /* a header */
            continue;
        s->st.records++;
        if (rc == 0)
            return 0;
        count_bad(s, why, reader_line_no(s->rd), "line", line, len);
    }
}

/* ---- sorting ---------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return SR_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int keep(struct src_sorted *z, const struct sr_raw_event *ev)
{
    if (z->n == UINT32_MAX)
        return SR_EFULL;
    const struct sr_str *str[S_COUNT] = {&ev->user_id, &ev->item_id, &ev->event_id, &ev->session_id,
                                         &ev->category};
    size_t bytes = 0;
    for (int i = 0; i < S_COUNT; i++)
        bytes += str[i]->len;
    if (grow((void **)&z->recs, &z->cap, z->n + 1, sizeof *z->recs) != 0 ||
        grow((void **)&z->arena, &z->arena_cap, z->arena_len + bytes, 1) != 0)
        return SR_ENOMEM;
    struct rec *r = &z->recs[z->n++];
    r->ts_ms = ev->ts_ms;
    r->price = ev->price;
    r->quantity = ev->quantity;
    r->type = (uint8_t)ev->type;
    r->flags = (ev->has_price ? REC_PRICE : 0) | (ev->has_quantity ? REC_QUANTITY : 0);
    r->off = z->arena_len;
    for (int i = 0; i < S_COUNT; i++) {
        r->len[i] = str[i]->len;
        if (str[i]->p) {
            r->flags |= REC_STR(i);
            memcpy(z->arena + z->arena_len, str[i]->p, str[i]->len);
            z->arena_len += str[i]->len;
        }
    }
    return 0;
}

/* Stable bottom-up merge sort of keys by ts (ties keep their order). */
static int sort_keys(struct sort_key *a, size_t n)
{
    struct sort_key *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return SR_ENOMEM;
    struct sort_key *src = a, *dst = tmp;
    /* Insertion-sort runs of 32 first. */
    const size_t run = 32;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = lo + run < n ? lo + run : n;
        for (size_t i = lo + 1; i < hi; i++) {
            struct sort_key k = a[i];
            size_t j = i;
            while (j > lo && a[j - 1].ts_ms > k.ts_ms) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = k;
        }
    }
    for (size_t w = run; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j].ts_ms < src[i].ts_ms ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        struct sort_key *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(tmp);
    return 0;
}

static int load_sorted(struct src *s)
{
    struct src_sorted *z = &s->sorted;
    struct sr_raw_event ev;
    int rc;
    while ((rc = next_unsorted(s, &ev)) == 0) {
        if ((rc = keep(z, &ev)) != 0) {
            snprintf(s->err, sizeof s->err, "cannot keep %zu events in memory for sorting: %s",
                     z->n, sr_strerror(rc));
            s->failed = true;
            return rc;
        }
    }
    if (rc != SR_EEOF)
        return rc;
    z->order = malloc((z->n ? z->n : 1) * sizeof *z->order);
    if (!z->order)
        goto err_oom;
    bool sorted = true;
    for (size_t i = 1; i < z->n && sorted; i++)
        sorted = z->recs[i - 1].ts_ms <= z->recs[i].ts_ms;
    if (sorted) {
        for (size_t i = 0; i < z->n; i++)
            z->order[i] = (uint32_t)i;
    } else {
        struct sort_key *keys = malloc(z->n * sizeof *keys);
        if (!keys)
            goto err_oom;
        for (size_t i = 0; i < z->n; i++) {
            keys[i].ts_ms = z->recs[i].ts_ms;
            keys[i].idx = (uint32_t)i;
        }
        if (sort_keys(keys, z->n) != 0) {
            free(keys);
            goto err_oom;
        }
        for (size_t i = 0; i < z->n; i++)
            z->order[i] = keys[i].idx;
        free(keys);
    }
    SR_DEBUG(SR_MOD_INGEST, "sorted %zu events (%s), %zu bytes of strings", z->n,
             sorted ? "already in order" : "reordered", z->arena_len);
    return 0;
err_oom:
    snprintf(s->err, sizeof s->err, "out of memory sorting %zu events", z->n);
    s->failed = true;
    return SR_ENOMEM;
}

static void fill_from_rec(const struct src_sorted *z, const struct rec *r, struct sr_raw_event *ev)
{
    struct sr_str *str[S_COUNT] = {&ev->user_id, &ev->item_id, &ev->event_id, &ev->session_id,
                                   &ev->category};
    const char *p = z->arena + r->off;
    ev->ts_ms = r->ts_ms;
    ev->type = (enum sr_event_type)r->type;
    ev->has_price = r->flags & REC_PRICE;
    ev->price = ev->has_price ? r->price : 0.0;
    ev->has_quantity = r->flags & REC_QUANTITY;
    ev->quantity = ev->has_quantity ? r->quantity : 0;
    for (int i = 0; i < S_COUNT; i++) {
        if (r->flags & REC_STR(i)) {
            str[i]->p = p;
            str[i]->len = r->len[i];
            p += r->len[i];
        } else {
            str[i]->p = NULL;
            str[i]->len = 0;
        }
    }
}

int src_next(struct src *s, struct sr_raw_event *ev)
{
    int rc;
    if (!s->cfg.sort) {
        rc = next_unsorted(s, ev);
    } else {
        if (!s->loaded) {
            if ((rc = load_sorted(s)) != 0)
                return rc;
            s->loaded = true;
        }
        struct src_sorted *z = &s->sorted;
        if (z->pos == z->n)
            return SR_EEOF;
        fill_from_rec(z, &z->recs[z->order[z->pos++]], ev);
        rc = 0;
    }
    if (rc == 0)
        s->st.events++;
    return rc;
}

void src_stats(const struct src *s, struct src_stats *out)
{
    *out = s->st;
    out->bytes = s->bytes_closed + s->avro_bytes + (s->rd ? reader_bytes(s->rd) : 0);
}

const char *src_error(const struct src *s)
{
    return s->err;
}

void src_close(struct src *s)
{
    if (!s)
        return;
    if (s->in_file)
        close_file(s);
    csv_free(s->csv);
    jsonl_free(s->jsonl);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i].path);
    free(s->files);
    free(s->sorted.recs);
    free(s->sorted.arena);
    free(s->sorted.order);
    free(s);
}

/* ---- presets ---------------------------------------------------------- */

struct preset_kv {
    const char *section, *key, *value;
};

int src_apply_preset(struct sr_config *cfg, int preset, char *errbuf, size_t errlen)
{
    static const struct preset_kv taobao[] = {
        {"ingest", "preset", "taobao"},
        {"ingest", "format", "csv"},
        {"ingest", "delimiter", ","},
        {"ingest", "header", "false"},
        {"ingest", "columns", "user=0,item=1,category=2,type=3,ts=4"},
        {"ingest", "ts_unit", "s"},
        {"ingest", "type_map", "pv=VIEW,cart=ADD_TO_CART,fav=FAVORITE,buy=PURCHASE"},
        {"ingest", "sort", "true"},
        {NULL, NULL, NULL},
    };
    static const struct preset_kv yoochoose[] = {
        {"ingest", "preset", "yoochoose"},
        {"ingest", "format", "csv"},
        {"ingest", "delimiter", "tab"},
        {"ingest", "header", "true"},
        {"ingest", "columns", "user=0,session=0,item=1,ts=2"},
        {"ingest", "ts_unit", "s"},
        {"ingest", "type_map", ""},
        {"ingest", "default_type", "CLICK"},
        {"ingest", "sort", "true"},
        {NULL, NULL, NULL},
    };
    static const struct preset_kv diginetica[] = {
        {"ingest", "preset", "diginetica"},
        {"ingest", "format", "csv"},
        {"ingest", "delimiter", ";"},
        {"ingest", "header", "true"},
        {"ingest", "columns", "user=0,session=0,item=2,ts=4,ts_offset=3"},
        {"ingest", "ts_unit", "ms"},
        {"ingest", "type_map", ""},
        {"ingest", "default_type", "VIEW"},
        {"ingest", "sort", "true"},
        {NULL, NULL, NULL},
    };
    static const struct preset_kv movielens[] = {
        {"ingest", "preset", "movielens"},
        {"ingest", "format", "csv"},
        {"ingest", "delimiter", ","},
        {"ingest", "header", "true"},
        {"ingest", "columns", "user=0,item=1,rating=2,ts=3"},
        {"ingest", "ts_unit", "s"},
        {"ingest", "type_map", ""},
        {"ingest", "sort", "true"},
        /* Ratings below movielens.positive_rating only mark an item seen. */
        {"features", "weight.view", "0"},
        /* MovieLens users rate in bulk (hundreds of films within minutes
         * when they sign up): a human, not a bot, and every rating counts. */
        {"features", "bot_max_events", "0"},
        {NULL, NULL, NULL},
    };
    static const struct preset_kv none[] = {
        {"ingest", "preset", "none"},
        {NULL, NULL, NULL},
    };
    const struct preset_kv *kv;
    switch (preset) {
    case SR_PRESET_NONE:
        kv = none;
        break;
    case SR_PRESET_TAOBAO:
        kv = taobao;
        break;
    case SR_PRESET_YOOCHOOSE:
        kv = yoochoose;
        break;
    case SR_PRESET_DIGINETICA:
        kv = diginetica;
        break;
    case SR_PRESET_MOVIELENS:
        kv = movielens;
        break;
    default:
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "ingest.preset: unknown preset %d (allowed: "
                         "none|taobao|yoochoose|diginetica|movielens)",
                         preset);
    }
    for (; kv->section; kv++) {
        int rc = sr_config_set(cfg, kv->section, kv->key, kv->value, errbuf, errlen);
        if (rc)
            return rc;
    }
    return 0;
}
