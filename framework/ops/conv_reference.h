// framework/ops/conv_reference.h: the reference (direct-loop) 2-D convolution with its gradient, which fw::conv2d
// runs instead of im2col + GEMM while fw::reference_kernels() is set (framework/core/profile.h).
//
// requires / ensures: exactly as fw::conv2d (framework/ops/conv.h): same shapes, same function, the mask a
//   constant, the weight gradient masked. Forward, backward-data, backward-weight and the bias gradient are
//   direct sums accumulated in double, each output element computed on its own (so the result does not depend on
//   the thread count). CPU tensors only. Slow: it exists to check the fast paths (`pixelrnn bench`).
// throws ShapeError naming conv2d_reference and the shapes.
#pragma once
#include "framework/core/tensor.h"
#include "framework/ops/conv.h"

namespace fw {

Tensor conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad,
                        const Tensor& mask = Tensor());

}  // namespace fw
