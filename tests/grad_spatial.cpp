// tests/grad_spatial.cpp: gradient checks and forward values of framework/ops/spatial.cpp (concat, split, shift,
// skew/unskew, flip, upsample_nearest), each compared with a hand-written loop, plus the error messages.
#include <doctest/doctest.h>

#include <string>

#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using gradcheck::check_gradients;
using test_util::leaf;
using test_util::throws_with;
using V = std::vector<Tensor>;

namespace {
// Row-major flat index of a 4-D position.
int64_t at4(const Shape& s, int64_t n, int64_t c, int64_t h, int64_t w) {
  return ((n * s[1] + c) * s[2] + h) * s[3] + w;
}
}  // namespace

GRADCHECK(concat) {
  REQUIRE_GRAD_OK(check_gradients("concat dim 1", [](const V& v) { return concat({v[0], v[1], v[2]}, 1); },
                                  {leaf({2, 1, 3}, 101), leaf({2, 3, 3}, 102), leaf({2, 2, 3}, 103)}));
  REQUIRE_GRAD_OK(check_gradients("concat (x, x) on dim -1", [](const V& v) { return concat({v[0], v[0]}, -1); },
                                  {leaf({2, 3}, 104)}));
  // A non-contiguous input (a permuted view).
  REQUIRE_GRAD_OK(check_gradients(
      "concat of a permuted view", [](const V& v) { return concat({permute(v[0], {1, 0}), v[1]}, 0); },
      {leaf({3, 2}, 105), leaf({1, 3}, 106)}));
}

GRADCHECK(split) {
  REQUIRE_GRAD_OK(check_gradients(
      "split into 3 (pieces recombined with different weights)",
      [](const V& v) {
        V p = split(v[0], 1, {1, 3, 2});
        return concat({mul_scalar(p[2], 3.0), p[0], mul_scalar(p[1], -2.0)}, 1);
      },
      {leaf({2, 6, 2}, 107)}));
  // Only one piece used: the other pieces' parts of the gradient are zero.
  REQUIRE_GRAD_OK(check_gradients("split, one piece used", [](const V& v) { return split(v[0], -1, {2, 3})[1]; },
                                  {leaf({3, 5}, 108)}));
}

GRADCHECK(shift) {
  for (int64_t k : {-3, -1, 0, 1, 2, 5}) {
    REQUIRE_GRAD_OK(check_gradients("shift by " + std::to_string(k),
                                    [k](const V& v) { return shift(v[0], 2, k); }, {leaf({1, 2, 4, 3}, 109)}));
  }
  REQUIRE_GRAD_OK(check_gradients("shift (x used twice)",
                                  [](const V& v) { return add(shift(v[0], 0, 1), shift(v[0], 0, -1)); },
                                  {leaf({4, 2}, 110)}));
}

GRADCHECK(skew) {
  REQUIRE_GRAD_OK(check_gradients("skew", [](const V& v) { return skew(v[0]); }, {leaf({2, 2, 3, 4}, 111)}));
  REQUIRE_GRAD_OK(check_gradients("skew, H > W", [](const V& v) { return skew(v[0]); }, {leaf({1, 1, 4, 2}, 112)}));
}

GRADCHECK(unskew) {
  REQUIRE_GRAD_OK(check_gradients("unskew", [](const V& v) { return unskew(v[0], 4); }, {leaf({2, 2, 3, 6}, 113)}));
  REQUIRE_GRAD_OK(check_gradients("unskew(skew(x))", [](const V& v) { return unskew(skew(v[0]), 3); },
                                  {leaf({1, 2, 3, 3}, 114)}));
}

GRADCHECK(flip) {
  REQUIRE_GRAD_OK(check_gradients("flip dim 1", [](const V& v) { return flip(v[0], 1); }, {leaf({2, 3, 4}, 115)}));
  REQUIRE_GRAD_OK(check_gradients("flip (x used twice)", [](const V& v) { return mul(flip(v[0], -1), v[0]); },
                                  {leaf({3, 5}, 116)}));
}

