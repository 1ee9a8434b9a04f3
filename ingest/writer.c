/* ingest/writer.c - CSV, JSON lines and Avro container writers of events.
 *
 * CSV and JSON lines are assembled in an own buffer and handed to stdio in
 * large pieces; Avro goes through the Avro C generic value interface and
 * avro_file_writer on a FILE we own, so write errors show up in
 * ferror()/fclose() whatever the Avro library reports. */
#include "ingest/writer.h"
#include "core/err.h"
#include "ingest/schema.h"

#include <avro.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WR_BUF_SIZE   (256 * 1024)
#define WR_AVRO_BLOCK (64 * 1024)
#define WR_LINE_FIXED 256 /* bytes of a line besides the escaped strings */

/* Avro field positions in the canonical schema, looked up by name. */
enum { F_EVENT_ID, F_TS, F_USER_ID, F_ITEM_ID, F_TYPE, F_PRICE, F_QUANTITY, F_SESSION_ID, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "event_id", "ts", "user_id", "item_id", "type", "price", "quantity", "session_id",
};

struct wr {
    enum wr_format fmt;
    FILE *f; /* owned unless it is stdout */
    bool is_stdout;
    bool failed; /* a write failed: everything after is refused */
    unsigned long long count;
    char err[256];

    /* CSV / JSON lines: output buffer. */
    char *buf; /* [cap] */
    size_t len, cap;

    /* Avro. */
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value; /* the one record reused for every event */
    bool have_value;
    avro_file_writer_t aw;
    size_t field_idx[F_COUNT];
    char *sbuf; /* [scap] NUL-terminated copy of a string for Avro */
    size_t scap;
};

static const char *const format_names[] = {"csv", "jsonl", "avro"};

int wr_format_parse(const char *s, enum wr_format *out)
{
    for (int f = 0; f <= WR_AVRO; f++)
        if (strcmp(s, format_names[f]) == 0) {
            *out = (enum wr_format)f;
            return 0;
        }
    if (strcmp(s, "json") == 0) {
        *out = WR_JSONL;
        return 0;
    }
    return SR_EINVAL;
}

const char *wr_format_name(enum wr_format f)
{
    return (unsigned)f <= WR_AVRO ? format_names[f] : "unknown";
}

static int fail_io(struct wr *w, const char *what)
{
    if (!w->failed)
        snprintf(w->err, sizeof w->err, "%s: %s", what, strerror(errno ? errno : EIO));
    w->failed = true;
    return SR_EIO;
}

static int flush_buf(struct wr *w)
{
    if (w->len == 0)
        return 0;
    errno = 0;
    size_t n = fwrite(w->buf, 1, w->len, w->f);
    bool short_write = n != w->len;
    w->len = 0;
    if (short_write || ferror(w->f))
        return fail_io(w, "write failed");
    return 0;
}

/* Makes room for `need` more bytes in the buffer. */
static int reserve(struct wr *w, size_t need)
{
    if (w->cap - w->len >= need)
        return 0;
    int rc = flush_buf(w);
    if (rc)
        return rc;
    if (w->cap >= need)
        return 0;
    char *nb = realloc(w->buf, need); /* only for huge ids */
    if (!nb)
        return SR_ENOMEM;
    w->buf = nb;
    w->cap = need;
    return 0;
}

static bool str_null(struct sr_str s)
{
    return s.p == NULL;
}

/* Writes v in decimal; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* The shortest of a few decimal forms that reads back as exactly x (finite).
 * Prices in cents take a fast path without printf. */
static char *put_double(char *p, double x)
{
    if (fabs(x) < 1e13) {
        double c = nearbyint(x * 100.0);
        if (c / 100.0 == x) {
            int64_t cents = (int64_t)c;
            if (cents < 0) {
                *p++ = '-';
                cents = -cents;
            }
            p = put_u64(p, (uint64_t)(cents / 100));
            int frac = (int)(cents % 100);
            if (frac) {
                *p++ = '.';
                *p++ = (char)('0' + frac / 10);
                if (frac % 10)
                    *p++ = (char)('0' + frac % 10);
            }
            return p;
        }
    }
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        n = snprintf(p, 32, fmts[i], x);
        if (strtod(p, NULL) == x)
            break;
    }
    return p + n;
}

