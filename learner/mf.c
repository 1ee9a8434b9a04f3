/* learner/mf.c - online implicit matrix factorization (see learner/mf.h).
 *
 * Layout. A factor row is kp floats (k rounded up to a multiple of 8, the
 * padding always zero so dot products and gemv over kp equal those over k),
 * in chunked arrays that never move. The AdaGrad accumulator of a row lives
 * in a separate dense float array, so a row is exactly 4*kp bytes and (with
 * cache-line-aligned chunks) a k=32 row is two whole cache lines; the item
 * accumulators (4 bytes per item) stay cache-resident.
 *
 * One update has two phases, kept apart so that mf_update_batch() can run
 * the first one ahead of the second:
 *   1. sample (mf_sample): draw the negatives of the event with the model's
 *      RNG and push the positive item into the popularity ring. Touches only
 *      the RNG and the ring, never a factor row.
 *   2. step (mf_step): the SGD/AdaGrad step on the user row, the positive
 *      item row and the negative item rows. Touches only rows and
 *      accumulators, never the RNG or the ring.
 * Phase 1 runs in event order and phase 2 runs in event order, so sampling
 * event i+D before stepping event i changes nothing: batch results are
 * bit-identical to one mf_update() per event.
 *
 * Learning rule for a positive (u, i, w) with sampled negatives j_1..j_n,
 * p = user row, q = item rows, x_i = p.q_i, x_j = p.q_j (all read before
 * any row moves):
 *   BPR       maximise sum_j ln s(x_i - x_j):  g_j = s(x_j - x_i)
 *             c_i = sum_j g_j, c_j = -g_j
 *   logistic  maximise ln s(x_i) + sum_j ln(1 - s(x_j)):
 *             c_i = s(-x_i), c_j = -s(x_j)
 * (s = logistic sigmoid). The ascent directions are then
 *   grad_p = c_i q_i + sum_j c_j q_j - reg p
 *   grad_q = c p - reg q        for q_i (c = c_i) and each q_j (c = c_j)
 * and every row moves by eta * grad with eta = lr * w, divided by sqrt(G)
 * when AdaGrad is on: G is the row's accumulator, starting at 1 (as LightFM
 * does, so a fresh row's first steps are plain SGD steps rather than
 * normalised jumps) and growing by |grad|^2 / k per step before the row moves.
 * Items move first (with the old p), then the user. */
#include "learner/mf.h"
#include "core/chunked.h"
#include "core/ckpt.h"
#include "core/err.h"
#include "core/rng.h"
#include "kernels/kn.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MF_RING_BITS        15 /* popularity ring: the last 32768 positive items */
#define MF_RING_SIZE        (1u << MF_RING_BITS)
#define MF_GROUP            2 /* mf_update_batch stages events in bursts of this many ... */
#define MF_DIST             8 /* ... keeping at least this many events staged ahead */
#define MF_SLOTS            (MF_DIST + MF_GROUP) /* events staged and not yet stepped, at most */
#define MF_NEG_TRIES        4                    /* draws per negative before giving up on j != i */
#define MF_ADAGRAD_G0       1.0f                 /* initial AdaGrad accumulator */
#define MF_PAD              8                    /* row length is a multiple of this many floats */
#define MF_CHUNK_BYTES_LOG2 21                   /* aim for ~2 MiB of rows per chunk */

/* Row kinds, mixed into the initialisation hash. */
enum { MF_KIND_USER = 1, MF_KIND_ITEM = 2 };

/* Settings: copied from the config at mf_new, never changed. */
struct mf_settings {
    uint32_t k;          /* latent factors */
    uint32_t kp;         /* row length in floats: k rounded up to MF_PAD */
    int loss;            /* enum sr_loss */
    uint32_t negatives;  /* negatives sampled per positive */
    float lr;            /* base step */
    float reg;           /* L2 */
    float init_scale;    /* half-width of the uniform initial factors */
    uint64_t pop_thresh; /* a draw's low 32 bits below this: popularity negative */
    bool adagrad;
    bool item_bias; /* x_ui = p_u.q_i + b_i */
    uint64_t seed;
    unsigned chunk_bits; /* rows per chunk = 1 << chunk_bits */
};

/* Learned state: everything a checkpoint must hold. */
struct mf_state {
    struct sr_chunked users;    /* [n_users][kp] floats */
    struct sr_chunked items;    /* [n_items][kp] floats */
    struct sr_chunked user_acc; /* [n_users] float, AdaGrad accumulator */
    struct sr_chunked item_acc; /* [n_items][2] float: AdaGrad accumulator, item bias */
    uint32_t n_users, n_items;  /* rows that exist (initialised) */
    uint64_t rng[4];            /* xoshiro256** state */
    uint32_t *ring;             /* [MF_RING_SIZE] recent positive items, owned */
    uint64_t ring_pushed;       /* items ever pushed; next slot = ring_pushed % size */
    uint64_t updates;           /* positive events learned */
    uint32_t n_sample_items;    /* 1 + highest item id learned: range of uniform negatives */
};

