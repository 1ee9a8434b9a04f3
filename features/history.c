/* features/history.c - per-user item lists plus one set of (user, item)
 * pairs for O(1) "seen before?". */
#include "features/history.h"
#include "core/err.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

struct user_items {
    uint32_t *seen, *bought; /* [n_seen], [n_bought] */
    uint32_t n_seen, cap_seen, n_bought, cap_bought;
};

struct hist {
    struct user_items *users; /* [cap_users] */
    uint32_t cap_users;
    uint64_t *pairs; /* open addressing: (user << 32 | item) + 1; 0 = empty */
    size_t pairs_mask, n_pairs;
};

struct hist *hist_new(void)
{
    struct hist *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->pairs_mask = 4095;
    h->pairs = calloc(h->pairs_mask + 1, sizeof *h->pairs);
    if (!h->pairs) {
        free(h);
        return NULL;
    }
    return h;
}

void hist_free(struct hist *h)
{
    if (!h)
        return;
    for (uint32_t u = 0; u < h->cap_users; u++) {
        free(h->users[u].seen);
        free(h->users[u].bought);
    }
    free(h->users);
    free(h->pairs);
    free(h);
}

static size_t pair_slot(const struct hist *h, uint64_t key)
{
    size_t i = (size_t)sr_mix64(key) & h->pairs_mask;
    while (h->pairs[i] && h->pairs[i] != key)
        i = (i + 1) & h->pairs_mask;
    return i;
}

static uint64_t pair_key(uint32_t user, uint32_t item)
{
    return ((uint64_t)user << 32 | item) + 1;
}

bool hist_seen(const struct hist *h, uint32_t user, uint32_t item)
{
    uint64_t key = pair_key(user, item);
    return h->pairs[pair_slot(h, key)] == key;
}

static int grow_pairs(struct hist *h)
{
    size_t old_cap = h->pairs_mask + 1, ncap = old_cap * 2;
    uint64_t *np = calloc(ncap, sizeof *np), *old = h->pairs;
    if (!np)
        return SR_ENOMEM;
    h->pairs = np;
    h->pairs_mask = ncap - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            h->pairs[pair_slot(h, old[i])] = old[i];
    free(old);
    return 0;
}

