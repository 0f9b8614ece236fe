// models/class_cond.h: class conditioning ("Conditional Image Generation with PixelCNN Decoders", van den Oord et
// al. 2016, section 2.3, with h a one-hot class vector): every conditioned layer adds a learned per-class bias
// V[label] to its pre-activations, the same at every pixel. V is a parameter (classes, F) of the layer; the bias
// of a batch is onehot(labels) (N, classes) x V = (N, F), shaped (N, F, 1, 1) to broadcast over (N, F, H, W).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace pixelrnn {

// requires labels.size() == n and every label in [0, classes), classes > 0. ensures onehot (n, classes) in dtype
// on device. throws std::invalid_argument naming `who`, the position and the label otherwise.
fw::Tensor class_onehot(const std::vector<int64_t>& labels, int64_t n, int64_t classes, fw::DType dtype,
                        fw::Device device, const std::string& who);
// onehot: (N, classes), table: (classes, F) -> (N, F, 1, 1). Differentiable in table.
fw::Tensor class_bias(const fw::Tensor& onehot, const fw::Tensor& table);
// A zero-initialised (classes, F) parameter value in dtype.
fw::Tensor class_table(int64_t classes, int64_t features, fw::DType dtype);

}  // namespace pixelrnn