/* Scratch: preallocated, meaningless between calls. */
struct mf_scratch {
    float *grad_u;   /* [kp] user gradient */
    float **rows;    /* [negatives + 1] item rows of the event, positive first */
    float *x;        /* [negatives + 1] scores p.q */
    float *qq;       /* [negatives + 1] squared norms q.q */
    float *coef;     /* [negatives + 1] loss coefficients c */
    float *step;     /* [negatives + 1] step sizes */
    float *xb;       /* [negatives + 1] scores with item bias */
    uint32_t *negs;  /* [MF_SLOTS][negatives] sampled negatives of pending events */
    uint32_t *n_neg; /* [MF_SLOTS] negatives actually drawn */
};

struct mf {
    struct mf_settings set;
    struct mf_state st;
    struct mf_scratch scr;
};

/* ---- hashing and the RNG ---------------------------------------------- */

/* Maps 32 random bits onto [0, n) (Lemire's multiply-shift). */
static inline uint32_t mf_below(uint32_t bits, uint64_t n)
{
    return (uint32_t)(((uint64_t)bits * n) >> 32);
}

/* ---- small vector kernels ---------------------------------------------
 * Rows are kp floats, kp a multiple of 8, so the loops need no tail. GCC's
 * vector extension gives SSE code at -O2 without -ffast-math and fixes the
 * summation order, so results do not depend on inlining decisions. */

typedef float mf_v4 __attribute__((vector_size(16)));

static inline mf_v4 mf_vload(const float *p)
{
    mf_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void mf_vstore(float *p, mf_v4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline float mf_dot(const float *x, const float *y, uint32_t kp)
{
    mf_v4 a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0};
    for (uint32_t i = 0; i < kp; i += 8) {
        a0 += mf_vload(x + i) * mf_vload(y + i);
        a1 += mf_vload(x + i + 4) * mf_vload(y + i + 4);
    }
    a0 += a1;
    return (a0[0] + a0[1]) + (a0[2] + a0[3]);
}

/* *xy = x.y and *yy = y.y in one pass over y. */
static inline void mf_dot2(const float *x, const float *y, uint32_t kp, float *xy, float *yy)
{
    mf_v4 a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0}, b0 = {0, 0, 0, 0}, b1 = {0, 0, 0, 0};
    for (uint32_t i = 0; i < kp; i += 8) {
        mf_v4 y0 = mf_vload(y + i), y1 = mf_vload(y + i + 4);
        a0 += mf_vload(x + i) * y0;
        a1 += mf_vload(x + i + 4) * y1;
        b0 += y0 * y0;
        b1 += y1 * y1;
    }
    a0 += a1;
    b0 += b1;
    *xy = (a0[0] + a0[1]) + (a0[2] + a0[3]);
    *yy = (b0[0] + b0[1]) + (b0[2] + b0[3]);
}

/* mf_dot2, plus *xx = x.x. */
static inline void mf_dot3(const float *x, const float *y, uint32_t kp, float *xy, float *yy,
                           float *xx)
{
    mf_v4 a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0}, b0 = {0, 0, 0, 0}, b1 = {0, 0, 0, 0};
    mf_v4 c0 = {0, 0, 0, 0}, c1 = {0, 0, 0, 0};
    for (uint32_t i = 0; i < kp; i += 8) {
        mf_v4 x0 = mf_vload(x + i), x1 = mf_vload(x + i + 4);
        mf_v4 y0 = mf_vload(y + i), y1 = mf_vload(y + i + 4);
        a0 += x0 * y0;
        a1 += x1 * y1;
        b0 += y0 * y0;
        b1 += y1 * y1;
        c0 += x0 * x0;
        c1 += x1 * x1;
    }
    a0 += a1;
    b0 += b1;
    c0 += c1;
    *xy = (a0[0] + a0[1]) + (a0[2] + a0[3]);
    *yy = (b0[0] + b0[1]) + (b0[2] + b0[3]);
    *xx = (c0[0] + c0[1]) + (c0[2] + c0[3]);
}

/* g = b * p + sum_r c[r] * q[r] over n rows; returns g.g. */
static inline float mf_user_grad(float *g, const float *p, float b, const float *const *q,
                                 const float *c, uint32_t n, uint32_t kp)
{
    mf_v4 n2 = {0, 0, 0, 0};
    for (uint32_t i = 0; i < kp; i += 4) {
        mf_v4 v = b * mf_vload(p + i);
        for (uint32_t r = 0; r < n; r++)
            v += c[r] * mf_vload(q[r] + i);
        mf_vstore(g + i, v);
        n2 += v * v;
    }
    return (n2[0] + n2[1]) + (n2[2] + n2[3]);
}

/* y = a * y + b * x */
static inline void mf_scale_add(float *y, float a, float b, const float *x, uint32_t kp)
{
    for (uint32_t i = 0; i < kp; i += 4)
        mf_vstore(y + i, a * mf_vload(y + i) + b * mf_vload(x + i));
}

/* y += a * x */
static inline void mf_axpy(float a, const float *x, float *y, uint32_t kp)
{
    for (uint32_t i = 0; i < kp; i += 4)
        mf_vstore(y + i, mf_vload(y + i) + a * mf_vload(x + i));
}

static inline float mf_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* ---- rows --------------------------------------------------------------- */

static inline float *mf_urow(const struct mf *m, uint32_t u)
{
    return sr_chunked_at(&m->st.users, u);
}

static inline float *mf_irow(const struct mf *m, uint32_t i)
{
    return sr_chunked_at(&m->st.items, i);
}

static inline float *mf_uacc(const struct mf *m, uint32_t u)
{
    return sr_chunked_at(&m->st.user_acc, u);
}

