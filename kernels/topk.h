/* kernels/topk.h - top-K selection over a score array, and batched scoring.
 *
 * Rankings everywhere in streamrec order by score (higher first), then by a
 * tie-break key (lower first): the item's first-positive order, so two
 * systems that score alike rank alike. Entries whose score is -INFINITY or
 * NaN are never selected: callers mark excluded items (not in the
 * catalogue, already seen, purchased) that way. */
#ifndef SR_TOPK_H
#define SR_TOPK_H

#include <stddef.h>
#include <stdint.h>

struct kn_scored {
    uint32_t item;
    float score;
};

/** Writes -INFINITY into scores[items[i]] for each of the n items (ids at
 * or beyond n_scores are ignored). */
void kn_exclude(float *scores, size_t n_scores, const uint32_t *items, size_t n);

/** Selects the k best of scores[0..n) (score desc, then tiebreak[i] asc;
 * tiebreak NULL means the index itself) into out[0..k) in rank order; returns
 * how many were selected (fewer when fewer are selectable). Never allocates. */
size_t kn_topk(const float *scores, size_t n, const uint32_t *tiebreak, size_t k,
               struct kn_scored *out);

/** Batched scoring: for m users with vectors U[m][dim] against items
 * V[n][dim], computes S[m][n] = U V^T with one sgemm, then selects each
 * user's top k into out[m][k] (counts into n_out[m], may be NULL). Items
 * with tiebreak[i] == UINT32_MAX are skipped (tiebreak may be NULL). S is
 * caller-provided scratch of m*n floats. */
void kn_score_topk(const float *U, int m, const float *V, int n, int dim, const uint32_t *tiebreak,
                   size_t k, float *S, struct kn_scored *out, size_t *n_out);

/** Measures kn_score_topk: random U and V[n_items][dim] (uniform, fixed
 * seed), tie-break keys a random permutation, OpenBLAS pinned to `threads`
 * (the previous count is restored). After one untimed batch, scores batches
 * of `batch` users for at least min_seconds and returns users scored per
 * second (averaged over the run), or a negative enum sr_err (SR_EINVAL,
 * SR_ENOMEM). *gflops_out (may be NULL) receives the equivalent sgemm rate,
 * 2 n_items dim users/s. Allocates; not for hot paths.
 * BATCH_RECOMMENDATION */
double kn_score_bench(int n_items, int dim, int k, int batch, int threads, double min_seconds,
                      double *gflops_out);

#endif
