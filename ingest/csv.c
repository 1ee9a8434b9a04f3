/* ingest/csv.c - split a line in place, convert the mapped fields. */
#include "ingest/csv.h"
#include "core/err.h"
#include "ingest/fields.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 64 /* fields beyond this are counted, not kept */

struct csv_settings {
    char delim;
    int header; /* enum sr_header */
    int ts_unit;
    struct csv_columns cols;
    struct fields_typemap types;
    enum sr_event_type default_type;
    double positive_rating;
};

struct csv_field {
    char *p;
    size_t len;
};

struct csv {
    struct csv_settings set;
    /* state of the current file */
    struct csv_columns cols; /* in effect: set.cols or mapped from a header */
    int ts_unit;
    int max_col;       /* highest mapped index */
    int expect_fields; /* field count of the header, 0 = any (at least max_col + 1) */
    bool first_line;
    /* scratch */
    struct csv_field f[CSV_MAX_FIELDS];
};

static const struct {
    const char *name;
    size_t off;
} col_names[] = {
    {"user", offsetof(struct csv_columns, user)},
    {"item", offsetof(struct csv_columns, item)},
    {"type", offsetof(struct csv_columns, type)},
    {"ts", offsetof(struct csv_columns, ts)},
    {"event_id", offsetof(struct csv_columns, event_id)},
    {"session", offsetof(struct csv_columns, session)},
    {"price", offsetof(struct csv_columns, price)},
    {"quantity", offsetof(struct csv_columns, quantity)},
    {"rating", offsetof(struct csv_columns, rating)},
    {"category", offsetof(struct csv_columns, category)},
    {"ts_offset", offsetof(struct csv_columns, ts_offset)},
};
#define N_COLS (sizeof col_names / sizeof col_names[0])

/* Header names (DESIGN.md field names) per column, same order as col_names. */
static const char *const header_names[N_COLS] = {
    "user_id", "item_id",  "type",   "ts",       "event_id",  "session_id",
    "price",   "quantity", "rating", "category", "ts_offset",
};

static int *col_at(struct csv_columns *c, size_t i)
{
    return (int *)((char *)c + col_names[i].off);
}

static void cols_none(struct csv_columns *c)
{
    for (size_t i = 0; i < N_COLS; i++)
        *col_at(c, i) = -1;
}

static int cols_max(struct csv_columns *c)
{
    int m = -1;
    for (size_t i = 0; i < N_COLS; i++)
        if (*col_at(c, i) > m)
            m = *col_at(c, i);
    return m;
}

int csv_parse_columns(const char *spec, struct csv_columns *out, char *errbuf, size_t errlen)
{
    struct csv_columns c;
    cols_none(&c);
    const char *p = spec;
    while (*p) {
        size_t item = strcspn(p, ",");
        const char *s = p;
        size_t l = item;
        while (l && *s == ' ')
            s++, l--;
        while (l && s[l - 1] == ' ')
            l--;
        const char *eq = memchr(s, '=', l);
        size_t i = N_COLS;
        if (eq) {
            size_t nl = (size_t)(eq - s);
            while (nl && s[nl - 1] == ' ')
                nl--;
            for (i = 0; i < N_COLS; i++)
                if (strlen(col_names[i].name) == nl && memcmp(col_names[i].name, s, nl) == 0)
                    break;
        }
        int64_t idx = -1;
        if (!eq || i == N_COLS || fields_parse_i64(eq + 1, l - (size_t)(eq + 1 - s), &idx) != 0 ||
            idx < 0 || idx >= CSV_MAX_FIELDS)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "ingest.columns: invalid item '%.*s' (allowed: name=index with index "
                             "0..%d, names user,item,type,ts,event_id,session,price,quantity,"
                             "rating,category,ts_offset)",
                             (int)item, p, CSV_MAX_FIELDS - 1);
        if (*col_at(&c, i) >= 0)
            return sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.columns: '%s' mapped twice",
                             col_names[i].name);
        *col_at(&c, i) = (int)idx;
        p += item;
        if (*p == ',')
            p++;
    }
    if (c.user < 0 || c.item < 0 || c.ts < 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "ingest.columns: '%s' must map user, item and ts", spec);
    *out = c;
    return 0;
}