static inline float *mf_iacc(const struct mf *m, uint32_t i)
{
    return sr_chunked_at(&m->st.item_acc, i);
}

/* Initial row: uniform in [-init_scale, init_scale) per coordinate, a pure
 * function of (seed, kind, id, j), so it does not depend on when the row was
 * created. Padding stays zero (chunks are zero-filled). */
static void mf_init_row(const struct mf *m, int kind, uint32_t id, float *row, float *acc)
{
    uint64_t base = sr_mix64(sr_mix64(m->set.seed ^ ((uint64_t)kind << 56)) ^ id);
    for (uint32_t j = 0; j < m->set.k; j++) {
        uint64_t h = sr_mix64(base + j * 0xd1b54a32d192ed03ull);
        float u = (float)(h >> 40) * (1.0f / 16777216.0f); /* [0, 1), 24 bits */
        row[j] = (2.0f * u - 1.0f) * m->set.init_scale;
    }
    acc[0] = MF_ADAGRAD_G0;
    if (kind == MF_KIND_ITEM)
        acc[1] = 0.0f; /* item bias */
}

/* ---- phase 1: sampling ------------------------------------------------ */

/* Draws the negatives of a positive event on `item` into out[] and pushes
 * the item into the ring; returns how many were drawn (fewer than
 * `negatives` only when j != i cannot be met, e.g. a one-item catalogue). */
static uint32_t mf_sample(struct mf *m, uint32_t item, uint32_t *out)
{
    struct mf_state *st = &m->st;
    const uint32_t *ring = st->ring;
    const uint64_t filled = st->ring_pushed < MF_RING_SIZE ? st->ring_pushed : MF_RING_SIZE;
    /* Uniform negatives come from the items learned so far (up to the
     * highest id of a positive, this one included), not from every row that
     * exists: rows are reserved as events are admitted, so their count
     * depends on how far ahead of learning the caller reserved, and the
     * model must not. */
    if (item >= st->n_sample_items)
        st->n_sample_items = item + 1;
    const uint64_t n_items = st->n_sample_items;
    /* The popularity share as a threshold on 32 random bits; 0 while the
     * ring is empty (the first event only has uniform negatives). */
    const uint64_t pop_thresh = filled ? m->set.pop_thresh : 0;
    /* A local copy, so the state lives in registers (copying it as an array
     * costs a store-forwarding stall per call). */
    uint64_t rng[4] = {st->rng[0], st->rng[1], st->rng[2], st->rng[3]};
    uint32_t n = 0;
    for (uint32_t t = 0; t < m->set.negatives; t++) {
        for (int tries = 0; tries < MF_NEG_TRIES; tries++) {
            uint64_t r = sr_xoshiro256ss(rng);
            uint32_t hi = (uint32_t)(r >> 32);
            /* Both candidates, then a select: the coin is unpredictable, a
             * branch on it would be mispredicted half the time. The ring read
             * is always in bounds (slot 0 exists, zero-filled when empty). */
            uint32_t j_pop = ring[mf_below(hi, filled)];
            uint32_t j_uni = mf_below(hi, n_items);
            uint32_t j = (r & 0xffffffffu) < pop_thresh ? j_pop : j_uni;
            if (j != item) {
                out[n++] = j;
                break;
            }
        }
    }
    st->rng[0] = rng[0];
    st->rng[1] = rng[1];
    st->rng[2] = rng[2];
    st->rng[3] = rng[3];
    st->ring[st->ring_pushed & (MF_RING_SIZE - 1)] = item;
    st->ring_pushed++;
    return n;
}

/* ---- phase 2: the step -------------------------------------------------- */

/* The step of one event; negs[0..n_neg) are its sampled negatives.
 * Written as a few passes over k that are independent across rows, so that
 * the out-of-order core overlaps them: all dot products first, then the
 * coefficients, the user gradient, and one in-place pass per item row. */
