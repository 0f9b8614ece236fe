// tests/test_optim.cpp: SGD, RMSProp and Adam against hand-computed steps; state save/restore is bit-exact;
// clip_grad_norm; option validation; masked Conv2d weights stay zero under RMSProp and Adam.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>

#include "framework/core/autograd.h"
#include "framework/core/rng.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/init.h"
#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "tests/test_util.h"

using namespace fw;
using namespace test_util;
using fw::optim::OptimizerOptions;

namespace {

Tensor param_f64(const std::vector<double>& v) {
  Tensor t = Tensor::from_vector({static_cast<int64_t>(v.size())}, v);
  t.requires_grad_();
  return t;
}
void set_grad(Tensor& p, const std::vector<double>& g) {
  p.set_grad(Tensor::from_vector({static_cast<int64_t>(g.size())}, g));
}
OptimizerOptions opts(const std::string& name, double lr) {
  OptimizerOptions o;
  o.name = name;
  o.lr = lr;
  return o;
}
void check_close(const Tensor& t, const std::vector<double>& want, double rel = 1e-13) {
  std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(rel));
}

}  // namespace

TEST_CASE("SGD with momentum: two steps by hand") {
  // lr 0.1, momentum 0.9: v = 0.9 v + g; p -= 0.1 v.
  Tensor p = param_f64({1.0, -2.0, 0.5});
  OptimizerOptions o = opts("sgd", 0.1);
  o.momentum = 0.9;
  auto opt = optim::make_optimizer({{"w", p}}, o);
  set_grad(p, {0.5, -1.0, 2.0});
  opt->step();
  // v1 = g1 = (0.5, -1, 2); p1 = p0 - 0.1 v1 = (0.95, -1.9, 0.3)
  check_close(p, {0.95, -1.9, 0.3});
  set_grad(p, {1.0, 1.0, -1.0});
  opt->step();
  // v2 = 0.9 v1 + g2 = (1.45, 0.1, 0.8); p2 = p1 - 0.1 v2 = (0.805, -1.91, 0.22)
  check_close(p, {0.805, -1.91, 0.22});
  check_close(opt->state()[0].second, {1.45, 0.1, 0.8});
  CHECK(opt->state()[1].second.item() == 2.0);
}

TEST_CASE("RMSProp: rho 0.95, eps 1e-8, three steps by hand") {
  // s = 0.95 s + 0.05 g^2; p -= lr g / (sqrt(s) + 1e-8), lr 0.01.
  Tensor p = param_f64({1.0, -2.0, 0.5});
  OptimizerOptions o = opts("rmsprop", 0.01);
  o.rho = 0.95;
  o.eps = 1e-8;
  auto opt = optim::make_optimizer({{"w", p}}, o);

  set_grad(p, {0.1, -0.4, 0.0});
  opt->step();
  // s1 = 0.05 g^2 = (5e-4, 8e-3, 0); the first step of a nonzero g has size lr / sqrt(0.05) = 0.0447213595...
  const double s1[3] = {0.05 * 0.01, 0.05 * 0.16, 0.0};
  double p1[3] = {1.0 - 0.01 * 0.1 / (std::sqrt(s1[0]) + 1e-8), -2.0 + 0.01 * 0.4 / (std::sqrt(s1[1]) + 1e-8), 0.5};
  check_close(p, {p1[0], p1[1], p1[2]});
  CHECK(p.at({0}) == doctest::Approx(1.0 - 0.044721359549995794).epsilon(1e-7));  // eps shifts it by ~2e-8 rel
  CHECK(p.at({1}) == doctest::Approx(-2.0 + 0.044721359549995794).epsilon(1e-7));

  set_grad(p, {0.2, 0.4, -1.0});
  opt->step();
  // s2 = 0.95 s1 + 0.05 g2^2
  const double s2[3] = {0.95 * s1[0] + 0.05 * 0.04, 0.95 * s1[1] + 0.05 * 0.16, 0.05 * 1.0};
  CHECK(s2[0] == doctest::Approx(0.002475));
  double p2[3] = {p1[0] - 0.01 * 0.2 / (std::sqrt(s2[0]) + 1e-8), p1[1] - 0.01 * 0.4 / (std::sqrt(s2[1]) + 1e-8),
                  p1[2] + 0.01 * 1.0 / (std::sqrt(s2[2]) + 1e-8)};
  check_close(p, {p2[0], p2[1], p2[2]});
  check_close(opt->state()[0].second, {s2[0], s2[1], s2[2]});

  set_grad(p, {-0.3, 0.0, 0.5});
  opt->step();
  const double s3[3] = {0.95 * s2[0] + 0.05 * 0.09, 0.95 * s2[1], 0.95 * s2[2] + 0.05 * 0.25};
  check_close(p, {p2[0] + 0.01 * 0.3 / (std::sqrt(s3[0]) + 1e-8), p2[1],
                  p2[2] - 0.01 * 0.5 / (std::sqrt(s3[2]) + 1e-8)});
  CHECK(opt->state()[1].first == "step");
  CHECK(opt->state()[1].second.item() == 3.0);
}

