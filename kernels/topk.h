/* kernels/topk.h - top-K selection over a score array, and batched scoring.
 *
 * Rankings everywhere in streamrec order by score (higher first), then by a
 * tie-break key (lower first): the item's first-positive order, so two
 * systems that score alike rank alike. Entries whose score is -INFINITY or
 * NaN are never selected: callers mark excluded items (not in the
 * catalogue, already seen, purchased) that way. Any thread may call these;
 * they keep no state, and kn_score_topk's sgemm runs on OpenBLAS's threads
 * (kn_set_threads). */
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

/** Recommended users per kn_score_topk call (m) for catalogues around 100k
 * items, dim 32, top 20, measured with kn_score_bench on the 2-core dev
 * machine (AMD EPYC, OpenBLAS 0.3.21; best of 14 interleaved runs):
 *
 *   batch      1 thread users/s   2 threads users/s   S scratch
 *      32            6.6k               11.5k            13 MB
 *      64            7.6k               12.6k            26 MB
 *     128            8.2k               12.0k            51 MB
 *     256            8.2k               12.4k           102 MB
 *     512            9.0k               12.4k           205 MB
 *    1024            9.1k               11.9k           410 MB
 *
 * Small batches lose to per-call sgemm overhead (one user at a time is
 * ~0.8k/s); past 512 the gain is within noise while S grows. With 1 thread,
 * 512 is ~6% faster than 256 (median of paired runs); choose 256 when the
 * 100 MB matters. At batch 256 on 1 thread a user costs ~95 us of sgemm
 * (dim 32 leaves only 64 flops per output, ~0.65 of the ~100 GFLOP/s square
 * peak) and ~25 us of selection (reading S back): ~0.55 of peak overall,
 * ~0.40 on 2 threads since the selection stays on one. Cutting the items
 * into cache-sized sgemm calls was slower, hence one sgemm per batch. Use
 * 2 OpenBLAS threads only when the second core is idle: with it busy,
 * 2 threads scored fewer users/s than 1. */
#define KN_SCORE_BATCH 512

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
 * 2 n_items dim users/s. Allocates; not for hot paths, and not to be called
 * while other threads use OpenBLAS. */
double kn_score_bench(int n_items, int dim, int k, int batch, int threads, double min_seconds,
                      double *gflops_out);

#endif