static void mf_step(struct mf *m, const struct sr_event *ev, const uint32_t *negs, uint32_t n_neg)
{
    const uint32_t kp = m->set.kp;
    const float reg = m->set.reg;
    const uint32_t n_rows = n_neg + 1; /* row 0 is the positive item */
    float *p = mf_urow(m, ev->user);
    float **q = m->scr.rows;
    float *x = m->scr.x, *qq = m->scr.qq, *c = m->scr.coef;
    float *gu = m->scr.grad_u;

    /* Scores x_r = p.q_r and squared norms, all from the rows as they are now. */
    q[0] = mf_irow(m, ev->item);
    for (uint32_t t = 0; t < n_neg; t++)
        q[t + 1] = mf_irow(m, negs[t]);
    float pp; /* p.p, for the item AdaGrad increments */
    mf_dot3(p, q[0], kp, &x[0], &qq[0], &pp);
    for (uint32_t r = 1; r < n_rows; r++)
        mf_dot2(p, q[r], kp, &x[r], &qq[r]);
    /* Item biases: x_r = p.q_r + b_r. The factor part of the AdaGrad
     * increment below uses p.q_r alone, so keep it apart. */
    float *xb = m->scr.xb;
    for (uint32_t r = 0; r < n_rows; r++)
        xb[r] = x[r] + (m->set.item_bias ? mf_iacc(m, r ? negs[r - 1] : ev->item)[1] : 0.0f);

    /* Loss coefficients (see the top of this file). */
    if (m->set.loss == SR_LOSS_BPR) {
        c[0] = 0.0f;
        for (uint32_t r = 1; r < n_rows; r++) {
            float g = mf_sigmoid(xb[r] - xb[0]);
            c[r] = -g;
            c[0] += g;
        }
    } else {
        c[0] = mf_sigmoid(-xb[0]);
        for (uint32_t r = 1; r < n_rows; r++)
            c[r] = -mf_sigmoid(xb[r]);
    }

    /* User gradient gu = sum_r c_r q_r - reg p and |gu|^2, in one pass,
     * before any item row moves. */
    float gu2 = mf_user_grad(gu, p, -reg, (const float *const *)q, c, n_rows, kp);

    /* Item rows: q += s (c p - reg q), in place as q = (1 - s reg) q + s c p.
     * The AdaGrad increment |c p - reg q|^2 / k comes from the dot products
     * above (expanded, so no extra pass; clamped at 0 against rounding). */
    const float eta = m->set.lr * ev->weight;
    const float inv_k = 1.0f / (float)m->set.k;
    /* Step sizes first, in their own loop: the square roots and divisions
     * of different rows then overlap instead of each stalling its row. */
    float *step = m->scr.step;
    for (uint32_t r = 0; r < n_rows; r++) {
        step[r] = eta;
        if (m->set.adagrad) {
            float *acc = mf_iacc(m, r ? negs[r - 1] : ev->item);
            float g2 = c[r] * c[r] * pp - 2.0f * c[r] * reg * x[r] + reg * reg * qq[r];
            *acc += (g2 > 0.0f ? g2 : 0.0f) * inv_k;
            step[r] /= sqrtf(*acc);
        }
    }
    for (uint32_t r = 0; r < n_rows; r++)
        mf_scale_add(q[r], 1.0f - step[r] * reg, step[r] * c[r], p, kp);
    if (m->set.item_bias)
        for (uint32_t r = 0; r < n_rows; r++) {
            float *b = mf_iacc(m, r ? negs[r - 1] : ev->item) + 1;
            *b += step[r] * (c[r] - reg * *b);
        }

    /* The user row last. */
    float step_u = eta;
    if (m->set.adagrad) {
        float *acc = mf_uacc(m, ev->user);
        *acc += gu2 * inv_k;
        step_u /= sqrtf(*acc);
    }
    mf_axpy(step_u, gu, p, kp);
    m->st.updates++;
}

/* Weight 0 (and anything not > 0, NaN included) is not a positive; an
 * event of an item below features.item_min_events is not learned. */
static inline bool mf_is_positive(const struct sr_event *ev)
{
    return ev->weight > 0.0f && !(ev->flags & SR_EV_ITEM_COLD);
}

static inline bool mf_rows_exist(const struct mf *m, const struct sr_event *ev)
{
    return ev->user < m->st.n_users && ev->item < m->st.n_items;
}

/* ---- public API ----------------------------------------------------------- */

struct mf *mf_new(const struct sr_learner_cfg *cfg, char *errbuf, size_t errlen)
{
    if (!cfg || cfg->k < 1 || cfg->k > 4096 || cfg->negatives < 0 || cfg->negatives > 4096 ||
        !(cfg->lr > 0) || !(cfg->reg >= 0) || !(cfg->init_std >= 0) ||
        !(cfg->neg_pop_mix >= 0 && cfg->neg_pop_mix <= 1) ||
        (cfg->loss != SR_LOSS_BPR && cfg->loss != SR_LOSS_LOGISTIC)) {
        sr_seterr(errbuf, errlen, SR_EINVAL, "mf: invalid learner settings");
        return NULL;
    }
    struct mf *m = calloc(1, sizeof *m);
    if (!m)
        goto err_nomem;

    struct mf_settings *s = &m->set;
    s->k = (uint32_t)cfg->k;
    s->kp = (s->k + MF_PAD - 1) / MF_PAD * MF_PAD;
    s->loss = cfg->loss;
    s->negatives = (uint32_t)cfg->negatives;
    s->lr = (float)cfg->lr;
    s->reg = (float)cfg->reg;
    /* uniform on [-a, a) has std a/sqrt(3): coordinates of std init_std/sqrt(k),
     * so a fresh row's norm is about init_std whatever k is. */
    s->init_scale = (float)(cfg->init_std * sqrt(3.0 / (double)s->k));
    s->pop_thresh = (uint64_t)(cfg->neg_pop_mix * 4294967296.0);
    s->adagrad = cfg->adagrad;
    s->item_bias = cfg->item_bias;
    s->seed = (uint64_t)cfg->seed;
    unsigned row_log2 = 0;
    while (((size_t)1 << row_log2) < (size_t)s->kp * sizeof(float))
        row_log2++;
    s->chunk_bits = row_log2 + 8 < MF_CHUNK_BYTES_LOG2 ? MF_CHUNK_BYTES_LOG2 - row_log2 : 8;

    struct mf_state *st = &m->st;
    if (sr_chunked_init(&st->users, s->kp * sizeof(float), s->chunk_bits) ||
        sr_chunked_init(&st->items, s->kp * sizeof(float), s->chunk_bits) ||
        sr_chunked_init(&st->user_acc, sizeof(float), s->chunk_bits) ||
        sr_chunked_init(&st->item_acc, 2 * sizeof(float), s->chunk_bits))
        goto err_free_model;
    st->ring = calloc(MF_RING_SIZE, sizeof *st->ring);
    if (!st->ring)
        goto err_free_model;
    uint64_t x = s->seed;
    for (int r = 0; r < 4; r++) {
        x = sr_mix64(x);
        st->rng[r] = x;
    }

