// framework/ops/reduce.h: sums and means. Reductions run in a fixed order, so results do not depend on the
// thread count.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

/* sum_dim: y[o, i] = sum_r x[o, r, i], r ascending (deterministic).  x: (outer, red, inner), y: (outer, inner) */
typedef struct fw_sum_dim_params {
  fw_buffer y, x;
  int64_t outer, red, inner;
} fw_sum_dim_params;

/* sum_squares: out[0] = sum_i x[i]^2, accumulated in float64 in index order; out is ONE float64 whatever the
 * dtype of x (gradient-norm clipping sums over many tensors in double).  x: (n,), out: (1,) float64 */
typedef struct fw_sum_squares_params {
  fw_buffer out, x;
  int64_t n;
} fw_sum_squares_params;

#define FW_REDUCE_KERNELS(X)                                                       \
  X(SUM_DIM, sum_dim, fw_sum_dim_params, x, FW_WRITES(fw_sum_dim_params, y))       \
  X(SUM_SQUARES, sum_squares, fw_sum_squares_params, x, FW_WRITES(fw_sum_squares_params, out))

#ifdef __cplusplus
#include <vector>

#include "framework/core/tensor.h"

#define FW_REDUCE_OPS(X)                                        \
  X(sum, "reduce", "sum of all elements, or over dims")         \
  X(mean, "reduce", "mean of all elements, or over dims")

namespace fw {
Tensor sum(const Tensor& x);   // all elements -> shape ()
Tensor mean(const Tensor& x);  // all elements -> shape ()
// Sum over the listed dims (negative counts from the end); keepdim keeps them as size 1.
Tensor sum_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
// sum of x's squared elements in double, in index order (no graph); x contiguous on any device.
double sum_squares(const Tensor& x);
}  // namespace fw
#endif
