// framework/ops/view.h: views that share storage with their input: reshape, permute, slice. Each records a
// node whose gradient maps the view's gradient back to the input's shape. No kernels: a view only changes shape,
// strides and offset (its gradient uses copy_block).
#pragma once
#include "framework/backend/backend_abi.h"

#define FW_VIEW_KERNELS(X)

#ifdef __cplusplus
#include <vector>

#include "framework/core/tensor.h"

#define FW_VIEW_OPS(X)                                              \
  X(reshape, "view", "new shape, shared storage")                   \
  X(permute, "view", "reordered dims, shared storage")              \
  X(slice, "view", "a range along one dim, shared storage")

namespace fw {
// A view with a new shape (one dim may be -1); copies first when x is not contiguous.
Tensor reshape(const Tensor& x, const Shape& shape);
// Reorders dims: y.shape[i] = x.shape[perm[i]].
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
// Elements [start, end) along dim (negative dim counts from the end).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
}  // namespace fw
#endif
