// framework/ops/vec_math.h: exp, sigmoid and tanh for float written as straight-line code (no calls, no
// branches, selects only), so that a loop over them vectorises; libm's expf/tanhf are calls the compiler
// cannot vectorise, and they were a quarter of an LSTM training step. Internal to the CPU kernels.
//
// Accuracy against the exact value (tests/test_kernels_speed.cpp checks it over a dense sweep of [-110, 95]):
// exp within 1 ulp, subnormal results included (measured worst 0.99), sigmoid within 3 ulp (2.47), tanh
// within 2 ulp (1.32); libm's expf/tanhf are within 1 ulp. Special values as libm: exp(-inf) = 0,
// exp(+inf) = inf, overflow to inf, NaN in -> NaN out; sigmoid(+-inf) = 1, 0; tanh(+-inf) = +-1, tanh(-0) = -0.
// The formulas are Cephes' expf (Cody-Waite reduction, degree-6 polynomial) and tanhf (odd polynomial below
// 0.625, 1 - 2 / (exp(2|x|) + 1) above). Plain IEEE float arithmetic in a fixed order: no -ffast-math, the
// same bits at any thread count and on any x86-64 (no FMA is generated without -mfma).
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>

// Always inlined: a call in the loop body would keep the loop scalar.
#define FW_VEC_INLINE inline __attribute__((always_inline))

namespace fw {
namespace vec_math {

// 2^k for an integer k in [-126, 127], from its bits.
FW_VEC_INLINE float exp2_int(int32_t k) {
  const int32_t bits = (k + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// c ? a : b on the bits. A float ?: whose arms are computed values is not if-converted under the default
// -ftrapping-math (the compiler moves each arm's arithmetic under the branch), so the loop would not vectorise.
FW_VEC_INLINE float select(bool c, float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  const int32_t m = -static_cast<int32_t>(c);
  const int32_t r = (ia & m) | (ib & ~m);
  float f;
  std::memcpy(&f, &r, sizeof f);
  return f;
}

FW_VEC_INLINE float exp(float x) {
  // Clamp so that n stays in [-150, 129] (the result is 0 or inf beyond); NaN passes through.
  float xc = select(x < -104.0f, -104.0f, x);
  xc = select(xc > 89.0f, 89.0f, xc);
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (round to nearest even; exact for |v| < 2^22).
  const float magic = 12582912.0f;
  const float fn = (xc * 1.44269504088896341f + magic) - magic;
  // r = x - n ln 2, with ln 2 in two parts so that n * C1 is exact.
  const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r2 + r) + 1.0f;  // NaN for a NaN x, which the product below keeps
  // p * 2^n in two factors, so that subnormal results round once and n up to 129 overflows to inf.
  const int32_t n = static_cast<int32_t>(select(fn == fn, fn, 0.0f));
  const int32_t n1 = n / 2, n2 = n - n1;
  return (p * exp2_int(n1)) * exp2_int(n2);
}

// 1 / (1 + exp(-x)), through e = exp(-|x|) in [0, 1] so that nothing overflows: q = 1 / (1 + e) for x >= 0,
// e q for x < 0.
FW_VEC_INLINE float sigmoid(float x) {
  const float e = exp(-__builtin_fabsf(x));
  const float q = 1.0f / (1.0f + e);
  return q * select(x >= 0.0f, 1.0f, e);
}

FW_VEC_INLINE float tanh(float x) {
  const float ax = __builtin_fabsf(x);
  // |x| < 0.625: x + x^3 P(x^2); x itself at +-0 (keeps the sign of a zero)
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = select(ax == 0.0f, x, (p * z) * x + x);
  // |x| >= 0.625 (and NaN): 1 - 2 / (exp(2|x|) + 1), with the sign of x
  const float big = __builtin_copysignf(1.0f - 2.0f / (exp(2.0f * ax) + 1.0f), x);
  return select(ax < 0.625f, small, big);
}

// The double versions are libm's (gradient checks run in double), so templates can call vec_math:: for either.
inline double exp(double x) { return std::exp(x); }
inline double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
inline double tanh(double x) { return std::tanh(x); }

}  // namespace vec_math
}  // namespace fw
