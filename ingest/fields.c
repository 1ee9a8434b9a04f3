/* ingest/fields.c - timestamp, number and type-name conversions. */
#include "ingest/fields.h"
#include "core/config.h"
#include "core/err.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

int fields_typemap_parse(struct fields_typemap *m, const char *spec, char *errbuf, size_t errlen)
{
    m->n = 0;
    const char *p = spec;
    while (*p) {
        size_t item = strcspn(p, ",");
        const char *eq = memchr(p, '=', item);
        const char *name = p, *type = eq ? eq + 1 : NULL;
        size_t nlen = eq ? (size_t)(eq - p) : item;
        size_t tlen = eq ? item - nlen - 1 : 0;
        trim(&name, &nlen);
        if (type)
            trim(&type, &tlen);
        enum sr_event_type t;
        if (!eq || nlen == 0 || nlen >= FIELDS_TYPENAME_MAX ||
            sr_event_type_parse(type, tlen, &t) != 0)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "ingest.type_map: invalid item '%.*s' (allowed: name=TYPE pairs, "
                             "TYPE one of VIEW|CLICK|ADD_TO_CART|FAVORITE|PURCHASE)",
                             (int)item, p);
        if (m->n == FIELDS_TYPEMAP_MAX)
            return sr_seterr(errbuf, errlen, SR_ECONFIG, "ingest.type_map: more than %d names",
                             FIELDS_TYPEMAP_MAX);
        memcpy(m->e[m->n].name, name, nlen);
        m->e[m->n].name[nlen] = '\0';
        m->e[m->n].len = nlen;
        m->e[m->n].type = t;
        m->n++;
        p += item;
        if (*p == ',')
            p++;
    }
    return 0;
}

int fields_type_lookup(const struct fields_typemap *m, const char *s, size_t len,
                       enum sr_event_type *out)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].len == len && memcmp(m->e[i].name, s, len) == 0) {
            *out = m->e[i].type;
            return 0;
        }
    if (sr_event_type_parse(s, len, out) == 0)
        return 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].len == len && strncasecmp(m->e[i].name, s, len) == 0) {
            *out = m->e[i].type;
            return 0;
        }
    trim(&s, &len);
    return len ? sr_event_type_parse(s, len, out) : SR_EPARSE;
}

int64_t fields_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p; returns false when any is not a digit. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || (unsigned)(**p - '0') > 9)
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static int parse_iso(const char *s, const char *end, int64_t *ms)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &d))
        return SR_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return SR_EPARSE;
    if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
        p++;
        if (!digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi))
            return SR_EPARSE;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &sec))
                return SR_EPARSE;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                int nd = 0;
                while (p < end && (unsigned)(*p - '0') <= 9) {
                    if (nd < 3)
                        frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return SR_EPARSE;
                for (; nd < 3; nd++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return SR_EPARSE;
    }
    int64_t offset_min = 0;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-') && p > s + 10) {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!digits(&p, end, 2, &oh))
            return SR_EPARSE;
        if (p < end && *p == ':')
            p++;
        if (p < end && !digits(&p, end, 2, &om))
            return SR_EPARSE;
        offset_min = sign * (oh * 60 + om);
    }
    if (p != end)
        return SR_EPARSE;
    int64_t days = fields_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + frac;
    return 0;
}

int fields_parse_ts(const char *s, size_t len, int unit, int64_t *ms)
{
    trim(&s, &len);
    const char *p = s, *end = s + len;
    if (len >= 10 && s[4] == '-')
        return parse_iso(s, end, ms);
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    int64_t ip = 0;
    int nd = 0;
    while (p < end && (unsigned)(*p - '0') <= 9) {
        if (nd == 18)
            return SR_EPARSE;
        ip = ip * 10 + (*p++ - '0');
        nd++;
    }
    int64_t frac_ms = 0; /* fraction of the unit, in ms, for unit s */
    int fd = 0;
    if (p < end && *p == '.') {
        p++;
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (fd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            fd++;
            p++;
        }
        if (nd == 0 && fd == 0)
            return SR_EPARSE;
        for (int i = fd; i < 3; i++)
            frac_ms *= 10;
    }
    if (p != end || (nd == 0 && fd == 0))
        return SR_EPARSE;
    int64_t v;
    switch (unit) {
    case SR_TS_S:
        if (ip > INT64_MAX / 1000 - 1)
            return SR_EPARSE;
        v = ip * 1000 + frac_ms;
        break;
    case SR_TS_MS:
        v = ip;
        break;
    case SR_TS_US:
        v = ip / 1000;
        break;
    default:
        return SR_EPARSE;
    }
    *ms = neg ? -v : v;
    return 0;
}

int fields_parse_i64(const char *s, size_t len, int64_t *out)
{
    trim(&s, &len);
    const char *p = s, *end = s + len;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == end)
        return SR_EPARSE;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9)
            return SR_EPARSE;
        if (v > (UINT64_MAX - d) / 10)
            return SR_ERANGE;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return SR_ERANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int fields_parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    trim(&s, &len);
    if (len == 0 || len >= sizeof buf)
        return SR_EPARSE;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + len || !isfinite(v))
        return SR_EPARSE;
    *out = v;
    return 0;
}
