// tests/test_nn.cpp: nn::Module registration (names, order, buffers, errors), init schemes, fw::Rng, Conv2d.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>

#include "framework/core/rng.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/init.h"
#include "framework/nn/module.h"
#include "framework/ops/elementwise.h"
#include "tests/test_util.h"

using namespace fw;
using namespace test_util;

namespace {

// A module whose registration functions are public, to build trees and provoke errors in tests.
struct Open : nn::Module {
  using nn::Module::register_buffer;
  using nn::Module::register_module;
  using nn::Module::register_parameter;
};

struct Linearish : nn::Module {
  Tensor w, b, m;
  Linearish(int64_t in, int64_t out) {
    w = register_parameter("weight", Tensor::zeros({out, in}));
    m = register_buffer("mask", Tensor::ones({out, in}));
    b = register_parameter("bias", Tensor::zeros({out}));
  }
};

struct Net : nn::Module {
  std::shared_ptr<Linearish> first, second;
  Tensor scale;
  Net() {
    scale = register_parameter("scale", Tensor::ones({1}));
    first = register_module("first", std::make_shared<Linearish>(3, 4));
    auto blocks = register_module("blocks", std::make_shared<Open>());
    second = blocks->register_module("0", std::make_shared<Linearish>(4, 2));
  }
};

std::vector<std::string> names_of(const nn::NamedTensors& ts) {
  std::vector<std::string> out;
  for (auto& e : ts) out.push_back(e.first);
  return out;
}
void moments(const Tensor& t, double& mean, double& var, double& max_abs) {
  std::vector<double> v = t.to_vector();
  double s = 0, s2 = 0;
  max_abs = 0;
  for (double x : v) {
    s += x;
    s2 += x * x;
    max_abs = std::max(max_abs, std::abs(x));
  }
  mean = s / v.size();
  var = s2 / v.size() - mean * mean;
}

}  // namespace

TEST_CASE("Module: dotted names in registration order, parameters vs buffers") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"first.mask", "blocks.0.mask"});
  CHECK(net.num_parameters() == 1 + (12 + 4) + (8 + 2));
  CHECK(net.parameters().size() == 5);
  for (auto& [n, t] : net.named_parameters()) CHECK_MESSAGE(t.requires_grad(), n);
  for (auto& [n, t] : net.named_buffers()) CHECK_FALSE_MESSAGE(t.requires_grad(), n);
  // Handles share storage with the module's members.
  CHECK(net.named_parameters()[3].second.impl() == net.second->w.impl());
  CHECK(net.first->path() == "first");
  CHECK(net.second->path() == "blocks.0");
  // zero_grad drops every parameter's grad.
  net.first->w.set_grad(Tensor::ones({4, 3}));
  net.scale.set_grad(Tensor::ones({1}));
  net.zero_grad();
  CHECK_FALSE(net.first->w.grad().defined());
  CHECK_FALSE(net.scale.grad().defined());
}

TEST_CASE("Module: empty, dotted and duplicate names throw naming the module path") {
  Open root;
  auto child = root.register_module("enc", std::make_shared<Open>());
  auto leaf = child->register_module("l1", std::make_shared<Open>());
  CHECK(leaf->path() == "enc.l1");
  leaf->register_parameter("w", Tensor::zeros({2}));

  std::string e = error_of([&] { leaf->register_parameter("w", Tensor::zeros({2})); });
  CHECK(contains(e, "'enc.l1'"));
  CHECK(contains(e, "duplicate name 'w'"));
  e = error_of([&] { leaf->register_buffer("w", Tensor::zeros({2})); });
  CHECK(contains(e, "duplicate name 'w'"));
  e = error_of([&] { leaf->register_module("w", std::make_shared<Open>()); });
  CHECK(contains(e, "duplicate name 'w'"));
  e = error_of([&] { child->register_parameter("a.b", Tensor::zeros({2})); });
  CHECK(contains(e, "'enc'"));
  CHECK(contains(e, "'a.b'"));
  e = error_of([&] { root.register_buffer("", Tensor::zeros({2})); });
  CHECK(contains(e, "empty name"));
  CHECK(contains(e, "<root>"));
  CHECK(contains(error_of([&] { root.register_module("again", child); }), "already registered as 'enc'"));
  Tensor g = Tensor::zeros({2});
  g.requires_grad_();
  CHECK(contains(error_of([&] { root.register_buffer("g", g); }), "'g' requires grad"));
  CHECK_THROWS_AS(root.register_parameter("x", Tensor()), std::invalid_argument);
  // Nothing half-registered.
  CHECK(names_of(root.named_parameters()) == std::vector<std::string>{"enc.l1.w"});
  CHECK(root.named_buffers().empty());
}

