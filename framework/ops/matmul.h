// framework/ops/matmul.h: matrix product on cblas_sgemm / cblas_dgemm.
// requires a: (M, K), b: (K, N), same dtype; ensures y: (M, N) = a b. Gradients: da = dy b^T, db = a^T dy.
#pragma once
#include "framework/core/tensor.h"

namespace fw {
Tensor matmul(const Tensor& a, const Tensor& b);
// C = alpha op(A) op(B) + beta C on raw row-major buffers of t's dtype, through the backend's GEMM kernel.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const Tensor& a,
          const Tensor& b, double beta, Tensor& c);
}  // namespace fw
