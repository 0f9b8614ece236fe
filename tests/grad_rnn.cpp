// tests/grad_rnn.cpp: the fused LSTM scan (framework/ops/rnn.cpp): float64 gradient checks, values and gradients
// against the composed reference (per step: conv1d of the previous hidden state as conv2d, sigmoid/tanh, mul,
// add), and bit-identical results at 1, 2 and 3 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/ops/rnn.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"

using namespace fw;
using gradcheck::check_gradients;
using gradcheck::leaf_of;
using gradcheck::random;
using gradcheck::worst_diff;
using V = std::vector<Tensor>;

namespace {
// The composed reference: the same recurrence from small ops. gates: (N, 4h, S, L), w: (4h, h, k).
Tensor lstm_scan_composed(const Tensor& gates, const Tensor& w, int64_t pad_before) {
  const int64_t N = gates.size(0), G = gates.size(1), S = gates.size(2), h = G / 4;
  const int64_t k = w.size(2);
  Tensor w4 = reshape(w, {G, h, 1, k});
  std::vector<Tensor> steps = split(gates, 2, std::vector<int64_t>(static_cast<size_t>(S), 1));
  Tensor hp, cp;
  std::vector<Tensor> hs;
  for (int64_t t = 0; t < S; ++t) {
    Tensor z = steps[t];  // z: (N, 4h, 1, L)
    if (hp.defined()) z = add(z, conv2d(hp, w4, Tensor(), Padding2d{0, 0, pad_before, k - 1 - pad_before}));
    std::vector<Tensor> q = split(z, 1, {h, h, h, h});
    Tensor i = sigmoid(q[0]), f = sigmoid(q[1]), o = sigmoid(q[2]), g = tanh(q[3]);
    Tensor c = mul(i, g);
    if (cp.defined()) c = add(mul(f, cp), c);
    hp = mul(o, tanh(c));
    cp = c;
    hs.push_back(hp);
  }
  (void)N;
  return concat(hs, 2);  // (N, h, S, L)
}

bool same_bits(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}
}  // namespace

GRADCHECK(lstm_scan) {
  // Row-LSTM-like: k = 3 centred; diagonal-like: k = 2 reading (l - 1, l); a single image; a single step.
  REQUIRE_GRAD_OK(check_gradients("lstm_scan (k 3, pad 1)", [](const V& v) { return lstm_scan(v[0], v[1], 1); },
                                  {leaf_of({2, 8, 4, 5}, 41), leaf_of({8, 2, 3}, 42, 0.7)}));
  REQUIRE_GRAD_OK(check_gradients("lstm_scan (k 2, pad 1)", [](const V& v) { return lstm_scan(v[0], v[1], 1); },
                                  {leaf_of({5, 4, 3, 4}, 43), leaf_of({4, 1, 2}, 44)}));
  REQUIRE_GRAD_OK(check_gradients("lstm_scan (one image, one step, k 1)",
                                  [](const V& v) { return lstm_scan(v[0], v[1], 0); },
                                  {leaf_of({1, 4, 1, 3}, 45), leaf_of({4, 1, 1}, 46)}));
}

TEST_CASE("lstm_scan matches the composed recurrence, values and gradients") {
  for (int64_t pb : {0, 1, 2}) {
    Tensor g1 = leaf_of({3, 12, 5, 6}, 50 + pb), w1 = leaf_of({12, 3, 3}, 60 + pb, 0.5);
    Tensor g2 = leaf_of({3, 12, 5, 6}, 50 + pb), w2 = leaf_of({12, 3, 3}, 60 + pb, 0.5);
    Tensor r = random({3, 3, 5, 6}, 70);
    Tensor a = lstm_scan(g1, w1, pb), b = lstm_scan_composed(g2, w2, pb);
    sum(mul(a, r)).backward();
    sum(mul(b, r)).backward();
    INFO("pad_before " << pb);
    for (auto [x, y] : {std::pair{a, b}, std::pair{g1.grad(), g2.grad()}, std::pair{w1.grad(), w2.grad()}}) {
      std::vector<double> u = x.to_vector(), v = y.to_vector();
      REQUIRE(u.size() == v.size());
      double worst = 0;
      for (size_t e = 0; e < u.size(); ++e) worst = std::max(worst, std::fabs(u[e] - v[e]));
      CHECK(worst < 1e-12);
    }
  }
  CHECK_THROWS_WITH_AS(lstm_scan(random({1, 6, 2, 2}, 1), random({8, 2, 3}, 2), 1),
                       doctest::Contains("should be (N, 4h, S, L) and (4h, h, k)"), ShapeError);
  CHECK_THROWS_WITH_AS(lstm_scan(random({1, 8, 2, 2}, 1), random({8, 2, 3}, 2), 3), doctest::Contains("pad_before"),
                       ShapeError);
}

TEST_CASE("lstm_scan in float32 (its own tanh) stays within float rounding of the composed float32 recurrence") {
  // Gate pre-activations spread over [-4, 4] so tanh is exercised on both sides of the |x| = 0.3 switch.
  Tensor g = mul_scalar(random({4, 16, 6, 7}, 90), 4.0).to(DType::F32).detach();
  Tensor w = random({16, 4, 3}, 91).to(DType::F32).detach();
  std::vector<double> a = lstm_scan(g, w, 1).to_vector(), b = lstm_scan_composed(g, w, 1).to_vector();
  double worst = 0;
  for (size_t e = 0; e < a.size(); ++e) worst = std::max(worst, std::fabs(a[e] - b[e]));
  CHECK(worst < 2e-6);
}

TEST_CASE("lstm_scan is bit-identical at 1, 2 and 3 threads (float32)") {
  std::vector<Tensor> ref;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Tensor g = leaf_of({7, 16, 6, 9}, 80).to(DType::F32).detach(), w = leaf_of({16, 4, 3}, 81).to(DType::F32).detach();
    g.requires_grad_();
    w.requires_grad_();
    Tensor y = lstm_scan(g, w, 1);
    sum(mul(y, y)).backward();
    std::vector<Tensor> got = {y.detach(), g.grad(), w.grad()};
    if (ref.empty()) ref = got;
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("threads " << threads << ", output " << i);
      CHECK(same_bits(ref[i], got[i]));
    }
  }
  set_num_threads(0);
}
