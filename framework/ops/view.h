// framework/ops/view.h: views that share storage with their input: reshape, permute, slice, expand.
// Each records a node whose gradient maps the view's gradient back to the input's shape.
#pragma once
#include <vector>

#include "framework/core/tensor.h"

namespace fw {
// A view with a new shape (one dim may be -1); copies first when x is not contiguous.
Tensor reshape(const Tensor& x, const Shape& shape);
// Reorders dims: y.shape[i] = x.shape[perm[i]].
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
// Elements [start, end) along dim (negative dim counts from the end).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
}  // namespace fw
