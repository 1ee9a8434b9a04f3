/* ingest/avro_event.c - resolved reading of streamrec.Event records. */
#include "ingest/avro_event.h"
#include "core/err.h"
#include "ingest/schema.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { F_EVENT_ID = 0, F_TS, F_USER, F_ITEM, F_TYPE, F_PRICE, F_QUANTITY, F_SESSION, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "event_id", "ts", "user_id", "item_id", "type", "price", "quantity", "session_id",
};

#define MAX_SYMBOLS 64

struct avro_event {
    avro_schema_t reader;           /* canonical, restricted to the writer's fields */
    avro_value_iface_t *reader_cls; /* generic class of reader */
    avro_value_iface_t *resolver;   /* writer -> reader */
    avro_value_t value;             /* reader instance, filled through input */
    avro_value_t input;             /* resolved-writer instance */
    avro_reader_t mem;              /* for avro_event_decode(), created on first use */
    int idx[F_COUNT];               /* field index in reader, -1 when the writer lacks it */
    int n_symbols;
    signed char type_of_symbol[MAX_SYMBOLS]; /* reader enum index -> enum sr_event_type */
};

/* The canonical schema restricted to the fields writer has, as a new schema. */
static int restricted_reader(avro_schema_t writer, avro_schema_t *out, char *errbuf, size_t errlen)
{
    const char *text = ingest_event_schema_json();
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "canonical event schema: %s", jerr.text);
    int rc = 0;
    json_t *fields = json_object_get(root, "fields");
    if (writer) {
        size_t i = 0;
        while (i < json_array_size(fields)) {
            json_t *f = json_array_get(fields, i);
            const char *name = json_string_value(json_object_get(f, "name"));
            /* (avro_schema_record_field_get() does not return NULL for an
             * absent field in Avro C 1.11; the index lookup does say -1.) */
            if (avro_schema_record_field_get_index(writer, name) >= 0) {
                i++;
                continue;
            }
            if (!json_object_get(f, "default")) {
                rc = sr_seterr(errbuf, errlen, SR_EINVAL,
                               "writer schema %s has no field '%s', which streamrec.Event requires",
                               avro_schema_name(writer), name);
                goto done;
            }
            json_array_remove(fields, i);
        }
        /* Avro C resolves enums by index, not by symbol: give the reader
         * the writer's symbols, so both agree under either behaviour, and
         * map symbols to types by name in avro_event_new(). */
        int ti = avro_schema_record_field_get_index(writer, "type");
        avro_schema_t wt = ti >= 0 ? avro_schema_record_field_get_by_index(writer, ti) : NULL;
        json_t *rt = NULL;
        for (size_t k = 0; k < json_array_size(fields); k++) {
            json_t *f = json_array_get(fields, k);
            if (strcmp(json_string_value(json_object_get(f, "name")), "type") == 0)
                rt = json_object_get(f, "type");
        }
        if (wt && is_avro_enum(wt) && json_is_object(rt)) {
            json_t *syms = json_array();
            for (int k = 0; k < avro_schema_enum_number_of_symbols(wt); k++)
                json_array_append_new(syms, json_string(avro_schema_enum_get(wt, k)));
            json_object_set_new(rt, "symbols", syms);
        }
    }
    char *json = json_dumps(root, JSON_COMPACT);
    if (!json) {
        rc = sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        goto done;
    }
    if (avro_schema_from_json_length(json, strlen(json), out) != 0)
        rc = sr_seterr(errbuf, errlen, SR_EINVAL, "event reader schema: %s", avro_strerror());
    free(json);
done:
    json_decref(root);
    return rc;
}

struct avro_event *avro_event_new(avro_schema_t writer, char *errbuf, size_t errlen)
{
    if (writer && !is_avro_record(writer)) {
        sr_seterr(errbuf, errlen, SR_EINVAL, "writer schema is not a record");
        return NULL;
    }
    struct avro_event *d = calloc(1, sizeof *d);
    if (!d) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        return NULL;
    }
    if (restricted_reader(writer, &d->reader, errbuf, errlen) != 0)
        goto err_free_decoder;
    d->reader_cls = avro_generic_class_from_schema(d->reader);
    if (!d->reader_cls) {
        sr_seterr(errbuf, errlen, SR_EINVAL, "event reader schema: %s", avro_strerror());
        goto err_free_reader;
    }
    d->resolver = avro_resolved_writer_new(writer ? writer : d->reader, d->reader);
    if (!d->resolver) {
        sr_seterr(errbuf, errlen, SR_EINVAL,
                  "writer schema %s does not resolve to streamrec.Event: %s",
                  writer ? avro_schema_name(writer) : "(canonical)", avro_strerror());
        goto err_free_class;
    }
    if (avro_generic_value_new(d->reader_cls, &d->value) != 0)
        goto err_oom_resolver;
    if (avro_resolved_writer_new_value(d->resolver, &d->input) != 0)
        goto err_oom_value;
    avro_resolved_writer_set_dest(&d->input, &d->value);

    for (int f = 0; f < F_COUNT; f++)
        d->idx[f] = avro_schema_record_field_get_index(d->reader, field_names[f]);
    avro_schema_t type = avro_schema_record_field_get(d->reader, "type");
    d->n_symbols = (int)avro_schema_enum_number_of_symbols(type);
    for (int i = 0; i < d->n_symbols && i < MAX_SYMBOLS; i++) {
        const char *sym = avro_schema_enum_get(type, i);
        enum sr_event_type t;
        d->type_of_symbol[i] =
            (signed char)(sr_event_type_parse(sym, strlen(sym), &t) == 0 ? (int)t : -1);
    }
    return d;

