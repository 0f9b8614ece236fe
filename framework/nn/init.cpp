// framework/nn/init.cpp: seeded initialisation schemes, written straight into a parameter's storage.
//
// Every scheme draws exactly one number per element from the given fw::Rng, in row-major element order, in
// double precision (then rounded to the tensor's dtype). So the same seed gives bitwise-identical tensors on
// every platform, and an F32 and an F64 tensor initialised from the same seed agree up to float rounding.
#include "framework/nn/init.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fw::nn::init {
namespace {

// The tensor must be a defined, contiguous CPU leaf: initialisers write its storage directly.
void check_target(const Tensor& t, const char* fn) {
  if (!t.defined()) throw std::invalid_argument(std::string("init::") + fn + ": tensor is undefined");
  if (!t.is_leaf()) throw std::invalid_argument(std::string("init::") + fn + ": tensor " + t.str() + " is not a leaf");
  if (!t.is_contiguous())
    throw std::invalid_argument(std::string("init::") + fn + ": tensor " + t.str() + " is not contiguous");
  if (t.device() != Device::CPU)
    throw std::invalid_argument(std::string("init::") + fn + ": tensor " + t.str() + " is not on the CPU");
}

// Fills t element by element with draw(); draw returns a double.
template <class Draw> void fill_with(Tensor& t, Draw draw) {
  const int64_t n = t.numel();
  if (t.dtype() == DType::F32) {
    float* p = t.data<float>();  // (numel,) contiguous
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw());
  } else {
    double* p = t.data<double>();  // (numel,) contiguous
    for (int64_t i = 0; i < n; ++i) p[i] = draw();
  }
}

void check_positive(double v, const char* fn, const char* what) {
  if (!(v > 0.0) || !std::isfinite(v))
    throw std::invalid_argument(std::string("init::") + fn + ": " + what + " must be finite and > 0, got " +
                                std::to_string(v));
}

}  // namespace

void uniform_(Tensor& t, double a, Rng& rng) {
  check_target(t, "uniform_");
  check_positive(a, "uniform_", "bound a");
  fill_with(t, [&] { return rng.uniform(-a, a); });
}

void normal_(Tensor& t, double std, Rng& rng) {
  check_target(t, "normal_");
  check_positive(std, "normal_", "std");
  fill_with(t, [&] { return std * rng.normal(); });
}

void fans(const Tensor& w, int64_t& fan_in, int64_t& fan_out) {
  if (!w.defined()) throw std::invalid_argument("init::fans: tensor is undefined");
  const Shape& s = w.shape();
  if (s.size() == 2) {  // (out, in)
    fan_in = s[1];
    fan_out = s[0];
  } else if (s.size() == 4) {  // (Co, Ci, KH, KW)
    fan_in = s[1] * s[2] * s[3];
    fan_out = s[0] * s[2] * s[3];
  } else {
    throw std::invalid_argument("init::fans: weight must be 2-D (out, in) or 4-D (Co, Ci, KH, KW), got " +
                                shape_str(s));
  }
  if (fan_in <= 0 || fan_out <= 0)
    throw std::invalid_argument("init::fans: empty weight " + shape_str(s) + " has no fans");
}

void xavier_uniform_(Tensor& t, Rng& rng, double gain) {
  check_target(t, "xavier_uniform_");
  check_positive(gain, "xavier_uniform_", "gain");
  int64_t fi = 0, fo = 0;
  fans(t, fi, fo);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  fill_with(t, [&] { return rng.uniform(-a, a); });
}

void kaiming_uniform_(Tensor& t, Rng& rng, double gain) {
  check_target(t, "kaiming_uniform_");
  check_positive(gain, "kaiming_uniform_", "gain");
  int64_t fi = 0, fo = 0;
  fans(t, fi, fo);
  const double a = gain * std::sqrt(3.0 / static_cast<double>(fi));
  fill_with(t, [&] { return rng.uniform(-a, a); });
}

// param: uniform -> bound a (> 0), normal -> std (> 0), xavier_uniform / kaiming_uniform -> gain (0 selects the
// scheme's default: 1 for xavier, sqrt(2) for kaiming), zeros -> ignored.
void apply(const std::string& scheme, Tensor& t, Rng& rng, double param) {
  if (scheme == "uniform") {
    uniform_(t, param, rng);
  } else if (scheme == "normal") {
    normal_(t, param, rng);
  } else if (scheme == "xavier_uniform") {
    xavier_uniform_(t, rng, param == 0.0 ? 1.0 : param);
  } else if (scheme == "kaiming_uniform") {
    kaiming_uniform_(t, rng, param == 0.0 ? 1.4142135623730951 : param);
  } else if (scheme == "zeros") {
    check_target(t, "zeros");
    fill_with(t, [] { return 0.0; });
  } else {
    throw std::invalid_argument("init::apply: unknown scheme '" + scheme +
                                "' (known: uniform, normal, xavier_uniform, kaiming_uniform, zeros)");
  }
}

}  // namespace fw::nn::init
