/* kernels/kn_bench.c - throughput probes for the kernels: the machine's
 * sgemm peak and batched scoring + top-K (kn_sgemm_peak_gflops in kn.h,
 * kn_score_bench in topk.h). They allocate and time; the benchmark driver
 * and the tuning of the scoring batch size use them. */
#include "core/err.h"
#include "kernels/kn.h"
#include "kernels/topk.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: fixed-seed, reproducible inputs. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-a, a). */
static void fill_uniform(float *x, size_t n, float a, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = a * ((float)(rng_next(s) >> 40) / (float)(1u << 23) - 1.0f);
}

double kn_sgemm_peak_gflops(int threads, double min_seconds)
{
    enum { N = 1024 };
    if (threads < 1)
        return SR_EINVAL;
    double best = SR_ENOMEM;
    float *A = malloc(sizeof(float) * N * N);
    float *B = malloc(sizeof(float) * N * N);
    float *C = malloc(sizeof(float) * N * N);
    if (!A || !B || !C)
        goto err_free;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    fill_uniform(A, (size_t)N * N, 1.0f, &seed);
    fill_uniform(B, (size_t)N * N, 1.0f, &seed);

    int saved = openblas_get_num_threads();
    kn_set_threads(threads);
    best = 0;
    double start = now_s();
    for (int rep = 0; rep < 3 || now_s() - start < min_seconds; rep++) {
        double t0 = now_s();
        kn_sgemm_nt(N, N, N, A, B, C);
        double dt = now_s() - t0;
        double rate = 2.0 * N * N * N / dt * 1e-9;
        if (dt > 0 && rate > best)
            best = rate;
    }
    kn_set_threads(saved);

err_free:
    free(C);
    free(B);
    free(A);
    return best;
}

double kn_score_bench(int n_items, int dim, int k, int batch, int threads, double min_seconds,
                      double *gflops_out)
{
    if (gflops_out)
        *gflops_out = 0;
    if (n_items < 1 || dim < 1 || k < 1 || batch < 1 || threads < 1)
        return SR_EINVAL;

    /* A pool of users, cycled through one batch at a time. */
    size_t n_pool = (size_t)batch * (size_t)((4096 + batch - 1) / batch);
    size_t n = (size_t)n_items;
    double result = SR_ENOMEM;
    float *U = malloc(sizeof(float) * n_pool * (size_t)dim);
    float *V = malloc(sizeof(float) * n * (size_t)dim);
    uint32_t *tiebreak = malloc(sizeof(uint32_t) * n);
    float *S = malloc(sizeof(float) * (size_t)batch * n);
    struct kn_scored *out = malloc(sizeof(struct kn_scored) * (size_t)batch * (size_t)k);
    if (!U || !V || !tiebreak || !S || !out)
        goto err_free;

    uint64_t seed = 0xD1B54A32D192ED03ULL;
    fill_uniform(U, n_pool * (size_t)dim, 1.0f, &seed);
    fill_uniform(V, n * (size_t)dim, 1.0f, &seed);
    /* Tie-break keys as a first-positive order would give: a permutation. */
    for (size_t i = 0; i < n; i++)
        tiebreak[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next(&seed) % (i + 1));
        uint32_t t = tiebreak[i];
        tiebreak[i] = tiebreak[j];
        tiebreak[j] = t;
    }

    int saved = openblas_get_num_threads();
    kn_set_threads(threads);
    /* One untimed batch wakes the BLAS threads and faults the pages in. */
    kn_score_topk(U, batch, V, n_items, dim, tiebreak, (size_t)k, S, out, NULL);
    size_t users = 0, next = 0;
    double start = now_s(), elapsed;
    do {
        kn_score_topk(U + next * (size_t)dim, batch, V, n_items, dim, tiebreak, (size_t)k, S, out,
                      NULL);
        users += (size_t)batch;
        next = (next + (size_t)batch) % n_pool;
        elapsed = now_s() - start;
    } while (elapsed < min_seconds || elapsed <= 0);
    kn_set_threads(saved);

    result = (double)users / elapsed;
    if (gflops_out)
        *gflops_out = 2.0 * (double)n_items * dim * result * 1e-9;

err_free:
    free(out);
    free(S);
    free(tiebreak);
    free(V);
    free(U);
    return result;
}
