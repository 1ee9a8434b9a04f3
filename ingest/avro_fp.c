/* ingest/avro_fp.c - Parsing Canonical Form (jansson) and CRC-64-AVRO.
 *
 * Both follow the Avro specification, sections "Parsing Canonical Form for
 * Schemas" and "Schema Fingerprints". */
#include "ingest/avro_fp.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC-64-AVRO -----------------------------------------------------
 *
 * The specification's reference code is table-driven: EMPTY (the
 * fingerprint of zero bytes) is both the initial value and the reflected
 * polynomial, table[i] is i shifted through eight steps, and each byte does
 * fp = (fp >> 8) ^ table[(fp ^ byte) & 0xff]; no final xor. The table only
 * caches those eight steps, so they are done inline here: fingerprints are
 * computed when schemas are loaded, never per message, and no global state
 * is needed. */
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t avro_fp_crc64(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t fp = CRC64_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

/* ---- Parsing Canonical Form ------------------------------------------ */

/* A growing output string; failed is sticky (out of memory). */
struct sb {
    char *p;
    size_t len, cap;
    bool failed;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_lit(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* [STRINGS]: strings are written as UTF-8, unescaped. Avro names and
 * symbols cannot hold quotes, backslashes or control characters; should a
 * schema have them anyway, they are escaped so the output stays JSON. */
static void sb_str(struct sb *b, const char *s, size_t n)
{
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_put(b, e, 6);
        } else {
            sb_put(b, s + i, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static bool is_primitive(const char *t)
{
    static const char *const prim[] = {"null",  "boolean", "int",   "long",
                                       "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof prim / sizeof prim[0]; i++)
        if (strcmp(t, prim[i]) == 0)
            return true;
    return false;
}

/* [FULLNAMES]: a name with a dot is already full; otherwise it is
 * qualified by the namespace in effect (none when ns is empty). */
static void sb_fullname(struct sb *b, const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns) {
        sb_str(b, name, strlen(name));
        return;
    }
    size_t nl = strlen(ns), ml = strlen(name);
    char *full = malloc(nl + 1 + ml + 1);
    if (!full) {
        b->failed = true;
        return;
    }
    memcpy(full, ns, nl);
    full[nl] = '.';
    memcpy(full + nl + 1, name, ml + 1);
    sb_str(b, full, nl + 1 + ml);
    free(full);
}

#define MAX_DEPTH 64

static int pcf(struct sb *b, json_t *s, const char *ns, int depth, char *errbuf, size_t errlen);

/* A named type (record, error, enum, fixed): [ORDER] name, type, then
 * fields / symbols / size; [STRIP] everything else (doc, aliases, default,
 * order, logicalType, namespace after it has been folded into name). */
static int pcf_named(struct sb *b, json_t *s, const char *type, const char *ns, int depth,
                     char *errbuf, size_t errlen)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name || !*name)
        return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: %s without a name", type);
    /* The namespace this type defines for the names inside it. */
    char *inner_ns = NULL;
    const char *dot = strrchr(name, '.');
    if (dot) {
        inner_ns = strndup(name, (size_t)(dot - name));
    } else {
        json_t *nsv = json_object_get(s, "namespace");
        const char *own = json_is_string(nsv) ? json_string_value(nsv) : ns;
        inner_ns = strdup(own ? own : "");
    }
    if (!inner_ns)
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
    int rc = 0;
    sb_lit(b, "{\"name\":");
    sb_fullname(b, name, inner_ns);
    sb_lit(b, ",\"type\":");
    sb_str(b, type, strlen(type));
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        json_t *fields = json_object_get(s, "fields");
        if (!json_is_array(fields)) {
            rc = sr_seterr(errbuf, errlen, SR_EPARSE, "schema: record %s without fields", name);
            goto done;
        }
        sb_lit(b, ",\"fields\":[");
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(f, "name"));
            json_t *ftype = json_object_get(f, "type");
            if (!fname || !ftype) {
                rc = sr_seterr(errbuf, errlen, SR_EPARSE,
                               "schema: record %s: field %zu lacks a name or type", name, i);
                goto done;
            }
            sb_lit(b, i ? ",{\"name\":" : "{\"name\":");
            sb_str(b, fname, strlen(fname));
            sb_lit(b, ",\"type\":");
            if ((rc = pcf(b, ftype, inner_ns, depth + 1, errbuf, errlen)) != 0)
                goto done;
            sb_lit(b, "}");
        }
        sb_lit(b, "]");
    } else if (strcmp(type, "enum") == 0) {
        json_t *syms = json_object_get(s, "symbols");
        if (!json_is_array(syms)) {
            rc = sr_seterr(errbuf, errlen, SR_EPARSE, "schema: enum %s without symbols", name);
            goto done;
        }
        sb_lit(b, ",\"symbols\":[");
        for (size_t i = 0; i < json_array_size(syms); i++) {
            json_t *sym = json_array_get(syms, i);
            if (!json_is_string(sym)) {
                rc = sr_seterr(errbuf, errlen, SR_EPARSE,
                               "schema: enum %s: a symbol is not a string", name);
                goto done;
            }
            if (i)
                sb_lit(b, ",");
            sb_str(b, json_string_value(sym), json_string_length(sym));
        }
        sb_lit(b, "]");
    } else { /* fixed; [INTEGERS]: no leading zeros, no sign */
        json_t *size = json_object_get(s, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            rc = sr_seterr(errbuf, errlen, SR_EPARSE, "schema: fixed %s without a size", name);
            goto done;
        }
        char num[32];
        snprintf(num, sizeof num, ",\"size\":%" JSON_INTEGER_FORMAT, json_integer_value(size));
        sb_lit(b, num);
    }
    sb_lit(b, "}");
done:
    free(inner_ns);
    return rc;
}

