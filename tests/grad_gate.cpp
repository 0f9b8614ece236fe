// tests/grad_gate.cpp: the fused gated activation (framework/ops/gate.cpp): float64 gradient checks, values and
// gradients against the composed form (split, tanh, sigmoid, mul), float32 against float64, and its errors.
#include <doctest/doctest.h>

#include <cmath>

#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/gate.h"
#include "framework/ops/reduce.h"
#include "framework/ops/spatial.h"
#include "tests/gradcheck.h"

using namespace fw;
using gradcheck::check_gradients;
using gradcheck::leaf_of;
using gradcheck::random;
using gradcheck::worst_diff;
using V = std::vector<Tensor>;

namespace {
// The composed reference: x (N, 2c, ...) -> tanh(x_f) * sigmoid(x_g).
Tensor gate_composed(const Tensor& x) {
  const int64_t c = x.size(1) / 2;
  std::vector<Tensor> fg = split(x, 1, {c, c});
  return mul(tanh(fg[0]), sigmoid(fg[1]));
}
}  // namespace

GRADCHECK(gate) {
  // Images (N, 2c, H, W), a plain matrix (N, 2c), a single map pair, and x used twice (gate(x) * x_f).
  REQUIRE_GRAD_OK(check_gradients("gate (2, 6, 3, 4)", [](const V& v) { return gate(v[0]); },
                                  {leaf_of({2, 6, 3, 4}, 11, 2.0)}));
  REQUIRE_GRAD_OK(check_gradients("gate (3, 4)", [](const V& v) { return gate(v[0]); }, {leaf_of({3, 4}, 12)}));
  REQUIRE_GRAD_OK(check_gradients("gate (1, 2, 1, 1)", [](const V& v) { return gate(v[0]); },
                                  {leaf_of({1, 2, 1, 1}, 13)}));
  REQUIRE_GRAD_OK(check_gradients("gate, input used twice",
                                  [](const V& v) { return mul(gate(v[0]), split(v[0], 1, {2, 2})[0]); },
                                  {leaf_of({2, 4, 2, 3}, 14)}));
}

TEST_CASE("gate matches the composed tanh * sigmoid, values and gradients; float32 close to float64") {
  Tensor a = leaf_of({3, 8, 4, 5}, 21, 3.0), b = leaf_of({3, 8, 4, 5}, 21, 3.0);
  Tensor r = random({3, 4, 4, 5}, 22);
  Tensor ya = gate(a), yb = gate_composed(b);
  CHECK(ya.shape() == Shape{3, 4, 4, 5});
  sum(mul(ya, r)).backward();
  sum(mul(yb, r)).backward();
  CHECK(worst_diff(ya, yb) < 1e-14);
  CHECK(worst_diff(a.grad(), b.grad()) < 1e-14);
  // The value at one element by hand: x_f = x[0, 1, 2, 3], x_g = x[0, 5, 2, 3].
  const double xf = a.at({0, 1, 2, 3}), xg = a.at({0, 5, 2, 3});
  CHECK(ya.at({0, 1, 2, 3}) == doctest::Approx(std::tanh(xf) / (1 + std::exp(-xg))).epsilon(1e-14));
  // float32 (vmath's tanh and sigmoid) within float rounding of float64.
  Tensor x32 = a.detach().to(DType::F32);
  CHECK(worst_diff(gate(x32), ya.detach()) < 2e-6);
}

TEST_CASE("gate errors name the op and the shape") {
  CHECK_THROWS_WITH_AS(gate(random({2, 3, 2, 2}, 1)), doctest::Contains("gate: input f64(2, 3, 2, 2)"), ShapeError);
  CHECK_THROWS_WITH_AS(gate(random({4}, 1)), doctest::Contains("gate: input"), ShapeError);
  CHECK_THROWS_WITH_AS(gate(Tensor()), doctest::Contains("gate: undefined"), ShapeError);
}