TEST_CASE("Adam: bias-corrected steps by hand") {
  // b1 0.9, b2 0.999, eps 1e-8, lr 0.001.
  Tensor p = param_f64({1.0, -2.0});
  OptimizerOptions o = opts("adam", 0.001);
  auto opt = optim::make_optimizer({{"w", p}}, o);
  set_grad(p, {0.5, -3.0});
  opt->step();
  // m1 = 0.1 g, v1 = 0.001 g^2; mhat = g, vhat = g^2: each element moves by lr g / (|g| + eps) ~ lr sign(g).
  double m1[2] = {0.1 * 0.5, 0.1 * -3.0}, v1[2] = {0.001 * 0.25, 0.001 * 9.0};
  double p1[2] = {1.0 - 0.001 * (m1[0] / 0.1) / (std::sqrt(v1[0] / (1 - 0.999)) + 1e-8),
                  -2.0 - 0.001 * (m1[1] / 0.1) / (std::sqrt(v1[1] / (1 - 0.999)) + 1e-8)};
  check_close(p, {p1[0], p1[1]}, 1e-12);
  CHECK(p.at({0}) == doctest::Approx(0.999).epsilon(1e-9));
  CHECK(p.at({1}) == doctest::Approx(-1.999).epsilon(1e-9));

  set_grad(p, {-1.0, 1.0});
  opt->step();
  // m2 = 0.9 m1 + 0.1 g2 = (-0.055, -0.17); v2 = 0.999 v1 + 0.001 g2^2; corrections 1 - 0.9^2 = 0.19, 1 - 0.999^2
  double m2[2] = {0.9 * m1[0] - 0.1, 0.9 * m1[1] + 0.1};
  double v2[2] = {0.999 * v1[0] + 0.001, 0.999 * v1[1] + 0.001};
  CHECK(m2[0] == doctest::Approx(-0.055));
  CHECK(m2[1] == doctest::Approx(-0.17));
  const double bc1 = 1 - 0.9 * 0.9, bc2 = 1 - 0.999 * 0.999;
  check_close(p, {p1[0] - 0.001 * (m2[0] / bc1) / (std::sqrt(v2[0] / bc2) + 1e-8),
                  p1[1] - 0.001 * (m2[1] / bc1) / (std::sqrt(v2[1] / bc2) + 1e-8)}, 1e-12);
  auto st = opt->state();
  REQUIRE(st.size() == 3);
  check_close(st[0].second, {m2[0], m2[1]});
  check_close(st[1].second, {v2[0], v2[1]});
}

