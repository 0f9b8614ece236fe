// framework/ops/gate.h: the gated activation unit of the Gated PixelCNN (van den Oord et al. 2016, "Conditional
// Image Generation with PixelCNN Decoders", equation 2) as one fused op: y = tanh(f) * sigmoid(g), where the
// input's channels are stacked f | g. The composed form (split, tanh, sigmoid, mul: four nodes and three
// temporaries) is what it is tested against (tests/grad_gate.cpp).
//
// gate requires x: (N, 2c, ...) with at least 2 dimensions and an even, non-zero size of dimension 1;
// ensures y: (N, c, ...), y[n, j, ...] = tanh(x[n, j, ...]) * sigmoid(x[n, c + j, ...]).
// Differentiable in x. throws ShapeError naming gate and the shape otherwise.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

/* gate_forward: y = tanh(x_f) * sigmoid(x_g).  y: (N, c, inner), x: (N, 2c, inner) = x_f | x_g per image. */
typedef struct fw_gate_forward_params {
  fw_buffer y, x;
  int64_t N, c, inner;
} fw_gate_forward_params;

/* gate_backward: dx (N, 2c, inner) (written) from dy = dL/dy (N, c, inner) and the forward's input x:
 * dx_f = dy sigmoid(x_g) (1 - tanh(x_f)^2), dx_g = dy tanh(x_f) sigmoid(x_g) (1 - sigmoid(x_g)). */
typedef struct fw_gate_backward_params {
  fw_buffer dx, dy, x;
  int64_t N, c, inner;
} fw_gate_backward_params;

#define FW_GATE_KERNELS(X)                                                                       \
  X(GATE_FORWARD, gate_forward, fw_gate_forward_params, x, FW_WRITES(fw_gate_forward_params, y)) \
  X(GATE_BACKWARD, gate_backward, fw_gate_backward_params, x, FW_WRITES(fw_gate_backward_params, dx))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_GATE_OPS(X) X(gate, "gate", "tanh(x_f) * sigmoid(x_g), x = x_f | x_g along dim 1, fused")

namespace fw {
Tensor gate(const Tensor& x);
}  // namespace fw
#endif
