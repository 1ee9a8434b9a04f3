/* features/popularity.c - item popularity from positive events:
 * per window an exponentially decayed weighted count with half-life = window
 * (inflated form, see decay.c), the all-time unweighted count and the order
 * of each item's first positive event. Arrays are indexed by dense item id and
 * grow by doubling as items are interned. */
#include "core/err.h"
#include "features/feat_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int feat_pop_init(struct feat_pop *p, const struct feat_settings *s)
{
    memset(p, 0, sizeof *p);
    p->n_windows = s->n_windows;
    for (size_t w = 0; w < s->n_windows; w++)
        p->clock[w].half_life = s->window_ms[w];
    return 0;
}

void feat_pop_free(struct feat_pop *p)
{
    if (!p)
        return;
    for (size_t w = 0; w < FEAT_MAX_WINDOWS; w++)
        free(p->score[w]);
    free(p->all);
    free(p->first_pos);
    memset(p, 0, sizeof *p);
}

/* Grows *arr from old to cap elements of size sz; new bytes zeroed. */
static int grow_array(void **arr, size_t old, size_t cap, size_t sz)
{
    void *n = realloc(*arr, cap * sz);
    if (!n)
        return SR_ENOMEM;
    memset((char *)n + old * sz, 0, (cap - old) * sz);
    *arr = n;
    return 0;
}

int feat_pop_reserve(struct feat_pop *p, size_t n)
{
    if (n <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 1024;
    while (cap < n)
        cap *= 2;
    /* Each array is grown in place; a failure leaves the ones already grown
     * larger but every value unchanged, and p->cap still the old size. */
    for (size_t w = 0; w < p->n_windows; w++)
        if (grow_array((void **)&p->score[w], p->cap, cap, sizeof(float)))
            return SR_ENOMEM;
    if (grow_array((void **)&p->all, p->cap, cap, sizeof(uint32_t)) ||
        grow_array((void **)&p->first_pos, p->cap, cap, sizeof(uint32_t)))
        return SR_ENOMEM;
    for (size_t i = p->cap; i < cap; i++)
        p->first_pos[i] = UINT32_MAX;
    p->cap = cap;
    return 0;
}

void feat_pop_add(struct feat_pop *p, const struct sr_event *ev, size_t n_items)
{
    for (size_t w = 0; w < p->n_windows; w++) {
        float *sc = p->score[w];
        int k = feat_decay_advance(&p->clock[w], ev->ts_ms);
        if (k > 0)
            for (size_t i = 0; i < n_items; i++)
                sc[i] = ldexpf(sc[i], -k);
        sc[ev->item] += (float)((double)ev->weight * feat_decay_factor(&p->clock[w], ev->ts_ms));
    }
    if (p->all[ev->item] < UINT32_MAX)
        p->all[ev->item]++;
    if (p->first_pos[ev->item] == UINT32_MAX)
        p->first_pos[ev->item] = p->next_first++;
}

size_t feat_pop_bytes(const struct feat_pop *p)
{
    return p->cap * (p->n_windows * sizeof(float) + 2 * sizeof(uint32_t));
}