TEST_CASE("F32 parameters follow the same rule; a parameter without grad is skipped") {
  Tensor a = Tensor::from_vector({2}, std::vector<float>{1.0f, -1.0f});
  Tensor b = Tensor::from_vector({2}, std::vector<float>{3.0f, 4.0f});
  a.requires_grad_();
  b.requires_grad_();
  auto opt = optim::make_optimizer({{"a", a}, {"b", b}}, opts("rmsprop", 0.01));
  a.set_grad(Tensor::from_vector({2}, std::vector<float>{0.25f, -0.5f}));
  opt->step();
  const double d = 0.01 / std::sqrt(0.05);  // first RMSProp step, eps negligible at float precision
  CHECK(a.at({0}) == doctest::Approx(1.0 - d).epsilon(1e-6));
  CHECK(a.at({1}) == doctest::Approx(-1.0 + d).epsilon(1e-6));
  CHECK(b.to_vector() == std::vector<double>{3.0, 4.0});
  CHECK(opt->state()[1].second.to_vector() == std::vector<double>{0.0, 0.0});  // b.square_avg untouched
  opt->zero_grad();
  CHECK_FALSE(a.grad().defined());

  // A gradient of the wrong dtype throws naming the parameter, before anything is updated.
  a.set_grad(Tensor::from_vector({2}, std::vector<float>{1.0f, 1.0f}));
  b.set_grad(Tensor::from_vector({2}, std::vector<double>{1.0, 1.0}));
  const std::vector<double> a_before = a.to_vector();
  CHECK(contains(error_of([&] { opt->step(); }), "'b'"));
  CHECK(a.to_vector() == a_before);
  CHECK(opt->state().back().second.item() == 1.0);
}

TEST_CASE("state() names are complete and stable") {
  Tensor a = param_f64({1, 2}), b = param_f64({3});
  auto names = [&](const std::string& opt_name) {
    std::vector<std::string> out;
    for (auto& [n, t] : optim::make_optimizer({{"a", a}, {"l.b", b}}, opts(opt_name, 0.1))->state()) {
      out.push_back(n);
      if (n == "step") {
        CHECK(t.dtype() == DType::F64);
        CHECK(t.shape() == Shape{1});
      }
    }
    return out;
  };
  CHECK(names("sgd") == std::vector<std::string>{"a.momentum_buffer", "l.b.momentum_buffer", "step"});
  CHECK(names("rmsprop") == std::vector<std::string>{"a.square_avg", "l.b.square_avg", "step"});
  CHECK(names("adam") ==
        std::vector<std::string>{"a.exp_avg", "a.exp_avg_sq", "l.b.exp_avg", "l.b.exp_avg_sq", "step"});
}

namespace {
// A deterministic gradient that depends on the current parameter values and the step number.
void fake_grads(std::vector<Tensor>& ps, int step) {
  Rng rng(1000 + step);
  for (Tensor& p : ps) {
    Tensor g = Tensor::empty(p.shape(), p.dtype());
    const float* pv = p.data<float>();
    float* gv = g.data<float>();
    for (int64_t i = 0; i < p.numel(); ++i) gv[i] = static_cast<float>(0.3 * pv[i] + rng.normal());
    p.set_grad(g);
  }
}
std::vector<Tensor> make_params(uint64_t seed) {
  Rng rng(seed);
  std::vector<Tensor> ps{Tensor::empty({3, 4}), Tensor::empty({5})};
  for (Tensor& p : ps) {
    for (int64_t i = 0; i < p.numel(); ++i) p.data<float>()[i] = static_cast<float>(rng.normal());
    p.requires_grad_();
  }
  return ps;
}
nn::NamedTensors named(const std::vector<Tensor>& ps) { return {{"w", ps[0]}, {"b", ps[1]}}; }
}  // namespace

