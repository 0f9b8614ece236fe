// tests/gradcheck.h: central finite differences in float64 against the autograd gradient, and the registry
// that ties gradient checks to framework/ops/families.h.
//
// check_gradients(op, f, inputs): inputs are F64 leaves; f maps them to any tensor y. The scalar checked is
// L = sum(y * R) with a fixed random R, so every output element's gradient is exercised. For each input element
// the numeric derivative (L(x+e) - L(x-e)) / 2e (e = eps, 1e-6 by default) is compared with the analytic one; the check fails
// when |a - n| > atol + rtol |n| and reports the op, the input's index and shape, and the worst element.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace gradcheck {

using Fn = std::function<fw::Tensor(const std::vector<fw::Tensor>&)>;

struct Result {
  bool ok = true;
  std::string message;  // empty when ok
  double worst_abs_err = 0;
};

Result check_gradients(const std::string& op, const Fn& f, std::vector<fw::Tensor> inputs, double atol = 1e-6,
                       double rtol = 1e-5, double eps = 1e-6);
// A random F64 tensor with values uniform in [lo, hi), seeded.
fw::Tensor random(const fw::Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0);
// A F64 leaf that requires grad: random(shape, seed) times scale.
fw::Tensor leaf_of(const fw::Shape& shape, uint64_t seed, double scale = 1.0);
// max |a - b| over the elements, in row-major order (the element counts must agree: checked with REQUIRE).
double worst_diff(const fw::Tensor& a, const fw::Tensor& b);

// Registry: GRADCHECK(op_name) { ... CHECK gradcheck results ... } defines a check run by test_ops.
using CaseFn = void (*)();
std::map<std::string, CaseFn>& registry();
struct Registrar {
  Registrar(const char* name, CaseFn fn) { registry()[name] = fn; }
};

}  // namespace gradcheck

#define GRADCHECK(op)                                                   \
  static void gradcheck_case_##op();                                    \
  static gradcheck::Registrar gradcheck_reg_##op(#op, gradcheck_case_##op); \
  static void gradcheck_case_##op()

// Use inside a GRADCHECK body: fails the current doctest case with the report when the check fails.
#define REQUIRE_GRAD_OK(result)            \
  do {                                     \
    auto r_ = (result);                    \
    INFO(r_.message);                      \
    CHECK(r_.ok);                          \
  } while (0)
