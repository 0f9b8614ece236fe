// framework/ops/copy.h: copies: contiguous clone (with gradient), dtype conversion, raw copy into a tensor.
#pragma once
#include "framework/core/tensor.h"

namespace fw {
// y = x laid out contiguously. Gradient: dy passes through.
Tensor copy_op(const Tensor& x);
// y = x converted to dtype. Gradient: dy converted back.
Tensor convert_op(const Tensor& x, DType dtype);
// dst[...] = src[...] for tensors of the same shape and dtype, any strides in src; dst contiguous. No graph.
void copy_into(Tensor& dst, const Tensor& src);
}  // namespace fw
