// tests/grad_view.cpp: gradient checks of framework/ops/view.cpp.
#include <doctest/doctest.h>

#include "framework/ops/elementwise.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(reshape) {
  Tensor x = leaf({2, 6}, 41);
  REQUIRE_GRAD_OK(gradcheck::check_gradients("reshape", [](const V& v) { return reshape(v[0], {3, -1}); }, {x}));
}
GRADCHECK(permute) {
  Tensor x = leaf({2, 3, 4}, 42);
  REQUIRE_GRAD_OK(gradcheck::check_gradients("permute", [](const V& v) { return permute(v[0], {2, 0, 1}); }, {x}));
}
GRADCHECK(slice) {
  Tensor x = leaf({3, 5, 2}, 43);
  // Two overlapping slices of one tensor: their gradients must add up.
  REQUIRE_GRAD_OK(gradcheck::check_gradients(
      "slice", [](const V& v) { return add(slice(v[0], 1, 1, 4), slice(v[0], 1, 0, 3)); }, {x}));
}
