// framework/ops/vmath.h: exp, sigmoid and tanh for float written so that a loop over them vectorises (no libm
// call, no branch: selects instead), for the kernels whose time is transcendental functions (the LSTM scan).
// Internal to framework/ops. Accuracy, checked over [-90, 90] in tests/grad_rnn.cpp against the double
// functions: exp within 2 ulp (relative 3e-7) on its finite range, sigmoid and tanh within 3e-7 absolute.
// NaN propagates (a NaN input gives a NaN output), so the training loop's NaN check still fires.
#pragma once
#include <cstdint>
#include <cstring>

namespace fw::vmath {

// e^x: x = n ln2 + r with |r| <= ln2 / 2 (round-to-nearest through the 1.5 * 2^23 trick, which needs no
// rounding instruction), e^r by its degree-7 Taylor polynomial (truncation < 1e-8 relative), times 2^n built in
// the exponent bits. x is clamped to [-87, 88] (e^-87 ~ 1.6e-38 stays normal), so the result is finite.
inline float exp(float x) {
  const float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23
  const float n = (xc * 1.44269504088896341f + magic) - magic;
  const float r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;  // ln2 split hi + lo
  const float p =
      1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const float y = p * scale;
  return x != x ? x : y;  // NaN in, NaN out
}

// 1 / (1 + e^-x): exact limits 0 and 1 far out, no overflow (exp is clamped).
inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// tanh: |x| < 0.3 by its odd Taylor polynomial to x^9 (truncation < 2e-8); else sign(x) (1 - e) / (1 + e) with
// e = e^-2|x|, where 1 - e >= 0.45 so no cancellation. Both are computed and one selected (no branch).
inline float tanh(float x) {
  const float a = x < 0 ? -x : x;
  const float x2 = x * x;
  const float small = x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
  const float e = exp(-2.0f * a);
  const float t = (1.0f - e) / (1.0f + e);
  const float big = x < 0 ? -t : t;
  return a < 0.3f ? small : big;
}

// The double versions are the libm functions (gradient checks run in double).
inline double exp(double x) { return __builtin_exp(x); }
inline double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + __builtin_exp(-x)) : __builtin_exp(x) / (1.0 + __builtin_exp(x)); }
inline double tanh(double x) { return __builtin_tanh(x); }

}  // namespace fw::vmath