TEST_CASE("load_state(state()) resumes bit-identically") {
  for (const char* name : {"sgd", "rmsprop", "adam"}) {
    CAPTURE(name);
    // Run A: 5 steps straight.
    std::vector<Tensor> pa = make_params(7);
    auto oa = optim::make_optimizer(named(pa), opts(name, 0.05));
    for (int s = 0; s < 5; ++s) {
      fake_grads(pa, s);
      oa->step();
    }
    // Run B: 2 steps, deep-copy params and optimizer state, continue on fresh objects for 3 steps.
    std::vector<Tensor> pb = make_params(7);
    nn::NamedTensors saved;
    {
      auto ob = optim::make_optimizer(named(pb), opts(name, 0.05));
      for (int s = 0; s < 2; ++s) {
        fake_grads(pb, s);
        ob->step();
      }
      for (auto& [n, t] : ob->state()) saved.emplace_back(n, t.detach().clone().detach());
    }
    std::vector<Tensor> pc{pb[0].detach().clone().detach(), pb[1].detach().clone().detach()};
    for (Tensor& p : pc) p.requires_grad_();
    auto oc = optim::make_optimizer(named(pc), opts(name, 0.05));
    oc->load_state(saved);
    CHECK(oc->state().back().second.item() == 2.0);
    for (int s = 2; s < 5; ++s) {
      fake_grads(pc, s);
      oc->step();
    }
    CHECK(bitwise_equal(pa[0], pc[0]));
    CHECK(bitwise_equal(pa[1], pc[1]));
    CHECK_FALSE(bitwise_equal(pa[0], pb[0]));  // the comparison can fail: B's originals stopped after 2 steps
    auto sa = oa->state(), sc = oc->state();
    REQUIRE(sa.size() == sc.size());
    for (size_t i = 0; i < sa.size(); ++i) CHECK(bitwise_equal(sa[i].second, sc[i].second));
  }
}

TEST_CASE("load_state rejects missing, extra and mis-shaped entries, naming them") {
  std::vector<Tensor> ps = make_params(3);
  auto opt = optim::make_optimizer(named(ps), opts("adam", 0.01));
  nn::NamedTensors good;
  for (auto& [n, t] : opt->state()) good.emplace_back(n, t.clone().detach());
  CHECK_NOTHROW(opt->load_state(good));

  nn::NamedTensors missing(good.begin() + 1, good.end());
  std::string e = error_of([&] { opt->load_state(missing); });
  CHECK(contains(e, "missing"));
  CHECK(contains(e, "'w.exp_avg'"));

  nn::NamedTensors extra = good;
  extra.emplace_back("w.momentum_buffer", Tensor::zeros({3, 4}));
  e = error_of([&] { opt->load_state(extra); });
  CHECK(contains(e, "'w.momentum_buffer'"));

  nn::NamedTensors bad_shape = good;
  REQUIRE(bad_shape[2].first == "b.exp_avg");
  bad_shape[2].second = Tensor::zeros({4, 3});  // b is (5,)
  e = error_of([&] { opt->load_state(bad_shape); });
  CHECK(contains(e, "'b.exp_avg'"));
  CHECK(contains(e, "(4, 3)"));

  nn::NamedTensors bad_dtype = good;
  bad_dtype.back().second = Tensor::zeros({1}, DType::F32);
  CHECK(contains(error_of([&] { opt->load_state(bad_dtype); }), "'step'"));

  // A failed load changes nothing.
  good.back().second.fill_(4.0);
  opt->load_state(good);
  CHECK_THROWS_AS(opt->load_state(missing), std::invalid_argument);
  CHECK(opt->state().back().second.item() == 4.0);
}

