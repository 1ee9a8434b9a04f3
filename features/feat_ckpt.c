/* features/feat_ckpt.c - the feature stage's checkpoint sections
 * (feat_save/feat_load; container format in core/ckpt.h).
 *
 * Sections, all integers little-endian:
 *   user_ids    sr_intern_save of the user ids
 *   item_ids    sr_intern_save of the item ids
 *   feat_users  u32 n_users, u32 covis_recent, struct feat_user[n_users]
 *               (32 bytes, the in-memory layout, pinned below), then each
 *               user's n_recent struct feat_recent (16 bytes), most recent
 *               first
 *   feat_dedup  i64 window, i64 keep, u64 capacity, u64 count, then count
 *               struct feat_dedup_ent (16 bytes) in admission order; the
 *               index is rebuilt on load
 *   feat_pop    u32 n_windows, per window i64 half_life, i64 t0, u8 started;
 *               u32 n_items, u32 next_first, f32 score[n_windows][n_items],
 *               u32 all[n_items], u32 first_pos[n_items]
 *   feat_covis  i64 half_life, i64 t0, u8 started, u32 list_max, u32 n_items,
 *               per item u16 n, u16 cap, u32 items[n], f32 scores[n]
 *   feat_stats  u32 FEAT_SKIP_COUNT, u64 admitted, u64 skipped[..], u64
 *               out_of_order, u64 bots, u64 sessions, i64 watermark, u8
 *               has_watermark
 *   feat_counts u32 n_users, u32 n_items, u32 user_events[n_users],
 *               u32 item_events[n_items]
 *   feat_evict  u32 clock_hand, u32 ttl_hand, u64 users_evicted, u64
 *               cold_events (the CLOCK reference bits are the users' flags;
 *               evicted ids are reused at once, so there is no id free list,
 *               and the user table's string free lists are storage only).
 *               Optional on load: a checkpoint from before memory caps has
 *               none and loads with both hands at 0.
 *
 * feat_stats written by a build with fewer skip reasons loads with the
 * newer reasons at 0. The gauge of items below item_min_events is not
 * stored: loading recounts it from item_events under this configuration.
 *
 * Settings that shape the state (windows, list sizes, de-dup memory) are
 * stored with it and compared on load (SR_ECONFIG); everything else a loader
 * reads is checked for range (ids below the counts, lengths that add up, no
 * bytes left over), so a damaged file is refused rather than trusted. */
#include "core/ckpt.h"
#include "core/err.h"
#include "features/feat_int.h"

#include <stddef.h>
#include <string.h>

/* The feat_users and feat_dedup payloads are the in-memory arrays. */
_Static_assert(sizeof(struct feat_user) == 32, "feat_user layout is saved as is");
_Static_assert(offsetof(struct feat_user, last_ts) == 0 &&
                   offsetof(struct feat_user, bot_start) == 8 &&
                   offsetof(struct feat_user, bot_count) == 16 &&
                   offsetof(struct feat_user, session) == 20 &&
                   offsetof(struct feat_user, positives) == 24 &&
                   offsetof(struct feat_user, n_recent) == 28 &&
                   offsetof(struct feat_user, flags) == 29,
               "feat_user layout is saved as is");
_Static_assert(sizeof(struct feat_recent) == 16 && offsetof(struct feat_recent, item) == 0 &&
                   offsetof(struct feat_recent, session) == 4 &&
                   offsetof(struct feat_recent, ts) == 8,
               "feat_recent layout is saved as is");
_Static_assert(sizeof(struct feat_dedup_ent) == 16 && offsetof(struct feat_dedup_ent, ts) == 8,
               "feat_dedup_ent layout is saved as is");

#define USER_FLAGS (FEAT_USER_SEEN | FEAT_USER_BOT | FEAT_USER_REF)

/* ---- save ----------------------------------------------------------------- */

static void put_decay(struct ck_buf *b, const struct feat_decay *d)
{
    ck_put_i64(b, d->half_life);
    ck_put_i64(b, d->t0);
    ck_put_u8(b, d->started ? 1 : 0);
}

