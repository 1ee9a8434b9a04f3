/* tests/unit/test_kernels.c - kernels/: the OpenBLAS wrappers against their
 * plain C references, top-K selection against a sort-based reference,
 * exclusion, batched scoring, and the throughput probes' contracts. */
#include "core/err.h"
#include "kernels/kn.h"
#include "kernels/topk.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*, fixed seeds: every run sees the same inputs. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)((rng_next(s) >> 32) % n);
}

/* Uniform in [-1, 1). */
static float rng_float(uint64_t *s)
{
    return (float)(rng_next(s) >> 40) / (float)(1u << 23) - 1.0f;
}

static void fill(float *x, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_float(s);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* |got - want| within float accumulation error of a dot product whose terms
 * have absolute sum `mag`. */
static void assert_close(float got, float want, double mag, const char *what, int idx)
{
    double tol = 1e-5 * mag + 1e-6;
    ck_assert_msg(fabs((double)got - (double)want) <= tol, "%s[%d]: %.9g vs reference %.9g", what,
                  idx, (double)got, (double)want);
}

static double abs_dot(const float *x, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs((double)x[i] * y[i]);
    return s;
}

static const int sizes[] = {1, 2, 3, 7, 17, 33, 64, 100, 257};
#define N_SIZES (int)(sizeof sizes / sizeof *sizes)

START_TEST(test_dot_axpy)
{
    uint64_t seed = 1;
    for (int si = 0; si < N_SIZES; si++) {
        int n = sizes[si];
        float *x = xcalloc((size_t)n, sizeof *x), *y = xcalloc((size_t)n, sizeof *y);
        float *y1 = xcalloc((size_t)n, sizeof *y1), *y2 = xcalloc((size_t)n, sizeof *y2);
        fill(x, (size_t)n, &seed);
        fill(y, (size_t)n, &seed);
        assert_close(kn_dot(x, y, n), kn_ref_dot(x, y, n), abs_dot(x, y, n), "dot", n);

        float a = rng_float(&seed) * 3.0f;
        memcpy(y1, y, sizeof *y * (size_t)n);
        memcpy(y2, y, sizeof *y * (size_t)n);
        kn_axpy(a, x, y1, n);
        kn_ref_axpy(a, x, y2, n);
        for (int i = 0; i < n; i++) {
            assert_close(y1[i], y2[i], fabs(a * x[i]) + fabs(y[i]), "axpy", i);
            /* and the reference itself does what it says */
            ck_assert(fabsf(y2[i] - (y[i] + a * x[i])) <= 1e-6f);
        }
        free(x);
        free(y);
        free(y1);
        free(y2);
    }
    /* A known value: the reference is not just agreeing with itself. */
    float u[3] = {1, 2, 3}, v[3] = {4, -5, 6};
    ck_assert(kn_dot(u, v, 3) == 12.0f);
    ck_assert(kn_ref_dot(u, v, 3) == 12.0f);
}
END_TEST

START_TEST(test_gemv)
{
    uint64_t seed = 2;
    for (int si = 0; si < N_SIZES; si++)
        for (int sj = 0; sj < N_SIZES; sj += 2) {
            int m = sizes[si], n = sizes[sj];
            float *A = xcalloc((size_t)m * n, sizeof *A), *x = xcalloc((size_t)n, sizeof *x);
            float *y1 = xcalloc((size_t)m, sizeof *y1), *y2 = xcalloc((size_t)m, sizeof *y2);
            fill(A, (size_t)m * n, &seed);
            fill(x, (size_t)n, &seed);
            fill(y1, (size_t)m, &seed); /* overwritten, not accumulated */
            kn_gemv(m, n, A, x, y1);
            kn_ref_gemv(m, n, A, x, y2);
            for (int r = 0; r < m; r++)
                assert_close(y1[r], y2[r], abs_dot(A + (size_t)r * n, x, n), "gemv", r);
            free(A);
            free(x);
            free(y1);
            free(y2);
        }
}
END_TEST

/* C = A B^T for shapes m x n x k with odd sizes, k = 1 and k = 64, under one
 * and two OpenBLAS threads. */
START_TEST(test_sgemm_nt)
{
    static const int shapes[][3] = {{1, 1, 1},     {1, 7, 1},     {3, 5, 1},
                                    {5, 3, 64},    {17, 33, 7},   {64, 1, 64},
                                    {33, 257, 32}, {100, 64, 17}, {2, 1000, 64}};
    uint64_t seed = 3;
    for (int threads = 1; threads <= 2; threads++) {
        kn_set_threads(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            float *A = xcalloc((size_t)m * k, sizeof *A), *B = xcalloc((size_t)n * k, sizeof *B);
            float *C1 = xcalloc((size_t)m * n, sizeof *C1);
            float *C2 = xcalloc((size_t)m * n, sizeof *C2);
            fill(A, (size_t)m * k, &seed);
            fill(B, (size_t)n * k, &seed);
            fill(C1, (size_t)m * n, &seed); /* overwritten, not accumulated */
            kn_sgemm_nt(m, n, k, A, B, C1);
            kn_ref_sgemm_nt(m, n, k, A, B, C2);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++) {
                    double mag = abs_dot(A + (size_t)r * k, B + (size_t)c * k, k);
                    assert_close(C1[(size_t)r * n + c], C2[(size_t)r * n + c], mag, "sgemm",
                                 r * n + c);
                }
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
    kn_set_threads(1);
}
END_TEST

/* ---- top-K against a sort-based reference ---------------------------- */

struct ref_entry {
    uint32_t item, key;
    float score;
};

static int ref_cmp(const void *pa, const void *pb)
{
    const struct ref_entry *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->item < b->item ? -1 : a->item > b->item;
}

/* Sorts every selectable entry and keeps the first k: the definition of
 * the ranking, written the obvious way. */
static size_t ref_topk(const float *scores, size_t n, const uint32_t *tiebreak, int skip_max,
                       size_t k, struct kn_scored *out)
{
    struct ref_entry *e = xcalloc(n, sizeof *e);
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i]) || scores[i] == -INFINITY)
            continue;
        if (skip_max && tiebreak && tiebreak[i] == UINT32_MAX)
            continue;
        e[cnt].item = (uint32_t)i;
        e[cnt].key = tiebreak ? tiebreak[i] : (uint32_t)i;
        e[cnt].score = scores[i];
        cnt++;
    }
    qsort(e, cnt, sizeof *e, ref_cmp);
    if (cnt > k)
        cnt = k;
    for (size_t i = 0; i < cnt; i++) {
        out[i].item = e[i].item;
        out[i].score = e[i].score;
    }
    free(e);
    return cnt;
}

