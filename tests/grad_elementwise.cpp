// tests/grad_elementwise.cpp: gradient checks of framework/ops/elementwise.cpp, with broadcasting and a tensor
// used twice.
#include <doctest/doctest.h>

#include "framework/ops/elementwise.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using gradcheck::check_gradients;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(add) {
  REQUIRE_GRAD_OK(check_gradients("add", [](const V& x) { return add(x[0], x[1]); },
                                  {leaf({2, 3, 4}, 1), leaf({3, 1}, 2)}));
  REQUIRE_GRAD_OK(check_gradients("add (same tensor twice)", [](const V& x) { return add(x[0], x[0]); },
                                  {leaf({5}, 3)}));
}
GRADCHECK(sub) {
  REQUIRE_GRAD_OK(check_gradients("sub", [](const V& x) { return sub(x[0], x[1]); },
                                  {leaf({1, 4}, 4), leaf({3, 1}, 5)}));
}
GRADCHECK(mul) {
  REQUIRE_GRAD_OK(check_gradients("mul", [](const V& x) { return mul(x[0], x[1]); },
                                  {leaf({2, 3, 4}, 6), leaf({4}, 7)}));
  REQUIRE_GRAD_OK(check_gradients("mul (x*x, used twice)", [](const V& x) { return mul(x[0], x[0]); },
                                  {leaf({6}, 8)}));
}
GRADCHECK(div) {
  REQUIRE_GRAD_OK(check_gradients("div", [](const V& x) { return div(x[0], x[1]); },
                                  {leaf({2, 3}, 9), leaf({2, 1}, 10, 0.5, 2.0)}));
}
GRADCHECK(neg) { REQUIRE_GRAD_OK(check_gradients("neg", [](const V& x) { return neg(x[0]); }, {leaf({4}, 11)})); }
GRADCHECK(add_scalar) {
  REQUIRE_GRAD_OK(check_gradients("add_scalar", [](const V& x) { return add_scalar(x[0], 2.5); }, {leaf({4}, 12)}));
}
GRADCHECK(mul_scalar) {
  REQUIRE_GRAD_OK(check_gradients("mul_scalar", [](const V& x) { return mul_scalar(x[0], -1.5); }, {leaf({4}, 13)}));
}
GRADCHECK(exp) { REQUIRE_GRAD_OK(check_gradients("exp", [](const V& x) { return fw::exp(x[0]); }, {leaf({3, 3}, 14)})); }
GRADCHECK(log) {
  REQUIRE_GRAD_OK(check_gradients("log", [](const V& x) { return fw::log(x[0]); }, {leaf({3, 3}, 15, 0.5, 3.0)}));
}
GRADCHECK(sigmoid) {
  REQUIRE_GRAD_OK(check_gradients("sigmoid", [](const V& x) { return sigmoid(x[0]); }, {leaf({3, 3}, 16, -4, 4)}));
}
GRADCHECK(tanh) {
  REQUIRE_GRAD_OK(check_gradients("tanh", [](const V& x) { return fw::tanh(x[0]); }, {leaf({3, 3}, 17, -2, 2)}));
}
GRADCHECK(relu) {
  // Values kept away from the kink at 0, where finite differences are not defined.
  Tensor x = leaf({8}, 18, 0.1, 1.0);
  {
    double* p = x.data<double>();
    for (int i = 0; i < 8; i += 2) p[i] = -p[i];
  }
  REQUIRE_GRAD_OK(check_gradients("relu", [](const V& v) { return relu(v[0]); }, {x}));
}
