// framework/ops/matmul.h: matrix product on the GEMM kernel (cblas_sgemm / cblas_dgemm on the CPU).
// requires a: (M, K), b: (K, N), same dtype; ensures y: (M, N) = a b. Gradients: da = dy b^T, db = a^T dy.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

/* gemm, row-major: c (M, N) = alpha op(a) op(b) + beta c; a is (M, K), or (K, M) if trans_a; b is (K, N), or
 * (N, K) if trans_b. beta = 0 ignores c's old contents (no NaN carried in). */
typedef struct fw_gemm_params {
  fw_buffer c, a, b;
  int32_t trans_a, trans_b;
  int64_t M, N, K;
  double alpha, beta;
} fw_gemm_params;

#define FW_MATMUL_KERNELS(X) X(GEMM, gemm, fw_gemm_params, b, FW_WRITES(fw_gemm_params, c))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_MATMUL_OPS(X) X(matmul, "matmul", "(M,K) x (K,N) on BLAS GEMM")

namespace fw {
Tensor matmul(const Tensor& a, const Tensor& b);
// C = alpha op(A) op(B) + beta C on raw row-major buffers of t's dtype, through the backend's GEMM kernel.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const Tensor& a,
          const Tensor& b, double beta, Tensor& c);
}  // namespace fw
#endif