static void save_users(const struct feat *f, struct ck_buf *b)
{
    uint32_t n = sr_intern_count(f->users);
    /* One pass for the size, then one buffer filled in place: no regrowth
     * copies on the learner thread. */
    size_t n_rec = 0;
    for (uint32_t u = 0; u < n; u++)
        n_rec += f->user[u].n_recent;
    unsigned char *p =
        ck_put_space(b, 8 + (size_t)n * sizeof *f->user + n_rec * sizeof(struct feat_recent));
    if (!p)
        return;
    uint32_t hdr[2] = {n, (uint32_t)f->covis.n_recent_max};
    memcpy(p, hdr, 8);
    p += 8;
    memcpy(p, f->user, (size_t)n * sizeof *f->user);
    p += (size_t)n * sizeof *f->user;
    for (uint32_t u = 0; u < n; u++) {
        size_t k = (size_t)f->user[u].n_recent * sizeof(struct feat_recent);
        if (k) {
            memcpy(p, sr_chunked_at(&f->covis.recent, u), k);
            p += k;
        }
    }
}

static void save_dedup(const struct feat_dedup *d, struct ck_buf *b)
{
    ck_put_i64(b, d->window_ms);
    ck_put_i64(b, d->keep_ms);
    ck_put_u64(b, (uint64_t)d->cap);
    ck_put_u64(b, (uint64_t)d->count);
    /* The live entries from head: at most two runs of the ring. */
    size_t first = d->count < d->size - d->head ? d->count : d->size - d->head;
    if (d->count) {
        ck_put(b, d->ring + d->head, first * sizeof *d->ring);
        ck_put(b, d->ring, (d->count - first) * sizeof *d->ring);
    }
}

static void save_pop(const struct feat_pop *p, uint32_t n_items, struct ck_buf *b)
{
    ck_put_u32(b, (uint32_t)p->n_windows);
    for (size_t w = 0; w < p->n_windows; w++)
        put_decay(b, &p->clock[w]);
    ck_put_u32(b, n_items);
    ck_put_u32(b, p->next_first);
    for (size_t w = 0; w < p->n_windows; w++)
        ck_put(b, p->score[w], (size_t)n_items * sizeof(float));
    ck_put(b, p->all, (size_t)n_items * sizeof(uint32_t));
    ck_put(b, p->first_pos, (size_t)n_items * sizeof(uint32_t));
}

static void save_covis(const struct feat_covis *c, uint32_t n_items, struct ck_buf *b)
{
    put_decay(b, &c->clock);
    ck_put_u32(b, (uint32_t)c->list_max);
    ck_put_u32(b, n_items);
    size_t bytes = 0;
    for (uint32_t i = 0; i < n_items; i++)
        bytes += 4 + (size_t)c->nbrs[i].n * 8;
    unsigned char *p = ck_put_space(b, bytes);
    if (!p)
        return;
    for (uint32_t i = 0; i < n_items; i++) {
        const struct feat_nbrs *l = &c->nbrs[i];
        memcpy(p, &l->n, 2);
        memcpy(p + 2, &l->cap, 2);
        p += 4;
        if (l->n) {
            memcpy(p, l->items, (size_t)l->n * 4);
            memcpy(p + (size_t)l->n * 4, feat_nbrs_scores(l), (size_t)l->n * 4);
            p += (size_t)l->n * 8;
        }
    }
}

static void save_stats(const struct feat *f, struct ck_buf *b)
{
    const struct feat_stats *st = &f->st;
    ck_put_u32(b, FEAT_SKIP_COUNT);
    ck_put_u64(b, st->admitted);
    for (int r = 0; r < FEAT_SKIP_COUNT; r++)
        ck_put_u64(b, st->skipped[r]);
    ck_put_u64(b, st->out_of_order);
    ck_put_u64(b, st->bots);
    ck_put_u64(b, st->sessions);
    ck_put_i64(b, st->watermark_ms);
    ck_put_u8(b, f->has_watermark ? 1 : 0);
}

static void save_counts(const struct feat *f, struct ck_buf *b)
{
    uint32_t nu = sr_intern_count(f->users), ni = sr_intern_count(f->items);
    ck_put_u32(b, nu);
    ck_put_u32(b, ni);
    ck_put(b, f->user_events, (size_t)nu * sizeof(uint32_t));
    ck_put(b, f->item_events, (size_t)ni * sizeof(uint32_t));
}

