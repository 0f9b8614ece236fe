// tests/grad_matmul.cpp: float64 gradient checks of matmul (framework/ops/matmul.cpp), including a transposed
// view operand (passed to BLAS with a transpose flag) and the same tensor on both sides.
#include <doctest/doctest.h>

#include "framework/ops/matmul.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using gradcheck::check_gradients;
using test_util::leaf;
using V = std::vector<Tensor>;

GRADCHECK(matmul) {
  REQUIRE_GRAD_OK(check_gradients("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                                  {leaf({3, 4}, 41), leaf({4, 5}, 42)}));
  REQUIRE_GRAD_OK(check_gradients("matmul (transposed views)",
                                  [](const V& v) { return matmul(permute(v[0], {1, 0}), permute(v[1], {1, 0})); },
                                  {leaf({4, 3}, 43), leaf({2, 4}, 44)}));
  REQUIRE_GRAD_OK(check_gradients("matmul (x^T x, used twice)",
                                  [](const V& v) { return matmul(permute(v[0], {1, 0}), v[0]); },
                                  {leaf({3, 2}, 45)}));
}
