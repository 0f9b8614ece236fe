// framework/nn/init.h: named, seeded initialisation schemes (in place, outside the graph).
//   "uniform"         U(-a, a), a given
//   "normal"          N(0, std^2), std given
//   "xavier_uniform"  U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
//   "kaiming_uniform" U(-a, a), a = gain * sqrt(3 / fan_in)   (gain sqrt(2) for ReLU)
//   "zeros"
// For a convolution weight (Co, Ci, KH, KW): fan_in = Ci*KH*KW, fan_out = Co*KH*KW.
#pragma once
#include <string>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace fw::nn::init {

void uniform_(Tensor& t, double a, Rng& rng);
void normal_(Tensor& t, double std, Rng& rng);
void xavier_uniform_(Tensor& t, Rng& rng, double gain = 1.0);
void kaiming_uniform_(Tensor& t, Rng& rng, double gain = 1.4142135623730951);
// Fans of a weight: 2-D (out, in) or 4-D (Co, Ci, KH, KW).
void fans(const Tensor& w, int64_t& fan_in, int64_t& fan_out);
// Applies a scheme by name; throws std::invalid_argument naming the scheme when unknown.
void apply(const std::string& scheme, Tensor& t, Rng& rng, double param = 0.0);

}  // namespace fw::nn::init
