// plugins/cuda/emu/include/cublas_v2.h: a CPU stand-in for the cuBLAS calls the plugin uses (plain column-major
// sgemm and strided-batched sgemm with cuBLAS's argument conventions, accumulated in double), for
// plugins/cuda/emu/run-emulated.sh. A verification aid only.
#pragma once
#include <stdint.h>
typedef enum { CUBLAS_STATUS_SUCCESS = 0 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0 } cublasMath_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0 } cublasPointerMode_t;
typedef struct cublasContext* cublasHandle_t;
inline cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = (cublasHandle_t)1; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, int) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetPointerMode(cublasHandle_t, cublasPointerMode_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSgemmStridedBatched_64(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
    int64_t m, int64_t n, int64_t k, const float* alpha, const float* A, int64_t lda, int64_t sa, const float* B,
    int64_t ldb, int64_t sb, const float* beta, float* C, int64_t ldc, int64_t sc, int64_t batch) {
  for (int64_t q = 0; q < batch; ++q) {
    const float* a = A + q * sa; const float* b = B + q * sb; float* c = C + q * sc;
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i) {
        double s = 0;
        for (int64_t l = 0; l < k; ++l) {
          const float av = ta == CUBLAS_OP_N ? a[i + l * lda] : a[l + i * lda];
          const float bv = tb == CUBLAS_OP_N ? b[l + j * ldb] : b[j + l * ldb];
          s += double(av) * bv;
        }
        c[i + j * ldc] = float(*alpha * s + (*beta == 0 ? 0.0 : double(*beta) * c[i + j * ldc]));
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSgemm_64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
    int64_t n, int64_t k, const float* alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
    const float* beta, float* C, int64_t ldc) {
  return cublasSgemmStridedBatched_64(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
