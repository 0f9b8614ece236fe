// framework/ops/loss.h: numerically stable likelihood losses, per element or reduced.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h)
 * The softmax kernels work over `classes` in (outer, classes, inner) layouts, summing in double, k ascending. */

/* log_softmax: y = x - logsumexp_k x.  y, x: (outer, classes, inner) */
typedef struct fw_log_softmax_params {
  fw_buffer y, x;
  int64_t outer, classes, inner;
} fw_log_softmax_params;

/* log_softmax_backward: dx = dy - exp(y) sum_k dy.  dx, dy, y: (outer, classes, inner) */
typedef struct fw_log_softmax_backward_params {
  fw_buffer dx, dy, y;
  int64_t outer, classes, inner;
} fw_log_softmax_backward_params;

/* softmax_xent: loss = logsumexp_k x - x[target].  loss, target: (outer, inner) (targets: whole class indices in
 * x's dtype; an index outside 0..classes-1 returns FW_ERR_INVALID), x: (outer, classes, inner) */
typedef struct fw_softmax_xent_params {
  fw_buffer loss, x, target;
  int64_t outer, classes, inner;
} fw_softmax_xent_params;

/* softmax_xent_backward: dx = dloss (softmax(x) - onehot(target)).  dx, x: (outer, classes, inner),
 * dloss, target: (outer, inner) */
typedef struct fw_softmax_xent_backward_params {
  fw_buffer dx, dloss, x, target;
  int64_t outer, classes, inner;
} fw_softmax_xent_backward_params;

/* bce_logits: loss = max(x, 0) - x t + log1p(exp(-|x|)).  loss, x, target: (n,) */
typedef struct fw_bce_logits_params {
  fw_buffer loss, x, target;
  int64_t n;
} fw_bce_logits_params;

/* bce_logits_backward: dx = dloss (sigmoid(x) - t).  dx, dloss, x, target: (n,) */
typedef struct fw_bce_logits_backward_params {
  fw_buffer dx, dloss, x, target;
  int64_t n;
} fw_bce_logits_backward_params;

#define FW_LOSS_KERNELS(X)                                                                                   \
  X(LOG_SOFTMAX, log_softmax, fw_log_softmax_params, x, FW_WRITES(fw_log_softmax_params, y))                  \
  X(LOG_SOFTMAX_BACKWARD, log_softmax_backward, fw_log_softmax_backward_params, y,                            \
    FW_WRITES(fw_log_softmax_backward_params, dx))                                                            \
  X(SOFTMAX_XENT, softmax_xent, fw_softmax_xent_params, target, FW_WRITES(fw_softmax_xent_params, loss))      \
  X(SOFTMAX_XENT_BACKWARD, softmax_xent_backward, fw_softmax_xent_backward_params, target,                    \
    FW_WRITES(fw_softmax_xent_backward_params, dx))                                                           \
  X(BCE_LOGITS, bce_logits, fw_bce_logits_params, target, FW_WRITES(fw_bce_logits_params, loss))              \
  X(BCE_LOGITS_BACKWARD, bce_logits_backward, fw_bce_logits_backward_params, target,                          \
    FW_WRITES(fw_bce_logits_backward_params, dx))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_LOSS_OPS(X)                                                                              \
  X(bce_with_logits, "loss", "binary cross-entropy on logits, stable, per element or reduced")      \
  X(softmax_cross_entropy, "loss", "softmax cross-entropy over a class axis, stable (log-sum-exp)")  \
  X(log_softmax, "loss", "log softmax along a dim, stable")

namespace fw {

enum class Reduction { None, Sum, Mean };

// Binary cross-entropy with logits: l = max(x, 0) - x t + log(1 + exp(-|x|)) = -log p(t | sigmoid(x)).
// requires logits and targets of the same shape (targets in [0, 1]); None returns that shape.
// Gradient w.r.t. logits: sigmoid(x) - t. No gradient flows into targets.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, Reduction r = Reduction::Mean);

// Softmax cross-entropy over a class axis: l = logsumexp_k x[k] - x[target].
// requires logits (..., K at class_dim, ...) and targets with logits' shape minus class_dim, holding class
// indices 0..K-1 as whole numbers in the float dtype (checked; an out-of-range index throws naming the op).
// None returns targets' shape. Gradient: softmax(x) - onehot(target).
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets, int64_t class_dim,
                             Reduction r = Reduction::Mean);

// log softmax along dim (stable), differentiable; used for sampling and tests.
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace fw
#endif
