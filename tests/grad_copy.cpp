// tests/grad_copy.cpp: gradient checks of framework/ops/copy.cpp.
#include <doctest/doctest.h>

#include "framework/ops/copy.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(copy) {
  Tensor x = leaf({3, 4}, 21);
  // Copy of a non-contiguous view exercises the strided kernel.
  REQUIRE_GRAD_OK(gradcheck::check_gradients("copy", [](const V& v) { return permute(v[0], {1, 0}).contiguous(); }, {x}));
}
GRADCHECK(convert) {
  // f64 -> f32 -> f64 is exact for multiples of 1/256 in [-1, 1], and so are x +- 2^-10: the finite differences
  // then see no float32 rounding. mul(...) makes the function quadratic, so central differences are exact; the
  // analytic gradient itself passes through float32, hence the float32 tolerance.
  Tensor x = Tensor::from_vector({5}, std::vector<double>{-0.75, -0.125, 0.25, 0.5078125, 0.9921875});
  x.requires_grad_();
  REQUIRE_GRAD_OK(gradcheck::check_gradients(
      "convert", [](const V& v) { return mul(v[0].to(DType::F32).to(DType::F64), v[0]); }, {x}, 1e-6, 1e-6,
      0.0009765625));
}