    size_t neg = s->negatives ? s->negatives : 1;
    m->scr.grad_u = malloc(s->kp * sizeof(float));
    m->scr.rows = malloc((neg + 1) * sizeof(float *));
    m->scr.x = malloc((neg + 1) * sizeof(float));
    m->scr.qq = malloc((neg + 1) * sizeof(float));
    m->scr.coef = malloc((neg + 1) * sizeof(float));
    m->scr.step = malloc((neg + 1) * sizeof(float));
    m->scr.xb = malloc((neg + 1) * sizeof(float));
    m->scr.negs = malloc(MF_SLOTS * neg * sizeof(uint32_t));
    m->scr.n_neg = malloc(MF_SLOTS * sizeof(uint32_t));
    if (!m->scr.grad_u || !m->scr.rows || !m->scr.x || !m->scr.qq || !m->scr.coef || !m->scr.step ||
        !m->scr.xb || !m->scr.negs || !m->scr.n_neg)
        goto err_free_model;
    return m;

err_free_model:
    mf_free(m);
err_nomem:
    sr_seterr(errbuf, errlen, SR_ENOMEM, "mf: out of memory creating a k=%lld model",
              (long long)cfg->k);
    return NULL;
}

void mf_free(struct mf *m)
{
    if (!m)
        return;
    sr_chunked_free(&m->st.users);
    sr_chunked_free(&m->st.items);
    sr_chunked_free(&m->st.user_acc);
    sr_chunked_free(&m->st.item_acc);
    free(m->st.ring);
    free(m->scr.grad_u);
    free(m->scr.rows);
    free(m->scr.x);
    free(m->scr.qq);
    free(m->scr.coef);
    free(m->scr.step);
    free(m->scr.xb);
    free(m->scr.negs);
    free(m->scr.n_neg);
    free(m);
}

int mf_reserve(struct mf *m, uint32_t n_users, uint32_t n_items)
{
    struct mf_state *st = &m->st;
    int rc;
    /* Allocate everything first so that a failure changes no row count. */
    if ((rc = sr_chunked_reserve(&st->users, n_users)) ||
        (rc = sr_chunked_reserve(&st->user_acc, n_users)) ||
        (rc = sr_chunked_reserve(&st->items, n_items)) ||
        (rc = sr_chunked_reserve(&st->item_acc, n_items)))
        return rc;
    for (uint32_t u = st->n_users; u < n_users; u++)
        mf_init_row(m, MF_KIND_USER, u, mf_urow(m, u), mf_uacc(m, u));
    for (uint32_t i = st->n_items; i < n_items; i++)
        mf_init_row(m, MF_KIND_ITEM, i, mf_irow(m, i), mf_iacc(m, i));
    if (n_users > st->n_users)
        st->n_users = n_users;
    if (n_items > st->n_items)
        st->n_items = n_items;
    return 0;
}

void mf_forget_user(struct mf *m, uint32_t user)
{
    if (user < m->st.n_users)
        mf_init_row(m, MF_KIND_USER, user, mf_urow(m, user), mf_uacc(m, user));
}

int mf_update(struct mf *m, const struct sr_event *ev)
{
    if (!mf_is_positive(ev))
        return 0;
    if (!mf_rows_exist(m, ev))
        return SR_ERANGE;
    uint32_t n = mf_sample(m, ev->item, m->scr.negs);
    mf_step(m, ev, m->scr.negs, n);
    return 0;
}

/* Prefetches the first four cache lines of a row (all of it up to k = 64;
 * longer rows are left to the hardware prefetcher). Written out rather than
 * as a loop: GCC deletes loops whose only statement is a prefetch. Forced
 * inline: GCC finds a function that only prefetches "pure" and drops calls
 * to it as having no effect. */
static inline __attribute__((always_inline)) void mf_prefetch_row(const void *row, size_t bytes)
{
    const char *p = row;
    __builtin_prefetch(p, 1, 3);
    if (bytes > 64)
        __builtin_prefetch(p + 64, 1, 3);
    if (bytes > 128)
        __builtin_prefetch(p + 128, 1, 3);
    if (bytes > 192)
        __builtin_prefetch(p + 192, 1, 3);
}

/* Prefetches the rows and accumulators event ev will touch (forced inline,
 * as above). */
static inline __attribute__((always_inline)) void mf_prefetch_event(const struct mf *m,
                                                                    const struct sr_event *ev,
                                                                    const uint32_t *negs,
                                                                    uint32_t n_neg)
{
    const size_t row_bytes = (size_t)m->set.kp * sizeof(float);
    mf_prefetch_row(mf_urow(m, ev->user), row_bytes);
    __builtin_prefetch(mf_uacc(m, ev->user), 1, 3);
    mf_prefetch_row(mf_irow(m, ev->item), row_bytes);
    __builtin_prefetch(mf_iacc(m, ev->item), 1, 3);
    for (uint32_t t = 0; t < n_neg; t++) {
        mf_prefetch_row(mf_irow(m, negs[t]), row_bytes);
        __builtin_prefetch(mf_iacc(m, negs[t]), 1, 3);
    }
}

