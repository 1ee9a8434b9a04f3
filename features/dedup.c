/* features/dedup.c - de-duplication: a bounded memory of recent event keys.
 *
 * A key is the 64-bit xxhash of the producer's event_id or, for events
 * without one, of (user, item, type, ts). Remembered keys sit in a FIFO ring
 * of dedup_capacity entries (admission order) with an open-addressing index
 * over it (linear probing, backward-shift deletion). Two things drop a key:
 *   - expiry: once the watermark has moved so far that no admissible event
 *     (time >= watermark - allowed_lateness) can fall within dedup_window of
 *     it, the key is useless; keys leave from the ring's front while the
 *     front is expired. A key stays only as long as it can still matter, so
 *     the live set (and the cache lines it touches) is just the events of the
 *     last window + lateness, not the whole capacity;
 *   - capacity: when the ring is full, the oldest key is forgotten (memory is
 *     bounded by dedup_capacity whatever the event rate).
 * The ring and its index grow by doubling with the live set, up to
 * dedup_capacity entries and 2 x capacity slots.
 * Two different events whose keys collide (probability ~2^-64 per pair)
 * would be taken for repeats; that risk is accepted. */
#include "core/err.h"
#include "features/feat_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SEED_EVENT_ID 0x5e1d5eedull
#define SEED_REPEAT   0x2e9ea7ull
#define INDEX_MIN     1024

/* A slot's home is derived from its tag, so moving slots never reads the ring. */
static inline uint32_t tag_of(uint64_t key)
{
    return (uint32_t)(key >> 32);
}

static inline size_t home_of(uint32_t tag, size_t mask)
{
    return (size_t)(tag * 0x9e3779b1u) & mask;
}

int feat_dedup_init(struct feat_dedup *d, int64_t window_ms, int64_t lateness_ms, int64_t capacity)
{
    memset(d, 0, sizeof *d);
    d->window_ms = window_ms;
    d->keep_ms = window_ms + lateness_ms;
    if (window_ms <= 0)
        return 0;
    d->cap = capacity > 0 ? (size_t)capacity : 1;
    d->size = d->cap < INDEX_MIN / 2 ? d->cap : INDEX_MIN / 2;
    d->ring = malloc(d->size * sizeof *d->ring);
    d->mask = INDEX_MIN - 1;
    d->index = calloc(d->mask + 1, sizeof *d->index);
    if (!d->ring || !d->index) {
        feat_dedup_free(d);
        return SR_ENOMEM;
    }
    return 0;
}

void feat_dedup_free(struct feat_dedup *d)
{
    if (!d)
        return;
    free(d->ring);
    free(d->index);
    d->ring = NULL;
    d->index = NULL;
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
    return h;
}

/* Slot of key in the index, or SIZE_MAX. */
static size_t find_slot(const struct feat_dedup *d, uint64_t key)
{
    uint32_t tag = tag_of(key);
    for (size_t i = home_of(tag, d->mask);; i = (i + 1) & d->mask) {
        const struct feat_dedup_slot *s = &d->index[i];
        if (s->pos1 == 0)
            return SIZE_MAX;
        if (s->tag == tag && d->ring[s->pos1 - 1].key == key)
            return i;
    }
}

void feat_dedup_prefetch(const struct feat_dedup *d, uint64_t key)
{
    if (d->window_ms > 0)
        __builtin_prefetch(&d->index[home_of(tag_of(key), d->mask)]);
}

bool feat_dedup_seen(const struct feat_dedup *d, uint64_t key, int64_t ts)
{
    if (d->window_ms <= 0)
        return false;
    size_t i = find_slot(d, key);
    if (i == SIZE_MAX)
        return false;
    int64_t prev = d->ring[d->index[i].pos1 - 1].ts;
    int64_t dt = prev > ts ? prev - ts : ts - prev;
    return dt <= d->window_ms;
}

/* Removes slot i, shifting later entries of its probe run back. */
static void delete_slot(struct feat_dedup *d, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & d->mask;
        if (d->index[j].pos1 == 0)
            break;
        size_t h = home_of(d->index[j].tag, d->mask);
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            d->index[i] = d->index[j];
            i = j;
        }
    }
    d->index[i].pos1 = 0;
}

/* Forgets the ring's front (the oldest key). */
static void drop_front(struct feat_dedup *d)
{
    const struct feat_dedup_ent *e = &d->ring[d->head];
    uint32_t tag = tag_of(e->key);
    for (size_t i = home_of(tag, d->mask);; i = (i + 1) & d->mask) {
        if (d->index[i].pos1 == d->head + 1) {
            delete_slot(d, i);
            break;
        }
        if (d->index[i].pos1 == 0)
            break; /* cannot happen: every ring entry is indexed */
    }
    d->head = d->head + 1 == d->size ? 0 : d->head + 1;
    d->count--;
}

/* Rebuilds the index with n_slots slots and, when ring_size differs, moves
 * the live entries to a new ring of that size starting at position 0. */
