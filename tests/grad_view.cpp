// tests/grad_view.cpp: gradient checks of framework/ops/view.cpp.
#include <doctest/doctest.h>

#include "framework/ops/elementwise.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"

using namespace fw;
using V = std::vector<Tensor>;

GRADCHECK(reshape) {
  Tensor x = gradcheck::random({2, 6}, 41);
  x.requires_grad_();
  REQUIRE_GRAD_OK(gradcheck::check_gradients("reshape", [](const V& v) { return reshape(v[0], {3, -1}); }, {x}));
}
GRADCHECK(permute) {
  Tensor x = gradcheck::random({2, 3, 4}, 42);
  x.requires_grad_();
  REQUIRE_GRAD_OK(gradcheck::check_gradients("permute", [](const V& v) { return permute(v[0], {2, 0, 1}); }, {x}));
}
GRADCHECK(slice) {
  Tensor x = gradcheck::random({3, 5, 2}, 43);
  x.requires_grad_();
  // Two overlapping slices of one tensor: their gradients must add up.
  REQUIRE_GRAD_OK(gradcheck::check_gradients(
      "slice", [](const V& v) { return add(slice(v[0], 1, 1, 4), slice(v[0], 1, 0, 3)); }, {x}));
}
