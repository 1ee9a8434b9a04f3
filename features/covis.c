/* features/covis.c - item co-visitation and users' recent items.
 *
 * When a user has a positive event on item b, b is paired with each of the
 * user's recent distinct positive items a (at most covis_recent, most recent
 * first) that is in the same session or within covis_window of it, and the
 * event's weight, decayed with covis_half_life (inflated form, decay.c), is
 * added to both a->b and b->a.
 *
 * Each item keeps at most 2 x covis_topn neighbours. When a list is full, a
 * new neighbour replaces the weakest one and inherits its score (the
 * space-saving rule): a neighbour whose true score exceeds the list's minimum
 * is never missing, but a newcomer's score may be overestimated by at most
 * that minimum, so full lists are approximate. Lists start small and double
 * up to their limit (a few reallocations per item over its life, never one
 * per event). Recent items live in a chunked pool of fixed-size blocks, one
 * per user at the user's dense id, so feat_admit can start loading a user's
 * block as soon as it knows the id. */
#include "core/err.h"
#include "features/feat_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MIN_CAP 4

static inline struct feat_recent *block_of(const struct feat_covis *c, uint32_t user)
{
    return sr_chunked_at(&c->recent, user);
}

int feat_covis_reserve_users(struct feat_covis *c, size_t n_users)
{
    return sr_chunked_reserve(&c->recent, n_users);
}

void feat_covis_prefetch_user(const struct feat_covis *c, uint32_t user)
{
    __builtin_prefetch(block_of(c, user), 1);
}

int feat_covis_init(struct feat_covis *c, const struct feat_settings *s)
{
    memset(c, 0, sizeof *c);
    c->clock.half_life = s->cfg.covis_half_life_ms;
    c->list_max = 2 * (size_t)s->cfg.covis_topn;
    c->n_recent_max = (size_t)s->cfg.covis_recent;
    size_t elem = c->n_recent_max * sizeof(struct feat_recent);
    unsigned bits = 6; /* at least 64 users per chunk, chunks of about 64 KiB */
    while (((size_t)1 << (bits + 1)) * elem <= 65536)
        bits++;
    return sr_chunked_init(&c->recent, elem, bits);
}

void feat_covis_free(struct feat_covis *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        free(c->nbrs[i].items);
    free(c->nbrs);
    sr_chunked_free(&c->recent);
    memset(c, 0, sizeof *c);
}

