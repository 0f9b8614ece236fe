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
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h)
 * The three conv kernels share the geometry below. Stride 1: Ho = H + pad_top + pad_bottom - KH + 1,
 * Wo = W + pad_left + pad_right - KW + 1. mask (Co, Ci, KH, KW) or absent: the effective weight is w * mask.
 * All three are deterministic at any thread count. */
typedef struct fw_conv2d_geometry {
  int64_t N, Ci, H, W, Co, KH, KW;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  /* input_relu = 1: the kernels read x as relu(x) = (x > 0 ? x : 0) (fw::relu_conv2d, conv2d(relu(x)) in one op);
   * backward_data then adds only where x > 0 and needs x. 0: x as it is. (ABI 3) */
  int64_t input_relu;
} fw_conv2d_geometry;

/* conv2d_forward: y = conv(x, w * mask) + bias.  y: (N, Co, Ho, Wo), x: (N, Ci, H, W), w: (Co, Ci, KH, KW),
 * bias: (Co,) or absent */
typedef struct fw_conv2d_forward_params {
  fw_buffer y, x, w, bias, mask;
  fw_conv2d_geometry g;
} fw_conv2d_forward_params;

/* conv2d_backward_data: dx = conv_transpose(dy, w * mask), times (x > 0) when input_relu: every element of dx is
 * written, its old contents never read (ABI 3; it was dx += in 2).  dx: (N, Ci, H, W), dy: (N, Co, Ho, Wo),
 * x: (N, Ci, H, W) (input_relu) or absent */
typedef struct fw_conv2d_backward_data_params {
  fw_buffer dx, dy, w, mask, x;
  fw_conv2d_geometry g;
} fw_conv2d_backward_data_params;

/* conv2d_backward_weight: dw += mask * sum_n dy[n] (x) x[n] and dbias += sum_{n,i,j} dy[n, :, i, j]; either may
 * be absent.  dw: (Co, Ci, KH, KW), dbias: (Co,), dy: (N, Co, Ho, Wo), x: (N, Ci, H, W) */
typedef struct fw_conv2d_backward_weight_params {
  fw_buffer dw, dbias, dy, x, mask;
  fw_conv2d_geometry g;
} fw_conv2d_backward_weight_params;

#define FW_CONV_KERNELS(X)                                                                                  \
  X(CONV2D_FORWARD, conv2d_forward, fw_conv2d_forward_params, mask,                                          \
    FW_WRITES(fw_conv2d_forward_params, y))                                                                  \
  X(CONV2D_BACKWARD_DATA, conv2d_backward_data, fw_conv2d_backward_data_params, x,                           \
    FW_WRITES(fw_conv2d_backward_data_params, dx))                                                           \
  X(CONV2D_BACKWARD_WEIGHT, conv2d_backward_weight, fw_conv2d_backward_weight_params, mask,                  \
    FW_WRITES(fw_conv2d_backward_weight_params, dw) | FW_WRITES(fw_conv2d_backward_weight_params, dbias))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_CONV_OPS(X)                                                                                  \
  X(conv2d, "conv", "2-D convolution, per-side zero padding, optional weight mask; im2col + GEMM")      \
  X(relu_conv2d, "conv", "conv2d(relu(x)) as one op: the ReLU read inside the convolution's kernels")

namespace fw {

struct Padding2d {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding2d same(int64_t kh, int64_t kw) { return {(kh - 1) / 2, kh / 2, (kw - 1) / 2, kw / 2}; }
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad, const Tensor& mask = Tensor());

// relu_conv2d(x, ...) = conv2d(relu(x), ...), with the same requirements and the same values and gradients, as one
// op: the kernels read x through the ReLU (im2col applies it) and the backward adds the input gradient only where
// x > 0, so neither relu(x) nor its gradient is ever a tensor (no ReLU pass forward or backward, one activation
// fewer stored). While fw::reference_kernels() is set it runs the composition relu then conv2d.
Tensor relu_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad, const Tensor& mask = Tensor());

// Naive direct convolution (six nested loops), the reference the GEMM path is tested against. No graph.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& bias, Padding2d pad,
                    const Tensor& mask = Tensor());

}  // namespace fw
#endif