static void save_evict(const struct feat *f, struct ck_buf *b)
{
    ck_put_u32(b, f->clock_hand);
    ck_put_u32(b, f->ttl_hand);
    ck_put_u64(b, f->st.users_evicted);
    ck_put_u64(b, f->st.cold_events);
}

int feat_save(const struct feat *f, struct ck_writer *w)
{
    uint32_t n_items = sr_intern_count(f->items);
    struct ck_buf *b[9];
    /* ck_section refuses only an id already there (or a full table). */
    if (!(b[0] = ck_section(w, CK_SEC_USER_IDS, "user_ids")) ||
        !(b[1] = ck_section(w, CK_SEC_ITEM_IDS, "item_ids")) ||
        !(b[2] = ck_section(w, CK_SEC_FEAT_USERS, "feat_users")) ||
        !(b[3] = ck_section(w, CK_SEC_FEAT_DEDUP, "feat_dedup")) ||
        !(b[4] = ck_section(w, CK_SEC_FEAT_POP, "feat_pop")) ||
        !(b[5] = ck_section(w, CK_SEC_FEAT_COVIS, "feat_covis")) ||
        !(b[6] = ck_section(w, CK_SEC_FEAT_STATS, "feat_stats")) ||
        !(b[7] = ck_section(w, CK_SEC_FEAT_COUNTS, "feat_counts")) ||
        !(b[8] = ck_section(w, CK_SEC_FEAT_EVICT, "feat_evict")))
        return SR_EINVAL;
    sr_intern_save(f->users, b[0]);
    sr_intern_save(f->items, b[1]);
    save_users(f, b[2]);
    save_dedup(&f->dedup, b[3]);
    save_pop(&f->pop, n_items, b[4]);
    save_covis(&f->covis, n_items, b[5]);
    save_stats(f, b[6]);
    save_counts(f, b[7]);
    save_evict(f, b[8]);
    for (size_t i = 0; i < 9; i++)
        if (b[i]->failed)
            return SR_ENOMEM;
    return 0;
}

/* ---- load ----------------------------------------------------------------- */

/* Names the section in every message: "checkpoint section feat_pop: ...". */
#define CORRUPT(name, ...)                                                                         \
    sr_seterr(errbuf, errlen, SR_ECORRUPT, "checkpoint section " name ": " __VA_ARGS__)
#define MISMATCH(name, ...)                                                                        \
    sr_seterr(errbuf, errlen, SR_ECONFIG, "checkpoint section " name ": " __VA_ARGS__)
#define NOMEM(name)                                                                                \
    sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint section " name ": out of memory")

static int find(const struct ck_file *file, uint32_t id, const char *name, struct ck_rd *r,
                char *errbuf, size_t errlen)
{
    if (ck_find(file, id, r) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "checkpoint has no section %s", name);
    return 0;
}

static int load_ids(struct sr_intern *in, const struct ck_file *file, uint32_t id, const char *name,
                    char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, id, name, &r, errbuf, errlen);
    if (rc)
        return rc;
    rc = sr_intern_load(in, &r);
    if (rc == SR_ENOMEM)
        return sr_seterr(errbuf, errlen, rc, "checkpoint section %s: out of memory", name);
    if (rc || !ck_rd_ok(&r))
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "checkpoint section %s: malformed (truncated, a bad length, a repeated "
                         "id or bytes left over)",
                         name);
    return 0;
}

static void get_decay(struct ck_rd *r, struct feat_decay *d, int64_t *half_life)
{
    *half_life = ck_get_i64(r);
    d->t0 = ck_get_i64(r);
    uint8_t started = ck_get_u8(r);
    if (started > 1)
        ck_rd_fail(r);
    d->started = started == 1;
}