static void assert_same_ranking(const struct kn_scored *got, size_t n_got,
                                const struct kn_scored *want, size_t n_want, const char *what,
                                int round)
{
    ck_assert_msg(n_got == n_want, "%s round %d: %zu selected, reference %zu", what, round, n_got,
                  n_want);
    for (size_t i = 0; i < n_got; i++) {
        ck_assert_msg(got[i].item == want[i].item && got[i].score == want[i].score,
                      "%s round %d rank %zu: item %u score %g, reference item %u score %g", what,
                      round, i, got[i].item, (double)got[i].score, want[i].item,
                      (double)want[i].score);
    }
}

/* Fills scores from one of several distributions: distinct reals, a few
 * distinct values (many ties), sorted ascending/descending (worst cases for
 * the threshold), with a share of -INFINITY, NaN and +INFINITY. */
static void fill_scores(float *s, size_t n, int kind, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++) {
        switch (kind % 5) {
        case 0:
            s[i] = rng_float(seed);
            break;
        case 1:
            s[i] = (float)rng_below(seed, 4); /* heavy ties */
            break;
        case 2:
            s[i] = (float)i;
            break;
        case 3:
            s[i] = -(float)i;
            break;
        default:
            s[i] = (float)rng_below(seed, 1u + (uint32_t)n / 4) * 0.25f;
            break;
        }
        uint32_t r = rng_below(seed, 100);
        int special = kind / 5; /* 0 none, 1 some, 2 most */
        if (special == 1 && r < 10)
            s[i] = r < 4 ? -INFINITY : r < 8 ? NAN : INFINITY;
        else if (special == 2 && r < 85)
            s[i] = r < 40 ? -INFINITY : NAN;
    }
}

static void fill_tiebreak(uint32_t *tb, size_t n, int dup, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        tb[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(seed, (uint32_t)i);
        uint32_t t = tb[i - 1];
        tb[i - 1] = tb[j];
        tb[j] = t;
    }
    if (dup) /* duplicate keys: then the index decides */
        for (size_t i = 0; i < n; i++)
            tb[i] /= 3;
}

