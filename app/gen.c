/* app/gen.c - the synthetic event stream of `streamrec gen`.
 *
 * The model (every random choice comes from one xoshiro256** stream seeded
 * with splitmix64(cfg.seed); fixed per-entity properties come from a
 * splitmix64 hash of (seed, id), so they do not depend on the draw order):
 *
 * Catalogue. Items are shuffled and dealt round-robin into `clusters` latent
 *   taste clusters (sizes differ by at most one). Inside a cluster, items
 *   have popularity ranks; rank r is drawn with weight 1/(r+1)^item_zipf
 *   (alias table, O(1)). Each item has a fixed price (log-uniform 2..500,
 *   ending in .99).
 *
 * Users. Activity is Zipf: a user with activity rank r (a random
 *   permutation) starts sessions with weight 1/(r+1)^user_zipf. Each user has
 *   one favourite cluster, and 60% a second one (hash of the user id).
 *
 * Sessions. Sessions arrive on a global event-time clock as a Poisson
 *   process whose rate gives cfg.events_per_s events per second on average,
 *   modulated by a daily cycle (+-50%, busiest at 20:00 UTC). Each arrival
 *   draws a user by activity; a user who is inside a session or whose last
 *   session ended less than min_user_gap_ms ago is redrawn (8 tries by
 *   activity, then 8 uniform); when all fail the arrival is dropped. This
 *   caps the heaviest users at about one session per gap, as real traffic
 *   is capped. A session has 1 + Geometric views (mean views_per_session);
 *   events inside a session are separated by exponential gaps (mean 40 s,
 *   clamped to 1 s .. 10 min), so a session never contains a gap as long as
 *   the usual 30-minute session timeout. All active sessions sit in a
 *   min-heap by next event time: the stream is their interleaving, and
 *   event times are non-decreasing.
 *
 * Views. A session focuses on one of the user's favourite clusters (the
 *   main one 70% of the time). A view is, with p_repeat, a re-view of an
 *   item viewed earlier in the session (last 8); otherwise with p_taste an
 *   item of the user's taste (the session's cluster 85%, the other favourite
 *   15%) and otherwise an item by global popularity (a cluster with
 *   probability proportional to its size, then a rank in it).
 *
 * Funnel. After a view, with p_cart the next event of the session is an
 *   ADD_TO_CART of the same item (quantity 1, 2 or 3); else with p_favorite
 *   a FAVORITE of it. A carted item is bought with p_purchase: after the
 *   session's last view, its checkout emits one PURCHASE per such item (up
 *   to 8 distinct). So a cart or purchase always follows a view of the same
 *   (user, item) in the same session. With the defaults: ~8% of views are
 *   carted, ~2.4% bought.
 *
 * Drift. Every drift_ms of event time, in every cluster, one item from
 *   outside the top tenth of its ranks rises to one of the top 3 ranks
 *   (the items in between move down one rank), so what is hot changes.
 *
 * The stream is truncated after cfg.events events (open sessions end
 * abruptly). Nothing is allocated after gen_new(). */
#include "app/gen.h"
#include "core/err.h"
#include "core/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GEN_GAP_MEAN_MS     40000.0 /* mean gap between events of a session */
#define GEN_GAP_MIN_MS      1000
#define GEN_GAP_MAX_MS      600000
#define GEN_MAX_VIEWS       500  /* views in one session, at most */
#define GEN_RECENT          8    /* items a session remembers for re-views */
#define GEN_CHECKOUT        8    /* distinct items bought at one checkout */
#define GEN_DRAW_TRIES      8    /* user redraws per kind (activity, uniform) */
#define GEN_P_MAIN_CLUSTER  0.7  /* P(session focuses on the main favourite) */
#define GEN_P_SESSION_CLUS  0.85 /* P(taste view from the session's cluster) */
#define GEN_P_TWO_FAVS      0.6  /* share of users with two favourite clusters */
#define GEN_DIURNAL_AMP     0.5  /* relative amplitude of the daily cycle */
#define GEN_DIURNAL_PEAK_MS (20 * 3600000.0)
#define GEN_DAY_MS          86400000.0
#define GEN_MAX_SESSIONS    (1u << 18) /* concurrent sessions, at most */
#define GEN_DRIFT_TOP       3          /* a rising item lands in ranks 0..2 */

/* --- random numbers --------------------------------------------------- */

