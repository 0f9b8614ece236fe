// tests/grad_loss.cpp: gradient checks and values of framework/ops/loss.cpp (bce_with_logits,
// softmax_cross_entropy, log_softmax): direct formulas in long double, stability at huge logits, per-element
// shapes, reductions, and the errors for bad targets.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "framework/core/autograd.h"
#include "framework/core/rng.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/loss.h"
#include "framework/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using gradcheck::check_gradients;
using test_util::leaf;
using test_util::throws_with;
using V = std::vector<Tensor>;
using LD = long double;

namespace {
// Class indices 0..K-1 as whole numbers (float64).
Tensor class_targets(Shape s, int64_t K, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (double& x : v) x = std::floor(rng.uniform(0.0, static_cast<double>(K)));
  return Tensor::from_vector(s, v);
}
// -log p(t | sigmoid(x)) directly, in long double (for moderate x).
LD bce_ref(LD x, LD t) {
  LD p = 1.0L / (1.0L + std::exp(-x));
  return -(t * std::log(p) + (1.0L - t) * std::log(1.0L - p));
}
}  // namespace

GRADCHECK(bce_with_logits) {
  Tensor t = gradcheck::random({2, 3, 4}, 201, 0.0, 1.0);
  t.set({0, 0, 0}, 0.0);
  t.set({1, 2, 3}, 1.0);
  for (Reduction r : {Reduction::None, Reduction::Sum, Reduction::Mean})
    REQUIRE_GRAD_OK(check_gradients("bce_with_logits", [t, r](const V& v) { return bce_with_logits(v[0], t, r); },
                                    {leaf({2, 3, 4}, 202, -4, 4)}));
  REQUIRE_GRAD_OK(check_gradients("bce_with_logits (x used twice)",
                                  [t](const V& v) { return bce_with_logits(mul(v[0], v[0]), t, Reduction::None); },
                                  {leaf({2, 3, 4}, 203, -2, 2)}));
}

GRADCHECK(softmax_cross_entropy) {
  // (N, K, C, H, W) with class_dim 1 and K = 3.
  Tensor t = class_targets({2, 2, 2, 3}, 3, 204);
  for (Reduction r : {Reduction::None, Reduction::Mean})
    REQUIRE_GRAD_OK(check_gradients("softmax_cross_entropy (N,K,C,H,W)",
                                    [t, r](const V& v) { return softmax_cross_entropy(v[0], t, 1, r); },
                                    {leaf({2, 3, 2, 2, 3}, 205, -3, 3)}));
  // K = 256 (the pixel intensities) on a tiny tensor.
  Tensor t256 = Tensor::from_vector({1, 2}, std::vector<double>{0, 255});
  REQUIRE_GRAD_OK(check_gradients("softmax_cross_entropy K=256",
                                  [t256](const V& v) { return softmax_cross_entropy(v[0], t256, 1, Reduction::Sum); },
                                  {leaf({1, 256, 2}, 206, -3, 3)}));
  // Class axis last (negative dim).
  Tensor tl = class_targets({3, 2}, 4, 207);
  REQUIRE_GRAD_OK(check_gradients("softmax_cross_entropy class_dim -1",
                                  [tl](const V& v) { return softmax_cross_entropy(v[0], tl, -1, Reduction::None); },
                                  {leaf({3, 2, 4}, 208, -3, 3)}));
}

GRADCHECK(log_softmax) {
  for (int64_t d : {0, 1, -1})
    REQUIRE_GRAD_OK(check_gradients("log_softmax dim " + std::to_string(d),
                                    [d](const V& v) { return log_softmax(v[0], d); }, {leaf({3, 4, 2}, 209, -3, 3)}));
}

