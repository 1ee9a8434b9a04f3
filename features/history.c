/* features/history.c - per-user item lists plus one set of (user, item)
 * pairs for O(1) "seen before?". Checkpoints hold the lists only; loading
 * rebuilds the pair set, sized once. */
#include "features/history.h"
#include "core/ckpt.h"
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

/* Removes the pair at slot i: backward-shift deletion (linear probing). */
static void pair_delete(struct hist *h, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & h->pairs_mask;
        uint64_t k = h->pairs[j];
        if (!k)
            break;
        size_t home = (size_t)sr_mix64(k) & h->pairs_mask;
        if (((j - home) & h->pairs_mask) >= ((j - i) & h->pairs_mask)) {
            h->pairs[i] = k;
            i = j;
        }
    }
    h->pairs[i] = 0;
}

void hist_forget_user(struct hist *h, uint32_t user)
{
    if (user >= h->cap_users)
        return;
    struct user_items *u = &h->users[user];
    for (uint32_t j = 0; j < u->n_seen; j++) {
        size_t slot = pair_slot(h, pair_key(user, u->seen[j]));
        if (h->pairs[slot]) {
            pair_delete(h, slot);
            h->n_pairs--;
        }
    }
    free(u->seen);
    free(u->bought);
    memset(u, 0, sizeof *u);
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

int hist_save(const struct hist *h, struct ck_buf *b)
{
    uint32_t n_users = h->cap_users;
    while (n_users > 0 && h->users[n_users - 1].n_seen == 0 && h->users[n_users - 1].n_bought == 0)
        n_users--;
    ck_put_u32(b, n_users);
    ck_put_u64(b, (uint64_t)h->n_pairs);
    for (uint32_t u = 0; u < n_users; u++) {
        const struct user_items *ui = &h->users[u];
        uint32_t *p = ck_put_space(b, 8 + ((size_t)ui->n_seen + ui->n_bought) * 4);
        if (!p)
            return SR_ENOMEM;
        p[0] = ui->n_seen;
        p[1] = ui->n_bought;
        if (ui->n_seen)
            memcpy(p + 2, ui->seen, (size_t)ui->n_seen * 4);
        if (ui->n_bought)
            memcpy(p + 2 + ui->n_seen, ui->bought, (size_t)ui->n_bought * 4);
    }
    return b->failed ? SR_ENOMEM : 0;
}

/* A copy of n u32 values read from r into a new array of capacity *cap (the
 * power of two hist_add would have reached, at least 4); NULL with *cap 0
 * for n == 0. */
static int load_list(struct ck_rd *r, uint32_t n, uint32_t **out, uint32_t *cap)
{
    *out = NULL;
    *cap = 0;
    if (n == 0)
        return 0;
    if (n > UINT32_MAX / 2)
        return SR_ECORRUPT;
    const void *src = ck_take(r, (size_t)n * 4);
    if (!src)
        return SR_ECORRUPT;
    uint32_t c = 4;
    while (c < n)
        c *= 2;
    uint32_t *a = malloc((size_t)c * sizeof *a);
    if (!a)
        return SR_ENOMEM;
    memcpy(a, src, (size_t)n * 4);
    *out = a;
    *cap = c;
    return 0;
}

int hist_load(struct hist *h, struct ck_rd *r)
{
    if (h->cap_users != 0 || h->n_pairs != 0)
        return SR_EINVAL;
    uint32_t n_users = ck_get_u32(r);
    uint64_t n_pairs = ck_get_u64(r);
    /* Every user takes 8 bytes and every pair 4: refuse counts the payload
     * cannot hold before sizing anything by them. */
    if (r->failed || (uint64_t)n_users * 8 > ck_rd_left(r) || n_pairs > ck_rd_left(r) / 4 ||
        n_users > UINT32_MAX / 2)
        goto corrupt;
    int rc = reserve_users(h, n_users);
    if (rc)
        return rc;
    size_t slots = h->pairs_mask + 1;
    while ((n_pairs + 1) * 4 > (uint64_t)slots * 3)
        slots *= 2;
    if (slots != h->pairs_mask + 1) {
        uint64_t *np = calloc(slots, sizeof *np);
        if (!np)
            return SR_ENOMEM;
        free(h->pairs);
        h->pairs = np;
        h->pairs_mask = slots - 1;
    }
    for (uint32_t u = 0; u < n_users; u++) {
        struct user_items *ui = &h->users[u];
        uint32_t n_seen = ck_get_u32(r), n_bought = ck_get_u32(r);
        if (r->failed || n_seen > n_pairs - h->n_pairs)
            goto corrupt;
        if ((rc = load_list(r, n_seen, &ui->seen, &ui->cap_seen)) != 0 ||
            (rc = load_list(r, n_bought, &ui->bought, &ui->cap_bought)) != 0) {
            if (rc == SR_ECORRUPT)
                goto corrupt;
            return rc;
        }
        ui->n_seen = n_seen;
        ui->n_bought = n_bought;
        for (uint32_t j = 0; j < n_seen; j++) {
            uint64_t key = pair_key(u, ui->seen[j]);
            size_t slot = pair_slot(h, key);
            if (h->pairs[slot] == key)
                goto corrupt; /* seen twice */
            h->pairs[slot] = key;
            h->n_pairs++;
        }
        for (uint32_t j = 0; j < n_bought; j++)
            if (!hist_seen(h, u, ui->bought[j]))
                goto corrupt;
    }
    if (h->n_pairs != n_pairs || !ck_rd_ok(r))
        goto corrupt;
    return 0;
corrupt:
    ck_rd_fail(r);
    return SR_ECORRUPT;
}
