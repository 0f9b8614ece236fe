// tests/test_core.cpp: tensors, views, autograd mechanics (accumulation, graph freeing, no-grad).
#include <doctest/doctest.h>

#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/ops/view.h"

using namespace fw;

TEST_CASE("tensor creation and views share storage") {
  Tensor t = Tensor::from_vector({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(t.is_contiguous());
  Tensor p = permute(t, {1, 0});
  CHECK(p.shape() == Shape{3, 2});
  CHECK_FALSE(p.is_contiguous());
  CHECK(p.at({2, 1}) == 6);
  Tensor s = slice(t, 1, 1, 3);
  CHECK(s.shape() == Shape{2, 2});
  CHECK(s.at({1, 0}) == 5);
  t.set({1, 1}, 50);
  CHECK(s.at({1, 0}) == 50);
  Tensor r = reshape(p, {6});
  CHECK(r.to_vector() == std::vector<double>{1, 4, 2, 50, 3, 6});
  CHECK_THROWS_AS(reshape(t, {4}), ShapeError);
  CHECK_THROWS_AS(slice(t, 1, 2, 4), ShapeError);
}

TEST_CASE("gradient accumulates when a tensor is used twice, and the graph is freed") {
  Tensor x = Tensor::from_vector({3}, std::vector<double>{1, 2, 3});
  x.requires_grad_();
  Tensor y = sum(mul(x, x) + x);  // dy/dx = 2x + 1
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 5, 7});
  CHECK_THROWS_AS(y.backward(), ShapeError);
  Tensor z = sum(x);
  z.backward();  // accumulates into the existing grad
  CHECK(x.grad().to_vector() == std::vector<double>{4, 6, 8});
}

TEST_CASE("no-grad mode records nothing") {
  Tensor x = Tensor::ones({2}, DType::F64);
  x.requires_grad_();
  NoGradGuard ng;
  Tensor y = mul(x, x);
  CHECK_FALSE(y.requires_grad());
  CHECK_FALSE(static_cast<bool>(y.grad_fn()));
}

TEST_CASE("broadcast errors name the op and shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    FAIL("no throw");
  } catch (const ShapeError& e) {
    std::string m = e.what();
    CHECK(m.find("add") != std::string::npos);
    CHECK(m.find("(2, 3)") != std::string::npos);
    CHECK(m.find("(4,)") != std::string::npos);
  }
}