static int load_users(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_USERS, "feat_users", &r, errbuf, errlen);
    if (rc)
        return rc;
    uint32_t n = ck_get_u32(&r), n_recent_max = ck_get_u32(&r);
    uint32_t n_items = sr_intern_count(f->items);
    if (r.failed)
        return CORRUPT("feat_users", "truncated header");
    if (n != sr_intern_count(f->users))
        return CORRUPT("feat_users", "%u users, user_ids has %u", n, sr_intern_count(f->users));
    if (n_recent_max != f->covis.n_recent_max)
        return MISMATCH("feat_users",
                        "saved with features.covis_recent = %u, this configuration has %zu",
                        n_recent_max, f->covis.n_recent_max);
    const void *users = ck_take(&r, (size_t)n * sizeof(struct feat_user));
    if (!users)
        return CORRUPT("feat_users", "truncated user array (%u users)", n);
    memcpy(f->user, users, (size_t)n * sizeof(struct feat_user));
    for (uint32_t u = 0; u < n; u++) {
        struct feat_user *fu = &f->user[u];
        if (fu->n_recent > n_recent_max || (fu->flags & ~USER_FLAGS) != 0)
            return CORRUPT("feat_users", "user %u: bad recent count or flags", u);
        if (!fu->n_recent)
            continue;
        struct feat_recent *rec = sr_chunked_at(&f->covis.recent, u);
        ck_get(&r, rec, (size_t)fu->n_recent * sizeof *rec);
        if (r.failed)
            return CORRUPT("feat_users", "truncated recent items (user %u)", u);
        for (size_t i = 0; i < fu->n_recent; i++)
            if (rec[i].item >= n_items)
                return CORRUPT("feat_users", "user %u: recent item %u out of range (%u items)", u,
                               rec[i].item, n_items);
    }
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_users", "%zu bytes left over", ck_rd_left(&r));
    return 0;
}

static int load_dedup(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_DEDUP, "feat_dedup", &r, errbuf, errlen);
    if (rc)
        return rc;
    struct feat_dedup *d = &f->dedup;
    int64_t window = ck_get_i64(&r), keep = ck_get_i64(&r);
    uint64_t cap = ck_get_u64(&r), count = ck_get_u64(&r);
    if (r.failed)
        return CORRUPT("feat_dedup", "truncated header");
    if (window != d->window_ms || keep != d->keep_ms || cap != (uint64_t)d->cap)
        return MISMATCH("feat_dedup",
                        "saved with dedup window %lld ms, memory %lld ms, capacity %llu; this "
                        "configuration has %lld, %lld, %zu (features.dedup_window, "
                        "allowed_lateness, dedup_capacity)",
                        (long long)window, (long long)keep, (unsigned long long)cap,
                        (long long)d->window_ms, (long long)d->keep_ms, d->cap);
    if (count > cap || count > ck_rd_left(&r) / sizeof(struct feat_dedup_ent))
        return CORRUPT("feat_dedup", "%llu entries do not fit (capacity %llu, %zu bytes)",
                       (unsigned long long)count, (unsigned long long)cap, ck_rd_left(&r));
    const void *ents = ck_take(&r, (size_t)count * sizeof(struct feat_dedup_ent));
    rc = feat_dedup_restore(d, ents, (size_t)count);
    if (rc == SR_ENOMEM)
        return NOMEM("feat_dedup");
    if (rc)
        return CORRUPT("feat_dedup", "a key remembered twice");
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_dedup", "%zu bytes left over", ck_rd_left(&r));
    return 0;
}

