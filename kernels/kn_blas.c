/* kernels/kn_blas.c - the OpenBLAS path of kernels/kn.h. */
#include "kernels/kn.h"

#include <cblas.h>

float kn_dot(const float *x, const float *y, int n)
{
    return cblas_sdot(n, x, 1, y, 1);
}

void kn_axpy(float a, const float *x, float *y, int n)
{
    cblas_saxpy(n, a, x, 1, y, 1);
}

void kn_gemv(int m, int n, const float *A, const float *x, float *y)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, A, n, x, 1, 0.0f, y, 1);
}

void kn_sgemm_nt(int m, int n, int k, const float *A, const float *B, float *C)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, A, k, B, k, 0.0f, C, n);
}

void kn_set_threads(int n)
{
    openblas_set_num_threads(n);
}