struct csv *csv_new(const struct sr_ingest_cfg *cfg, const struct sr_movielens_cfg *ml,
                    char *errbuf, size_t errlen)
{
    struct csv_settings set = {0};
    const char *d = cfg->delimiter;
    if (strcmp(d, "tab") == 0 || strcmp(d, "\\t") == 0 || strcmp(d, "\t") == 0)
        set.delim = '\t';
    else if (strlen(d) == 1 && d[0] != '"' && d[0] != '\n' && d[0] != '\r')
        set.delim = d[0];
    else {
        sr_seterr(errbuf, errlen, SR_ECONFIG,
                  "ingest.delimiter: invalid value '%s' (allowed: one character, or 'tab')", d);
        return NULL;
    }
    if (csv_parse_columns(cfg->columns, &set.cols, errbuf, errlen) != 0)
        return NULL;
    if (fields_typemap_parse(&set.types, cfg->type_map, errbuf, errlen) != 0)
        return NULL;
    set.header = cfg->header;
    set.ts_unit = cfg->ts_unit;
    set.default_type = (enum sr_event_type)cfg->default_type;
    set.positive_rating = ml->positive_rating;

    struct csv *c = calloc(1, sizeof *c);
    if (!c) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    c->set = set;
    csv_reset(c);
    return c;
}

void csv_reset(struct csv *c)
{
    c->cols = c->set.cols;
    c->ts_unit = c->set.ts_unit;
    c->max_col = cols_max(&c->cols);
    c->expect_fields = 0;
    c->first_line = true;
}

/* Splits line in place into c->f; returns the number of fields (may exceed
 * CSV_MAX_FIELDS, only the first ones are kept) or -1 on a broken quote. */
static int split(struct csv *c, char *line, size_t len)
{
    char *p = line, *end = line + len;
    const char delim = c->set.delim;
    int n = 0;
    for (;;) {
        char *fs = p, *fe;
        if (p < end && *p == '"') {
            /* Find the closing quote first, so a broken line stays intact
             * for the report; then unescape "" in place. */
            char *r = p + 1;
            for (;;) {
                if (r == end)
                    return -1; /* unterminated quote */
                if (*r == '"') {
                    if (r + 1 < end && r[1] == '"') {
                        r += 2;
                        continue;
                    }
                    break;
                }
                r++;
            }
            if (r + 1 < end && r[1] != delim)
                return -1; /* text after the closing quote */
            char *w = p;
            for (char *q = p + 1; q < r; q++) {
                *w++ = *q;
                if (*q == '"')
                    q++; /* the second quote of a pair */
            }
            fe = w;
            p = r + 1;
        } else {
            char *q = memchr(p, delim, (size_t)(end - p));
            fe = q ? q : end;
            p = fe;
        }
        if (n < CSV_MAX_FIELDS) {
            c->f[n].p = fs;
            c->f[n].len = (size_t)(fe - fs);
        }
        n++;
        if (p == end)
            return n;
        p++; /* the delimiter */
    }
}

static bool field_is(const struct csv_field *f, const char *name)
{
    size_t l = strlen(name);
    const char *s = f->p;
    size_t fl = f->len;
    while (fl && *s == ' ')
        s++, fl--;
    while (fl && s[fl - 1] == ' ')
        fl--;
    return fl == l && strncasecmp(s, name, l) == 0;
}

