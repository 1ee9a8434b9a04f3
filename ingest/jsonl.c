/* ingest/jsonl.c - one jansson parse per line, fields looked up by name. */
#include "ingest/jsonl.h"
#include "core/err.h"
#include "ingest/fields.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUMBUF_USER = 0, NUMBUF_ITEM, NUMBUF_EVENT, NUMBUF_SESSION, NUMBUF_CATEGORY, NUMBUF_COUNT };

struct jsonl {
    /* settings */
    struct fields_typemap types;
    enum sr_event_type default_type;
    /* state: the last parsed document, owner of the borrowed strings */
    json_t *root;
    /* scratch: integer ids formatted as text */
    char num[NUMBUF_COUNT][24];
};

struct jsonl *jsonl_new(const struct sr_ingest_cfg *cfg, char *errbuf, size_t errlen)
{
    struct jsonl *j = calloc(1, sizeof *j);
    if (!j) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    if (fields_typemap_parse(&j->types, cfg->type_map, errbuf, errlen) != 0) {
        free(j);
        return NULL;
    }
    j->default_type = (enum sr_event_type)cfg->default_type;
    return j;
}

/* A string-or-integer field. Returns 1 when present, 0 when absent or null,
 * -1 when of another type. */
static int get_str(struct jsonl *j, const char *key, int buf, struct sr_str *out)
{
    json_t *v = json_object_get(j->root, key);
    out->p = NULL;
    out->len = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        out->p = json_string_value(v);
        out->len = (uint32_t)json_string_length(v);
        return 1;
    }
    if (json_is_integer(v)) {
        int n = snprintf(j->num[buf], sizeof j->num[buf], "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
        out->p = j->num[buf];
        out->len = (uint32_t)n;
        return 1;
    }
    return -1;
}

static int bad(enum src_bad *why, enum src_bad r)
{
    *why = r;
    return SR_EPARSE;
}

int jsonl_decode(struct jsonl *j, const char *line, size_t len, struct sr_raw_event *ev,
                 enum src_bad *why)
{
    json_decref(j->root);
    json_error_t jerr;
    j->root = json_loadb(line, len, 0, &jerr);
    if (!j->root || !json_is_object(j->root))
        return bad(why, SRC_BAD_JSON);
    memset(ev, 0, sizeof *ev);

    int ru = get_str(j, "user_id", NUMBUF_USER, &ev->user_id);
    int ri = get_str(j, "item_id", NUMBUF_ITEM, &ev->item_id);
    if (ru <= 0 || ri <= 0) /* missing, null or not a string/integer */
        return bad(why, SRC_BAD_JSON);
    if (ev->user_id.len == 0 || ev->item_id.len == 0)
        return bad(why, SRC_BAD_ID);

    json_t *ts = json_object_get(j->root, "ts");
    if (json_is_integer(ts)) {
        ev->ts_ms = json_integer_value(ts);
    } else if (json_is_real(ts) && fabs(json_real_value(ts)) < 9e18) {
        ev->ts_ms = (int64_t)json_real_value(ts);
    } else if (json_is_string(ts)) {
        if (fields_parse_ts(json_string_value(ts), json_string_length(ts), SR_TS_MS, &ev->ts_ms) !=
            0)
            return bad(why, SRC_BAD_TS);
    } else {
        return bad(why, SRC_BAD_TS);
    }

    json_t *type = json_object_get(j->root, "type");
    if (!type || json_is_null(type)) {
        ev->type = j->default_type;
    } else if (!json_is_string(type) ||
               fields_type_lookup(&j->types, json_string_value(type), json_string_length(type),
                                  &ev->type) != 0) {
        return bad(why, SRC_BAD_TYPE);
    }

    json_t *price = json_object_get(j->root, "price");
    if (price && !json_is_null(price)) {
        if (!json_is_number(price) || !isfinite(json_number_value(price)))
            return bad(why, SRC_BAD_NUMBER);
        ev->price = json_number_value(price);
        ev->has_price = true;
    }
    json_t *qty = json_object_get(j->root, "quantity");
    if (qty && !json_is_null(qty)) {
        if (!json_is_integer(qty) || json_integer_value(qty) < INT32_MIN ||
            json_integer_value(qty) > INT32_MAX)
            return bad(why, SRC_BAD_NUMBER);
        ev->quantity = (int32_t)json_integer_value(qty);
        ev->has_quantity = true;
    }

    if (get_str(j, "event_id", NUMBUF_EVENT, &ev->event_id) < 0 ||
        get_str(j, "session_id", NUMBUF_SESSION, &ev->session_id) < 0 ||
        get_str(j, "category", NUMBUF_CATEGORY, &ev->category) < 0)
        return bad(why, SRC_BAD_JSON);
    return 0;
}

void jsonl_free(struct jsonl *j)
{
    if (!j)
        return;
    json_decref(j->root);
    free(j);
}
