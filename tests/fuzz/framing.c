/* tests/fuzz/framing.c - libFuzzer target: Kafka message payloads through
 * fr_decode (ingest/framing.h): framing detection, Confluent ids and
 * single-object fingerprints, Avro schema resolution against two writer
 * schemas that differ from the canonical one, and JSON.
 *
 * Oracle besides the sanitizers: a message that decodes must re-encode in
 * every framing (unless fr_encode refuses the event) and decode back to the
 * same event. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/framing.h"
#include "tests/fuzz/fuzz_common.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fr *g_fr; /* the codec under test, built once */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    snprintf(cfg.ingest.type_map, sizeof cfg.ingest.type_map, "%s", FUZZ_TYPE_MAP);
    fuzz_schema_dir(&cfg.ingest);
    char err[512];
    g_fr = fr_new(&cfg.ingest, err, sizeof err);
    /* fr_new read the schema dir: remove it so runs leave nothing behind. */
    char path[1024];
    const char *names[] = {"7.avsc", "8.avsc", "README.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", cfg.ingest.schema_dir, names[i]);
        unlink(path);
    }
    rmdir(cfg.ingest.schema_dir);
    if (!g_fr) {
        fprintf(stderr, "fuzz framing: fr_new: %s\n", err);
        exit(1);
    }
    return 0;
}

/* An owned copy of a decoded event (decoded strings are borrowed from g_fr). */
struct ev_copy {
    struct sr_raw_event ev;
    char buf[5][1024];
};

static void copy_str(struct sr_str *s, char *buf, size_t cap)
{
    if (!s->p)
        return;
    if (s->len >= cap)
        abort(); /* decoded strings are bounded by the message size */
    memcpy(buf, s->p, s->len);
    s->p = buf;
}

static void copy_event(const struct sr_raw_event *ev, struct ev_copy *c)
{
    c->ev = *ev;
    copy_str(&c->ev.event_id, c->buf[0], sizeof c->buf[0]);
    copy_str(&c->ev.user_id, c->buf[1], sizeof c->buf[1]);
    copy_str(&c->ev.item_id, c->buf[2], sizeof c->buf[2]);
    copy_str(&c->ev.session_id, c->buf[3], sizeof c->buf[3]);
    copy_str(&c->ev.category, c->buf[4], sizeof c->buf[4]);
}

static int str_same(struct sr_str a, struct sr_str b)
{
    if (!a.p || !b.p)
        return !a.p && !b.p;
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static void check_round_trip(const struct sr_raw_event *orig)
{
    for (int fmt = 0; fmt < FR_FORMAT_COUNT; fmt++) {
        const void *enc;
        size_t len;
        if (fr_encode(g_fr, (enum fr_format)fmt, orig, &enc, &len) != 0)
            continue; /* not representable in this framing: refused, fine */
        unsigned char *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, enc, len);
        struct sr_raw_event back;
        struct fr_status st;
        int rc = fr_decode(g_fr, msg, len, &back, &st);
        if (rc != 0) {
            fprintf(stderr, "round trip (%s): %s: %s\n", fr_format_name((enum fr_format)fmt),
                    fr_reason_name(st.reason), st.detail);
            abort();
        }
        if (back.ts_ms != orig->ts_ms || back.type != orig->type ||
            !str_same(back.user_id, orig->user_id) || !str_same(back.item_id, orig->item_id) ||
            !str_same(back.event_id, orig->event_id) ||
            !str_same(back.session_id, orig->session_id) || back.has_price != orig->has_price ||
            (orig->has_price && back.price != orig->price) ||
            back.has_quantity != orig->has_quantity ||
            (orig->has_quantity && back.quantity != orig->quantity)) {
            fprintf(stderr, "round trip (%s) changed the event\n",
                    fr_format_name((enum fr_format)fmt));
            abort();
        }
        free(msg);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sr_raw_event ev;
    struct fr_status st;
    memset(&st, 0xA5, sizeof st); /* fr_decode must fill st whatever happens */
    int rc = fr_decode(g_fr, data, size, &ev, &st);
    if (memchr(st.detail, '\0', sizeof st.detail) == NULL)
        abort();
    if ((rc == 0) != (st.reason == FR_OK) || (int)st.reason < 0 || st.reason >= FR_REASON_COUNT)
        abort();
    if (rc == SR_ENOMEM)
        return 0;
    if (rc != 0) {
        if (rc != SR_EPARSE || st.detail[0] == '\0')
            abort();
        return 0;
    }
    if ((int)ev.type < 0 || ev.type >= SR_EVENT_TYPE_COUNT)
        abort();
    if (ev.has_price && !isfinite(ev.price))
        return 0; /* accepted but not re-encodable; nothing more to check */
    struct ev_copy *c = malloc(sizeof *c);
    if (!c)
        abort();
    copy_event(&ev, c);
    check_round_trip(&c->ev);
    free(c);
    return 0;
}
