/* app/serving.c - the serving rules over the learned state (app/serving.h). */
#include "app/serving.h"
#include "features/history.h"
#include "core/err.h"
#include "kernels/kn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE      UINT32_MAX
#define POP_EXTRA 128 /* popularity candidates beyond top_k, for exclusions */

struct srv {
    /* settings */
    size_t top_k, score_batch, pop_w, dimv, k;
    bool exclude_seen, exclude_purchased;
    uint32_t fallback_min_events;

    /* state: the serving history */
    struct hist *hist; /* every user's items and purchases */

    /* scratch, grown between rounds (never per event) */
    uint32_t *cat; /* [cap_cat] catalogue index (= first-positive order) -> item */
    float *V;      /* [cap_cat][dimv] catalogue item vectors (+ bias column) */
    float *S;      /* [score_batch][cap_cat] scores */
    float *col;    /* [cap_cat] one score column (popularity) */
    size_t cap_cat;
    float *U;      /* [score_batch][dimv] */
    uint32_t *mfu; /* [cap_mfu] users of a srv_rank call with an MF list */
    size_t cap_mfu;
    struct kn_scored *top; /* [top_k + POP_EXTRA] */
    struct kn_scored *pop; /* [top_k + POP_EXTRA] popularity list of the call */
};

void srv_forget_user(struct srv *s, uint32_t user)
{
    hist_forget_user(s->hist, user);
}

bool srv_seen(const struct srv *s, uint32_t user, uint32_t item)
{
    return hist_seen(s->hist, user, item);
}

/* ---- lifecycle -------------------------------------------------------- */

struct srv *srv_new(const struct sr_config *cfg, const struct mf *mf, size_t pop_w, char *errbuf,
                    size_t errlen)
{
    struct srv *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->top_k = (size_t)cfg->serve.top_k;
    s->score_batch = (size_t)cfg->run.score_batch;
    s->pop_w = pop_w;
    s->k = mf_k(mf);
    s->dimv = s->k + (cfg->learner.item_bias ? 1 : 0);
    s->exclude_seen = cfg->serve.exclude_seen;
    s->exclude_purchased = cfg->serve.exclude_purchased;
    s->fallback_min_events = (uint32_t)cfg->serve.fallback_min_events;
    s->hist = hist_new();
    s->U = calloc(s->score_batch * s->dimv, sizeof *s->U);
    s->top = calloc(s->top_k + POP_EXTRA, sizeof *s->top);
    s->pop = calloc(s->top_k + POP_EXTRA, sizeof *s->pop);
    if (!s->hist || !s->U || !s->top || !s->pop)
        goto nomem;
    return s;

nomem:
    srv_free(s);
    sr_seterr(errbuf, errlen, SR_ENOMEM, "serving: out of memory");
    return NULL;
}

void srv_free(struct srv *s)
{
    if (!s)
        return;
    hist_free(s->hist);
    free(s->cat);
    free(s->V);
    free(s->S);
    free(s->col);
    free(s->U);
    free(s->mfu);
    free(s->top);
    free(s->pop);
    free(s);
}

/* ---- history ---------------------------------------------------------- */

int srv_observe(struct srv *s, const struct sr_event *ev)
{
    return hist_add(s->hist, ev);
}

int srv_save(const struct srv *s, struct ck_writer *w)
{
    struct ck_buf *b = ck_section(w, CK_SEC_HISTORY, "history");
    return b ? hist_save(s->hist, b) : SR_ENOMEM;
}

int srv_load(struct srv *s, const struct ck_file *f, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    if (ck_find(f, CK_SEC_HISTORY, &r) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "checkpoint has no history section");
    int rc = hist_load(s->hist, &r);
    if (rc == 0 && !ck_rd_ok(&r))
        rc = SR_ECORRUPT;
    if (rc)
        sr_seterr(errbuf, errlen, rc, "checkpoint section history: %s", sr_strerror(rc));
    return rc;
}

/* ---- ranking ---------------------------------------------------------- */