static int push_u32(uint32_t **arr, uint32_t *n, uint32_t *cap, uint32_t v)
{
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 4;
        uint32_t *na = realloc(*arr, (size_t)ncap * sizeof *na);
        if (!na)
            return SR_ENOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static int reserve_users(struct hist *h, uint32_t n)
{
    if (n <= h->cap_users)
        return 0;
    uint32_t ncap = h->cap_users ? h->cap_users : 1024;
    while (ncap < n)
        ncap *= 2;
    struct user_items *nu = realloc(h->users, (size_t)ncap * sizeof *nu);
    if (!nu)
        return SR_ENOMEM;
    memset(nu + h->cap_users, 0, (size_t)(ncap - h->cap_users) * sizeof *nu);
    h->users = nu;
    h->cap_users = ncap;
    return 0;
}

int hist_add(struct hist *h, const struct sr_event *ev)
{
    int rc;
    if ((rc = reserve_users(h, ev->user + 1)) != 0)
        return rc;
    if ((h->n_pairs + 1) * 4 > (h->pairs_mask + 1) * 3 && (rc = grow_pairs(h)) != 0)
        return rc;
    struct user_items *u = &h->users[ev->user];
    uint64_t key = pair_key(ev->user, ev->item);
    size_t slot = pair_slot(h, key);
    if (h->pairs[slot] == 0) {
        if ((rc = push_u32(&u->seen, &u->n_seen, &u->cap_seen, ev->item)) != 0)
            return rc;
        h->pairs[slot] = key;
        h->n_pairs++;
    }
    if (ev->type == SR_PURCHASE) {
        for (uint32_t j = 0; j < u->n_bought; j++)
            if (u->bought[j] == ev->item)
                return 0;
        return push_u32(&u->bought, &u->n_bought, &u->cap_bought, ev->item);
    }
    return 0;
}

const uint32_t *hist_items(const struct hist *h, uint32_t user, uint32_t *n)
{
    if (user >= h->cap_users) {
        *n = 0;
        return NULL;
    }
    *n = h->users[user].n_seen;
    return h->users[user].seen;
}

const uint32_t *hist_bought(const struct hist *h, uint32_t user, uint32_t *n)
{
    if (user >= h->cap_users) {
        *n = 0;
        return NULL;
    }
    *n = h->users[user].n_bought;
    return h->users[user].bought;
}

size_t hist_bytes(const struct hist *h)
{
    size_t b = sizeof *h + (h->pairs_mask + 1) * sizeof *h->pairs +
               (size_t)h->cap_users * sizeof *h->users;
    for (uint32_t u = 0; u < h->cap_users; u++)
        b += ((size_t)h->users[u].cap_seen + h->users[u].cap_bought) * sizeof(uint32_t);
    return b;
}

#ifndef SR_HIST_SAVE_EXTERNAL
/* Temporary stand-in for hist_save/hist_load (branch ck-learner only, so
 * the evaluation's checkpoint links and is tested); the feature stage's own
 * implementation replaces it. Layout: u32 users, then per user u32 n_seen,
 * seen items, u32 n_bought, bought items (u32 each). */
#include "core/ckpt.h"

int hist_save(const struct hist *h, struct ck_buf *b)
{
    uint32_t n = h->cap_users;
    while (n && !h->users[n - 1].n_seen && !h->users[n - 1].n_bought)
        n--;
    ck_put_u32(b, n);
    for (uint32_t u = 0; u < n; u++) {
        const struct user_items *ui = &h->users[u];
        ck_put_u32(b, ui->n_seen);
        ck_put(b, ui->seen, (size_t)ui->n_seen * sizeof(uint32_t));
        ck_put_u32(b, ui->n_bought);
        ck_put(b, ui->bought, (size_t)ui->n_bought * sizeof(uint32_t));
    }
    return b->failed ? SR_ENOMEM : 0;
}

/* Reads a u32 count and borrows that many u32s. */
static const unsigned char *hist_take_list(struct ck_rd *r, uint32_t *n)
{
    *n = ck_get_u32(r);
    if (r->failed || *n > ck_rd_left(r) / sizeof(uint32_t)) {
        ck_rd_fail(r);
        return NULL;
    }
    return ck_take(r, (size_t)*n * sizeof(uint32_t));
}

int hist_load(struct hist *h, struct ck_rd *r)
{
    if (h->n_pairs) {
        ck_rd_fail(r);
        return SR_EINVAL;
    }
    uint32_t n_users = ck_get_u32(r);
    /* Every user takes at least 8 bytes: bounds the loop by the section. */
    if (r->failed || n_users > ck_rd_left(r) / 8)
        goto corrupt;
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t n;
        const unsigned char *p = hist_take_list(r, &n);
        if (!p)
            goto corrupt;
        for (uint32_t j = 0; j < n; j++) {
            struct sr_event ev = {.user = u, .type = SR_VIEW};
            memcpy(&ev.item, p + (size_t)j * sizeof(uint32_t), sizeof ev.item);
            if (hist_seen(h, u, ev.item)) /* a repeated item */
                goto corrupt;
            int rc = hist_add(h, &ev);
            if (rc)
                return rc;
        }
        if (!(p = hist_take_list(r, &n)))
            goto corrupt;
        for (uint32_t j = 0; j < n; j++) {
            struct sr_event ev = {.user = u, .type = SR_PURCHASE};
            memcpy(&ev.item, p + (size_t)j * sizeof(uint32_t), sizeof ev.item);
            uint32_t nb = h->users[u].n_bought;
            if (!hist_seen(h, u, ev.item)) /* bought but never seen */
                goto corrupt;
            int rc = hist_add(h, &ev);
            if (rc)
                return rc;
            if (h->users[u].n_bought == nb) /* bought twice */
                goto corrupt;
        }
    }
    return 0;

corrupt:
    ck_rd_fail(r);
    return SR_ECORRUPT;
}
#endif
