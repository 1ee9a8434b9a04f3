/* learner/eval.c - prequential evaluation of the baselines, MF and the
 * served list, by rank counting over the whole catalogue. */
#include "learner/eval.h"
#include "core/err.h"
#include "features/feat.h"
#include "learner/mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOP_N      20 /* deepest cut-off reported (HR@20, MRR@20, NDCG@20) */
#define NONE       UINT32_MAX
#define MAX_RECENT 64
#define MAX_CANDS  (MAX_RECENT * 256)

/* A user's history: every item touched, and the purchased ones. */
struct hist {
    uint32_t *seen; /* [n_seen], distinct, in first-touch order */
    uint32_t *bought;
    uint32_t n_seen, cap_seen;
    uint32_t n_bought, cap_bought;
};

struct acc {
    uint64_t n;
    uint64_t hit10, hit20;
    double mrr, ndcg;
};

struct eval {
    struct sr_eval_cfg cfg; /* settings */
    struct sr_serve_cfg serve;
    uint64_t warmup_events; /* events before this index are not scored */
    size_t pop_w;

    uint64_t events; /* state: eval_step calls so far */
    struct acc acc[EVAL_N_MODES][EVAL_N_SYS];
    struct hist *hist; /* [cap_users] */
    uint32_t cap_users;
    uint64_t *pairs; /* open-addressing set of (user << 32 | item) + 1; 0 = empty */
    size_t pairs_mask, n_pairs;

    float *scores; /* scratch: [cap_items] MF scores */
    uint32_t cap_items;
    uint32_t recent[MAX_RECENT]; /* scratch: covis expansion */
    uint32_t nb_items[256];
    float nb_scores[256];
    uint32_t cand_items[MAX_CANDS];
    float cand_scores[MAX_CANDS];
};

static const char *const sys_names[EVAL_N_SYS] = {"popularity", "popularity_all", "covis", "mf",
                                                  "served"};
static const char *const mode_names[EVAL_N_MODES] = {"exclude_seen", "include_seen"};

const char *eval_sys_name(enum eval_sys s)
{
    return (unsigned)s < EVAL_N_SYS ? sys_names[s] : "?";
}