static int load_pop(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_POP, "feat_pop", &r, errbuf, errlen);
    if (rc)
        return rc;
    struct feat_pop *p = &f->pop;
    uint32_t n_windows = ck_get_u32(&r);
    if (r.failed)
        return CORRUPT("feat_pop", "truncated header");
    if (n_windows != p->n_windows)
        return MISMATCH("feat_pop",
                        "saved with %u popularity windows, this configuration has %zu "
                        "(features.pop_windows)",
                        n_windows, p->n_windows);
    for (size_t w = 0; w < n_windows; w++) {
        int64_t half_life;
        struct feat_decay d = p->clock[w];
        get_decay(&r, &d, &half_life);
        if (r.failed)
            return CORRUPT("feat_pop", "truncated or bad clock of window %zu", w);
        if (half_life != p->clock[w].half_life)
            return MISMATCH("feat_pop",
                            "window %zu saved as %lld ms, this configuration has %lld ms "
                            "(features.pop_windows)",
                            w, (long long)half_life, (long long)p->clock[w].half_life);
        p->clock[w] = d;
    }
    uint32_t n_items = ck_get_u32(&r);
    p->next_first = ck_get_u32(&r);
    if (r.failed)
        return CORRUPT("feat_pop", "truncated header");
    if (n_items != sr_intern_count(f->items))
        return CORRUPT("feat_pop", "%u items, item_ids has %u", n_items, sr_intern_count(f->items));
    if (p->next_first > n_items)
        return CORRUPT("feat_pop", "first-positive counter %u beyond %u items", p->next_first,
                       n_items);
    for (size_t w = 0; w < n_windows; w++)
        ck_get(&r, p->score[w], (size_t)n_items * sizeof(float));
    ck_get(&r, p->all, (size_t)n_items * sizeof(uint32_t));
    ck_get(&r, p->first_pos, (size_t)n_items * sizeof(uint32_t));
    if (r.failed)
        return CORRUPT("feat_pop", "truncated arrays (%u items, %u windows)", n_items, n_windows);
    for (uint32_t i = 0; i < n_items; i++)
        if (p->first_pos[i] != UINT32_MAX && p->first_pos[i] >= p->next_first)
            return CORRUPT("feat_pop", "item %u: first-positive order %u out of range", i,
                           p->first_pos[i]);
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_pop", "%zu bytes left over", ck_rd_left(&r));
    return 0;
}

static int load_covis(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_COVIS, "feat_covis", &r, errbuf, errlen);
    if (rc)
        return rc;
    struct feat_covis *c = &f->covis;
    int64_t half_life;
    struct feat_decay clock = c->clock;
    get_decay(&r, &clock, &half_life);
    uint32_t list_max = ck_get_u32(&r), n_items = ck_get_u32(&r);
    if (r.failed)
        return CORRUPT("feat_covis", "truncated or bad header");
    if (half_life != c->clock.half_life)
        return MISMATCH("feat_covis",
                        "saved with a half-life of %lld ms, this configuration has %lld ms "
                        "(features.covis_half_life)",
                        (long long)half_life, (long long)c->clock.half_life);
    if (list_max != c->list_max)
        return MISMATCH("feat_covis",
                        "saved with %u neighbours per item, this configuration keeps %zu "
                        "(features.covis_topn)",
                        list_max, c->list_max);
    if (n_items != sr_intern_count(f->items))
        return CORRUPT("feat_covis", "%u items, item_ids has %u", n_items,
                       sr_intern_count(f->items));
    c->clock = clock;
    for (uint32_t i = 0; i < n_items; i++) {
        uint16_t n, cap;
        ck_get(&r, &n, 2);
        ck_get(&r, &cap, 2);
        if (r.failed)
            return CORRUPT("feat_covis", "truncated at item %u", i);
        if (n > cap || cap > list_max)
            return CORRUPT("feat_covis", "item %u: %u neighbours in a list of %u (at most %u)", i,
                           n, cap, list_max);
        const uint32_t *items = ck_take(&r, (size_t)n * 4);
        const float *scores = ck_take(&r, (size_t)n * 4);
        if (r.failed)
            return CORRUPT("feat_covis", "truncated neighbours of item %u", i);
        for (size_t j = 0; j < n; j++) {
            uint32_t x;
            memcpy(&x, (const unsigned char *)items + 4 * j, 4);
            if (x >= n_items || x == i)
                return CORRUPT("feat_covis", "item %u: neighbour %u out of range", i, x);
        }
        if (feat_covis_set_list(c, i, items, scores, n, cap))
            return NOMEM("feat_covis");
    }
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_covis", "%zu bytes left over", ck_rd_left(&r));
    return 0;
}

