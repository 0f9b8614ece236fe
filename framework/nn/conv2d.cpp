// framework/nn/conv2d.cpp: the (optionally masked) convolution layer.
//
// The mask is stored as a buffer in the layer's dtype; the weight is initialised and then multiplied by the mask,
// so masked taps start at exactly zero. conv2d() masks the weight's gradient too, so they stay zero under any
// optimizer (tests/test_optim.cpp checks this for RMSProp and Adam).
#include "framework/nn/conv2d.h"

#include <stdexcept>
#include <string>

#include "framework/core/autograd.h"
#include "framework/nn/init.h"

namespace fw::nn {
namespace {

void check_options(const Conv2dOptions& o) {
  if (o.in < 1 || o.out < 1 || o.kh < 1 || o.kw < 1)
    throw std::invalid_argument("Conv2d: in, out, kh, kw must be >= 1, got in=" + std::to_string(o.in) +
                                " out=" + std::to_string(o.out) + " kh=" + std::to_string(o.kh) +
                                " kw=" + std::to_string(o.kw));
  if (o.pad.top < 0 || o.pad.bottom < 0 || o.pad.left < 0 || o.pad.right < 0)
    throw std::invalid_argument("Conv2d: padding must be >= 0, got top=" + std::to_string(o.pad.top) +
                                " bottom=" + std::to_string(o.pad.bottom) + " left=" + std::to_string(o.pad.left) +
                                " right=" + std::to_string(o.pad.right));
  if (o.init != "kaiming_uniform" && o.init != "xavier_uniform" && o.init != "zeros")
    throw std::invalid_argument("Conv2d: option init '" + o.init +
                                "' is not supported (kaiming_uniform, xavier_uniform, zeros)");
  if (o.mask.defined()) {
    const Shape want{o.out, o.in, o.kh, o.kw};
    if (o.mask.shape() != want)
      throw std::invalid_argument("Conv2d: mask " + shape_str(o.mask.shape()) + " does not match weight " +
                                  shape_str(want));
    for (double v : o.mask.to_vector())
      if (v != 0.0 && v != 1.0)
        throw std::invalid_argument("Conv2d: mask entries must be 0 or 1, found " + std::to_string(v));
  }
}

// w *= mask, writing +0 (not -0 from a negative draw times 0) at masked taps.
template <class T> void apply_mask(Tensor& w, const Tensor& mask) {
  T* p = w.data<T>();           // (out, in, kh, kw) contiguous
  const T* m = mask.data<T>();  // (out, in, kh, kw) contiguous
  for (int64_t i = 0, n = w.numel(); i < n; ++i)
    if (m[i] == T(0)) p[i] = T(0);
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& opt, Rng& rng) : opt_(opt) {
  check_options(opt_);
  NoGradGuard no_grad;
  if (opt_.mask.defined()) {
    // A private contiguous copy in the layer's dtype: later edits to the caller's tensor do not leak in.
    Tensor m = opt_.mask.detach().to(opt_.dtype).detach();  // to() always copies into a contiguous tensor
    mask = register_buffer("mask", m);
    opt_.mask = mask;
  }
  Tensor w = Tensor::empty({opt_.out, opt_.in, opt_.kh, opt_.kw}, opt_.dtype);  // (out, in, kh, kw)
  init::apply(opt_.init, w, rng, opt_.init == "kaiming_uniform" ? 1.0 : 0.0);
  if (mask.defined()) {
    if (opt_.dtype == DType::F32) apply_mask<float>(w, mask);
    else apply_mask<double>(w, mask);
  }
  weight = register_parameter("weight", w);
  if (opt_.bias) bias = register_parameter("bias", Tensor::zeros({opt_.out}, opt_.dtype));  // (out,)
}

void Conv2d::check_input(const Tensor& x) const {
  if (x.dim() != 4 || x.size(1) != opt_.in)
    throw ShapeError("Conv2d: input " + x.str() + " is not (N, " + std::to_string(opt_.in) + ", H, W)");
  if (x.dtype() != opt_.dtype)
    throw ShapeError("Conv2d: input " + x.str() + " does not match the layer dtype " + dtype_name(opt_.dtype));
}

Tensor Conv2d::forward(const Tensor& x) const {
  check_input(x);
  return conv2d(x, weight, bias, opt_.pad, mask);
}

Tensor Conv2d::forward_relu(const Tensor& x) const {
  check_input(x);
  return relu_conv2d(x, weight, bias, opt_.pad, mask);
}

}  // namespace fw::nn