/* Header auto: maps columns by name when the line names user_id and item_id. */
static bool map_header(struct csv *c, int n)
{
    int kept = n < CSV_MAX_FIELDS ? n : CSV_MAX_FIELDS;
    struct csv_columns cols;
    cols_none(&cols);
    for (int i = 0; i < kept; i++)
        for (size_t k = 0; k < N_COLS; k++)
            if (*col_at(&cols, k) < 0 && field_is(&c->f[i], header_names[k]))
                *col_at(&cols, k) = i;
    if (cols.user < 0 || cols.item < 0)
        return false;
    c->cols = cols;
    c->ts_unit = SR_TS_MS;
    c->max_col = cols_max(&cols);
    return true;
}

static struct sr_str str_of(const struct csv *c, int col)
{
    struct sr_str s = {NULL, 0};
    if (col >= 0 && c->f[col].len > 0) {
        s.p = c->f[col].p;
        s.len = (uint32_t)c->f[col].len;
    }
    return s;
}

int csv_decode(struct csv *c, char *line, size_t len, struct sr_raw_event *ev, enum src_bad *why)
{
    bool header = true;
    if (c->first_line) {
        c->first_line = false;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
            line += 3;
            len -= 3;
        }
    } else {
        header = false;
    }
    int n = split(c, line, len);
    if (header && c->set.header == SR_HEADER_TRUE) {
        c->expect_fields = n > 0 ? n : 0;
        return SR_EAGAIN;
    }
    if (header && c->set.header == SR_HEADER_AUTO && n > 0 && map_header(c, n)) {
        c->expect_fields = n;
        return SR_EAGAIN;
    }
    if (n < 0 || n <= c->max_col || (c->expect_fields && n != c->expect_fields)) {
        *why = SRC_BAD_FIELDS;
        return SR_EPARSE;
    }
    const struct csv_columns *k = &c->cols;
    memset(ev, 0, sizeof *ev);
    ev->user_id = str_of(c, k->user);
    ev->item_id = str_of(c, k->item);
    if (!ev->user_id.len || !ev->item_id.len) {
        *why = SRC_BAD_ID;
        return SR_EPARSE;
    }
    if (k->ts < 0 || fields_parse_ts(c->f[k->ts].p, c->f[k->ts].len, c->ts_unit, &ev->ts_ms)) {
        *why = SRC_BAD_TS;
        return SR_EPARSE;
    }
    if (k->ts_offset >= 0) {
        int64_t off;
        if (fields_parse_i64(c->f[k->ts_offset].p, c->f[k->ts_offset].len, &off) != 0) {
            *why = SRC_BAD_TS;
            return SR_EPARSE;
        }
        ev->ts_ms += off;
    }
    if (k->rating >= 0) {
        double r;
        if (fields_parse_double(c->f[k->rating].p, c->f[k->rating].len, &r) != 0) {
            *why = SRC_BAD_NUMBER;
            return SR_EPARSE;
        }
        ev->type = r >= c->set.positive_rating ? SR_CLICK : SR_VIEW;
    } else if (k->type >= 0) {
        if (fields_type_lookup(&c->set.types, c->f[k->type].p, c->f[k->type].len, &ev->type)) {
            *why = SRC_BAD_TYPE;
            return SR_EPARSE;
        }
    } else {
        ev->type = c->set.default_type;
    }
    if (k->price >= 0 && c->f[k->price].len > 0) {
        if (fields_parse_double(c->f[k->price].p, c->f[k->price].len, &ev->price) != 0) {
            *why = SRC_BAD_NUMBER;
            return SR_EPARSE;
        }
        ev->has_price = true;
    }
    if (k->quantity >= 0 && c->f[k->quantity].len > 0) {
        int64_t q;
        if (fields_parse_i64(c->f[k->quantity].p, c->f[k->quantity].len, &q) != 0 ||
            q < INT32_MIN || q > INT32_MAX) {
            *why = SRC_BAD_NUMBER;
            return SR_EPARSE;
        }
        ev->quantity = (int32_t)q;
        ev->has_quantity = true;
    }
    ev->event_id = str_of(c, k->event_id);
    ev->session_id = str_of(c, k->session);
    ev->category = str_of(c, k->category);
    return 0;
}

void csv_free(struct csv *c)
{
    free(c);
}