/* Samples event e into its pipeline slot and prefetches its rows. */
static inline void mf_stage(struct mf *m, const struct sr_event *ev, size_t e)
{
    if (!mf_is_positive(ev))
        return;
    size_t slot = e % MF_SLOTS;
    uint32_t *negs = m->scr.negs + slot * (m->set.negatives ? m->set.negatives : 1);
    m->scr.n_neg[slot] = mf_sample(m, ev->item, negs);
    mf_prefetch_event(m, ev, negs, m->scr.n_neg[slot]);
}

int mf_update_batch(struct mf *m, const struct sr_event *evs, size_t n)
{
    /* Check first, so that a bad event leaves the model untouched. */
    for (size_t e = 0; e < n; e++)
        if (mf_is_positive(&evs[e]) && !mf_rows_exist(m, &evs[e]))
            return SR_ERANGE;

    /* Staging (sampling + prefetching) runs MF_DIST to MF_DIST + MF_GROUP
     * events ahead of stepping. Both phases run in event order and sampling
     * touches no row, so this equals mf_update() per event (see the top of
     * this file). Staging in small bursts rather than one event at a time
     * measured faster (the TLB misses of a burst overlap): at k=32, 4
     * negatives, 1M users, 100k items, about 2.8M events/s one at a time
     * against 4.5-5M in bursts of 2 (distances 4..16 were within noise). */
    const size_t stride = m->set.negatives ? m->set.negatives : 1;
    size_t staged = 0; /* events [0, staged) are sampled and prefetched */
    for (size_t e = 0; e < n; e++) {
        if (staged <= e + MF_DIST) {
            size_t end = staged + MF_GROUP < n ? staged + MF_GROUP : n;
            for (; staged < end; staged++)
                mf_stage(m, &evs[staged], staged);
        }
        if (!mf_is_positive(&evs[e]))
            continue;
        size_t slot = e % MF_SLOTS;
        mf_step(m, &evs[e], m->scr.negs + slot * stride, m->scr.n_neg[slot]);
    }
    return 0;
}

void mf_score_all(const struct mf *m, uint32_t user, float *scores, uint32_t n_items)
{
    uint32_t have = n_items < m->st.n_items ? n_items : m->st.n_items;
    if (user >= m->st.n_users)
        have = 0;
    const uint32_t per = 1u << m->set.chunk_bits;
    const float *p = have ? mf_urow(m, user) : NULL;
    for (uint32_t start = 0; start < have; start += per) {
        uint32_t rows = have - start < per ? have - start : per;
        kn_gemv((int)rows, (int)m->set.kp, mf_irow(m, start), p, scores + start);
        if (m->set.item_bias) {
            const float *aux = sr_chunked_at(&m->st.item_acc, start);
            for (uint32_t i = 0; i < rows; i++)
                scores[start + i] += aux[2 * i + 1];
        }
    }
    for (uint32_t i = have; i < n_items; i++)
        scores[i] = 0.0f;
}

float mf_score(const struct mf *m, uint32_t user, uint32_t item)
{
    if (user >= m->st.n_users || item >= m->st.n_items)
        return 0.0f;
    return mf_dot(mf_urow(m, user), mf_irow(m, item), m->set.kp) +
           (m->set.item_bias ? mf_iacc(m, item)[1] : 0.0f);
}

const float *mf_user_vec(const struct mf *m, uint32_t user)
{
    return user < m->st.n_users ? mf_urow(m, user) : NULL;
}

const float *mf_item_vec(const struct mf *m, uint32_t item)
{
    return item < m->st.n_items ? mf_irow(m, item) : NULL;
}

float mf_item_bias(const struct mf *m, uint32_t item)
{
    return item < m->st.n_items ? mf_iacc(m, item)[1] : 0.0f;
}

uint32_t mf_k(const struct mf *m)
{
    return m->set.k;
}

uint32_t mf_n_users(const struct mf *m)
{
    return m->st.n_users;
}

uint32_t mf_n_items(const struct mf *m)
{
    return m->st.n_items;
}

uint64_t mf_updates(const struct mf *m)
{
    return m->st.updates;
}

size_t mf_bytes_per_user(const struct mf *m)
{
    return m->st.users.elem_size + m->st.user_acc.elem_size;
}

size_t mf_bytes_per_item(const struct mf *m)
{
    return m->st.items.elem_size + m->st.item_acc.elem_size;
}

size_t mf_bytes(const struct mf *m)
{
    return sr_chunked_bytes(&m->st.users) + sr_chunked_bytes(&m->st.items) +
           sr_chunked_bytes(&m->st.user_acc) + sr_chunked_bytes(&m->st.item_acc) +
           MF_RING_SIZE * sizeof *m->st.ring;
}

/* ---- checkpoints ------------------------------------------------------------
 * Layout in learner/mf.h. Saving copies each chunk with one memcpy into
 * space reserved once per section, so it runs at memory-copy speed. Loading
 * checks every section against the counts of mf_state before it allocates
 * or copies anything, so a refused file leaves m as fresh as it was. */

/* Copies elements [0, n) of c to dst, a chunk-sized run at a time. */
static void mf_chunked_out(unsigned char *dst, const struct sr_chunked *c, size_t n)
{
    const size_t per = (size_t)1 << c->chunk_bits;
    for (size_t start = 0; start < n; start += per) {
        size_t bytes = (n - start < per ? n - start : per) * c->elem_size;
        memcpy(dst, sr_chunked_at(c, start), bytes);
        dst += bytes;
    }
}

