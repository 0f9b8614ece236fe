// framework/ops/loss.h: numerically stable likelihood losses, per element or reduced.
#pragma once
#include "framework/core/tensor.h"

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