TEST_CASE("Module: registering a subtree re-bases the paths below it") {
  auto inner = std::make_shared<Open>();
  auto deep = inner->register_module("deep", std::make_shared<Open>());
  CHECK(deep->path() == "deep");
  Open root;
  root.register_module("outer", inner);
  CHECK(deep->path() == "outer.deep");
  CHECK(contains(error_of([&] { deep->register_parameter("", Tensor::zeros({1})); }), "'outer.deep'"));
}

TEST_CASE("init: xavier and kaiming stay within their bounds with the right variance") {
  Rng rng(42);
  Tensor w = Tensor::empty({64, 32, 3, 3});  // fan_in 288, fan_out 576, 18432 elements
  int64_t fi = 0, fo = 0;
  nn::init::fans(w, fi, fo);
  CHECK(fi == 288);
  CHECK(fo == 576);
  double mean, var, max_abs;

  nn::init::xavier_uniform_(w, rng);
  const double ax = std::sqrt(6.0 / (288 + 576));
  moments(w, mean, var, max_abs);
  CHECK(max_abs <= ax);
  CHECK(max_abs > 0.99 * ax);
  CHECK(std::abs(mean) < 0.02 * ax);
  CHECK(var == doctest::Approx(ax * ax / 3).epsilon(0.05));  // var of U(-a, a) is a^2 / 3

  nn::init::kaiming_uniform_(w, rng);  // gain sqrt(2): var = 2 / fan_in
  const double ak = std::sqrt(2.0) * std::sqrt(3.0 / 288);
  moments(w, mean, var, max_abs);
  CHECK(max_abs <= ak);
  CHECK(max_abs > 0.99 * ak);
  CHECK(var == doctest::Approx(2.0 / 288).epsilon(0.05));

  Tensor m = Tensor::empty({300, 100}, DType::F64);  // 2-D: (out, in)
  nn::init::kaiming_uniform_(m, rng, 1.0);
  moments(m, mean, var, max_abs);
  CHECK(max_abs <= std::sqrt(3.0 / 100));
  CHECK(var == doctest::Approx(1.0 / 100).epsilon(0.05));

  nn::init::normal_(m, 0.5, rng);
  moments(m, mean, var, max_abs);
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::sqrt(var) == doctest::Approx(0.5).epsilon(0.03));
  CHECK(max_abs > 1.5);  // a normal has tails; a uniform of the same std would stop at 0.87

  nn::init::apply("uniform", m, rng, 0.25);
  moments(m, mean, var, max_abs);
  CHECK(max_abs <= 0.25);
  CHECK(var == doctest::Approx(0.25 * 0.25 / 3).epsilon(0.05));

  nn::init::apply("zeros", m, rng);
  CHECK(m.to_vector() == std::vector<double>(30000, 0.0));
}

TEST_CASE("init: same seed gives bitwise-identical tensors, a different seed different ones") {
  for (const char* scheme : {"uniform", "normal", "xavier_uniform", "kaiming_uniform"}) {
    CAPTURE(scheme);
    Tensor a = Tensor::empty({16, 8}), b = Tensor::empty({16, 8}), c = Tensor::empty({16, 8});
    Rng r1(5), r2(5), r3(6);
    nn::init::apply(scheme, a, r1, 0.1);
    nn::init::apply(scheme, b, r2, 0.1);
    nn::init::apply(scheme, c, r3, 0.1);
    CHECK(bitwise_equal(a, b));
    CHECK_FALSE(bitwise_equal(a, c));
    CHECK(r1.state() == r2.state());  // one draw-pattern per scheme
    // F64 from the same seed agrees with F32 to float rounding.
    Tensor d = Tensor::empty({16, 8}, DType::F64);
    Rng r4(5);
    nn::init::apply(scheme, d, r4, 0.1);
    CHECK(d.to_float_vector() == a.to_float_vector());
  }
}

TEST_CASE("init: errors name the scheme, the bound or the shape") {
  Rng rng(1);
  Tensor w = Tensor::empty({4, 4});
  CHECK(contains(error_of([&] { nn::init::apply("orthogonal", w, rng); }), "'orthogonal'"));
  CHECK(contains(error_of([&] { nn::init::apply("uniform", w, rng); }), "uniform_"));  // a = 0
  CHECK(contains(error_of([&] { nn::init::normal_(w, -1.0, rng); }), "std"));
  Tensor v = Tensor::empty({4});
  CHECK(contains(error_of([&] { nn::init::xavier_uniform_(v, rng); }), "(4,)"));
  Tensor x = Tensor::ones({2}), y = Tensor::ones({2});
  x.requires_grad_();
  Tensor z = x + y;
  CHECK(contains(error_of([&] { nn::init::uniform_(z, 1.0, rng); }), "not a leaf"));
}