START_TEST(test_topk_random)
{
    enum { NMAX = 700, KMAX = 800 };
    static float scores[NMAX];
    static uint32_t tb[NMAX];
    static struct kn_scored got[KMAX], want[KMAX];
    static const size_t ks[] = {1, 2, 5, 20, 64, 333, 800};
    uint64_t seed = 4;
    int round = 0;
    for (int rep = 0; rep < 40; rep++)
        for (int kind = 0; kind < 15; kind++) {
            size_t n = rep < 4 ? (size_t)rep : 1 + rng_below(&seed, NMAX);
            size_t k = ks[rng_below(&seed, sizeof ks / sizeof *ks)];
            fill_scores(scores, n, kind, &seed);
            int mode = rep % 3; /* NULL, permutation, duplicate keys */
            const uint32_t *t = mode == 0 ? NULL : tb;
            if (mode)
                fill_tiebreak(tb, n, mode == 2, &seed);
            /* Sentinel past the k slots: selection must stay inside out[0..k). */
            got[k < KMAX ? k : KMAX - 1].item = 0xDEADBEEF;
            size_t ng = kn_topk(scores, n, t, k, got);
            size_t nw = ref_topk(scores, n, t, 0, k, want);
            assert_same_ranking(got, ng, want, nw, "topk", round);
            if (k < KMAX)
                ck_assert_uint_eq(got[k].item, 0xDEADBEEF);
            round++;
        }
}
END_TEST

START_TEST(test_topk_edges)
{
    struct kn_scored out[8];
    /* k = 0 and n = 0 select nothing. */
    float one[1] = {1.0f};
    ck_assert_uint_eq(kn_topk(one, 1, NULL, 0, out), 0);
    ck_assert_uint_eq(kn_topk(one, 0, NULL, 4, out), 0);
    /* Nothing selectable. */
    float bad[4] = {-INFINITY, NAN, -INFINITY, NAN};
    ck_assert_uint_eq(kn_topk(bad, 4, NULL, 2, out), 0);
    /* Fewer selectable than k, in rank order; +INFINITY is a real score. */
    float s[6] = {0.5f, NAN, INFINITY, -INFINITY, 0.5f, -3.0f};
    ck_assert_uint_eq(kn_topk(s, 6, NULL, 8, out), 4);
    ck_assert_uint_eq(out[0].item, 2);
    ck_assert_uint_eq(out[1].item, 0);
    ck_assert_uint_eq(out[2].item, 4);
    ck_assert_uint_eq(out[3].item, 5);
    /* Ties go to the lower tie-break key, not the lower index. */
    uint32_t tb[6] = {9, 0, 0, 0, 1, 0};
    ck_assert_uint_eq(kn_topk(s, 6, tb, 2, out), 2);
    ck_assert_uint_eq(out[0].item, 2);
    ck_assert_uint_eq(out[1].item, 4);
    ck_assert(out[1].score == 0.5f);
}
END_TEST

START_TEST(test_exclude)
{
    float s[5] = {1, 2, 3, 4, 5};
    uint32_t items[4] = {3, 0, 99, 3}; /* 99 is out of range: ignored */
    kn_exclude(s, 5, items, 4);
    ck_assert(s[0] == -INFINITY && s[3] == -INFINITY);
    ck_assert(s[1] == 2 && s[2] == 3 && s[4] == 5);
    kn_exclude(s, 5, NULL, 0);
    struct kn_scored out[5];
    ck_assert_uint_eq(kn_topk(s, 5, NULL, 5, out), 3);
    ck_assert_uint_eq(out[0].item, 4);
    ck_assert_uint_eq(out[2].item, 1);
}
END_TEST

/* Integer-valued vectors make every dot product exact in float whatever
 * the summation order, so BLAS scores equal the reference's bit for bit and
 * the rankings, ties included, must agree exactly. */
