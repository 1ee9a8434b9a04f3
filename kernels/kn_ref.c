/* kernels/kn_ref.c - plain C reference kernels, the yardstick for kn_blas.c. */
#include "kernels/kn.h"

float kn_ref_dot(const float *x, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)x[i] * y[i];
    return (float)s;
}

void kn_ref_axpy(float a, const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

void kn_ref_gemv(int m, int n, const float *A, const float *x, float *y)
{
    for (int r = 0; r < m; r++)
        y[r] = kn_ref_dot(A + (size_t)r * n, x, n);
}

void kn_ref_sgemm_nt(int m, int n, int k, const float *A, const float *B, float *C)
{
    for (int r = 0; r < m; r++)
        for (int c = 0; c < n; c++)
            C[(size_t)r * n + c] = kn_ref_dot(A + (size_t)r * k, B + (size_t)c * k, k);
}