const char *eval_mode_name(enum eval_mode m)
{
    return (unsigned)m < EVAL_N_MODES ? mode_names[m] : "?";
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct eval *eval_new(const struct sr_eval_cfg *cfg, const struct sr_serve_cfg *serve,
                      uint64_t total_events, size_t pop_window_idx, char *errbuf, size_t errlen)
{
    struct eval *e = calloc(1, sizeof *e);
    if (!e)
        goto err_nomem;
    e->cfg = *cfg;
    e->serve = *serve;
    e->pop_w = pop_window_idx;
    e->warmup_events = (uint64_t)floor(cfg->warmup * (double)total_events);
    e->pairs_mask = 4095;
    e->pairs = calloc(e->pairs_mask + 1, sizeof *e->pairs);
    if (!e->pairs)
        goto err_free_eval;
    return e;

err_free_eval:
    eval_free(e);
err_nomem:
    sr_seterr(errbuf, errlen, SR_ENOMEM, "evaluation: out of memory");
    return NULL;
}

void eval_free(struct eval *e)
{
    if (!e)
        return;
    for (uint32_t u = 0; u < e->cap_users; u++) {
        free(e->hist[u].seen);
        free(e->hist[u].bought);
    }
    free(e->hist);
    free(e->pairs);
    free(e->scores);
    free(e);
}

/* ---- history ---------------------------------------------------------- */

static size_t pair_slot(const struct eval *e, uint64_t key)
{
    size_t i = (size_t)mix64(key) & e->pairs_mask;
    while (e->pairs[i] && e->pairs[i] != key)
        i = (i + 1) & e->pairs_mask;
    return i;
}

static bool pair_seen(const struct eval *e, uint32_t user, uint32_t item)
{
    uint64_t key = ((uint64_t)user << 32 | item) + 1;
    return e->pairs[pair_slot(e, key)] == key;
}

/* Adds the pair; *added tells whether it was new. */
static int pair_add(struct eval *e, uint32_t user, uint32_t item, bool *added)
{
    uint64_t key = ((uint64_t)user << 32 | item) + 1;
    if ((e->n_pairs + 1) * 4 > (e->pairs_mask + 1) * 3) {
        size_t ncap = (e->pairs_mask + 1) * 2;
        uint64_t *np = calloc(ncap, sizeof *np);
        if (!np)
            return SR_ENOMEM;
        uint64_t *old = e->pairs;
        size_t old_cap = e->pairs_mask + 1;
        e->pairs = np;
        e->pairs_mask = ncap - 1;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                e->pairs[pair_slot(e, old[i])] = old[i];
        free(old);
    }
    size_t i = pair_slot(e, key);
    *added = e->pairs[i] == 0;
    if (*added) {
        e->pairs[i] = key;
        e->n_pairs++;
    }
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

static int reserve_users(struct eval *e, uint32_t n)
{
    if (n <= e->cap_users)
        return 0;
    uint32_t ncap = e->cap_users ? e->cap_users : 1024;
    while (ncap < n)
        ncap *= 2;
    struct hist *nh = realloc(e->hist, (size_t)ncap * sizeof *nh);
    if (!nh)
        return SR_ENOMEM;
    memset(nh + e->cap_users, 0, (size_t)(ncap - e->cap_users) * sizeof *nh);
    e->hist = nh;
    e->cap_users = ncap;
    return 0;
}

int eval_observe(struct eval *e, const struct sr_event *ev)
{
    int rc = reserve_users(e, ev->user + 1);
    if (rc)
        return rc;
    struct hist *h = &e->hist[ev->user];
    bool added;
    if ((rc = pair_add(e, ev->user, ev->item, &added)) != 0)
        return rc;
    if (added && (rc = push_u32(&h->seen, &h->n_seen, &h->cap_seen, ev->item)) != 0)
        return rc;
    if (ev->type == SR_PURCHASE) {
        for (uint32_t j = 0; j < h->n_bought; j++)
            if (h->bought[j] == ev->item)
                return 0;
        return push_u32(&h->bought, &h->n_bought, &h->cap_bought, ev->item);
    }
    return 0;
}

/* ---- ranking ---------------------------------------------------------- */

/* Does item a (score sa) rank above item b (score sb)? Ties go to the
 * earlier first positive. */
static inline bool beats(float sa, uint32_t fa, float sb, uint32_t fb)
{
    return sa > sb || (sa == sb && fa < fb);
}

/* 1 + number of catalogue items that beat target, counting at most to
 * limit (a larger result only means "beyond limit"). */
static uint64_t rank_full(const float *s, const uint32_t *first, uint32_t n, uint32_t target,
                          uint64_t limit)
{
    const float st = s[target];
    const uint32_t ft = first[target];
    uint64_t above = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* first[i] == NONE (not in the catalogue) never beats: fa < ft fails
         * on ties and such items have no score worth counting. */
        if (first[i] != NONE && beats(s[i], first[i], st, ft)) {
            if (++above >= limit)
                break;
        }
    }
    return above + 1;
}

/* Among excl[0..n), how many are catalogue items beating target. */
static uint64_t beaten_by(const float *s, const uint32_t *first, const uint32_t *excl, uint32_t n,
                          uint32_t target)
{
    uint64_t c = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = excl[j];
        if (i != target && first[i] != NONE && beats(s[i], first[i], s[target], first[target]))
            c++;
    }
    return c;
}

static void record(struct acc *a, uint64_t rank)
{
    a->n++;
    if (rank > TOP_N)
        return;
    if (rank <= 10)
        a->hit10++;
    a->hit20++;
    a->mrr += 1.0 / (double)rank;
    a->ndcg += 1.0 / log2((double)rank + 1.0);
}