int feat_covis_reserve(struct feat_covis *c, size_t n_items)
{
    if (n_items <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 1024;
    while (cap < n_items)
        cap *= 2;
    struct feat_nbrs *n = realloc(c->nbrs, cap * sizeof *n);
    if (!n)
        return SR_ENOMEM;
    memset(n + c->cap, 0, (cap - c->cap) * sizeof *n);
    c->nbrs = n;
    c->cap = cap;
    return 0;
}

/* Makes list l hold at least min(want, list_max) entries. */
static int list_reserve(struct feat_covis *c, struct feat_nbrs *l, size_t want)
{
    if (want > c->list_max)
        want = c->list_max;
    if (want <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : LIST_MIN_CAP;
    while (cap < want)
        cap *= 2;
    if (cap > c->list_max)
        cap = c->list_max;
    uint32_t *items = malloc(cap * (sizeof(uint32_t) + sizeof(float)));
    if (!items)
        return SR_ENOMEM;
    if (l->n) {
        memcpy(items, l->items, l->n * sizeof(uint32_t));
        memcpy(items + cap, feat_nbrs_scores(l), l->n * sizeof(float));
    }
    c->list_bytes += (cap - l->cap) * (sizeof(uint32_t) + sizeof(float));
    free(l->items);
    l->items = items;
    l->cap = (uint16_t)cap;
    return 0;
}

/* Index of x in a[0, n), or n. Four compares per branch: the hot loop of
 * co-visitation (lists of popular items are full). */
static inline size_t find_u32(const uint32_t *a, size_t n, uint32_t x)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        if ((a[i] == x) | (a[i + 1] == x) | (a[i + 2] == x) | (a[i + 3] == x))
            break;
    for (; i < n; i++)
        if (a[i] == x)
            return i;
    return n;
}

/* Index of the smallest of s[0, n), n >= 1 (the first one on ties), without
 * a data-dependent branch (the comparisons are unpredictable). */
static inline size_t argmin_f(const float *s, size_t n)
{
    size_t m = 0;
    float mv = s[0];
    for (size_t i = 1; i < n; i++) {
        bool lt = s[i] < mv;
        mv = lt ? s[i] : mv;
        m = lt ? i : m;
    }
    return m;
}

/* Adds add to x's score in l; room was reserved, so a full list is at its
 * limit and the space-saving rule applies. */
static void list_bump(struct feat_nbrs *l, uint32_t x, float add)
{
    uint32_t *items = l->items;
    float *sc = feat_nbrs_scores(l);
    size_t n = l->n;
    size_t i = find_u32(items, n, x);
    if (i < n) {
        sc[i] += add;
        return;
    }
    if (n < l->cap) {
        items[n] = x;
        sc[n] = add;
        l->n++;
        return;
    }
    size_t m = argmin_f(sc, n);
    items[m] = x;
    sc[m] += add;
}

static void scale_all(struct feat_covis *c, int k)
{
    for (size_t i = 0; i < c->cap; i++) {
        struct feat_nbrs *l = &c->nbrs[i];
        float *sc = feat_nbrs_scores(l);
        for (size_t j = 0; j < l->n; j++)
            sc[j] = ldexpf(sc[j], -k);
    }
}

int feat_covis_add(struct feat_covis *c, const struct feat_settings *s, struct feat_user *u,
                   const struct sr_event *ev)
{
    /* Phase 1: reserve everything, so a failure changes nothing. */
    struct feat_recent *rec = block_of(c, ev->user);
    uint8_t pair[64]; /* indices into rec of the items paired with ev->item */
    size_t n_pair = 0;
    for (size_t i = 0; i < u->n_recent; i++) {
        const struct feat_recent *r = &rec[i];
        if (r->item == ev->item)
            continue;
        int64_t dt = ev->ts_ms > r->ts ? ev->ts_ms - r->ts : r->ts - ev->ts_ms;
        if (r->session == ev->session || dt <= s->cfg.covis_window_ms)
            pair[n_pair++] = (uint8_t)i;
    }
    struct feat_nbrs *lb = &c->nbrs[ev->item];
    if (n_pair) {
        if (list_reserve(c, lb, (size_t)lb->n + n_pair))
            return SR_ENOMEM;
        for (size_t j = 0; j < n_pair; j++) {
            struct feat_nbrs *la = &c->nbrs[rec[pair[j]].item];
            if (list_reserve(c, la, (size_t)la->n + 1))
                return SR_ENOMEM;
        }
        /* Phase 2: apply. */
        int k = feat_decay_advance(&c->clock, ev->ts_ms);
        if (k > 0)
            scale_all(c, k);
        float add = (float)((double)ev->weight * feat_decay_factor(&c->clock, ev->ts_ms));
        for (size_t j = 0; j < n_pair; j++) {
            uint32_t a = rec[pair[j]].item;
            list_bump(&c->nbrs[a], ev->item, add);
            list_bump(lb, a, add);
        }
    }

    /* ev->item becomes the most recent; the oldest falls off a full list. */
    size_t p = 0;
    while (p < u->n_recent && rec[p].item != ev->item)
        p++;
    if (p == u->n_recent) {
        if (u->n_recent < c->n_recent_max)
            u->n_recent++;
        else
            p = c->n_recent_max - 1;
    }
    memmove(rec + 1, rec, p * sizeof *rec);
    rec[0].item = ev->item;
    rec[0].session = ev->session;
    rec[0].ts = ev->ts_ms;
    return 0;
}

/* Ranking order of neighbours: higher score first, then lower item id. */
static inline bool before(const uint32_t *items, const float *sc, size_t a, size_t b)
{
    return sc[a] > sc[b] || (sc[a] == sc[b] && items[a] < items[b]);
}

size_t feat_covis_query(const struct feat_covis *c, uint32_t item, uint32_t *items, float *scores,
                        size_t max)
{
    if (item >= c->cap)
        return 0;
    const struct feat_nbrs *l = &c->nbrs[item];
    const float *sc = feat_nbrs_scores(l);
    /* Selection without scratch: each pick is the best entry strictly after
     * the previous pick in ranking order (a total order: ids are distinct). */
    size_t out = 0, prev = 0;
    while (out < max) {
        size_t best = SIZE_MAX;
        for (size_t j = 0; j < l->n; j++) {
            if (out > 0 && !before(l->items, sc, prev, j))
                continue;
            if (best == SIZE_MAX || before(l->items, sc, j, best))
                best = j;
        }
        if (best == SIZE_MAX)
            break;
        items[out] = l->items[best];
        if (scores)
            scores[out] = sc[best];
        prev = best;
        out++;
    }
    return out;
}

size_t feat_covis_recent(const struct feat_covis *c, const struct feat_user *u, uint32_t user,
                         uint32_t *items, size_t max)
{
    const struct feat_recent *rec = block_of(c, user);
    size_t n = u->n_recent < max ? u->n_recent : max;
    for (size_t i = 0; i < n; i++)
        items[i] = rec[i].item;
    return n;
}

int feat_covis_set_list(struct feat_covis *c, uint32_t item, const void *items, const void *scores,
                        size_t n, size_t cap)
{
    struct feat_nbrs *l = &c->nbrs[item];
    if (cap == 0)
        return 0;
    uint32_t *a = malloc(cap * (sizeof(uint32_t) + sizeof(float)));
    if (!a)
        return SR_ENOMEM;
    free(l->items);
    c->list_bytes -= (size_t)l->cap * (sizeof(uint32_t) + sizeof(float));
    l->items = a;
    l->cap = (uint16_t)cap;
    l->n = (uint16_t)n;
    c->list_bytes += cap * (sizeof(uint32_t) + sizeof(float));
    if (n) {
        memcpy(l->items, items, n * sizeof(uint32_t));
        memcpy(feat_nbrs_scores(l), scores, n * sizeof(float));
    }
    return 0;
}

size_t feat_covis_bytes(const struct feat_covis *c)
{
    return c->cap * sizeof(struct feat_nbrs) + c->list_bytes + sr_chunked_bytes(&c->recent);
}
