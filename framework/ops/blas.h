// framework/ops/blas.h: the one wrapper around CBLAS GEMM (float and double), used by the GEMM kernel
// (framework/ops/matmul.cpp) and the convolution kernels (framework/ops/conv.cpp). Internal to framework/ops.
//
// gemm: row-major C (M, N) = alpha op(A) op(B) + beta C with leading dimensions lda, ldb, ldc (elements).
// Ensures beta = 0 ignores C's old contents (no NaN carried in) even when K = 0, where BLAS would not touch C;
// M = 0 or N = 0 is a no-op. Leading dimensions are clamped to >= 1, as BLAS requires even for empty operands.
// While the profiler is on (framework/core/profile.h) each call adds its 2 M N K floating-point operations to
// the profile's GEMM count (`pixelrnn bench --profile` reports GFLOP/s against the machine's sgemm rate).
#pragma once
#include <cblas.h>

#include "framework/core/profile.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace fw::blas {

inline int ld(int64_t v) { return static_cast<int>(std::max<int64_t>(1, v)); }

template <class T> void scale_only(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "gemm: float or double");
  if (M == 0 || N == 0) return;
  if (K == 0) return scale_only(M, N, beta, C, ldc);
  profile::count_flops(2.0 * double(M) * double(N) * double(K));
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), alpha, A, ld(lda), B, ld(ldb), beta, C, ld(ldc));
  else
    cblas_dgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), alpha, A, ld(lda), B, ld(ldb), beta, C, ld(ldc));
}

}  // namespace fw::blas