static int rebuild(struct feat_dedup *d, size_t n_slots, size_t ring_size)
{
    struct feat_dedup_ent *ring = d->ring;
    if (ring_size != d->size) {
        ring = malloc(ring_size * sizeof *ring);
        if (!ring)
            return SR_ENOMEM;
        for (size_t k = 0, p = d->head; k < d->count; k++, p = p + 1 == d->size ? 0 : p + 1)
            ring[k] = d->ring[p];
    }
    struct feat_dedup_slot *ix = calloc(n_slots, sizeof *ix);
    if (!ix) {
        if (ring != d->ring)
            free(ring);
        return SR_ENOMEM;
    }
    if (ring != d->ring) {
        free(d->ring);
        d->ring = ring;
        d->size = ring_size;
        d->head = 0;
    }
    for (size_t k = 0, p = d->head; k < d->count; k++, p = p + 1 == d->size ? 0 : p + 1) {
        uint32_t tag = tag_of(d->ring[p].key);
        size_t i = home_of(tag, n_slots - 1);
        while (ix[i].pos1)
            i = (i + 1) & (n_slots - 1);
        ix[i].pos1 = (uint32_t)p + 1;
        ix[i].tag = tag;
    }
    free(d->index);
    d->index = ix;
    d->mask = n_slots - 1;
    return 0;
}

int feat_dedup_reserve(struct feat_dedup *d)
{
    if (d->window_ms <= 0 || d->count < d->size || d->size == d->cap)
        return 0; /* room in the ring, or at capacity (the front is evicted) */
    size_t size = d->size * 2 < d->cap ? d->size * 2 : d->cap;
    size_t slots = d->mask + 1;
    while (slots < 2 * size)
        slots *= 2;
    return rebuild(d, slots, size);
}

void feat_dedup_remember(struct feat_dedup *d, uint64_t key, int64_t ts, int64_t watermark)
{
    if (d->window_ms <= 0)
        return;
    while (d->count > 0 && d->ring[d->head].ts < watermark - d->keep_ms)
        drop_front(d);
    size_t i = find_slot(d, key);
    if (i != SIZE_MAX) {
        /* A repeat outside the window: keep the latest time. */
        struct feat_dedup_ent *e = &d->ring[d->index[i].pos1 - 1];
        if (ts > e->ts)
            e->ts = ts;
        return;
    }
    if (d->count == d->size)
        drop_front(d); /* at capacity (feat_dedup_reserve grows it otherwise) */
    size_t p = d->head + d->count;
    if (p >= d->size)
        p -= d->size;
    d->ring[p].key = key;
    d->ring[p].ts = ts;
    uint32_t tag = tag_of(key);
    size_t s = home_of(tag, d->mask);
    while (d->index[s].pos1)
        s = (s + 1) & d->mask;
    d->index[s].pos1 = (uint32_t)p + 1;
    d->index[s].tag = tag;
    d->count++;
}

int feat_dedup_restore(struct feat_dedup *d, const void *ents, size_t n)
{
    if (n == 0)
        return 0;
    if (d->window_ms <= 0 || n > d->cap || d->count != 0)
        return SR_ECORRUPT;
    /* The ring size feat_dedup_reserve would have reached: the initial size
     * doubled, up to the capacity. Sizes never change which keys are
     * remembered (only the capacity does), so any size >= n would do. */
    size_t size = d->size;
    while (size < n)
        size = size * 2 < d->cap ? size * 2 : d->cap;
    size_t slots = d->mask + 1;
    while (slots < 2 * size)
        slots *= 2;
    if (size != d->size) {
        struct feat_dedup_ent *ring = malloc(size * sizeof *ring);
        if (!ring)
            return SR_ENOMEM;
        free(d->ring);
        d->ring = ring;
        d->size = size;
    }
    if (slots != d->mask + 1) {
        struct feat_dedup_slot *ix = calloc(slots, sizeof *ix);
        if (!ix)
            return SR_ENOMEM;
        free(d->index);
        d->index = ix;
        d->mask = slots - 1;
    }
    memcpy(d->ring, ents, n * sizeof *d->ring);
    d->head = 0;
    for (size_t p = 0; p < n; p++) {
        uint64_t key = d->ring[p].key;
        if (find_slot(d, key) != SIZE_MAX)
            return SR_ECORRUPT; /* a key twice */
        uint32_t tag = tag_of(key);
        size_t s = home_of(tag, d->mask);
        while (d->index[s].pos1)
            s = (s + 1) & d->mask;
        d->index[s].pos1 = (uint32_t)p + 1;
        d->index[s].tag = tag;
        d->count = p + 1;
    }
    return 0;
}

size_t feat_dedup_bytes(const struct feat_dedup *d)
{
    size_t index = d->index ? (d->mask + 1) * sizeof(struct feat_dedup_slot) : 0;
    return d->size * sizeof(struct feat_dedup_ent) + index;
}
