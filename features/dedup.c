/* features/dedup.c - de-duplication: a bounded memory of recent event keys.
 *
 * A key is the 64-bit xxhash of the producer's event_id or, for events
 * without one, of (user, item, type, ts). Keys sit in a 4-way set-associative
 * table: a key hashes to one bucket of four entries (one cache line), a new
 * key takes an empty way or evicts the way with the oldest event time. So a
 * lookup or an insert touches one cache line, memory is fixed at feat_new,
 * and the table remembers about dedup_capacity keys; a key can be forgotten
 * early only when four newer keys land in its bucket, which at the default
 * capacity means far more events per window than any dataset has. Two
 * different events whose keys collide (probability ~2^-64 per pair) would be
 * taken for repeats; that risk is accepted. */
#include "core/err.h"
#include "features/feat_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SEED_EVENT_ID 0x5e1d5eedull
#define SEED_REPEAT   0x2e9ea7ull

int feat_dedup_init(struct feat_dedup *d, int64_t window_ms, int64_t capacity)
{
    memset(d, 0, sizeof *d);
    d->window_ms = window_ms;
    if (window_ms <= 0)
        return 0;
    size_t want = capacity > 0 ? (size_t)capacity : 1;
    size_t nb = 1;
    while (nb * FEAT_DEDUP_WAYS < want)
        nb <<= 1;
    size_t bytes = nb * FEAT_DEDUP_WAYS * sizeof *d->ents; /* a multiple of 64 */
    d->ents = aligned_alloc(64, bytes);
    if (!d->ents)
        return SR_ENOMEM;
    memset(d->ents, 0, bytes);
    d->n_buckets = nb;
    return 0;
}

void feat_dedup_free(struct feat_dedup *d)
{
    if (!d)
        return;
    free(d->ents);
    d->ents = NULL;
    d->n_buckets = 0;
}

uint64_t feat_dedup_key(const struct sr_raw_event *raw)
{
    uint64_t h;
    if (raw->event_id.p && raw->event_id.len > 0) {
        h = XXH3_64bits_withSeed(raw->event_id.p, raw->event_id.len, SEED_EVENT_ID);
    } else {
        /* [u8 ulen][user][u8 ilen][item][u8 type][i64 ts]; ids are validated
         * to at most SR_MAX_ID_LEN bytes before this is called. */
        unsigned char buf[2 * (SR_MAX_ID_LEN + 1) + 1 + sizeof(int64_t)];
        size_t n = 0;
        buf[n++] = (unsigned char)raw->user_id.len;
        memcpy(buf + n, raw->user_id.p, raw->user_id.len);
        n += raw->user_id.len;
        buf[n++] = (unsigned char)raw->item_id.len;
        memcpy(buf + n, raw->item_id.p, raw->item_id.len);
        n += raw->item_id.len;
        buf[n++] = (unsigned char)raw->type;
        memcpy(buf + n, &raw->ts_ms, sizeof raw->ts_ms);
        n += sizeof raw->ts_ms;
        h = XXH3_64bits_withSeed(buf, n, SEED_REPEAT);
    }
    return h ? h : 1; /* 0 marks an empty way */
}

static inline struct feat_dedup_ent *bucket_of(const struct feat_dedup *d, uint64_t key)
{
    return d->ents + (size_t)(key & (d->n_buckets - 1)) * FEAT_DEDUP_WAYS;
}

static inline int64_t abs_diff(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

bool feat_dedup_seen(const struct feat_dedup *d, uint64_t key, int64_t ts)
{
    if (d->window_ms <= 0)
        return false;
    const struct feat_dedup_ent *b = bucket_of(d, key);
    for (int w = 0; w < FEAT_DEDUP_WAYS; w++)
        if (b[w].key == key)
            return abs_diff(b[w].ts, ts) <= d->window_ms;
    return false;
}

void feat_dedup_remember(struct feat_dedup *d, uint64_t key, int64_t ts)
{
    if (d->window_ms <= 0)
        return;
    struct feat_dedup_ent *b = bucket_of(d, key);
    int victim = 0;
    for (int w = 0; w < FEAT_DEDUP_WAYS; w++) {
        if (b[w].key == key) {
            /* A repeat outside the window: keep the latest time. */
            if (ts > b[w].ts)
                b[w].ts = ts;
            return;
        }
        if (b[victim].key != 0 && (b[w].key == 0 || b[w].ts < b[victim].ts))
            victim = w;
    }
    b[victim].key = key;
    b[victim].ts = ts;
}

size_t feat_dedup_bytes(const struct feat_dedup *d)
{
    return d->n_buckets * FEAT_DEDUP_WAYS * sizeof(struct feat_dedup_ent);
}