TEST_CASE("clip_grad_norm returns the global norm and scales only above max_norm") {
  Tensor a = param_f64({0, 0}), b = param_f64({0}), c = param_f64({5});
  set_grad(a, {3.0, 4.0});
  set_grad(b, {12.0});  // global norm sqrt(9 + 16 + 144) = 13; c has no grad and is ignored
  CHECK(optim::clip_grad_norm({a, b, c}, 26.0) == 13.0);
  CHECK(a.grad().to_vector() == std::vector<double>{3.0, 4.0});  // below max: untouched
  CHECK(optim::clip_grad_norm({a, b, c}, 13.0) == 13.0);
  CHECK(b.grad().to_vector() == std::vector<double>{12.0});      // at max: untouched
  CHECK(optim::clip_grad_norm({a, b, c}, 6.5) == 13.0);
  CHECK(a.grad().to_vector() == std::vector<double>{1.5, 2.0});  // scaled by 6.5 / 13 = 0.5
  CHECK(b.grad().to_vector() == std::vector<double>{6.0});
  CHECK_FALSE(c.grad().defined());
  CHECK(optim::clip_grad_norm({a, b, c}, 100.0) == doctest::Approx(6.5));
  CHECK(contains(error_of([&] { optim::clip_grad_norm({a}, 0.0); }), "max_norm"));
  CHECK(contains(error_of([&] { optim::clip_grad_norm({a}, -1.0); }), "max_norm"));
}

TEST_CASE("bad options throw naming the optimizer and the option") {
  Tensor p = param_f64({1});
  nn::NamedTensors ps{{"p", p}};
  std::string e = error_of([&] { optim::make_optimizer(ps, opts("adagrad", 0.1)); });
  CHECK(contains(e, "'adagrad'"));
  e = error_of([&] { optim::make_optimizer(ps, opts("rmsprop", -0.1)); });
  CHECK(contains(e, "rmsprop"));
  CHECK(contains(e, "lr"));
  CHECK(contains(e, "-0.1"));
  OptimizerOptions o = opts("rmsprop", 0.1);
  o.rho = 1.0;
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "rho"));
  o = opts("adam", 0.1);
  o.beta2 = 1.5;
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "beta2"));
  o = opts("sgd", 0.1);
  o.momentum = -0.5;
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "momentum"));
  o = opts("adam", std::nan(""));
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "lr"));
  o = opts("adam", 0.1);
  o.eps = -1e-8;
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "eps"));
  o.eps = 0.0;  // a zero gradient would give 0 / 0
  CHECK(contains(error_of([&] { optim::make_optimizer(ps, o); }), "eps"));
  CHECK(contains(error_of([&] { optim::make_optimizer({{"p", p}, {"p", p}}, opts("sgd", 0.1)); }), "'p'"));
  CHECK_NOTHROW(optim::make_optimizer(ps, opts("sgd", 0.0)));
}

TEST_CASE("masked Conv2d weights stay exactly zero under RMSProp and Adam") {
  for (const char* name : {"rmsprop", "adam"}) {
    CAPTURE(name);
    Rng rng(11);
    nn::Conv2dOptions o = raster_masked_conv(2, 4, 3, 4);  // PixelCNN-style: only taps above / left of the centre
    nn::Conv2d conv(o, rng);
    const std::vector<double> w0 = conv.weight.to_vector(), m = conv.mask.to_vector();
    auto opt = optim::make_optimizer(conv.named_parameters(), opts(name, 0.05));
    for (int s = 0; s < 4; ++s) {
      Tensor x = Tensor::empty({2, 2, 5, 5}), r = Tensor::empty({2, 4, 5, 5});
      nn::init::normal_(x, 1.0, rng);
      nn::init::normal_(r, 1.0, rng);
      opt->zero_grad();
      sum(mul(conv.forward(x), r)).backward();  // a random linear loss
      opt->step();
    }
    std::vector<double> w = conv.weight.to_vector();
    int masked = 0, moved = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      if (m[i] == 0) {
        ++masked;
        CHECK(w[i] == 0.0);
        CHECK_FALSE(std::signbit(w[i]));  // untouched: still the +0 the layer wrote
      } else {
        moved += w[i] != w0[i];
      }
    }
    CHECK(masked == 4 * 2 * 5);
    CHECK(moved == 4 * 2 * 4);  // every unmasked tap was updated, so the loss really reached the weight
  }
}