TEST_CASE("Rng: deterministic streams, exact resume, below(n) in range and uniform") {
  Rng a(123), b(123), c(124);
  bool all_same = true, any_diff = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    all_same = all_same && x == b.next_u64();
    any_diff = any_diff || x != c.next_u64();
  }
  CHECK(all_same);
  CHECK(any_diff);

  auto saved = a.state();
  std::vector<uint64_t> first;
  for (int i = 0; i < 10; ++i) first.push_back(a.next_u64());
  Rng d(999);
  d.set_state(saved);
  for (int i = 0; i < 10; ++i) CHECK(d.next_u64() == first[i]);

  Rng r(7);
  const uint64_t n = 10;
  std::vector<int> counts(n, 0);
  const int draws = 100000;
  bool in_range = true;
  for (int i = 0; i < draws; ++i) {
    uint64_t k = r.below(n);
    in_range = in_range && k < n;
    if (k < n) ++counts[k];
  }
  CHECK(in_range);
  double chi2 = 0;  // 9 degrees of freedom: P(chi2 > 27.9) = 0.001
  for (int cnt : counts) chi2 += (cnt - draws / 10.0) * (cnt - draws / 10.0) / (draws / 10.0);
  CHECK(chi2 < 27.9);
  CHECK(r.below(1) == 0);
  CHECK_THROWS_AS(r.below(0), std::invalid_argument);

  double lo = 1, hi = 0, s = 0;
  for (int i = 0; i < 10000; ++i) {
    double u = r.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    s += u;
  }
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  CHECK(s / 10000 == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("Conv2d: parameters, mask buffer, masked weights exactly zero, option errors") {
  Rng rng(3);
  nn::Conv2dOptions o = raster_masked_conv(2, 3, 3, 5);  // the taps after the centre masked
  Tensor mask = o.mask;
  nn::Conv2d conv(o, rng);
  CHECK(names_of(conv.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(names_of(conv.named_buffers()) == std::vector<std::string>{"mask"});
  CHECK(conv.num_parameters() == 3 * 2 * 9 + 3);
  CHECK(conv.bias.to_vector() == std::vector<double>(3, 0.0));
  std::vector<double> w = conv.weight.to_vector(), m = mask.to_vector();
  const double a = std::sqrt(3.0 / 18);  // kaiming_uniform, gain 1
  int nonzero = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (m[i] == 0) {
      CHECK(w[i] == 0.0);
      CHECK_FALSE(std::signbit(w[i]));  // +0, not -0 from a negative draw times 0
    }
    CHECK(std::abs(w[i]) <= a);
    nonzero += w[i] != 0;
  }
  CHECK(nonzero == 3 * 2 * 5);
  mask.fill_(1.0);  // the layer keeps its own copy
  CHECK(conv.mask.to_vector() == m);

  Tensor y = conv.forward(Tensor::ones({2, 2, 5, 4}));
  CHECK(y.shape() == Shape{2, 3, 5, 4});
  CHECK(contains(error_of([&] { conv.forward(Tensor::ones({2, 3, 5, 4})); }), "Conv2d"));

  nn::Conv2dOptions bad = o;
  bad.mask = Tensor::ones({3, 2, 3, 2});
  CHECK(contains(error_of([&] { nn::Conv2d c(bad, rng); }), "(3, 2, 3, 2)"));
  bad = o;
  bad.kh = 0;
  CHECK(contains(error_of([&] { nn::Conv2d c(bad, rng); }), "kh=0"));
  bad = o;
  bad.init = "orthogonal";
  CHECK(contains(error_of([&] { nn::Conv2d c(bad, rng); }), "'orthogonal'"));
  bad = o;
  bad.mask = Tensor::full({3, 2, 3, 3}, 0.5);
  CHECK(contains(error_of([&] { nn::Conv2d c(bad, rng); }), "0 or 1"));
  nn::Conv2dOptions nb;
  nb.bias = false;
  nb.dtype = DType::F64;
  nn::Conv2d c2(nb, rng);
  CHECK(names_of(c2.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(c2.weight.dtype() == DType::F64);
  nn::Conv2dOptions o64 = o;  // an F32 mask is converted to the layer's dtype
  o64.dtype = DType::F64;
  o64.mask = Tensor::ones({3, 2, 3, 3});
  nn::Conv2d c3(o64, rng);
  CHECK(c3.mask.dtype() == DType::F64);
  CHECK(c3.forward(Tensor::ones({1, 2, 4, 4}, DType::F64)).dtype() == DType::F64);
}
