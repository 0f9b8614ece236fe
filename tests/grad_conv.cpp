// tests/grad_conv.cpp: float64 gradient checks of conv2d (framework/ops/conv.cpp): input, weight and bias,
// with a weight mask and asymmetric padding, plus the 1x1 direct path and the (2,1) column kernel; relu_conv2d
// (the ReLU read inside the kernels) on the im2col and the 1x1 paths.
#include <doctest/doctest.h>

#include "framework/ops/conv.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using gradcheck::check_gradients;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(conv2d) {
  // 2x3 kernel, masked (a constant: no gradient), padding top 1, bottom 0, left 2, right 0.
  Tensor mask = Tensor::ones({3, 2, 2, 3}, DType::F64);
  for (int64_t o = 0; o < 3; ++o) {
    mask.set({o, 0, 1, 2}, 0.0);
    mask.set({o, 1, 0, o}, 0.0);
  }
  const Padding2d pad{1, 0, 2, 0};
  REQUIRE_GRAD_OK(check_gradients(
      "conv2d (masked, asymmetric padding)",
      [mask, pad](const V& v) { return conv2d(v[0], v[1], v[2], pad, mask); },
      {leaf({2, 2, 4, 3}, 31), leaf({3, 2, 2, 3}, 32), leaf({3}, 33)}));
  REQUIRE_GRAD_OK(check_gradients(
      "conv2d (1x1, no bias)", [](const V& v) { return conv2d(v[0], v[1], Tensor(), Padding2d{}); },
      {leaf({3, 4, 2, 3}, 34), leaf({2, 4, 1, 1}, 35)}));
  REQUIRE_GRAD_OK(check_gradients(
      "conv2d ((2,1) column, top pad 1)",
      [](const V& v) { return conv2d(v[0], v[1], v[2], Padding2d{1, 0, 0, 0}); },
      {leaf({2, 3, 5, 1}, 36), leaf({2, 3, 2, 1}, 37), leaf({2}, 38)}));
}

GRADCHECK(relu_conv2d) {
  // Inputs away from the ReLU's kink: random values in (-1, 1) are at least ~1e-3 from 0 here, far beyond the
  // finite-difference step.
  Tensor mask = Tensor::ones({3, 2, 3, 3}, DType::F64);
  for (int64_t o = 0; o < 3; ++o) mask.set({o, 1, 2, 2}, 0.0);
  REQUIRE_GRAD_OK(check_gradients(
      "relu_conv2d (3x3 masked, padding 1)",
      [mask](const V& v) { return relu_conv2d(v[0], v[1], v[2], Padding2d{1, 1, 1, 1}, mask); },
      {leaf({2, 2, 4, 5}, 51), leaf({3, 2, 3, 3}, 52), leaf({3}, 53)}));
  REQUIRE_GRAD_OK(check_gradients(
      "relu_conv2d (1x1 direct, no bias)", [](const V& v) { return relu_conv2d(v[0], v[1], Tensor(), Padding2d{}); },
      {leaf({3, 4, 2, 3}, 54), leaf({2, 4, 1, 1}, 55)}));
}