static bool csv_needs_quotes(struct sr_str s)
{
    for (uint32_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == ',' || c == '"' || c == '\n' || c == '\r')
            return true;
    }
    return false;
}

static char *put_csv_str(char *p, struct sr_str s)
{
    if (str_null(s))
        return p;
    if (!csv_needs_quotes(s)) {
        memcpy(p, s.p, s.len);
        return p + s.len;
    }
    *p++ = '"';
    for (uint32_t i = 0; i < s.len; i++) {
        if (s.p[i] == '"')
            *p++ = '"';
        *p++ = s.p[i];
    }
    *p++ = '"';
    return p;
}

static bool utf8_valid(struct sr_str s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    uint32_t i = 0, n = s.len;
    while (i < n) {
        unsigned c = p[i];
        uint32_t k;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (uint32_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static char *put_json_str(char *p, struct sr_str s)
{
    static const char hex[] = "0123456789abcdef";
    if (str_null(s)) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    *p++ = '"';
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (c == '\t') {
            *p++ = '\\';
            *p++ = 't';
        } else if (c == '\r') {
            *p++ = '\\';
            *p++ = 'r';
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(p, lit, n);
    return p + n;
}

static int write_csv(struct wr *w, const struct sr_raw_event *ev)
{
    /* Quoting at most doubles a string, plus two quotes. */
    size_t need =
        WR_LINE_FIXED +
        2 * ((size_t)ev->event_id.len + ev->user_id.len + ev->item_id.len + ev->session_id.len) + 8;
    int rc = reserve(w, need);
    if (rc)
        return rc;
    char *p = w->buf + w->len;
    p = put_csv_str(p, ev->event_id);
    *p++ = ',';
    p = put_i64(p, ev->ts_ms);
    *p++ = ',';
    p = put_csv_str(p, ev->user_id);
    *p++ = ',';
    p = put_csv_str(p, ev->item_id);
    *p++ = ',';
    p = put_lit(p, sr_event_type_name(ev->type));
    *p++ = ',';
    if (ev->has_price)
        p = put_double(p, ev->price);
    *p++ = ',';
    if (ev->has_quantity)
        p = put_i64(p, ev->quantity);
    *p++ = ',';
    p = put_csv_str(p, ev->session_id);
    *p++ = '\n';
    w->len = (size_t)(p - w->buf);
    return 0;
}

static int write_jsonl(struct wr *w, const struct sr_raw_event *ev)
{
    const struct sr_str *strs[] = {&ev->event_id, &ev->user_id, &ev->item_id, &ev->session_id};
    for (int i = 0; i < 4; i++)
        if (!utf8_valid(*strs[i])) {
            snprintf(w->err, sizeof w->err, "an id is not valid UTF-8 (JSON needs UTF-8)");
            return SR_EINVAL;
        }
    /* Escaping turns one byte into at most six. */
    size_t need = WR_LINE_FIXED + 6 * ((size_t)ev->event_id.len + ev->user_id.len +
                                       ev->item_id.len + ev->session_id.len);
    int rc = reserve(w, need);
    if (rc)
        return rc;
    char *p = w->buf + w->len;
    p = put_lit(p, "{\"event_id\":");
    p = put_json_str(p, ev->event_id);
    p = put_lit(p, ",\"ts\":");
    p = put_i64(p, ev->ts_ms);
    p = put_lit(p, ",\"user_id\":");
    p = put_json_str(p, ev->user_id);
    p = put_lit(p, ",\"item_id\":");
    p = put_json_str(p, ev->item_id);
    p = put_lit(p, ",\"type\":\"");
    p = put_lit(p, sr_event_type_name(ev->type));
    p = put_lit(p, "\",\"price\":");
    p = ev->has_price ? put_double(p, ev->price) : put_lit(p, "null");
    p = put_lit(p, ",\"quantity\":");
    p = ev->has_quantity ? put_i64(p, ev->quantity) : put_lit(p, "null");
    p = put_lit(p, ",\"session_id\":");
    p = put_json_str(p, ev->session_id);
    p = put_lit(p, "}\n");
    w->len = (size_t)(p - w->buf);
    return 0;
}

/* --- Avro ------------------------------------------------------------- */

static int avro_fail(struct wr *w, const char *what)
{
    if (!w->failed)
        snprintf(w->err, sizeof w->err, "avro: %s: %s", what, avro_strerror());
    w->failed = true;
    return SR_EIO;
}

/* Sets a string field (or the string branch of an optional one). */
static int avro_put_str(struct wr *w, avro_value_t *field, struct sr_str s, bool optional)
{
    avro_value_t branch, *dst = field;
    if (optional) {
        if (str_null(s))
            return avro_value_set_branch(field, 0, &branch) || avro_value_set_null(&branch);
        if (avro_value_set_branch(field, 1, &branch))
            return -1;
        dst = &branch;
    }
    /* The generic string wants a NUL-terminated copy, size counting the NUL. */
    if ((size_t)s.len + 1 > w->scap) {
        char *nb = realloc(w->sbuf, (size_t)s.len + 1);
        if (!nb)
            return -1;
        w->sbuf = nb;
        w->scap = (size_t)s.len + 1;
    }
    if (s.len)
        memcpy(w->sbuf, s.p, s.len);
    w->sbuf[s.len] = '\0';
    return avro_value_set_string_len(dst, w->sbuf, (size_t)s.len + 1);
}

static int write_avro(struct wr *w, const struct sr_raw_event *ev)
{
    avro_value_t f[F_COUNT], branch;
    for (int i = 0; i < F_COUNT; i++)
        if (avro_value_get_by_index(&w->value, w->field_idx[i], &f[i], NULL))
            return avro_fail(w, "record field");
    int bad = 0;
    bad |= avro_put_str(w, &f[F_EVENT_ID], ev->event_id, true);
    bad |= avro_value_set_long(&f[F_TS], ev->ts_ms);
    bad |= avro_put_str(w, &f[F_USER_ID], ev->user_id, false);
    bad |= avro_put_str(w, &f[F_ITEM_ID], ev->item_id, false);
    bad |= avro_value_set_enum(&f[F_TYPE], (int)ev->type);
    if (ev->has_price)
        bad |= avro_value_set_branch(&f[F_PRICE], 1, &branch) ||
               avro_value_set_double(&branch, ev->price);
    else
        bad |= avro_value_set_branch(&f[F_PRICE], 0, &branch) || avro_value_set_null(&branch);
    if (ev->has_quantity)
        bad |= avro_value_set_branch(&f[F_QUANTITY], 1, &branch) ||
               avro_value_set_int(&branch, ev->quantity);
    else
        bad |= avro_value_set_branch(&f[F_QUANTITY], 0, &branch) || avro_value_set_null(&branch);
    bad |= avro_put_str(w, &f[F_SESSION_ID], ev->session_id, true);
    if (bad)
        return avro_fail(w, "cannot set a field");
    errno = 0;
    int arc = avro_file_writer_append_value(w->aw, &w->value);
    if (ferror(w->f)) /* the cause behind a failed block write */
        return fail_io(w, "write failed");
    if (arc)
        return avro_fail(w, "append failed");
    return 0;
}

static int open_avro(struct wr *w, const char *path, char *errbuf, size_t errlen)
{
    const char *json = ingest_event_schema_json();
    if (avro_schema_from_json_length(json, strlen(json), &w->schema))
        return sr_seterr(errbuf, errlen, SR_EINVAL, "avro: bad event schema: %s", avro_strerror());
    for (int i = 0; i < F_COUNT; i++)
        if (avro_schema_record_field_get_index(w->schema, field_names[i]) < 0)
            return sr_seterr(errbuf, errlen, SR_EINVAL, "avro: schema has no field %s",
                             field_names[i]);
        else
            w->field_idx[i] = (size_t)avro_schema_record_field_get_index(w->schema, field_names[i]);
    w->iface = avro_generic_class_from_schema(w->schema);
    if (!w->iface || avro_generic_value_new(w->iface, &w->value))
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "avro: %s", avro_strerror());
    w->have_value = true;
    if (avro_file_writer_create_with_codec_fp(w->f, path, 0, w->schema, &w->aw, "null",
                                              WR_AVRO_BLOCK))
        return sr_seterr(errbuf, errlen, SR_EIO, "avro: cannot start %s: %s", path,
                         avro_strerror());
    return 0;
}

/* --- lifecycle -------------------------------------------------------- */

static void wr_free(struct wr *w)
{
    if (w->have_value)
        avro_value_decref(&w->value);
    if (w->iface)
        avro_value_iface_decref(w->iface);
    if (w->schema)
        avro_schema_decref(w->schema);
    free(w->sbuf);
    free(w->buf);
    free(w);
}

struct wr *wr_open(const char *path, enum wr_format fmt, char *errbuf, size_t errlen)
{
    if ((unsigned)fmt > WR_AVRO) {
        sr_seterr(errbuf, errlen, SR_EINVAL, "unknown output format %d", (int)fmt);
        return NULL;
    }
    bool is_stdout = strcmp(path, "-") == 0;
    if (is_stdout && fmt == WR_AVRO) {
        sr_seterr(errbuf, errlen, SR_EUNSUPPORTED,
                  "Avro output needs a file, not stdout (name an output file)");
        return NULL;
    }
    struct wr *w = calloc(1, sizeof *w);
    if (!w) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    w->fmt = fmt;
    w->is_stdout = is_stdout;
    if (is_stdout) {
        w->f = stdout;
    } else {
        w->f = fopen(path, "wb");
        if (!w->f) {
            sr_seterr(errbuf, errlen, SR_EIO, "cannot create %s: %s", path, strerror(errno));
            goto err_free_wr;
        }
    }
    if (fmt == WR_AVRO) {
        if (open_avro(w, path, errbuf, errlen))
            goto err_close_file;
        return w;
    }
    w->cap = WR_BUF_SIZE;
    w->buf = malloc(w->cap);
    if (!w->buf) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        goto err_close_file;
    }
    if (fmt == WR_CSV) {
        static const char header[] = "event_id,ts,user_id,item_id,type,price,quantity,session_id\n";
        memcpy(w->buf, header, sizeof header - 1);
        w->len = sizeof header - 1;
    }
    return w;

err_close_file:
    if (w->f && !is_stdout)
        fclose(w->f);
err_free_wr:
    wr_free(w);
    return NULL;
}

int wr_write(struct wr *w, const struct sr_raw_event *ev)
{
    if (w->failed)
        return SR_EIO;
    if ((unsigned)ev->type >= SR_EVENT_TYPE_COUNT) {
        snprintf(w->err, sizeof w->err, "event type %d is not valid", (int)ev->type);
        return SR_EINVAL;
    }
    if (ev->has_price && !isfinite(ev->price)) {
        snprintf(w->err, sizeof w->err, "price is not a finite number");
        return SR_EINVAL;
    }
    int rc;
    switch (w->fmt) {
    case WR_CSV:
        rc = write_csv(w, ev);
        break;
    case WR_JSONL:
        rc = write_jsonl(w, ev);
        break;
    default:
        rc = write_avro(w, ev);
        break;
    }
    if (rc == SR_ENOMEM)
        snprintf(w->err, sizeof w->err, "out of memory");
    if (rc == 0)
        w->count++;
    return rc;
}

unsigned long long wr_count(const struct wr *w)
{
    return w->count;
}

const char *wr_error(const struct wr *w)
{
    return w->err;
}

int wr_close(struct wr *w, char *errbuf, size_t errlen)
{
    if (!w)
        return 0;
    errno = 0;
    if (w->fmt == WR_AVRO) {
        /* Avro C 1.11's avro_file_writer_close() returns early, leaking the
         * writer, when its final flush fails. So flush first; if the output
         * is broken, record that and point the stream at /dev/null, so the
         * close that follows can finish and free everything. */
        if (avro_file_writer_flush(w->aw) || ferror(w->f)) {
            if (ferror(w->f))
                fail_io(w, "write failed");
            else
                avro_fail(w, "flush failed");
            if (!freopen("/dev/null", "wb", w->f))
                w->f = NULL; /* the stream is gone; closing below would fail too */
        }
        if (w->f && avro_file_writer_close(w->aw))
            avro_fail(w, "closing failed");
    } else {
        flush_buf(w);
    }
    if (w->f && (fflush(w->f) != 0 || ferror(w->f)))
        fail_io(w, "write failed");
    if (w->f && !w->is_stdout && fclose(w->f) != 0)
        fail_io(w, "close failed");
    int rc = w->failed ? SR_EIO : 0;
    if (rc)
        sr_seterr(errbuf, errlen, rc, "%s", w->err);
    wr_free(w);
    return rc;
}
