// framework/ops/conv.h: 2-D convolution (stride 1) with per-side zero padding and an optional weight mask.
//
// conv2d requires:
//   x: (N, Ci, H, W); w: (Co, Ci, KH, KW); bias: (Co,) or undefined; mask: (Co, Ci, KH, KW) or undefined,
//   all the same dtype; padding sides >= 0; output size >= 1 in each spatial dim.
// ensures:
//   y: (N, Co, H + top + bottom - KH + 1, W + left + right - KW + 1),
//   y[n,o,i,j] = bias[o] + sum_{c,a,b} (w*mask)[o,c,a,b] * xpad[n, c, i+a, j+b]
//   (a cross-correlation, as in every DL framework). The mask is a constant: no gradient flows into it, and the
//   weight's gradient is masked, so masked weights stay exactly as initialised under any optimizer.
// Computed as im2col + GEMM, parallel over the batch (oneTBB), deterministic at any thread count.
// throws ShapeError naming conv2d and the shapes on any mismatch.
#pragma once
#include "framework/core/tensor.h"

namespace fw {

struct Padding2d {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding2d same(int64_t kh, int64_t kw) { return {(kh - 1) / 2, kh / 2, (kw - 1) / 2, kw / 2}; }
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad, const Tensor& mask = Tensor());

// Naive direct convolution (six nested loops), the reference the GEMM path is tested against. No graph.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad,
                    const Tensor& mask = Tensor());

}  // namespace fw