err_oom_value:
    avro_value_decref(&d->value);
err_oom_resolver:
    sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory: %s", avro_strerror());
    avro_value_iface_decref(d->resolver);
err_free_class:
    avro_value_iface_decref(d->reader_cls);
err_free_reader:
    avro_schema_decref(d->reader);
err_free_decoder:
    free(d);
    return NULL;
}

avro_value_t *avro_event_input(struct avro_event *d)
{
    return &d->input;
}

/* Field f of the record, stepping into a union's current branch; false
 * when absent from the writer or null. */
static bool field(struct avro_event *d, int f, avro_value_t *out)
{
    if (d->idx[f] < 0 || avro_value_get_by_index(&d->value, (size_t)d->idx[f], out, NULL) != 0)
        return false;
    if (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t branch;
        if (avro_value_get_current_branch(out, &branch) != 0)
            return false;
        *out = branch;
    }
    return avro_value_get_type(out) != AVRO_NULL;
}

static bool get_string(struct avro_event *d, int f, struct sr_str *s)
{
    avro_value_t v;
    const char *p;
    size_t size;
    s->p = NULL;
    s->len = 0;
    if (!field(d, f, &v) || avro_value_get_string(&v, &p, &size) != 0)
        return false;
    if (size > 0 && p[size - 1] == '\0') /* Avro C counts the terminating NUL */
        size--;
    s->p = p;
    s->len = (uint32_t)size;
    return true;
}

int avro_event_get(struct avro_event *d, struct sr_raw_event *ev, enum src_bad *why)
{
    avro_value_t v;
    memset(ev, 0, sizeof *ev);
    if (!get_string(d, F_USER, &ev->user_id) || !get_string(d, F_ITEM, &ev->item_id)) {
        *why = SRC_BAD_AVRO;
        return SR_EPARSE;
    }
    if (ev->user_id.len == 0 || ev->item_id.len == 0) {
        *why = SRC_BAD_ID;
        return SR_EPARSE;
    }
    int sym;
    if (!field(d, F_TS, &v) || avro_value_get_long(&v, &ev->ts_ms) != 0 || !field(d, F_TYPE, &v) ||
        avro_value_get_enum(&v, &sym) != 0 || sym < 0 || sym >= d->n_symbols ||
        sym >= MAX_SYMBOLS || d->type_of_symbol[sym] < 0) {
        *why = SRC_BAD_AVRO;
        return SR_EPARSE;
    }
    ev->type = (enum sr_event_type)d->type_of_symbol[sym];
    if (field(d, F_PRICE, &v) && avro_value_get_double(&v, &ev->price) == 0)
        ev->has_price = true;
    if (field(d, F_QUANTITY, &v) && avro_value_get_int(&v, &ev->quantity) == 0)
        ev->has_quantity = true;
    get_string(d, F_EVENT_ID, &ev->event_id);
    get_string(d, F_SESSION, &ev->session_id);
    return 0;
}

int avro_event_decode(struct avro_event *d, const void *buf, size_t len, struct sr_raw_event *ev,
                      enum src_bad *why)
{
    if (!d->mem) {
        d->mem = avro_reader_memory(buf, (int64_t)len);
        if (!d->mem) {
            *why = SRC_BAD_AVRO;
            return SR_ENOMEM;
        }
    } else {
        avro_reader_memory_set_source(d->mem, buf, (int64_t)len);
    }
    /* Avro C's memory reader cannot tell whether bytes are left over. */
    if (avro_value_read(d->mem, &d->input) != 0) {
        *why = SRC_BAD_AVRO;
        return SR_EPARSE;
    }
    return avro_event_get(d, ev, why);
}

void avro_event_free(struct avro_event *d)
{
    if (!d)
        return;
    if (d->mem)
        avro_reader_free(d->mem);
    avro_value_decref(&d->input);
    avro_value_decref(&d->value);
    avro_value_iface_decref(d->resolver);
    avro_value_iface_decref(d->reader_cls);
    avro_schema_decref(d->reader);
    free(d);
}
