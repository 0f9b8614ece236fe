// framework/nn/init.h: named, seeded initialisation schemes (in place, outside the graph).
//   "uniform"         U(-a, a), a given
//   "normal"          N(0, std^2), std given
//   "xavier_uniform"  U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
//   "kaiming_uniform" U(-a, a), a = gain * sqrt(3 / fan_in)   (gain sqrt(2) for ReLU)
//   "zeros"
// For a convolution weight (Co, Ci, KH, KW): fan_in = Ci*KH*KW, fan_out = Co*KH*KW.
//
// requires: t a defined, contiguous CPU leaf (F32 or F64); a, std, gain finite and > 0; for xavier/kaiming a 2-D
//           or 4-D weight.
// ensures:  exactly one draw from rng per element in row-major order (double precision, rounded to t's dtype),
//           so the same seed gives bitwise-identical tensors; no graph is recorded.
// throws:   std::invalid_argument naming the function (and the scheme, bound or shape) otherwise.
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
// param: "uniform" -> a (> 0), "normal" -> std (> 0), "xavier_uniform"/"kaiming_uniform" -> gain, where 0 selects
// the default (1 and sqrt(2)); "zeros" ignores it.
void apply(const std::string& scheme, Tensor& t, Rng& rng, double param = 0.0);

}  // namespace fw::nn::init