int srv_catalogue(struct srv *s, const struct feat *f, const struct mf *mf, size_t *n_cat_out)
{
    const uint32_t n_items = feat_n_items(f);
    const uint32_t *first = feat_item_first_pos(f);
    size_t n_cat = 0;
    for (uint32_t i = 0; i < n_items; i++)
        if (first[i] != NONE && (size_t)first[i] + 1 > n_cat)
            n_cat = (size_t)first[i] + 1;
    if (n_cat > s->cap_cat) {
        size_t ncap = s->cap_cat ? s->cap_cat : 1024;
        while (ncap < n_cat)
            ncap *= 2;
        uint32_t *cat = realloc(s->cat, ncap * sizeof *cat);
        if (cat)
            s->cat = cat;
        float *V = realloc(s->V, ncap * s->dimv * sizeof *V);
        if (V)
            s->V = V;
        float *S = realloc(s->S, ncap * s->score_batch * sizeof *S);
        if (S)
            s->S = S;
        float *col = realloc(s->col, ncap * sizeof *col);
        if (col)
            s->col = col;
        if (!cat || !V || !S || !col)
            return SR_ENOMEM;
        s->cap_cat = ncap;
    }
    for (uint32_t i = 0; i < n_items; i++)
        if (first[i] != NONE)
            s->cat[first[i]] = i;
    for (size_t j = 0; j < n_cat; j++) {
        const float *v = mf_item_vec(mf, s->cat[j]);
        float *row = s->V + j * s->dimv;
        if (v)
            memcpy(row, v, s->k * sizeof *row);
        else
            memset(row, 0, s->k * sizeof *row);
        if (s->dimv > s->k)
            row[s->k] = mf_item_bias(mf, s->cat[j]);
    }
    *n_cat_out = n_cat;
    return 0;
}

const uint32_t *srv_cat_items(const struct srv *s)
{
    return s->cat;
}

size_t srv_pop_top(struct srv *s, const struct feat *f, size_t w, size_t n_cat,
                   struct kn_scored *out, size_t max)
{
    const float *pop = feat_pop_scores(f, w);
    for (size_t j = 0; j < n_cat; j++)
        s->col[j] = pop[s->cat[j]];
    return kn_topk(s->col, n_cat, NULL, max, out);
}

static bool excluded(const struct srv *s, uint32_t user, uint32_t item)
{
    if (s->exclude_seen)
        return hist_seen(s->hist, user, item);
    if (s->exclude_purchased) {
        uint32_t n;
        const uint32_t *bought = hist_bought(s->hist, user, &n);
        for (uint32_t j = 0; j < n; j++)
            if (bought[j] == item)
                return true;
    }
    return false;
}

static void rank_fallback(struct srv *s, uint32_t user, size_t n_pop, srv_emit_fn emit, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < n_pop && n < s->top_k; i++)
        if (!excluded(s, user, s->cat[s->pop[i].item]))
            s->top[n++] = s->pop[i];
    emit(ctx, user, s->top, n, true);
}

/* Scores users[0..m) (all with an MF row) with one sgemm. */
static void rank_mf(struct srv *s, const struct feat *f, const struct mf *mf, const uint32_t *users,
                    size_t m, size_t n_cat, srv_emit_fn emit, void *ctx)
{
    for (size_t r = 0; r < m; r++) {
        float *row = s->U + r * s->dimv;
        memcpy(row, mf_user_vec(mf, users[r]), s->k * sizeof *row);
        if (s->dimv > s->k)
            row[s->k] = 1.0f;
    }
    kn_sgemm_nt((int)m, (int)n_cat, (int)s->dimv, s->U, s->V, s->S);
    const uint32_t *first = feat_item_first_pos(f);
    for (size_t r = 0; r < m; r++) {
        float *sc = s->S + r * n_cat;
        uint32_t u = users[r];
        uint32_t n_seen = 0, n_bought = 0;
        const uint32_t *seen = s->exclude_seen ? hist_items(s->hist, u, &n_seen) : NULL;
        const uint32_t *bought = s->exclude_purchased ? hist_bought(s->hist, u, &n_bought) : NULL;
        for (uint32_t j = 0; j < n_seen; j++)
            if (first[seen[j]] != NONE)
                sc[first[seen[j]]] = -INFINITY;
        for (uint32_t j = 0; j < n_bought; j++)
            if (first[bought[j]] != NONE)
                sc[first[bought[j]]] = -INFINITY;
        size_t n = kn_topk(sc, n_cat, NULL, s->top_k, s->top);
        emit(ctx, u, s->top, n, false);
    }
}

int srv_rank(struct srv *s, const struct feat *f, const struct mf *mf, size_t n_cat,
             const uint32_t *users, size_t n, srv_emit_fn emit, void *ctx)
{
    if (n == 0)
        return 0;
    if (n > s->cap_mfu) {
        uint32_t *nu = realloc(s->mfu, n * sizeof *nu);
        if (!nu)
            return SR_ENOMEM;
        s->mfu = nu;
        s->cap_mfu = n;
    }
    size_t n_pop = srv_pop_top(s, f, s->pop_w, n_cat, s->pop, s->top_k + POP_EXTRA);
    /* MF users are collected, fallbacks served at once. */
    size_t n_mf = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = users[i];
        if (feat_user_positives(f, u) < s->fallback_min_events || !mf_user_vec(mf, u))
            rank_fallback(s, u, n_pop, emit, ctx);
        else
            s->mfu[n_mf++] = u;
    }
    size_t b = s->score_batch;
    for (size_t i = 0; i < n_mf; i += b)
        rank_mf(s, f, mf, s->mfu + i, n_mf - i < b ? n_mf - i : b, n_cat, emit, ctx);
    return 0;
}
