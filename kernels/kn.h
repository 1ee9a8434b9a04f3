/* kernels/kn.h - dense float kernels: OpenBLAS behind a small interface.
 *
 * Matrices are row-major float arrays; the shape is in each comment. Every
 * kn_* function has a plain C twin kn_ref_* (kernels/kn_ref.c) that tests
 * compare against on random inputs. Only kernels/ includes cblas.h.
 * Thread-safe: no global state beyond OpenBLAS's own. */
#ifndef SR_KN_H
#define SR_KN_H

#include <stddef.h>

/** x . y over n floats. */
float kn_dot(const float *x, const float *y, int n);
/** y += a * x over n floats. */
void kn_axpy(float a, const float *x, float *y, int n);
/** y[m] = A[m][n] . x[n] (y is overwritten). */
void kn_gemv(int m, int n, const float *A, const float *x, float *y);
/** C[m][n] = A[m][k] . B[n][k]^T (C is overwritten): m users against n items. */
void kn_sgemm_nt(int m, int n, int k, const float *A, const float *B, float *C);

float kn_ref_dot(const float *x, const float *y, int n);
void kn_ref_axpy(float a, const float *x, float *y, int n);
void kn_ref_gemv(int m, int n, const float *A, const float *x, float *y);
void kn_ref_sgemm_nt(int m, int n, int k, const float *A, const float *B, float *C);

/** Pins OpenBLAS to n threads (1 for reproducible single-core runs). */
void kn_set_threads(int n);

/** Measures sgemm throughput: C = A B^T on 1024 x 1024 floats with OpenBLAS
 * pinned to `threads` threads (the previous count is restored), repeated for
 * at least min_seconds (and at least 3 times). Returns the best single-call
 * rate in GFLOP/s (2 m n k flops per call), or a negative enum sr_err
 * (SR_EINVAL, SR_ENOMEM). Allocates 12 MiB for the duration; not for hot
 * paths, and not to be called while other threads use OpenBLAS. */
double kn_sgemm_peak_gflops(int threads, double min_seconds);

#endif