/* splitmix64 as a generator: advances *x, returns the mix of its old value. */
static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = sr_mix64(*x);
    *x += SR_GOLDEN64;
    return z;
}

/* A hash of (seed, domain, id): fixed properties of users and items. */
static inline uint64_t gen_hash(uint64_t seed, uint64_t domain, uint64_t id)
{
    uint64_t x = seed ^ (domain * 0xd1b54a32d192ed03ull) ^ (id * 0x9e3779b97f4a7c15ull);
    splitmix64(&x);
    return splitmix64(&x);
}

struct rng {
    uint64_t s[4];
};

static inline uint64_t rng_next(struct rng *r)
{
    return sr_xoshiro256ss(r->s);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* Uniform in [0, 1). */
static inline double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n >= 1 (multiply-shift; bias < n / 2^64). */
static inline uint32_t rng_below(struct rng *r, uint64_t n)
{
    return (uint32_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Exponential with the given mean. */
static inline double rng_exp(struct rng *r, double mean)
{
    return -mean * log1p(-rng_unit(r));
}

/* --- alias tables (Vose) ---------------------------------------------- */

struct alias {
    uint32_t n;
    float *prob;     /* [n] acceptance probability of column k */
    uint32_t *other; /* [n] the alias of column k */
};

/* Builds the table of weights w[0..n) (all > 0); w is used as scratch. */
static int alias_build(struct alias *a, double *w, uint32_t n)
{
    a->n = n;
    a->prob = malloc((size_t)n * sizeof *a->prob);
    a->other = malloc((size_t)n * sizeof *a->other);
    uint32_t *work = malloc((size_t)n * sizeof *work);
    if (!a->prob || !a->other || !work) {
        free(work);
        return SR_ENOMEM;
    }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += w[i];
    /* work holds the small columns from the front, the large from the back. */
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        w[i] = w[i] * n / sum;
        if (w[i] < 1.0)
            work[ns++] = i;
        else
            work[n - 1 - nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        uint32_t s = work[--ns];
        uint32_t l = work[n - nl];
        a->prob[s] = (float)w[s];
        a->other[s] = l;
        w[l] -= 1.0 - w[s];
        if (w[l] < 1.0) {
            nl--;
            work[ns++] = l;
        }
    }
    while (nl > 0) {
        uint32_t l = work[n - nl--];
        a->prob[l] = 1.0f;
        a->other[l] = l;
    }
    while (ns > 0) { /* only rounding leftovers */
        uint32_t s = work[--ns];
        a->prob[s] = 1.0f;
        a->other[s] = s;
    }
    free(work);
    return 0;
}

static inline uint32_t alias_draw(const struct alias *a, struct rng *r)
{
    uint64_t x = rng_next(r);
    uint32_t k = (uint32_t)(((unsigned __int128)x * a->n) >> 64);
    float u = (float)(uint32_t)(x & 0xffffff) * 0x1.0p-24f; /* low bits: independent enough */
    return u < a->prob[k] ? k : a->other[k];
}

static void alias_free(struct alias *a)
{
    free(a->prob);
    free(a->other);
}

/* --- state ------------------------------------------------------------ */

enum { PEND_NONE = 0, PEND_CART, PEND_FAVORITE };

/* An open session. */
struct gen_session {
    uint64_t id;
    uint32_t user;
    uint32_t user_session;
    uint32_t cluster; /* focus: one of the user's favourites */
    uint32_t other;   /* the user's other favourite (== cluster when only one) */
    uint32_t views_left;
    uint32_t pending_item;
    uint8_t pending; /* PEND_* : the next event is about pending_item */
    uint8_t pending_qty;
    uint8_t n_recent;
    uint8_t recent_pos;
    uint8_t n_checkout;
    uint8_t checkout_pos;
    uint8_t checkout_qty[GEN_CHECKOUT];
    uint32_t recent[GEN_RECENT];
    uint32_t checkout[GEN_CHECKOUT];
};

struct heap_entry {
    int64_t ts;
    uint32_t slot;
};

struct gen {
    struct gen_cfg cfg; /* settings (copied) */

    /* Fixed model, built in gen_new(). */
    struct alias user_act;  /* over user indices: activity */
    struct alias rank_lo;   /* over ranks of a cluster of n_lo items */
    struct alias rank_hi;   /* ... of n_lo + 1 items (first items % clusters clusters) */
    uint32_t n_lo;          /* items / clusters */
    uint32_t *item_cluster; /* [items] */
    uint32_t *order;        /* [items]: cluster c's items by rank at order[coff[c]..] */
    uint32_t *coff;         /* [clusters + 1] offsets into order */
    double *price;          /* [items] */
    double sessions_per_ms; /* mean session arrival rate */

    /* Learned state of the run: clock, users, open sessions. */
    struct rng rng;
    uint64_t seq;             /* events produced */
    uint64_t sessions;        /* sessions started */
    int64_t last_ts;          /* time of the last event */
    double next_arrival;      /* ms, next session arrival */
    int64_t next_drift;       /* ms, next drift step (INT64_MAX: none) */
    int64_t *user_free_at;    /* [users] earliest next session start; INT64_MAX inside one */
    uint32_t *user_nsess;     /* [users] sessions started */
    struct gen_session *pool; /* [cap_sessions] */
    uint32_t *free_slots;     /* [cap_sessions] stack of free pool slots */
    uint32_t n_free;
    struct heap_entry *heap; /* [cap_sessions] min-heap by ts */
    uint32_t heap_n;
    uint32_t cap_sessions;

    /* Scratch: the string view of the last event. */
    char event_id[24];
    char user_id[16];
    char item_id[16];
    char session_id[24];
};

void gen_cfg_defaults(struct gen_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->events = 1000000;
    cfg->users = 100000;
    cfg->items = 20000;
    cfg->seed = 1;
    cfg->clusters = 20;
    cfg->item_zipf = 1.0;
    cfg->user_zipf = 0.8;
    cfg->start_ms = 1717200000000; /* 2024-06-01T00:00:00Z */
    cfg->events_per_s = 5.0;       /* 1M events span ~2.3 days */
    cfg->views_per_session = 6.0;
    cfg->p_cart = 0.08;
    cfg->p_purchase = 0.3;
    cfg->p_favorite = 0.01;
    cfg->p_taste = 0.8;
    cfg->p_repeat = 0.15;
    cfg->min_user_gap_ms = 45 * 60 * 1000;
    cfg->drift_ms = 3 * 60 * 60 * 1000;
}

static bool in_range(double x, double lo, double hi)
{
    return x >= lo && x <= hi; /* false for NaN */
}

static int check_cfg(const struct gen_cfg *c, char *errbuf, size_t errlen)
{
#define BAD(...) sr_seterr(errbuf, errlen, SR_EINVAL, __VA_ARGS__)
    if (c->users < 1 || c->users > UINT32_MAX)
        return BAD("gen: users must be from 1 to %u", UINT32_MAX);
    if (c->clusters < 1 || c->clusters > 65535)
        return BAD("gen: clusters must be from 1 to 65535");
    if (c->items < c->clusters || c->items > UINT32_MAX)
        return BAD("gen: items must be from clusters (%u) to %u", c->clusters, UINT32_MAX);
    if (!in_range(c->item_zipf, 0, 5) || !in_range(c->user_zipf, 0, 5))
        return BAD("gen: zipf exponents must be from 0 to 5");
    if (c->start_ms < 0 || c->start_ms > (int64_t)1 << 52)
        return BAD("gen: start time must be from 0 to 2^52 ms");
    if (!in_range(c->events_per_s, 1e-6, 1e9))
        return BAD("gen: rate must be from 1e-6 to 1e9 events per second");
    if (!in_range(c->views_per_session, 1, GEN_MAX_VIEWS))
        return BAD("gen: views per session must be from 1 to %d", GEN_MAX_VIEWS);
    if (!in_range(c->p_cart, 0, 1) || !in_range(c->p_purchase, 0, 1) ||
        !in_range(c->p_favorite, 0, 1) || !in_range(c->p_taste, 0, 1) ||
        !in_range(c->p_repeat, 0, 1))
        return BAD("gen: probabilities must be from 0 to 1");
    if (c->min_user_gap_ms < 0 || c->min_user_gap_ms > (int64_t)1 << 40)
        return BAD("gen: min user gap must be from 0 to 2^40 ms");
    if (c->drift_ms != 0 && (c->drift_ms < 1000 || c->drift_ms > (int64_t)1 << 40))
        return BAD("gen: drift interval must be 0 (off) or from 1000 to 2^40 ms");
    return 0;
#undef BAD
}

/* Zipf weights of ranks 0..n) into w. */
static void zipf_weights(double *w, uint32_t n, double s)
{
    for (uint32_t r = 0; r < n; r++)
        w[r] = pow((double)r + 1.0, -s);
}

static int build_model(struct gen *g)
{
    const struct gen_cfg *c = &g->cfg;
    uint32_t nu = (uint32_t)c->users, ni = (uint32_t)c->items, nc = c->clusters;
    uint32_t *perm = NULL;
    double *w = NULL;
    int rc = SR_ENOMEM;
    size_t nmax = nu > ni ? nu : ni;

    perm = malloc(nmax * sizeof *perm);
    w = malloc(nmax * sizeof *w);
    g->item_cluster = malloc((size_t)ni * sizeof *g->item_cluster);
    g->order = malloc((size_t)ni * sizeof *g->order);
    g->coff = malloc(((size_t)nc + 1) * sizeof *g->coff);
    g->price = malloc((size_t)ni * sizeof *g->price);
    g->user_free_at = malloc((size_t)nu * sizeof *g->user_free_at);
    g->user_nsess = calloc(nu, sizeof *g->user_nsess);
    if (!perm || !w || !g->item_cluster || !g->order || !g->coff || !g->price || !g->user_free_at ||
        !g->user_nsess)
        goto out_free_scratch;

    /* Items: shuffle, deal round-robin; position j goes to cluster j % nc
     * with initial rank j / nc, so clusters c < ni % nc have one more. */
    for (uint32_t i = 0; i < ni; i++)
        perm[i] = i;
    for (uint32_t i = ni; i > 1; i--) {
        uint32_t j = rng_below(&g->rng, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    g->n_lo = ni / nc;
    uint32_t n_extra = ni % nc;
    g->coff[0] = 0;
    for (uint32_t k = 0; k < nc; k++)
        g->coff[k + 1] = g->coff[k] + g->n_lo + (k < n_extra ? 1 : 0);
    for (uint32_t j = 0; j < ni; j++) {
        uint32_t k = j % nc;
        g->item_cluster[perm[j]] = k;
        g->order[g->coff[k] + j / nc] = perm[j];
    }
    for (uint32_t i = 0; i < ni; i++) { /* log-uniform 2 .. 500, ending in .99 */
        double u = (double)(gen_hash(c->seed, 3, i) >> 11) * 0x1.0p-53;
        double whole = floor(exp(log(2.0) + u * (log(500.0) - log(2.0))));
        g->price[i] = (whole * 100.0 + 99.0) / 100.0; /* == strtod("N.99") */
    }
    zipf_weights(w, g->n_lo, c->item_zipf);
    if (alias_build(&g->rank_lo, w, g->n_lo))
        goto out_free_scratch;
    zipf_weights(w, g->n_lo + 1, c->item_zipf);
    if (alias_build(&g->rank_hi, w, g->n_lo + 1))
        goto out_free_scratch;

    /* Users: activity rank is a random permutation. */
    for (uint32_t u = 0; u < nu; u++)
        perm[u] = u;
    for (uint32_t i = nu; i > 1; i--) {
        uint32_t j = rng_below(&g->rng, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (uint32_t u = 0; u < nu; u++)
        w[u] = pow((double)perm[u] + 1.0, -c->user_zipf);
    if (alias_build(&g->user_act, w, nu))
        goto out_free_scratch;
    for (uint32_t u = 0; u < nu; u++)
        g->user_free_at[u] = INT64_MIN;
    rc = 0;

out_free_scratch:
    free(w);
    free(perm);
    return rc;
}

struct gen *gen_new(const struct gen_cfg *cfg, char *errbuf, size_t errlen)
{
    if (check_cfg(cfg, errbuf, errlen))
        return NULL;
    struct gen *g = calloc(1, sizeof *g);
    if (!g) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "gen: out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    rng_seed(&g->rng, cfg->seed);
    if (build_model(g))
        goto err_free_gen;

    /* Mean events per session: views, plus carts and purchases, plus favourites. */
    const struct gen_cfg *c = cfg;
    double per_session = c->views_per_session * (1.0 + c->p_cart * (1.0 + c->p_purchase) +
                                                 (1.0 - c->p_cart) * c->p_favorite);
    g->sessions_per_ms = c->events_per_s / 1000.0 / per_session;

    /* Open sessions expected: rate x session length, about events_per_s x
     * mean gap; room for four times that, bounded by the users. */
    double want = 4.0 * c->events_per_s * (GEN_GAP_MEAN_MS / 1000.0) + 64.0;
    uint32_t cap = want > GEN_MAX_SESSIONS ? GEN_MAX_SESSIONS : (uint32_t)want;
    if (cap > c->users)
        cap = (uint32_t)c->users;
    g->cap_sessions = cap;
    g->pool = malloc((size_t)cap * sizeof *g->pool);
    g->free_slots = malloc((size_t)cap * sizeof *g->free_slots);
    g->heap = malloc((size_t)cap * sizeof *g->heap);
    if (!g->pool || !g->free_slots || !g->heap)
        goto err_free_gen;
    for (uint32_t i = 0; i < cap; i++)
        g->free_slots[i] = cap - 1 - i;
    g->n_free = cap;

    g->last_ts = c->start_ms;
    g->next_arrival = (double)c->start_ms;
    g->next_drift = c->drift_ms > 0 ? c->start_ms + c->drift_ms : INT64_MAX;
    return g;

err_free_gen:
    gen_free(g);
    sr_seterr(errbuf, errlen, SR_ENOMEM, "gen: out of memory for %llu users and %llu items",
              (unsigned long long)cfg->users, (unsigned long long)cfg->items);
    return NULL;
}

void gen_free(struct gen *g)
{
    if (!g)
        return;
    alias_free(&g->user_act);
    alias_free(&g->rank_lo);
    alias_free(&g->rank_hi);
    free(g->item_cluster);
    free(g->order);
    free(g->coff);
    free(g->price);
    free(g->user_free_at);
    free(g->user_nsess);
    free(g->pool);
    free(g->free_slots);
    free(g->heap);
    free(g);
}

uint64_t gen_count(const struct gen *g)
{
    return g->seq;
}

uint32_t gen_item_cluster(const struct gen *g, uint32_t item)
{
    return g->item_cluster[item];
}

int gen_user_clusters(const struct gen *g, uint32_t user, uint32_t out[2])
{
    uint32_t nc = g->cfg.clusters;
    uint64_t h = gen_hash(g->cfg.seed, 1, user);
    out[0] = (uint32_t)((h & 0xffffffffu) % nc);
    double u = (double)(h >> 40) * 0x1.0p-24;
    if (nc < 2 || u >= GEN_P_TWO_FAVS)
        return 1;
    uint64_t h2 = gen_hash(g->cfg.seed, 2, user);
    out[1] = (out[0] + 1 + (uint32_t)(h2 % (nc - 1))) % nc;
    return 2;
}

/* --- heap ------------------------------------------------------------- */

static void heap_sift_down(struct gen *g, uint32_t i)
{
    struct heap_entry *h = g->heap;
    uint32_t n = g->heap_n;
    struct heap_entry e = h[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n)
            break;
        uint32_t m = (l + 1 < n && h[l + 1].ts < h[l].ts) ? l + 1 : l;
        if (h[m].ts >= e.ts)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = e;
}

static void heap_push(struct gen *g, int64_t ts, uint32_t slot)
{
    struct heap_entry *h = g->heap;
    uint32_t i = g->heap_n++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].ts <= ts)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i].ts = ts;
    h[i].slot = slot;
}

static void heap_pop(struct gen *g)
{
    g->heap[0] = g->heap[--g->heap_n];
    if (g->heap_n > 0)
        heap_sift_down(g, 0);
}

/* --- the model at work ------------------------------------------------ */

static int64_t session_gap(struct gen *g)
{
    double gap = rng_exp(&g->rng, GEN_GAP_MEAN_MS);
    if (gap < GEN_GAP_MIN_MS)
        return GEN_GAP_MIN_MS;
    if (gap > GEN_GAP_MAX_MS)
        return GEN_GAP_MAX_MS;
    return (int64_t)gap;
}

/* One drift step: in every cluster an item from below the top tenth rises. */
static void drift_step(struct gen *g)
{
    for (uint32_t k = 0; k < g->cfg.clusters; k++) {
        uint32_t n = g->coff[k + 1] - g->coff[k];
        uint32_t lo = n / 10 > 1 ? n / 10 : 1;
        if (n < 2 || lo >= n)
            continue;
        uint32_t *ord = g->order + g->coff[k];
        uint32_t from = lo + rng_below(&g->rng, n - lo);
        uint32_t to = rng_below(&g->rng, from < GEN_DRIFT_TOP ? from : GEN_DRIFT_TOP);
        uint32_t item = ord[from];
        memmove(ord + to + 1, ord + to, (size_t)(from - to) * sizeof *ord);
        ord[to] = item;
    }
}

/* An item of cluster k by its current popularity ranks. */
static uint32_t pick_in_cluster(struct gen *g, uint32_t k)
{
    uint32_t n = g->coff[k + 1] - g->coff[k];
    uint32_t r = alias_draw(n == g->n_lo ? &g->rank_lo : &g->rank_hi, &g->rng);
    return g->order[g->coff[k] + r];
}

static uint32_t pick_view(struct gen *g, struct gen_session *s)
{
    const struct gen_cfg *c = &g->cfg;
    if (s->n_recent > 0 && rng_unit(&g->rng) < c->p_repeat)
        return s->recent[rng_below(&g->rng, s->n_recent)];
    uint32_t k;
    if (rng_unit(&g->rng) < c->p_taste)
        k = rng_unit(&g->rng) < GEN_P_SESSION_CLUS ? s->cluster : s->other;
    else /* global popularity: a cluster by its size, then a rank */
        k = g->item_cluster[rng_below(&g->rng, c->items)];
    return pick_in_cluster(g, k);
}

/* A user free to start a session at t, or UINT32_MAX. */
static uint32_t draw_user(struct gen *g, int64_t t)
{
    for (int i = 0; i < GEN_DRAW_TRIES; i++) {
        uint32_t u = alias_draw(&g->user_act, &g->rng);
        if (g->user_free_at[u] <= t)
            return u;
    }
    for (int i = 0; i < GEN_DRAW_TRIES; i++) {
        uint32_t u = rng_below(&g->rng, g->cfg.users);
        if (g->user_free_at[u] <= t)
            return u;
    }
    return UINT32_MAX;
}

static void start_session(struct gen *g, uint32_t user, int64_t t)
{
    uint32_t slot = g->free_slots[--g->n_free];
    struct gen_session *s = &g->pool[slot];
    uint32_t fav[2];
    int nfav = gen_user_clusters(g, user, fav);
    bool main = nfav == 1 || rng_unit(&g->rng) < GEN_P_MAIN_CLUSTER;
    s->id = g->sessions++;
    s->user = user;
    s->user_session = g->user_nsess[user]++;
    s->cluster = main ? fav[0] : fav[1];
    s->other = nfav == 1 ? fav[0] : (main ? fav[1] : fav[0]);
    uint32_t views = 1;
    double v = g->cfg.views_per_session;
    if (v > 1.0) { /* 1 + Geometric(mean v - 1) */
        double q = (v - 1.0) / v;
        double extra = floor(log1p(-rng_unit(&g->rng)) / log(q));
        views += extra >= GEN_MAX_VIEWS - 1 ? GEN_MAX_VIEWS - 1 : (uint32_t)extra;
    }
    s->views_left = views;
    s->pending = PEND_NONE;
    s->n_recent = s->recent_pos = 0;
    s->n_checkout = s->checkout_pos = 0;
    g->user_free_at[user] = INT64_MAX;
    heap_push(g, t, slot);
}

/* Session arrivals until the heap holds the next event. */
static void advance_arrivals(struct gen *g)
{
    const double day_phase = 2.0 * M_PI / GEN_DAY_MS;
    for (;;) {
        bool full = g->n_free == 0;
        if (g->heap_n > 0 && (full || (double)g->heap[0].ts <= g->next_arrival))
            return;
        int64_t t = (int64_t)g->next_arrival;
        if (t < g->last_ts)
            t = g->last_ts; /* the arrival waited for a free slot */
        uint32_t u = draw_user(g, t);
        if (u == UINT32_MAX && g->heap_n > 0) {
            /* Everyone drawn is busy: drop the arrival; let the open
             * sessions go on first so a tiny user set cannot spin here. */
            g->next_arrival = (double)g->heap[0].ts;
        } else {
            if (u == UINT32_MAX) { /* nothing open: wait for the first free user */
                for (uint32_t i = 0; i < g->cfg.users; i++)
                    if (u == UINT32_MAX || g->user_free_at[i] < g->user_free_at[u])
                        u = i;
                if (g->user_free_at[u] > t)
                    t = g->user_free_at[u];
            }
            start_session(g, u, t);
            double tod = fmod((double)t - GEN_DIURNAL_PEAK_MS, GEN_DAY_MS);
            double rate = g->sessions_per_ms * (1.0 + GEN_DIURNAL_AMP * cos(tod * day_phase));
            g->next_arrival = (double)t + rng_exp(&g->rng, 1.0 / rate);
        }
    }
}

static char *put_id(char *p, char prefix, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *p++ = prefix;
    while (n > 0)
        *p++ = tmp[--n];
    *p = '\0';
    return p;
}

static struct sr_str view_id(char *buf, char prefix, uint64_t v)
{
    char *end = put_id(buf, prefix, v);
    return (struct sr_str){buf, (uint32_t)(end - buf)};
}

int gen_next(struct gen *g, struct gen_event *ev)
{
    const struct gen_cfg *c = &g->cfg;
    if (g->seq >= c->events)
        return SR_EEOF;
    advance_arrivals(g);

    int64_t t = g->heap[0].ts;
    uint32_t slot = g->heap[0].slot;
    struct gen_session *s = &g->pool[slot];
    while (t >= g->next_drift) {
        drift_step(g);
        g->next_drift += c->drift_ms;
    }

    enum sr_event_type type;
    uint32_t item;
    int qty = 0;
    if (s->pending != PEND_NONE) {
        item = s->pending_item;
        if (s->pending == PEND_CART) {
            type = SR_ADD_TO_CART;
            qty = s->pending_qty;
            if (s->n_checkout < GEN_CHECKOUT && rng_unit(&g->rng) < c->p_purchase) {
                bool dup = false;
                for (int i = 0; i < s->n_checkout; i++)
                    dup |= s->checkout[i] == item;
                if (!dup) {
                    s->checkout_qty[s->n_checkout] = (uint8_t)qty;
                    s->checkout[s->n_checkout++] = item;
                }
            }
        } else {
            type = SR_FAVORITE;
        }
        s->pending = PEND_NONE;
    } else if (s->views_left > 0) {
        type = SR_VIEW;
        item = pick_view(g, s);
        s->views_left--;
        s->recent[s->recent_pos] = item;
        s->recent_pos = (uint8_t)((s->recent_pos + 1) % GEN_RECENT);
        if (s->n_recent < GEN_RECENT)
            s->n_recent++;
        double r = rng_unit(&g->rng);
        if (r < c->p_cart) {
            s->pending = PEND_CART;
            s->pending_item = item;
            double rq = rng_unit(&g->rng);
            s->pending_qty = rq < 0.85 ? 1 : rq < 0.95 ? 2 : 3;
        } else if (rng_unit(&g->rng) < c->p_favorite) {
            s->pending = PEND_FAVORITE;
            s->pending_item = item;
        }
    } else {
        type = SR_PURCHASE;
        item = s->checkout[s->checkout_pos];
        qty = s->checkout_qty[s->checkout_pos++];
    }

    ev->ts_ms = t;
    ev->user = s->user;
    ev->item = item;
    ev->type = type;
    ev->seq = g->seq;
    ev->session = s->id;
    ev->user_session = s->user_session;

    struct sr_raw_event *raw = &ev->raw;
    raw->ts_ms = t;
    raw->event_id = view_id(g->event_id, 'e', g->seq);
    raw->user_id = view_id(g->user_id, 'u', s->user);
    raw->item_id = view_id(g->item_id, 'i', item);
    raw->session_id = view_id(g->session_id, 's', s->id);
    raw->category = (struct sr_str){NULL, 0};
    raw->type = type;
    raw->has_price = true;
    raw->price = g->price[item];
    raw->has_quantity = qty > 0;
    raw->quantity = qty;

    g->seq++;
    g->last_ts = t;
    bool more = s->pending != PEND_NONE || s->views_left > 0 || s->checkout_pos < s->n_checkout;
    if (more) {
        g->heap[0].ts = t + session_gap(g);
        heap_sift_down(g, 0);
    } else {
        g->user_free_at[s->user] = t + c->min_user_gap_ms;
        heap_pop(g);
        g->free_slots[g->n_free++] = slot;
    }
    return 0;
}
