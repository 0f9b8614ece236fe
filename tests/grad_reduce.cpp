// tests/grad_reduce.cpp: gradient checks of framework/ops/reduce.cpp.
#include <doctest/doctest.h>

#include "framework/ops/reduce.h"
#include "tests/gradcheck.h"

using namespace fw;
using V = std::vector<Tensor>;

GRADCHECK(sum) {
  Tensor x = gradcheck::random({2, 3, 4}, 31);
  x.requires_grad_();
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum", [](const V& v) { return sum(v[0]); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum_dims", [](const V& v) { return sum_dims(v[0], {0, 2}, false); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum_dims keepdim", [](const V& v) { return sum_dims(v[0], {-1}, true); }, {x}));
}
GRADCHECK(mean) {
  Tensor x = gradcheck::random({3, 5}, 32);
  x.requires_grad_();
  REQUIRE_GRAD_OK(gradcheck::check_gradients("mean", [](const V& v) { return mean(v[0]); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("mean_dims", [](const V& v) { return mean_dims(v[0], {1}, false); }, {x}));
}
