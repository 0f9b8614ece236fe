// framework/ops/rnn.h: a fused LSTM scan: a whole recurrence as one op with its own backward (as cuDNN does for
// RNNs), instead of a dozen small ops per step. The composed form (conv2d + split + sigmoid/tanh + mul + add per
// step) stays the reference it is tested against (tests/grad_rnn.cpp).
//
// lstm_scan requires:
//   gates: (N, 4h, S, L), the input contributions to the gate pre-activations, stacked i | f | o | g;
//   w:     (4h, h, k), the state-to-state kernel: a 1-D convolution along L of the previous step's hidden state;
//   0 <= pad_before <= k - 1 (the convolution keeps length L: pad_after = k - 1 - pad_before); same dtype/device.
// ensures h: (N, h, S, L), for t = 0..S-1 (zero initial state):
//   z_t[n, q, l] = gates[n, q, t, l] + sum_{u, a} w[q, u, a] h_{t-1}[n, u, l + a - pad_before]   (0 outside)
//   i, f, o = sigmoid(z_t[i|f|o]); g = tanh(z_t[g]); c_t = f c_{t-1} + i g; h_t = o tanh(c_t)
// Differentiable in gates and w. Deterministic at any thread count (work split into fixed pieces with disjoint
// outputs). throws ShapeError naming lstm_scan and the shapes.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

/* lstm_scan_forward: h and the saved activations acts (S, N, 6h, L) = i | f | o | g | c | tanh(c) per step and
 * image (the
 * backward's input; opaque otherwise).  h: (N, h, S, L), gates: (N, 4h, S, L), w: (4h, h, k) */
typedef struct fw_lstm_scan_forward_params {
  fw_buffer h, acts, gates, w;
  int64_t N, hidden, S, L, k, pad_before;
} fw_lstm_scan_forward_params;

/* lstm_scan_backward: dgates = dL/dgates (N, 4h, S, L) (written), dw += dL/dw (4h, h, k), from dh = dL/dh
 * (N, h, S, L) and the forward's h and acts. */
typedef struct fw_lstm_scan_backward_params {
  fw_buffer dgates, dw, dh, h, acts, w;
  int64_t N, hidden, S, L, k, pad_before;
} fw_lstm_scan_backward_params;

#define FW_RNN_KERNELS(X)                                                                                    \
  X(LSTM_SCAN_FORWARD, lstm_scan_forward, fw_lstm_scan_forward_params, w,                                    \
    FW_WRITES(fw_lstm_scan_forward_params, h) | FW_WRITES(fw_lstm_scan_forward_params, acts))                \
  X(LSTM_SCAN_BACKWARD, lstm_scan_backward, fw_lstm_scan_backward_params, w,                                 \
    FW_WRITES(fw_lstm_scan_backward_params, dgates) | FW_WRITES(fw_lstm_scan_backward_params, dw))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_RNN_OPS(X) X(lstm_scan, "rnn", "LSTM recurrence over one axis, 1-D conv state-to-state, fused")

namespace fw {
Tensor lstm_scan(const Tensor& gates, const Tensor& w, int64_t pad_before);
}  // namespace fw
#endif
