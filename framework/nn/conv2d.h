// framework/nn/conv2d.h: a convolution layer with an optional constant mask (masked convolutions).
//
// requires: in, out, kh, kw >= 1; mask, when given, of shape (out, in, kh, kw) with 0/1 entries.
// ensures:  parameters "weight" (out, in, kh, kw) and, if bias, "bias" (out,); the mask is a buffer "mask".
//           weight is initialised with init scheme `init` (default kaiming_uniform with gain 1) and then
//           multiplied by the mask, so masked entries are exactly zero; forward(x) = conv2d(x, w, b, pad, mask).
//           bias starts at zero. init is one of kaiming_uniform (gain 1), xavier_uniform (gain 1), zeros. The mask
//           is copied (converted to dtype) at construction.
// throws:   std::invalid_argument naming Conv2d and the offending option; forward throws ShapeError naming
//           Conv2d when x is not (N, in, H, W) of the layer's dtype.
#pragma once
#include <string>

#include "framework/core/rng.h"
#include "framework/nn/module.h"
#include "framework/ops/conv.h"

namespace fw::nn {

struct Conv2dOptions {
  int64_t in = 1, out = 1, kh = 1, kw = 1;
  Padding2d pad;           // default: no padding
  bool bias = true;
  Tensor mask;             // undefined: no mask
  std::string init = "kaiming_uniform";
  DType dtype = DType::F32;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& opt, Rng& rng);
  Tensor forward(const Tensor& x) const;  // x: (N, in, H, W)
  // forward(relu(x)) as one op (fw::relu_conv2d: no ReLU tensor forward or backward). x: (N, in, H, W)
  Tensor forward_relu(const Tensor& x) const;
  const Conv2dOptions& options() const { return opt_; }
  Tensor weight, bias, mask;

 private:
  void check_input(const Tensor& x) const;
  Conv2dOptions opt_;
};

}  // namespace fw::nn