/* The reverse: src holds n elements; c must have room for them. */
static void mf_chunked_in(struct sr_chunked *c, const unsigned char *src, size_t n)
{
    const size_t per = (size_t)1 << c->chunk_bits;
    for (size_t start = 0; start < n; start += per) {
        size_t bytes = (n - start < per ? n - start : per) * c->elem_size;
        memcpy(sr_chunked_at(c, start), src, bytes);
        src += bytes;
    }
}

/* Appends elements [0, n) of c to b. */
static void mf_put_chunked(struct ck_buf *b, const struct sr_chunked *c, size_t n)
{
    if (n == 0)
        return;
    unsigned char *dst = ck_put_space(b, n * c->elem_size);
    if (dst)
        mf_chunked_out(dst, c, n);
}

int mf_save(const struct mf *m, struct ck_writer *w)
{
    const struct mf_state *st = &m->st;
    const uint32_t kp = m->set.kp;
    struct ck_buf *b;

    if (!(b = ck_section(w, CK_SEC_MF_STATE, "mf_state")))
        return SR_ENOMEM;
    ck_put_u32(b, m->set.k);
    ck_put_u32(b, kp);
    ck_put_u32(b, MF_RING_SIZE);
    ck_put_u32(b, st->n_users);
    ck_put_u32(b, st->n_items);
    ck_put_u32(b, st->n_sample_items);
    ck_put_u64(b, st->updates);
    for (int r = 0; r < 4; r++)
        ck_put_u64(b, st->rng[r]);
    ck_put_u64(b, st->ring_pushed);
    uint64_t filled = st->ring_pushed < MF_RING_SIZE ? st->ring_pushed : MF_RING_SIZE;
    ck_put(b, st->ring, (size_t)filled * sizeof *st->ring);
    if (b->failed)
        return SR_ENOMEM;

    if (!(b = ck_section(w, CK_SEC_MF_USERS, "mf_users")))
        return SR_ENOMEM;
    ck_put_u32(b, st->n_users);
    ck_put_u32(b, kp);
    mf_put_chunked(b, &st->users, st->n_users);
    if (b->failed)
        return SR_ENOMEM;

    if (!(b = ck_section(w, CK_SEC_MF_ITEMS, "mf_items")))
        return SR_ENOMEM;
    ck_put_u32(b, st->n_items);
    ck_put_u32(b, kp);
    mf_put_chunked(b, &st->items, st->n_items);
    if (b->failed)
        return SR_ENOMEM;

    if (!(b = ck_section(w, CK_SEC_MF_OPT, "mf_opt")))
        return SR_ENOMEM;
    ck_put_u32(b, st->n_users);
    ck_put_u32(b, st->n_items);
    mf_put_chunked(b, &st->user_acc, st->n_users);
    mf_put_chunked(b, &st->item_acc, st->n_items);
    return b->failed ? SR_ENOMEM : 0;
}

/* A reader over section id, or SR_ECORRUPT naming it. */
static int mf_find(const struct ck_file *f, uint32_t id, const char *name, struct ck_rd *r,
                   char *errbuf, size_t errlen)
{
    if (ck_find(f, id, r) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "mf: the checkpoint has no %s section", name);
    return 0;
}

/* Refuses a section whose reader failed or has bytes left; `what` says
 * what its length should hold. */
static int mf_check_end(const struct ck_rd *r, const char *name, const char *what, char *errbuf,
                        size_t errlen)
{
    if (r->failed)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "mf: section %s is shorter than %s (truncated or wrong counts)", name,
                         what);
    if (!ck_rd_ok(r))
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "mf: section %s has %zu bytes left over after %s", name, ck_rd_left(r),
                         what);
    return 0;
}

/* Reads a row section (mf_users or mf_items): header n, kp, then n rows.
 * *rows is borrowed from the file. */
static int mf_read_rows(const struct ck_file *f, const struct mf *m, uint32_t id, const char *name,
                        uint32_t n, const unsigned char **rows, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    int rc;
    if ((rc = mf_find(f, id, name, &r, errbuf, errlen)) != 0)
        return rc;
    uint32_t got_n = ck_get_u32(&r), got_kp = ck_get_u32(&r);
    if (r.failed)
        return mf_check_end(&r, name, "its header", errbuf, errlen);
    if (got_n != n || got_kp != m->set.kp)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "mf: section %s holds %u rows of %u floats, mf_state says %u of %u", name,
                         got_n, got_kp, n, m->set.kp);
    size_t row_bytes = (size_t)m->set.kp * sizeof(float);
    *rows = n ? ck_take(&r, (size_t)n * row_bytes) : NULL;
    char what[96];
    snprintf(what, sizeof what, "%u rows of %u floats", n, m->set.kp);
    if ((rc = mf_check_end(&r, name, what, errbuf, errlen)) != 0)
        return rc;
    /* Padding floats must be zero: dot products run over all kp. */
    if (m->set.kp != m->set.k) {
        static const float zero[MF_PAD];
        size_t pad_bytes = (size_t)(m->set.kp - m->set.k) * sizeof(float);
        for (uint32_t i = 0; i < n; i++)
            if (memcmp(*rows + i * row_bytes + (size_t)m->set.k * sizeof(float), zero, pad_bytes) !=
                0)
                return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                                 "mf: section %s: row %u has non-zero padding", name, i);
    }
    return 0;
}

