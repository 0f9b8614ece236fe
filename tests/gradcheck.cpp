// tests/gradcheck.cpp: the finite-difference checker.
#include "tests/gradcheck.h"

#include <algorithm>
#include <cmath>

#include <doctest/doctest.h>
#include <sstream>

#include "framework/core/autograd.h"
#include "framework/core/rng.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"

namespace gradcheck {

std::map<std::string, CaseFn>& registry() {
  static std::map<std::string, CaseFn> r;
  return r;
}

fw::Tensor random(const fw::Shape& shape, uint64_t seed, double lo, double hi) {
  fw::Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(fw::shape_numel(shape)));
  for (double& x : v) x = rng.uniform(lo, hi);
  return fw::Tensor::from_vector(shape, v);
}

fw::Tensor leaf_of(const fw::Shape& shape, uint64_t seed, double scale) {
  fw::Tensor t = fw::mul_scalar(random(shape, seed), scale).detach();
  t.requires_grad_();
  return t;
}

double worst_diff(const fw::Tensor& a, const fw::Tensor& b) {
  const std::vector<double> u = a.to_vector(), v = b.to_vector();
  REQUIRE(u.size() == v.size());
  double w = 0;
  for (size_t i = 0; i < u.size(); ++i) w = std::max(w, std::fabs(u[i] - v[i]));
  return w;
}

Result check_gradients(const std::string& op, const Fn& f, std::vector<fw::Tensor> inputs, double atol,
                       double rtol, double eps) {
  Result res;
  for (auto& t : inputs) {
    if (t.dtype() != fw::DType::F64) {
      res.ok = false;
      res.message = op + ": gradcheck needs float64 inputs";
      return res;
    }
    t.zero_grad();
  }
  fw::Tensor y0;
  {
    fw::NoGradGuard ng;
    y0 = f(inputs);
  }
  fw::Tensor R = random(y0.shape(), 12345, -1.0, 1.0);
  auto loss_value = [&]() {
    fw::NoGradGuard ng;
    return fw::sum(fw::mul(f(inputs), R)).item();
  };
  fw::Tensor L = fw::sum(fw::mul(f(inputs), R));
  L.backward();
  const double e = eps;
  std::ostringstream msg;
  for (size_t k = 0; k < inputs.size(); ++k) {
    fw::Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    fw::Tensor ga = x.grad();
    std::vector<double> analytic = ga.defined() ? ga.to_vector() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    double worst = 0, worst_a = 0, worst_n = 0;
    int64_t worst_i = -1;
    for (int64_t i = 0; i < x.numel(); ++i) {
      double old = p[i];
      p[i] = old + e;
      double lp = loss_value();
      p[i] = old - e;
      double lm = loss_value();
      p[i] = old;
      double num = (lp - lm) / (2 * e);
      double err = std::fabs(analytic[i] - num);
      double excess = err - (atol + rtol * std::fabs(num));
      if (excess > 0 && (worst_i < 0 || err > worst)) {
        worst = err; worst_a = analytic[i]; worst_n = num; worst_i = i;
      }
      res.worst_abs_err = std::max(res.worst_abs_err, err);
    }
    if (worst_i >= 0) {
      res.ok = false;
      msg << op << ": gradient of input " << k << " " << x.str() << " is wrong; worst element " << worst_i
          << ": analytic " << worst_a << " vs numeric " << worst_n << " (abs err " << worst << ")\n";
    }
  }
  res.message = msg.str();
  return res;
}

}  // namespace gradcheck
