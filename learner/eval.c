/* learner/eval.c - prequential evaluation of the baselines, MF and the
 * served list, by rank counting over the whole catalogue. */
#include "learner/eval.h"
#include "core/ckpt.h"
#include "core/err.h"
#include "core/rng.h"
#include "features/feat.h"
#include "features/history.h"
#include "learner/mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOP_N      20 /* deepest cut-off reported (HR@20, MRR@20, NDCG@20) */
#define NONE       UINT32_MAX
#define MAX_RECENT 64
#define MAX_CANDS  (MAX_RECENT * 256)

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
    struct hist *hist; /* every user's earlier items and purchases */

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
    e->hist = hist_new();
    if (!e->hist)
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
    hist_free(e->hist);
    free(e->scores);
    free(e);
}

int eval_observe(struct eval *e, const struct sr_event *ev)
{
    return hist_add(e->hist, ev);
}

void eval_forget_user(struct eval *e, uint32_t user)
{
    hist_forget_user(e->hist, user);
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
                       const uint32_t *seen, uint32_t n_seen, const uint32_t *incl_excl,
                       uint32_t n_incl_excl, uint64_t *r_excl, uint64_t *r_incl)
{
    uint64_t limit = TOP_N + 1 + n_seen + n_incl_excl;
    uint64_t r = rank_full(s, first, n, target, limit);
    *r_incl = r - beaten_by(s, first, incl_excl, n_incl_excl, target);
    *r_excl = r - beaten_by(s, first, seen, n_seen, target);
}

/* Co-visitation: candidates are the neighbours of the user's recent items,
 * scored by the sum of their pair weights. */