int mf_load(struct mf *m, const struct ck_file *f, char *errbuf, size_t errlen)
{
    struct mf_state *st = &m->st;
    struct ck_rd r;
    int rc;
    if (st->n_users || st->n_items || st->updates || st->ring_pushed)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "mf: mf_load needs a fresh model");

    /* mf_state: the shape guard first, then the counts the others must match. */
    if ((rc = mf_find(f, CK_SEC_MF_STATE, "mf_state", &r, errbuf, errlen)) != 0)
        return rc;
    uint32_t k = ck_get_u32(&r), kp = ck_get_u32(&r), ring_size = ck_get_u32(&r);
    if (r.failed)
        return mf_check_end(&r, "mf_state", "its header", errbuf, errlen);
    if (k != m->set.k || kp != m->set.kp)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "mf: section mf_state was saved with learner.k=%u (rows of %u floats), "
                         "this model has learner.k=%u (rows of %u)",
                         k, kp, m->set.k, m->set.kp);
    if (ring_size != MF_RING_SIZE)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "mf: section mf_state has a negative ring of %u slots, this build %u",
                         ring_size, MF_RING_SIZE);
    uint32_t n_users = ck_get_u32(&r), n_items = ck_get_u32(&r);
    uint32_t n_sample_items = ck_get_u32(&r);
    uint64_t updates = ck_get_u64(&r), rng[4];
    for (int i = 0; i < 4; i++)
        rng[i] = ck_get_u64(&r);
    uint64_t ring_pushed = ck_get_u64(&r);
    uint64_t filled = ring_pushed < MF_RING_SIZE ? ring_pushed : MF_RING_SIZE;
    const unsigned char *ring = ck_take(&r, (size_t)filled * sizeof(uint32_t));
    char what[96];
    snprintf(what, sizeof what, "its counters and %llu ring slots", (unsigned long long)filled);
    if ((rc = mf_check_end(&r, "mf_state", what, errbuf, errlen)) != 0)
        return rc;
    /* Values that would send the sampler outside the rows. */
    if (n_sample_items > n_items)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "mf: section mf_state: %u sampled items but only %u item rows",
                         n_sample_items, n_items);
    if ((rng[0] | rng[1] | rng[2] | rng[3]) == 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "mf: section mf_state: RNG state is zero");
    for (uint64_t i = 0; i < filled; i++) {
        uint32_t item;
        memcpy(&item, ring + i * sizeof item, sizeof item);
        if (item >= n_sample_items)
            return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                             "mf: section mf_state: ring slot %llu holds item %u, beyond the %u "
                             "learned items",
                             (unsigned long long)i, item, n_sample_items);
    }

    const unsigned char *urows, *irows;
    if ((rc = mf_read_rows(f, m, CK_SEC_MF_USERS, "mf_users", n_users, &urows, errbuf, errlen)) ||
        (rc = mf_read_rows(f, m, CK_SEC_MF_ITEMS, "mf_items", n_items, &irows, errbuf, errlen)))
        return rc;

    if ((rc = mf_find(f, CK_SEC_MF_OPT, "mf_opt", &r, errbuf, errlen)) != 0)
        return rc;
    uint32_t opt_users = ck_get_u32(&r), opt_items = ck_get_u32(&r);
    if (r.failed)
        return mf_check_end(&r, "mf_opt", "its header", errbuf, errlen);
    if (opt_users != n_users || opt_items != n_items)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                         "mf: section mf_opt holds %u users and %u items, mf_state says %u and %u",
                         opt_users, opt_items, n_users, n_items);
    const unsigned char *uacc = ck_take(&r, (size_t)n_users * st->user_acc.elem_size);
    const unsigned char *iacc = ck_take(&r, (size_t)n_items * st->item_acc.elem_size);
    snprintf(what, sizeof what, "%u user and %u item accumulators", n_users, n_items);
    if ((rc = mf_check_end(&r, "mf_opt", what, errbuf, errlen)) != 0)
        return rc;

    /* Everything checked: allocate, then copy (nothing can fail after). */
    if ((rc = sr_chunked_reserve(&st->users, n_users)) ||
        (rc = sr_chunked_reserve(&st->user_acc, n_users)) ||
        (rc = sr_chunked_reserve(&st->items, n_items)) ||
        (rc = sr_chunked_reserve(&st->item_acc, n_items)))
        return sr_seterr(errbuf, errlen, rc, "mf: no room for %u users and %u items: %s", n_users,
                         n_items, sr_strerror(rc));
    mf_chunked_in(&st->users, urows, n_users);
    mf_chunked_in(&st->items, irows, n_items);
    mf_chunked_in(&st->user_acc, uacc, n_users);
    mf_chunked_in(&st->item_acc, iacc, n_items);
    memset(st->ring, 0, MF_RING_SIZE * sizeof *st->ring);
    if (filled)
        memcpy(st->ring, ring, (size_t)filled * sizeof *st->ring);
    st->n_users = n_users;
    st->n_items = n_items;
    st->n_sample_items = n_sample_items;
    st->updates = updates;
    memcpy(st->rng, rng, sizeof st->rng);
    st->ring_pushed = ring_pushed;
    return 0;
}
