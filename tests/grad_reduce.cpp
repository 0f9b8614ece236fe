// tests/grad_reduce.cpp: gradient checks of framework/ops/reduce.cpp.
#include <doctest/doctest.h>

#include "framework/ops/reduce.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(sum) {
  Tensor x = leaf({2, 3, 4}, 31);
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum", [](const V& v) { return sum(v[0]); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum_dims", [](const V& v) { return sum_dims(v[0], {0, 2}, false); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("sum_dims keepdim", [](const V& v) { return sum_dims(v[0], {-1}, true); }, {x}));
}
GRADCHECK(mean) {
  Tensor x = leaf({3, 5}, 32);
  REQUIRE_GRAD_OK(gradcheck::check_gradients("mean", [](const V& v) { return mean(v[0]); }, {x}));
  REQUIRE_GRAD_OK(gradcheck::check_gradients("mean_dims", [](const V& v) { return mean_dims(v[0], {1}, false); }, {x}));
}