TEST_CASE("bce_with_logits: values against the direct formula, reductions, no grad into targets") {
  Tensor x = gradcheck::random({3, 5}, 11, -6, 6), t = gradcheck::random({3, 5}, 12, 0, 1);
  Tensor l = bce_with_logits(x, t, Reduction::None);
  REQUIRE(l.shape() == Shape{3, 5});
  std::vector<double> xv = x.to_vector(), tv = t.to_vector(), lv = l.to_vector();
  LD total = 0;
  for (size_t i = 0; i < lv.size(); ++i) {
    LD want = bce_ref(xv[i], tv[i]);
    total += want;
    CHECK(std::fabs(lv[i] - static_cast<double>(want)) <= 1e-12 * (1 + std::fabs(static_cast<double>(want))));
  }
  CHECK(bce_with_logits(x, t, Reduction::Sum).item() == doctest::Approx(static_cast<double>(total)).epsilon(1e-12));
  CHECK(bce_with_logits(x, t).item() == doctest::Approx(static_cast<double>(total / 15)).epsilon(1e-12));
  CHECK(bce_with_logits(x, t, Reduction::Sum).shape() == Shape{});

  Tensor xl = leaf({4}, 13), tl = gradcheck::random({4}, 14, 0, 1);
  tl.requires_grad_();
  bce_with_logits(xl, tl, Reduction::Sum).backward();
  CHECK_FALSE(tl.grad().defined());
  for (int64_t i = 0; i < 4; ++i) {
    LD s = 1.0L / (1.0L + std::exp(-static_cast<LD>(xl.at({i}))));
    CHECK(xl.grad().at({i}) == doctest::Approx(static_cast<double>(s - tl.at({i}))).epsilon(1e-12));
  }
}

TEST_CASE("bce_with_logits: stable at huge logits, float32 and float64") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = Tensor::from_vector({4}, std::vector<double>{1e4, -1e4, 1e4, -1e4}).to(dt);
    Tensor t = Tensor::from_vector({4}, std::vector<double>{0, 1, 1, 0}).to(dt);
    Tensor xl = x.detach();
    xl.requires_grad_();
    Tensor l = bce_with_logits(xl, t, Reduction::None);
    std::vector<double> lv = l.to_vector();
    CHECK(lv[0] == doctest::Approx(1e4));
    CHECK(lv[1] == doctest::Approx(1e4));
    CHECK(lv[2] == 0.0);
    CHECK(lv[3] == 0.0);
    sum(l).backward();
    CHECK(xl.grad().to_vector() == std::vector<double>{1, -1, 0, 0});
  }
}

TEST_CASE("softmax_cross_entropy: values against log-sum-exp in long double, per-pixel shape, reductions") {
  const int64_t N = 2, K = 256, H = 2, W = 3;
  Tensor x = gradcheck::random({N, K, H, W}, 15, -5, 5);
  Tensor t = class_targets({N, H, W}, K, 16);
  Tensor l = softmax_cross_entropy(x, t, 1, Reduction::None);
  REQUIRE(l.shape() == Shape{N, H, W});
  LD total = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        LD s = 0;
        for (int64_t k = 0; k < K; ++k) s += std::exp(static_cast<LD>(x.at({n, k, i, j})));
        auto c = static_cast<int64_t>(t.at({n, i, j}));
        LD want = std::log(s) - x.at({n, c, i, j});
        total += want;
        CHECK(l.at({n, i, j}) == doctest::Approx(static_cast<double>(want)).epsilon(1e-12));
      }
  CHECK(softmax_cross_entropy(x, t, 1, Reduction::Sum).item() ==
        doctest::Approx(static_cast<double>(total)).epsilon(1e-12));
  CHECK(softmax_cross_entropy(x, t, 1).item() ==
        doctest::Approx(static_cast<double>(total / (N * H * W))).epsilon(1e-12));
  // The same numbers with the class axis moved last (class_dim -1) in float32.
  Tensor xf = Tensor::from_vector({1, 3}, std::vector<float>{0.5f, -1.0f, 2.0f});
  Tensor tf = Tensor::from_vector({1}, std::vector<float>{1.0f});
  LD want = std::log(std::exp(0.5L) + std::exp(-1.0L) + std::exp(2.0L)) + 1.0L;
  CHECK(softmax_cross_entropy(xf, tf, -1, Reduction::None).item() ==
        doctest::Approx(static_cast<double>(want)).epsilon(1e-6));
}

TEST_CASE("softmax_cross_entropy: gradient is softmax - onehot; no grad into targets") {
  Tensor x = leaf({2, 3}, 17, -2, 2);
  Tensor t = Tensor::from_vector({2}, std::vector<double>{2, 0});
  t.requires_grad_();
  softmax_cross_entropy(x, t, 1, Reduction::Sum).backward();
  CHECK_FALSE(t.grad().defined());
  for (int64_t n = 0; n < 2; ++n) {
    LD s = 0;
    for (int64_t k = 0; k < 3; ++k) s += std::exp(static_cast<LD>(x.at({n, k})));
    for (int64_t k = 0; k < 3; ++k) {
      LD want = std::exp(static_cast<LD>(x.at({n, k}))) / s - (k == static_cast<int64_t>(t.at({n})) ? 1 : 0);
      CHECK(x.grad().at({n, k}) == doctest::Approx(static_cast<double>(want)).epsilon(1e-12));
    }
  }
}