/* Ranks of target under a dense score array in both modes. With exclusion
 * set E, the target's rank is its full rank minus the members of E that
 * beat it, so one pass serves both modes. */
static void rank_dense(const float *s, const uint32_t *first, uint32_t n, uint32_t target,
                       const struct hist *h, bool scored_excl, const uint32_t *incl_excl,
                       uint32_t n_incl_excl, uint64_t *r_excl, uint64_t *r_incl)
{
    uint64_t limit = TOP_N + 1 + (h ? h->n_seen : 0) + n_incl_excl;
    uint64_t r = rank_full(s, first, n, target, limit);
    *r_incl = r - beaten_by(s, first, incl_excl, n_incl_excl, target);
    *r_excl = scored_excl && h ? r - beaten_by(s, first, h->seen, h->n_seen, target) : r;
}

/* Co-visitation: candidates are the neighbours of the user's recent items,
 * scored by the sum of their pair weights. */
static uint64_t rank_covis(struct eval *e, const struct feat *f, uint32_t user, uint32_t target,
                           const uint32_t *first, const struct hist *excl_hist)
{
    size_t n_recent = feat_user_recent(f, user, e->recent, (size_t)e->cfg.covis_recent);
    size_t n_cand = 0;
    for (size_t r = 0; r < n_recent; r++) {
        size_t n_nb = feat_covis(f, e->recent[r], e->nb_items, e->nb_scores, 256);
        for (size_t j = 0; j < n_nb; j++) {
            size_t c;
            for (c = 0; c < n_cand; c++)
                if (e->cand_items[c] == e->nb_items[j])
                    break;
            if (c == n_cand) {
                if (n_cand == MAX_CANDS)
                    continue;
                e->cand_items[n_cand] = e->nb_items[j];
                e->cand_scores[n_cand++] = 0;
            }
            e->cand_scores[c] += e->nb_scores[j];
        }
    }
    float st = 0;
    bool found = false;
    for (size_t c = 0; c < n_cand; c++)
        if (e->cand_items[c] == target) {
            st = e->cand_scores[c];
            found = true;
        }
    if (!found || first[target] == NONE)
        return UINT64_MAX;
    uint64_t above = 0;
    for (size_t c = 0; c < n_cand; c++) {
        uint32_t i = e->cand_items[c];
        if (i == target || first[i] == NONE)
            continue;
        if (excl_hist && pair_seen(e, user, i))
            continue;
        if (beats(e->cand_scores[c], first[i], st, first[target]))
            above++;
    }
    return above + 1;
}

static bool sampled(const struct eval *e, uint64_t index)
{
    if (e->cfg.sample >= 1.0)
        return true;
    /* By event index alone: runs with other seeds or settings score the
     * same events, so their figures compare like for like. */
    double u = (double)(mix64(0x5eed5a3b1e0fULL ^ mix64(index)) >> 11) * 0x1.0p-53;
    return u < e->cfg.sample;
}

static bool will_score(const struct eval *e, const struct sr_event *ev, uint64_t index)
{
    return ev->weight > 0 && index >= e->warmup_events && sampled(e, index);
}

bool eval_will_score(const struct eval *e, const struct sr_event *ev)
{
    return will_score(e, ev, e->events);
}

