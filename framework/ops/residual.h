// framework/ops/residual.h: the bottleneck residual block with pre-activations as one fused op (the block of a
// PixelCNN, van den Oord et al. 2016, Figure 5; a ResNet bottleneck without normalisation):
//   y = x + conv_c(relu(conv_b(relu(conv_a(relu(x))))))
// with conv_a a 1x1 convolution C -> F, conv_b a KHxKW convolution F -> F whose padding keeps the size, conv_c a
// 1x1 convolution F -> C, each with an optional bias and an optional constant weight mask (framework/ops/conv.h).
// Why one op: composed, each convolution streams its whole batch through memory before the next starts, and the
// residual add and the gradient's accumulation are passes of their own. Fused, the forward runs one image at a
// time through all three convolutions while it is in cache (the activations it keeps for the backward are written
// once), and the backward does the same per image, both convolution gradients of a layer from one read of its
// inputs, the residual's gradient added as dx is written. The composed form is what it is tested against
// (tests/grad_residual.cpp) and what runs while fw::reference_kernels() is set. A backend without the two kernels
// runs them through the CPU fallback (framework/backend/backend.h), so every device computes the same bits.
//
// bottleneck_residual requires:
//   x: (N, C, H, W); a.w: (F, C, 1, 1); b.w: (F, F, KH, KW); c.w: (C, F, 1, 1); biases (F), (F), (C) or undefined;
//   masks of their weight's shape or undefined; all the same dtype and device; pad_b.top + pad_b.bottom = KH - 1
//   and pad_b.left + pad_b.right = KW - 1 (same size), each >= 0.
// ensures:
//   y: (N, C, H, W) as above, the same values as the composition conv2d / relu / add up to float rounding (the
//   sums run in another order), differentiable in x, the weights and the biases (masks are constants); results
//   bit-identical at any thread count.
// throws ShapeError naming bottleneck_residual and the shapes otherwise.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h)
 * N images of C channels, H x W; F hidden channels; the middle convolution KH x KW with the given padding
 * (same size). Weights: wa (F, C), wb (F, F, KH, KW), wc (C, F); biases ba (F), bb (F), bc (C), each absent or
 * not; masks ma, mb, mc like their weights, or absent. */
typedef struct fw_bottleneck_geometry {
  int64_t N, C, F, H, W, KH, KW;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
} fw_bottleneck_geometry;

/* bottleneck_forward: ra = relu(ba + (wa*ma) relu(x)), rb = relu(bb + conv(ra, wb*mb)), y = x + bc + (wc*mc) rb.
 * y, x: (N, C, H, W); ra, rb: (N, F, H, W), written: the backward's saved activations. */
typedef struct fw_bottleneck_forward_params {
  fw_buffer y, ra, rb, x, wa, ba, ma, wb, bb, mb, wc, bc, mc;
  fw_bottleneck_geometry g;
} fw_bottleneck_forward_params;

/* bottleneck_backward: from dy (N, C, H, W) and the forward's x, ra, rb, writes dx (N, C, H, W) (dy plus the
 * gradient through the three convolutions) and the parameter gradients dwa, dba, dwb, dbb, dwc, dbc (each absent
 * or written in full: mask * gradient, zero where a mask is). */
typedef struct fw_bottleneck_backward_params {
  fw_buffer dx, dwa, dba, dwb, dbb, dwc, dbc, dy, x, ra, rb, wa, ma, wb, mb, wc, mc;
  fw_bottleneck_geometry g;
} fw_bottleneck_backward_params;

#define FW_RESIDUAL_KERNELS(X)                                                                               \
  X(BOTTLENECK_FORWARD, bottleneck_forward, fw_bottleneck_forward_params, mc,                                 \
    FW_WRITES(fw_bottleneck_forward_params, y) | FW_WRITES(fw_bottleneck_forward_params, ra) |                \
        FW_WRITES(fw_bottleneck_forward_params, rb))                                                          \
  X(BOTTLENECK_BACKWARD, bottleneck_backward, fw_bottleneck_backward_params, mc,                              \
    FW_WRITES(fw_bottleneck_backward_params, dx) | FW_WRITES(fw_bottleneck_backward_params, dwa) |            \
        FW_WRITES(fw_bottleneck_backward_params, dba) | FW_WRITES(fw_bottleneck_backward_params, dwb) |       \
        FW_WRITES(fw_bottleneck_backward_params, dbb) | FW_WRITES(fw_bottleneck_backward_params, dwc) |       \
        FW_WRITES(fw_bottleneck_backward_params, dbc))

#ifdef __cplusplus
#include "framework/core/tensor.h"
#include "framework/ops/conv.h"

#define FW_RESIDUAL_OPS(X)                                                                                       \
  X(bottleneck_residual, "residual",                                                                            \
    "x + conv_c(relu(conv_b(relu(conv_a(relu(x)))))), 1x1 / KxK / 1x1, fused per image forward and backward")

namespace fw {

// One convolution of the block: weight, optional bias, optional constant mask.
struct ConvParams {
  Tensor w, bias, mask;
};

Tensor bottleneck_residual(const Tensor& x, const ConvParams& a, const ConvParams& b, Padding2d pad_b,
                           const ConvParams& c);

// The composition the fused op is tested against: x + conv2d(relu(conv2d(relu(relu_conv2d(x, a)), b)), c) with
// fw::relu_conv2d.
Tensor bottleneck_residual_composed(const Tensor& x, const ConvParams& a, const ConvParams& b, Padding2d pad_b,
                                    const ConvParams& c);

}  // namespace fw
#endif
