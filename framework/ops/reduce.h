// framework/ops/reduce.h: sums and means. Reductions run in a fixed order, so results do not depend on the
// thread count.
#pragma once
#include <vector>

#include "framework/core/tensor.h"

namespace fw {
Tensor sum(const Tensor& x);   // all elements -> shape ()
Tensor mean(const Tensor& x);  // all elements -> shape ()
// Sum over the listed dims (negative counts from the end); keepdim keeps them as size 1.
Tensor sum_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
}  // namespace fw