START_TEST(test_score_topk_exact)
{
    static const int shapes[][4] = {{1, 1, 1, 1},   {3, 50, 4, 5},    {7, 301, 16, 20},
                                    {5, 97, 1, 64}, {16, 500, 32, 1}, {4, 9, 3, 30}};
    uint64_t seed = 5;
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        int m = shapes[sh][0], n = shapes[sh][1], dim = shapes[sh][2];
        size_t k = (size_t)shapes[sh][3];
        float *U = xcalloc((size_t)m * dim, sizeof *U), *V = xcalloc((size_t)n * dim, sizeof *V);
        float *S = xcalloc((size_t)m * n, sizeof *S), *R = xcalloc((size_t)m * n, sizeof *R);
        uint32_t *tb = xcalloc((size_t)n, sizeof *tb);
        struct kn_scored *out = xcalloc((size_t)m * k, sizeof *out);
        struct kn_scored *want = xcalloc(k, sizeof *want);
        size_t *n_out = xcalloc((size_t)m, sizeof *n_out);
        for (size_t i = 0; i < (size_t)m * dim; i++)
            U[i] = (float)((int)rng_below(&seed, 5) - 2);
        for (size_t i = 0; i < (size_t)n * dim; i++)
            V[i] = (float)((int)rng_below(&seed, 5) - 2);
        kn_ref_sgemm_nt(m, n, dim, U, V, R);

        for (int mode = 0; mode < 3; mode++) {
            /* NULL; a permutation; a permutation with ~1/4 items skipped */
            const uint32_t *t = mode == 0 ? NULL : tb;
            if (mode) {
                fill_tiebreak(tb, (size_t)n, 0, &seed);
                if (mode == 2)
                    for (int i = 0; i < n; i++)
                        if (rng_below(&seed, 4) == 0)
                            tb[i] = UINT32_MAX;
            }
            kn_score_topk(U, m, V, n, dim, t, k, S, out, n_out);
            for (int r = 0; r < m; r++) {
                size_t nw = ref_topk(R + (size_t)r * n, (size_t)n, t, 1, k, want);
                assert_same_ranking(out + (size_t)r * k, n_out[r], want, nw, "score_topk",
                                    (int)sh * 100 + mode * 10 + r);
                for (size_t j = 0; mode == 2 && j < n_out[r]; j++)
                    ck_assert_uint_ne(tb[out[(size_t)r * k + j].item], UINT32_MAX);
            }
        }
        free(U);
        free(V);
        free(S);
        free(R);
        free(tb);
        free(out);
        free(want);
        free(n_out);
    }
}
END_TEST

/* Real-valued vectors: S must match the reference sgemm within tolerance,
 * and the selection must be exactly the reference selection over S. */
START_TEST(test_score_topk_float)
{
    enum { M = 9, N = 1031, DIM = 32, K = 20 };
    uint64_t seed = 6;
    float *U = xcalloc((size_t)M * DIM, sizeof *U), *V = xcalloc((size_t)N * DIM, sizeof *V);
    float *S = xcalloc((size_t)M * N, sizeof *S), *R = xcalloc((size_t)M * N, sizeof *R);
    static struct kn_scored out[M][K], want[K];
    fill(U, (size_t)M * DIM, &seed);
    fill(V, (size_t)N * DIM, &seed);
    kn_score_topk(U, M, V, N, DIM, NULL, K, S, &out[0][0], NULL);
    kn_ref_sgemm_nt(M, N, DIM, U, V, R);
    for (int r = 0; r < M; r++) {
        for (int c = 0; c < N; c++)
            assert_close(S[(size_t)r * N + c], R[(size_t)r * N + c],
                         abs_dot(U + (size_t)r * DIM, V + (size_t)c * DIM, DIM), "S", c);
        size_t nw = ref_topk(S + (size_t)r * N, N, NULL, 0, K, want);
        assert_same_ranking(out[r], K, want, nw, "score_topk_float", r);
        /* and the top score is the reference's best, within tolerance */
        float best = -INFINITY;
        for (int c = 0; c < N; c++)
            best = fmaxf(best, R[(size_t)r * N + c]);
        ck_assert(fabsf(out[r][0].score - best) <= 1e-4f);
    }
    free(U);
    free(V);
    free(S);
    free(R);
}
END_TEST

/* The probes: bad arguments are refused; a tiny run reports a positive rate
 * and the GFLOP/s that the rate implies. Speed itself is for the bench. */
START_TEST(test_probes)
{
    double gf = -1;
    ck_assert(kn_score_bench(0, 32, 20, 4, 1, 0, &gf) == SR_EINVAL);
    ck_assert(gf == 0);
    ck_assert(kn_score_bench(100, 32, 20, 0, 1, 0, NULL) == SR_EINVAL);
    ck_assert(kn_sgemm_peak_gflops(0, 0) == SR_EINVAL);
    double ups = kn_score_bench(500, 8, 5, 3, 1, 0.001, &gf);
    ck_assert(ups > 0);
    ck_assert(fabs(gf - 2.0 * 500 * 8 * ups * 1e-9) <= 1e-9 * gf + 1e-12);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dot_axpy);
    tcase_add_test(tc, test_gemv);
    tcase_add_test(tc, test_sgemm_nt);
    tcase_add_test(tc, test_topk_random);
    tcase_add_test(tc, test_topk_edges);
    tcase_add_test(tc, test_exclude);
    tcase_add_test(tc, test_score_topk_exact);
    tcase_add_test(tc, test_score_topk_float);
    tcase_add_test(tc, test_probes);
    suite_add_tcase(s, tc);
    return s;
}