GRADCHECK(upsample_nearest) {
  REQUIRE_GRAD_OK(check_gradients("upsample_nearest x2", [](const V& v) { return upsample_nearest(v[0], 2); },
                                  {leaf({2, 2, 3, 2}, 117)}));
  REQUIRE_GRAD_OK(check_gradients("upsample_nearest x3", [](const V& v) { return upsample_nearest(v[0], 3); },
                                  {leaf({1, 1, 2, 2}, 118)}));
}

TEST_CASE("concat and split: values against loops") {
  Tensor a = gradcheck::random({2, 2, 3}, 1), b = gradcheck::random({2, 1, 3}, 2);
  Tensor y = concat({a, b}, 1);
  REQUIRE(y.shape() == Shape{2, 3, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 3; ++k)
        CHECK(y.at({i, j, k}) == (j < 2 ? a.at({i, j, k}) : b.at({i, j - 2, k})));
  V p = split(y, 1, {2, 0, 1});
  REQUIRE(p.size() == 3);
  CHECK(p[0].to_vector() == a.to_vector());
  CHECK(p[1].shape() == Shape{2, 0, 3});
  CHECK(p[2].to_vector() == b.to_vector());
  // Float32 too.
  Tensor f = Tensor::from_vector({2, 2}, std::vector<float>{1, 2, 3, 4});
  CHECK(concat({f, f}, 0).to_vector() == std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4});
}

TEST_CASE("shift: every amount against a loop, including |amount| >= size") {
  Tensor x = gradcheck::random({2, 3, 4, 2}, 3);
  for (int64_t dim : {1, 2, -1})
    for (int64_t k = -6; k <= 6; ++k) {
      Tensor y = shift(x, dim, k);
      REQUIRE(y.shape() == x.shape());
      int64_t d = dim < 0 ? dim + 4 : dim, n = x.shape()[d];
      std::vector<double> xv = x.to_vector(), yv = y.to_vector();
      Shape s = x.shape();
      bool ok = true;
      for (int64_t a = 0; a < s[0]; ++a)
        for (int64_t b = 0; b < s[1]; ++b)
          for (int64_t c = 0; c < s[2]; ++c)
            for (int64_t e = 0; e < s[3]; ++e) {
              int64_t idx[4] = {a, b, c, e};
              int64_t src = idx[d] - k;
              double want = 0;
              if (src >= 0 && src < n) {
                idx[d] = src;
                want = xv[at4(s, idx[0], idx[1], idx[2], idx[3])];
              }
              ok = ok && yv[at4(s, a, b, c, e)] == want;
            }
      INFO("dim " << dim << " amount " << k);
      CHECK(ok);
    }
  // Extreme amounts are all zeros, not overflow.
  CHECK(shift(x, 2, INT64_MAX).to_vector() == std::vector<double>(x.numel(), 0.0));
  CHECK(shift(x, 2, INT64_MIN).to_vector() == std::vector<double>(x.numel(), 0.0));
}