TEST_CASE("softmax_cross_entropy and log_softmax: stable at logits of +-1e4") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x0 = Tensor::from_vector({2, 3}, std::vector<double>{1e4, -1e4, 0, -1e4, -1e4, 1e4}).to(dt);
    Tensor t = Tensor::from_vector({2}, std::vector<double>{1, 2}).to(dt);
    Tensor x = x0.detach();
    x.requires_grad_();
    Tensor l = softmax_cross_entropy(x, t, 1, Reduction::None);
    std::vector<double> lv = l.to_vector();
    CHECK(lv[0] == doctest::Approx(2e4));
    CHECK(lv[1] == 0.0);
    sum(l).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{1, -1, 0, 0, 0, 0});
    std::vector<double> ls = log_softmax(x0, 1).to_vector();
    CHECK(ls[0] == 0.0);
    CHECK(ls[1] == doctest::Approx(-2e4));
    CHECK(ls[2] == doctest::Approx(-1e4));
    CHECK(ls[5] == 0.0);
    for (double v : ls) CHECK(std::isfinite(v));
  }
}

TEST_CASE("log_softmax: values against the direct formula; exp sums to one") {
  Tensor x = gradcheck::random({2, 4, 3}, 18, -4, 4);
  Tensor y = log_softmax(x, 1);
  REQUIRE(y.shape() == x.shape());
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 3; ++c) {
      LD s = 0, p = 0;
      for (int64_t k = 0; k < 4; ++k) s += std::exp(static_cast<LD>(x.at({a, k, c})));
      for (int64_t k = 0; k < 4; ++k) {
        LD want = x.at({a, k, c}) - std::log(s);
        CHECK(y.at({a, k, c}) == doctest::Approx(static_cast<double>(want)).epsilon(1e-12));
        p += std::exp(static_cast<LD>(y.at({a, k, c})));
      }
      CHECK(static_cast<double>(p) == doctest::Approx(1.0).epsilon(1e-12));
    }
}

TEST_CASE("losses: errors name the op, the index and the bad value") {
  Tensor x = Tensor::zeros({1, 256, 2}), t = Tensor::from_vector({1, 2}, std::vector<float>{3, 256});
  CHECK(throws_with([&] { softmax_cross_entropy(x, t, 1); }, {"softmax_cross_entropy", "(0, 1)", "256", "0..255"}));
  t.set({0, 1}, 1.5);
  CHECK(throws_with([&] { softmax_cross_entropy(x, t, 1); }, {"softmax_cross_entropy", "(0, 1)", "1.5"}));
  t.set({0, 1}, -1);
  CHECK(throws_with([&] { softmax_cross_entropy(x, t, 1); }, {"softmax_cross_entropy", "(0, 1)", "-1"}));
  t.set({0, 1}, std::nan(""));
  CHECK(throws_with([&] { softmax_cross_entropy(x, t, 1); }, {"softmax_cross_entropy", "(0, 1)", "nan"}));
  t.set({0, 1}, 0);
  CHECK_NOTHROW(softmax_cross_entropy(x, t, 1));
  CHECK(throws_with([&] { softmax_cross_entropy(x, t, 3); }, {"softmax_cross_entropy", "class_dim 3", "(1, 256, 2)"}));
  CHECK(throws_with([&] { softmax_cross_entropy(x, Tensor::zeros({2, 1}), 1); },
                    {"softmax_cross_entropy", "(2, 1)", "(1, 256, 2)"}));
  CHECK(throws_with([&] { softmax_cross_entropy(x, Tensor::zeros({1, 2}, DType::F64), 1); },
                    {"softmax_cross_entropy", "f64(1, 2)"}));
  Tensor b = Tensor::zeros({2, 2}), bt = Tensor::from_vector({2, 2}, std::vector<float>{0, 1, 2, 0.5f});
  CHECK(throws_with([&] { bce_with_logits(b, bt); }, {"bce_with_logits", "(1, 0)", "2", "[0, 1]"}));
  CHECK(throws_with([&] { bce_with_logits(b, Tensor::zeros({2, 3})); }, {"bce_with_logits", "(2, 2)", "(2, 3)"}));
  CHECK(throws_with([&] { log_softmax(b, 2); }, {"log_softmax", "dim 2", "(2, 2)"}));
}