static int load_stats(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_STATS, "feat_stats", &r, errbuf, errlen);
    if (rc)
        return rc;
    struct feat_stats *st = &f->st;
    uint32_t n_skip = ck_get_u32(&r);
    if (!r.failed && (n_skip > FEAT_SKIP_COUNT || n_skip < FEAT_SKIP_LATE + 1))
        return CORRUPT("feat_stats", "%u skip reasons, this build has %d", n_skip, FEAT_SKIP_COUNT);
    st->admitted = ck_get_u64(&r);
    for (uint32_t k = 0; k < n_skip; k++) /* reasons added later stay 0 */
        st->skipped[k] = ck_get_u64(&r);
    st->out_of_order = ck_get_u64(&r);
    st->bots = ck_get_u64(&r);
    st->sessions = ck_get_u64(&r);
    st->watermark_ms = ck_get_i64(&r);
    uint8_t has = ck_get_u8(&r);
    if (has > 1)
        ck_rd_fail(&r);
    f->has_watermark = has == 1;
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_stats", "%s", r.failed ? "truncated or bad value" : "bytes left over");
    return 0;
}

static int load_counts(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc = find(file, CK_SEC_FEAT_COUNTS, "feat_counts", &r, errbuf, errlen);
    if (rc)
        return rc;
    uint32_t nu = ck_get_u32(&r), ni = ck_get_u32(&r);
    if (r.failed)
        return CORRUPT("feat_counts", "truncated header");
    if (nu != sr_intern_count(f->users) || ni != sr_intern_count(f->items))
        return CORRUPT("feat_counts", "%u users and %u items, the id maps have %u and %u", nu, ni,
                       sr_intern_count(f->users), sr_intern_count(f->items));
    ck_get(&r, f->user_events, (size_t)nu * sizeof(uint32_t));
    ck_get(&r, f->item_events, (size_t)ni * sizeof(uint32_t));
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_counts", "%s", r.failed ? "truncated" : "bytes left over");
    return 0;
}

static int load_evict(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    uint32_t n_users = sr_intern_count(f->users), n_items = sr_intern_count(f->items);
    int64_t min_events = f->set.cfg.item_min_events;
    f->st.items_cold = 0;
    for (uint32_t i = 0; min_events > 1 && i < n_items; i++)
        if ((int64_t)f->item_events[i] < min_events)
            f->st.items_cold++;
    struct ck_rd r;
    if (ck_find(file, CK_SEC_FEAT_EVICT, &r) != 0)
        return 0; /* written before memory caps */
    f->clock_hand = ck_get_u32(&r);
    f->ttl_hand = ck_get_u32(&r);
    f->st.users_evicted = ck_get_u64(&r);
    f->st.cold_events = ck_get_u64(&r);
    if (!ck_rd_ok(&r))
        return CORRUPT("feat_evict", "%s", r.failed ? "truncated" : "bytes left over");
    if (f->clock_hand > n_users || f->ttl_hand > n_users)
        return CORRUPT("feat_evict", "sweep positions %u, %u beyond %u users", f->clock_hand,
                       f->ttl_hand, n_users);
    return 0;
}

int feat_load(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen)
{
    if (sr_intern_count(f->users) || sr_intern_count(f->items) || f->st.admitted ||
        f->has_watermark)
        return sr_seterr(errbuf, errlen, SR_EINVAL,
                         "features: a checkpoint loads only into a fresh feature stage");
    int rc;
    if ((rc = load_ids(f->users, file, CK_SEC_USER_IDS, "user_ids", errbuf, errlen)) ||
        (rc = load_ids(f->items, file, CK_SEC_ITEM_IDS, "item_ids", errbuf, errlen)))
        return rc;
    if (feat_users_reserve(f, (size_t)sr_intern_count(f->users) + 1) ||
        feat_items_reserve(f, (size_t)sr_intern_count(f->items) + 1))
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "features: out of memory loading a checkpoint");
    if ((rc = load_users(f, file, errbuf, errlen)) || (rc = load_dedup(f, file, errbuf, errlen)) ||
        (rc = load_pop(f, file, errbuf, errlen)) || (rc = load_covis(f, file, errbuf, errlen)) ||
        (rc = load_stats(f, file, errbuf, errlen)) || (rc = load_counts(f, file, errbuf, errlen)) ||
        (rc = load_evict(f, file, errbuf, errlen)))
        return rc;
    return 0;
}