static uint64_t rank_covis(struct eval *e, const struct feat *f, uint32_t user, uint32_t target,
                           const uint32_t *first, bool exclude_seen)
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
        if (exclude_seen && hist_seen(e->hist, user, i))
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
    double u = (double)(sr_mix64(0x5eed5a3b1e0fULL ^ sr_mix64(index)) >> 11) * 0x1.0p-53;
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

    const uint32_t n_items = feat_n_items(f);
    const uint32_t *first = feat_item_first_pos(f);
    const uint32_t target = ev->item;
    const bool scored_excl = !hist_seen(e->hist, ev->user, target);
    /* exclude_seen leaves out the user's earlier items; a scored event's
     * own item is never among them. */
    uint32_t n_seen = 0, n_bought = 0;
    const uint32_t *seen = scored_excl ? hist_items(e->hist, ev->user, &n_seen) : NULL;
    /* The served list in include_seen mode still never shows purchases. */
    const uint32_t *bought =
        e->serve.exclude_purchased ? hist_bought(e->hist, ev->user, &n_bought) : NULL;

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
        rank_dense(pop, first, n_items, target, seen, n_seen, NULL, 0, &r_ex[EVAL_POPULARITY],
                   &r_in[EVAL_POPULARITY]);
        /* popularity_all ranks by integer counts: as floats they are exact
         * below 2^24, far beyond these streams. */
        for (uint32_t i = 0; i < n_items; i++)
            e->scores[i] = (float)all[i];
        rank_dense(e->scores, first, n_items, target, seen, n_seen, NULL, 0,
                   &r_ex[EVAL_POPULARITY_ALL], &r_in[EVAL_POPULARITY_ALL]);
        r_in[EVAL_COVIS] = rank_covis(e, f, ev->user, target, first, false);
        if (scored_excl)
            r_ex[EVAL_COVIS] = rank_covis(e, f, ev->user, target, first, true);

        bool use_mf = feat_user_positives(f, ev->user) >= (uint32_t)e->serve.fallback_min_events;
        mf_score_all(m, ev->user, e->scores, n_items);
        rank_dense(e->scores, first, n_items, target, seen, n_seen, NULL, 0, &r_ex[EVAL_MF],
                   &r_in[EVAL_MF]);
        uint64_t dummy;
        if (use_mf) {
            r_ex[EVAL_SERVED] = r_ex[EVAL_MF];
            rank_dense(e->scores, first, n_items, target, NULL, 0, bought, n_bought, &dummy,
                       &r_in[EVAL_SERVED]);
        } else {
            r_ex[EVAL_SERVED] = r_ex[EVAL_POPULARITY];
            rank_dense(pop, first, n_items, target, NULL, 0, bought, n_bought, &dummy,
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
    return sizeof *e + (size_t)e->cap_items * sizeof *e->scores + hist_bytes(e->hist);
}

/* ---- checkpoints ------------------------------------------------------- */

int eval_save(const struct eval *e, struct ck_writer *w)
{
    struct ck_buf *b = ck_section(w, CK_SEC_EVAL, "eval");
    if (!b)
        return SR_ENOMEM;
    ck_put_u32(b, EVAL_N_MODES);
    ck_put_u32(b, EVAL_N_SYS);
    ck_put_u64(b, e->events);
    for (int mode = 0; mode < EVAL_N_MODES; mode++)
        for (int s = 0; s < EVAL_N_SYS; s++) {
            const struct acc *a = &e->acc[mode][s];
            ck_put_u64(b, a->n);
            ck_put_u64(b, a->hit10);
            ck_put_u64(b, a->hit20);
            ck_put_f64(b, a->mrr);
            ck_put_f64(b, a->ndcg);
        }
    int rc = hist_save(e->hist, b);
    if (rc)
        return rc;
    return b->failed ? SR_ENOMEM : 0;
}

int eval_load(struct eval *e, const struct ck_file *f, char *errbuf, size_t errlen)
{
    if (e->events)
        return sr_seterr(errbuf, errlen, SR_EINVAL,
                         "evaluation: eval_load needs a fresh evaluator");
    struct ck_rd r;
    if (ck_find(f, CK_SEC_EVAL, &r) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "evaluation: the checkpoint has no eval section");
    uint32_t n_modes = ck_get_u32(&r), n_sys = ck_get_u32(&r);
    if (r.failed)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "evaluation: section eval is truncated");
    if (n_modes != EVAL_N_MODES || n_sys != EVAL_N_SYS)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "evaluation: section eval has %u modes x %u systems, this build %d x %d",
                         n_modes, n_sys, EVAL_N_MODES, EVAL_N_SYS);
    uint64_t events = ck_get_u64(&r);
    struct acc acc[EVAL_N_MODES][EVAL_N_SYS];
    for (int mode = 0; mode < EVAL_N_MODES; mode++)
        for (int s = 0; s < EVAL_N_SYS; s++) {
            struct acc *a = &acc[mode][s];
            a->n = ck_get_u64(&r);
            a->hit10 = ck_get_u64(&r);
            a->hit20 = ck_get_u64(&r);
            a->mrr = ck_get_f64(&r);
            a->ndcg = ck_get_f64(&r);
            /* Each scored event counts once per system and mode. */
            if (!r.failed && (a->n > events || a->hit20 > a->n || a->hit10 > a->hit20 ||
                              !(a->mrr >= 0 && a->mrr <= (double)a->hit20) ||
                              !(a->ndcg >= 0 && a->ndcg <= (double)a->hit20)))
                return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                                 "evaluation: section eval: impossible counts for %s/%s",
                                 eval_mode_name((enum eval_mode)mode),
                                 eval_sys_name((enum eval_sys)s));
        }
    if (r.failed)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "evaluation: section eval is shorter than its accumulators");
    int rc = hist_load(e->hist, &r);
    if (rc || r.failed)
        return sr_seterr(errbuf, errlen, rc && rc != SR_ECORRUPT ? rc : SR_ECORRUPT,
                         "evaluation: section eval: the users' histories %s",
                         rc == SR_ENOMEM ? "do not fit in memory" : "are malformed or truncated");
    if (!ck_rd_ok(&r))
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "evaluation: section eval has %zu bytes left over", ck_rd_left(&r));
    e->events = events;
    memcpy(e->acc, acc, sizeof acc);
    return 0;
}
