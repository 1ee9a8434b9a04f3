/* kernels/topk.c - top-K selection (kernels/topk.h): a bounded heap with an
 * early-reject threshold, and batched scoring on top of kn_sgemm_nt.
 *
 * The heap lives in the caller's out[0..k) array, with the worst selected
 * entry at the root. Once k entries are held, the root's score is the
 * threshold: an entry below it costs one comparison, and the scan tests a
 * block of scores against it at once so a whole block of rejects costs a
 * few vector instructions. At the end the heap is sorted in place into rank
 * order. Nothing is allocated. */
#include "kernels/topk.h"
#include "kernels/kn.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Scores tested against the threshold per block; a multiple of every SIMD
 * width so the block test compiles to a few vector compares. */
#define TOPK_BLOCK 32

/* The tie-break key of item i: tiebreak[i], or i itself. */
static inline uint32_t tb_key(const uint32_t *tiebreak, uint32_t i)
{
    return tiebreak ? tiebreak[i] : i;
}

/* True when a ranks strictly after b: lower score, or equal score and a
 * higher tie-break key, or (duplicate keys) a higher index, so the order is
 * total and the result does not depend on the scan order. */
static inline bool ranks_after(const struct kn_scored *a, const struct kn_scored *b,
                               const uint32_t *tiebreak)
{
    if (a->score != b->score)
        return a->score < b->score;
    uint32_t ta = tb_key(tiebreak, a->item), tb = tb_key(tiebreak, b->item);
    if (ta != tb)
        return ta > tb;
    return a->item > b->item;
}

/* Restores the heap (worst at the root) below position i of h[0..n). */
static void sift_down(struct kn_scored *h, size_t n, size_t i, const uint32_t *tiebreak)
{
    struct kn_scored x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ranks_after(&h[c + 1], &h[c], tiebreak))
            c++;
        if (!ranks_after(&h[c], &x, tiebreak))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Moves h[i] up until its parent ranks before it. */
static void sift_up(struct kn_scored *h, size_t i, const uint32_t *tiebreak)
{
    struct kn_scored x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ranks_after(&x, &h[p], tiebreak))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

/* Sorts the heap h[0..n) into rank order (best first): each step moves the
 * worst remaining entry to the end. */
static void heap_to_ranked(struct kn_scored *h, size_t n, const uint32_t *tiebreak)
{
    for (size_t end = n; end > 1; end--) {
        struct kn_scored t = h[0];
        h[0] = h[end - 1];
        h[end - 1] = t;
        sift_down(h, end - 1, 0, tiebreak);
    }
}

/* Offers entry i to the full heap h[0..k); thr is the root's score and i's
 * score is already known to be >= thr. Returns the new threshold. */
static inline float offer_full(struct kn_scored *h, size_t k, const uint32_t *tiebreak, uint32_t i,
                               float s)
{
    struct kn_scored x = {.item = i, .score = s};
    if (!ranks_after(&h[0], &x, tiebreak))
        return h[0].score;
    h[0] = x;
    sift_down(h, k, 0, tiebreak);
    return h[0].score;
}

/* The selection behind kn_topk and kn_score_topk; with skip_max, items whose
 * tie-break key is UINT32_MAX are not selectable. */
static size_t topk_select(const float *scores, size_t n, const uint32_t *tiebreak, bool skip_max,
                          size_t k, struct kn_scored *out)
{
    if (k == 0)
        return 0;

    /* Fill: the first k selectable entries build the heap. */
    size_t cnt = 0, i = 0;
    for (; i < n && cnt < k; i++) {
        float s = scores[i];
        if (!(s > -INFINITY)) /* -INFINITY or NaN */
            continue;
        if (skip_max && tiebreak[i] == UINT32_MAX)
            continue;
        out[cnt].item = (uint32_t)i;
        out[cnt].score = s;
        sift_up(out, cnt, tiebreak);
        cnt++;
    }
    if (cnt < k) {
        heap_to_ranked(out, cnt, tiebreak);
        return cnt;
    }

    /* Scan: thr > -INFINITY, so !(s >= thr) rejects lower scores, -INFINITY
     * and NaN with one comparison. */
    float thr = out[0].score;
    for (; i + TOPK_BLOCK <= n; i += TOPK_BLOCK) {
        const float *b = scores + i;
        int hit = 0;
        for (int j = 0; j < TOPK_BLOCK; j++)
            hit |= b[j] >= thr;
        if (!hit)
            continue;
        for (int j = 0; j < TOPK_BLOCK; j++) {
            float s = b[j];
            if (!(s >= thr) || (skip_max && tiebreak[i + j] == UINT32_MAX))
                continue;
            thr = offer_full(out, k, tiebreak, (uint32_t)(i + j), s);
        }
    }
    for (; i < n; i++) {
        float s = scores[i];
        if (!(s >= thr) || (skip_max && tiebreak[i] == UINT32_MAX))
            continue;
        thr = offer_full(out, k, tiebreak, (uint32_t)i, s);
    }
    heap_to_ranked(out, k, tiebreak);
    return k;
}

void kn_exclude(float *scores, size_t n_scores, const uint32_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (items[i] < n_scores)
            scores[items[i]] = -INFINITY;
}

size_t kn_topk(const float *scores, size_t n, const uint32_t *tiebreak, size_t k,
               struct kn_scored *out)
{
    return topk_select(scores, n, tiebreak, false, k, out);
}

void kn_score_topk(const float *U, int m, const float *V, int n, int dim, const uint32_t *tiebreak,
                   size_t k, float *S, struct kn_scored *out, size_t *n_out)
{
    if (m <= 0)
        return;
    if (n > 0 && dim > 0)
        kn_sgemm_nt(m, n, dim, U, V, S);
    else if (n > 0)
        memset(S, 0, (size_t)m * (size_t)n * sizeof *S); /* empty dot products */
    size_t nn = n > 0 ? (size_t)n : 0;
    for (int r = 0; r < m; r++) {
        size_t got =
            topk_select(S + (size_t)r * nn, nn, tiebreak, tiebreak != NULL, k, out + (size_t)r * k);
        if (n_out)
            n_out[r] = got;
    }
}