static int pcf(struct sb *b, json_t *s, const char *ns, int depth, char *errbuf, size_t errlen)
{
    if (depth > MAX_DEPTH)
        return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: nested deeper than %d", MAX_DEPTH);
    if (json_is_string(s)) {
        /* [PRIMITIVES] as themselves; a name refers to a defined type. */
        const char *t = json_string_value(s);
        if (is_primitive(t))
            sb_str(b, t, strlen(t));
        else
            sb_fullname(b, t, ns);
        return 0;
    }
    if (json_is_array(s)) { /* a union */
        sb_lit(b, "[");
        for (size_t i = 0; i < json_array_size(s); i++) {
            if (i)
                sb_lit(b, ",");
            int rc = pcf(b, json_array_get(s, i), ns, depth + 1, errbuf, errlen);
            if (rc)
                return rc;
        }
        sb_lit(b, "]");
        return 0;
    }
    if (!json_is_object(s))
        return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: not a string, array or object");
    json_t *tv = json_object_get(s, "type");
    if (!tv)
        return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: object without \"type\"");
    if (!json_is_string(tv)) /* {"type": {...}} or {"type": [...]} */
        return pcf(b, tv, ns, depth + 1, errbuf, errlen);
    const char *type = json_string_value(tv);
    if (is_primitive(type)) { /* {"type":"long","logicalType":...} -> "long" */
        sb_str(b, type, strlen(type));
        return 0;
    }
    if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
        !strcmp(type, "fixed"))
        return pcf_named(b, s, type, ns, depth, errbuf, errlen);
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        bool arr = type[0] == 'a';
        json_t *sub = json_object_get(s, arr ? "items" : "values");
        if (!sub)
            return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: %s without \"%s\"", type,
                             arr ? "items" : "values");
        sb_lit(b, arr ? "{\"type\":\"array\",\"items\":" : "{\"type\":\"map\",\"values\":");
        int rc = pcf(b, sub, ns, depth + 1, errbuf, errlen);
        if (rc)
            return rc;
        sb_lit(b, "}");
        return 0;
    }
    return pcf(b, tv, ns, depth + 1, errbuf, errlen); /* {"type":"SomeName"} */
}

int avro_fp_canonical(const char *json, size_t len, char **out, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return sr_seterr(errbuf, errlen, SR_EPARSE, "schema: not JSON: %s (line %d)", jerr.text,
                         jerr.line);
    struct sb b = {0};
    int rc = pcf(&b, root, "", 0, errbuf, errlen);
    json_decref(root);
    if (rc == 0 && (b.failed || !b.p))
        rc = sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

int avro_fp_schema(const char *json, size_t len, uint64_t *fp, char *errbuf, size_t errlen)
{
    char *pcf_text;
    int rc = avro_fp_canonical(json, len, &pcf_text, errbuf, errlen);
    if (rc)
        return rc;
    *fp = avro_fp_crc64(pcf_text, strlen(pcf_text));
    free(pcf_text);
    return 0;
}