int eval_step(struct eval *e, const struct sr_event *ev, const struct feat *f, const struct mf *m)
{
    if (!will_score(e, ev, e->events++))
        return 0;

    int rc = reserve_users(e, ev->user + 1);
    if (rc)
        return rc;
    const struct hist *h = &e->hist[ev->user];
    const uint32_t n_items = feat_n_items(f);
    const uint32_t *first = feat_item_first_pos(f);
    const uint32_t target = ev->item;
    const bool scored_excl = !pair_seen(e, ev->user, target);
    /* The served list in include_seen mode still never shows purchases. */
    const uint32_t *bought = e->serve.exclude_purchased ? h->bought : NULL;
    const uint32_t n_bought = e->serve.exclude_purchased ? h->n_bought : 0;

    uint64_t r_ex[EVAL_N_SYS], r_in[EVAL_N_SYS];
    for (int s = 0; s < EVAL_N_SYS; s++)
        r_ex[s] = r_in[s] = UINT64_MAX;

    if (target < n_items && first[target] != NONE) {
        if (n_items > e->cap_items) {
            uint32_t ncap = e->cap_items ? e->cap_items : 1024;
            while (ncap < n_items)
                ncap *= 2;
            float *ns = realloc(e->scores, (size_t)ncap * sizeof *ns);
            if (!ns)
                return SR_ENOMEM;
            e->scores = ns;
            e->cap_items = ncap;
        }
        const float *pop = feat_pop_scores(f, e->pop_w);
        const uint32_t *all = feat_pop_all(f);
        rank_dense(pop, first, n_items, target, h, scored_excl, NULL, 0, &r_ex[EVAL_POPULARITY],
                   &r_in[EVAL_POPULARITY]);
        /* popularity_all ranks by integer counts: as floats they are exact
         * below 2^24, far beyond these streams. */
        for (uint32_t i = 0; i < n_items; i++)
            e->scores[i] = (float)all[i];
        rank_dense(e->scores, first, n_items, target, h, scored_excl, NULL, 0,
                   &r_ex[EVAL_POPULARITY_ALL], &r_in[EVAL_POPULARITY_ALL]);
        r_in[EVAL_COVIS] = rank_covis(e, f, ev->user, target, first, NULL);
        if (scored_excl)
            r_ex[EVAL_COVIS] = rank_covis(e, f, ev->user, target, first, h);

        bool use_mf = feat_user_positives(f, ev->user) >= (uint32_t)e->serve.fallback_min_events;
        mf_score_all(m, ev->user, e->scores, n_items);
        rank_dense(e->scores, first, n_items, target, h, scored_excl, NULL, 0, &r_ex[EVAL_MF],
                   &r_in[EVAL_MF]);
        uint64_t dummy;
        if (use_mf) {
            r_ex[EVAL_SERVED] = r_ex[EVAL_MF];
            rank_dense(e->scores, first, n_items, target, NULL, false, bought, n_bought, &dummy,
                       &r_in[EVAL_SERVED]);
        } else {
            r_ex[EVAL_SERVED] = r_ex[EVAL_POPULARITY];
            rank_dense(pop, first, n_items, target, NULL, false, bought, n_bought, &dummy,
                       &r_in[EVAL_SERVED]);
        }
    }
    for (int s = 0; s < EVAL_N_SYS; s++) {
        record(&e->acc[EVAL_INCLUDE_SEEN][s], r_in[s]);
        if (scored_excl)
            record(&e->acc[EVAL_EXCLUDE_SEEN][s], r_ex[s]);
    }
    return 0;
}

void eval_result(const struct eval *e, enum eval_mode mode, enum eval_sys sys,
                 struct eval_metrics *out)
{
    const struct acc *a = &e->acc[mode][sys];
    double n = a->n ? (double)a->n : 1.0;
    out->n = a->n;
    out->hr10 = (double)a->hit10 / n;
    out->hr20 = (double)a->hit20 / n;
    out->mrr20 = a->mrr / n;
    out->ndcg20 = a->ndcg / n;
}

uint64_t eval_events(const struct eval *e)
{
    return e->events;
}

size_t eval_bytes(const struct eval *e)
{
    size_t b = sizeof *e + (e->pairs_mask + 1) * sizeof *e->pairs +
               (size_t)e->cap_items * sizeof *e->scores + (size_t)e->cap_users * sizeof *e->hist;
    for (uint32_t u = 0; u < e->cap_users; u++)
        b += ((size_t)e->hist[u].cap_seen + e->hist[u].cap_bought) * sizeof(uint32_t);
    return b;
}