TEST_CASE("shift down by one row zeroes row 0 and moves row r to r + 1") {
  Tensor x = Tensor::from_vector({1, 1, 3, 2}, std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(shift(x, 2, 1).to_vector() == std::vector<double>{0, 0, 1, 2, 3, 4});
  CHECK(shift(x, 2, -1).to_vector() == std::vector<double>{3, 4, 5, 6, 0, 0});
  CHECK(shift(x, 3, 1).to_vector() == std::vector<double>{0, 1, 0, 3, 0, 5});
}

TEST_CASE("skew places row r at offset r; unskew inverts it") {
  for (Shape s : {Shape{2, 3, 4, 5}, Shape{1, 2, 5, 2}, Shape{1, 1, 1, 3}, Shape{2, 1, 3, 1}}) {
    Tensor x = gradcheck::random(s, 4);
    Tensor y = skew(x);
    Shape ys{s[0], s[1], s[2], s[3] + s[2] - 1};
    REQUIRE(y.shape() == ys);
    std::vector<double> xv = x.to_vector(), yv = y.to_vector();
    bool ok = true;
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t c = 0; c < s[1]; ++c)
        for (int64_t r = 0; r < s[2]; ++r)
          for (int64_t j = 0; j < ys[3]; ++j) {
            double want = (j >= r && j - r < s[3]) ? xv[at4(s, n, c, r, j - r)] : 0.0;
            ok = ok && yv[at4(ys, n, c, r, j)] == want;
          }
    INFO("shape " << shape_str(s));
    CHECK(ok);
    CHECK(unskew(y, s[3]).to_vector() == xv);
  }
  Tensor x = Tensor::from_vector({1, 1, 2, 2}, std::vector<float>{1, 2, 3, 4});
  CHECK(skew(x).to_vector() == std::vector<double>{1, 2, 0, 0, 3, 4});
  // unskew reads only the diagonal band: values outside it are ignored.
  Tensor z = Tensor::from_vector({1, 1, 2, 3}, std::vector<double>{1, 2, 9, 9, 3, 4});
  CHECK(unskew(z, 2).to_vector() == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("flip and upsample_nearest: values against loops") {
  Tensor x = gradcheck::random({2, 3, 4}, 5);
  for (int64_t d = 0; d < 3; ++d) {
    Tensor y = flip(x, d);
    bool ok = true;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          int64_t idx[3] = {i, j, k};
          idx[d] = x.shape()[d] - 1 - idx[d];
          ok = ok && y.at({i, j, k}) == x.at({idx[0], idx[1], idx[2]});
        }
    INFO("dim " << d);
    CHECK(ok);
  }
  CHECK(flip(flip(x, 1), 1).to_vector() == x.to_vector());
  Tensor u = gradcheck::random({2, 3, 2, 3}, 6);
  for (int64_t f : {1, 2, 3}) {
    Tensor y = upsample_nearest(u, f);
    REQUIRE(y.shape() == Shape{2, 3, 2 * f, 3 * f});
    bool ok = true;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < 2 * f; ++i)
          for (int64_t j = 0; j < 3 * f; ++j) ok = ok && y.at({n, c, i, j}) == u.at({n, c, i / f, j / f});
    INFO("factor " << f);
    CHECK(ok);
  }
}

TEST_CASE("slice backward scatters into zeros (the strided-copy kernel)") {
  Tensor x = leaf({3, 4}, 7);
  Tensor y = slice(x, 1, 1, 3);
  y.backward(Tensor::ones({3, 2}, DType::F64));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("spatial ops: errors name the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 3}), x4 = Tensor::zeros({1, 2, 3, 4});
  CHECK(throws_with([&] { concat({a, b}, 1); }, {"concat", "(2, 3)", "(3, 3)"}));
  CHECK(throws_with([&] { concat({}, 0); }, {"concat"}));
  CHECK(throws_with([&] { concat({a, a}, 2); }, {"concat", "dim 2", "(2, 3)"}));
  CHECK(throws_with([&] { concat({a, Tensor::zeros({2, 3}, DType::F64)}, 0); }, {"concat", "f64(2, 3)"}));
  CHECK(throws_with([&] { split(a, 1, {1, 1}); }, {"split", "[1, 1]", "(2, 3)"}));
  CHECK(throws_with([&] { split(a, 1, {4, -1}); }, {"split", "[4, -1]"}));
  CHECK(throws_with([&] { split(a, -3, {2}); }, {"split", "dim -3"}));
  CHECK(throws_with([&] { shift(a, 2, 1); }, {"shift", "dim 2", "(2, 3)"}));
  CHECK(throws_with([&] { skew(a); }, {"skew", "(2, 3)"}));
  CHECK(throws_with([&] { unskew(x4, 3); }, {"unskew", "(1, 2, 3, 4)", "width 3"}));
  CHECK(throws_with([&] { unskew(a, 1); }, {"unskew", "(2, 3)"}));
  CHECK(throws_with([&] { flip(a, -3); }, {"flip", "dim -3"}));
  CHECK(throws_with([&] { upsample_nearest(x4, 0); }, {"upsample_nearest", "factor 0"}));
  CHECK(throws_with([&] { upsample_nearest(a, 2); }, {"upsample_nearest", "(2, 3)"}));
  Tensor dst = Tensor::zeros({2, 3});
  CHECK(throws_with([&] { copy_into_block(dst, Tensor::zeros({2, 2}), 1, 2); }, {"copy_into_block", "(2, 3)"}));
}
