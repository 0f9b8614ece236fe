// tests/test_generate.cpp: fast generation (models/generate.h) against the naive reference sampler
// (models/sampler.h, one full forward pass per drawn element) for every model of the paper (sections 3.1, 3.2,
// 3.5, 3.6), levels 2 and 256, 1 and 3 channels (R, G, B masks): the same probabilities for every draw, the same
// images, known elements kept bit-exactly, progress reported alike.
//
// How equality is judged. Both samplers draw each element from its distribution with the same rng.uniform() u
// (the same count and order of draws). The fast path sums in another order, so its probabilities differ from the
// naive ones by float32 rounding: every draw's probability vector must agree within 1e-5. The drawn values then
// agree unless u falls within rounding of a decision boundary (levels 2: P(1); levels 256: a cumulative
// probability): only there may the two values differ, and then that image's later elements may differ too (they
// are conditioned on different pixels). The comparison detects exactly that case -- different values while u is
// within 1e-5 of a boundary of either path's distribution -- stops comparing that image, and counts it; different
// values anywhere else fail. Every other image must come out identical.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"
#include "models/sampler.h"

using namespace pixelrnn;
using fw::Tensor;

namespace {

ModelConfig tiny(const std::string& model, int64_t channels, int64_t levels, const std::string& inner = "row_lstm") {
  ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = 6;
  c.layers = 2;
  c.hidden = 6;
  c.out_hidden = 12;
  c.inner = inner;
  if (model == "multiscale") c.small = 3;
  return c.resolved();
}

Tensor random_images(int64_t n, int64_t c, int64_t side, int64_t levels, uint64_t seed) {
  fw::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n * c * side * side));
  for (auto& a : v) a = static_cast<float>(rng.below(static_cast<uint64_t>(levels)));
  return Tensor::from_vector({n, c, side, side}, v);
}

// A few Adam steps on random images, so that biases are non-zero and the weights are not just the initial ones.
void train_a_little(PixelModel& m, int64_t levels, uint64_t seed) {
  const ModelConfig& c = m.config();
  fw::optim::OptimizerOptions oo;
  oo.name = "adam";
  oo.lr = 0.05;
  auto opt = fw::optim::make_optimizer(m.named_parameters(), oo);
  Tensor batch = random_images(2, c.channels, c.height, levels, seed);
  for (int s = 0; s < 3; ++s) {
    opt->zero_grad();
    fw::sum(m.nll(batch)).backward();
    opt->step();
  }
}

struct Draw {
  int64_t n, ch, r, c, value;
  double u;
  std::vector<double> probs;
};

struct Run {
  Tensor out;
  std::vector<Draw> draws;
  std::vector<std::pair<int64_t, int64_t>> progress;
};

Run run(PixelModel& m, const Tensor& canvas, const Tensor& known, uint64_t seed, bool naive) {
  Run res;
  SampleOptions o;
  o.naive = naive;
  o.on_draw = [&](const DrawInfo& d) { res.draws.push_back({d.n, d.channel, d.row, d.col, d.value, d.u, *d.probs}); };
  o.progress = [&](int64_t done, int64_t total) { res.progress.push_back({done, total}); };
  fw::Rng rng(seed);
  res.out = m.sample(canvas, known, rng, o);
  return res;
}

// Is u within tol of a decision boundary of the distribution p (see the file comment)?
bool near_boundary(const std::vector<double>& p, double u, double tol) {
  if (p.size() == 2) return std::fabs(u - p[1]) <= tol;  // levels 2: 1 iff u < P(1)
  double acc = 0;
  for (size_t k = 0; k + 1 < p.size(); ++k)
    if (std::fabs(u - (acc += p[k])) <= tol) return true;
  return false;
}

struct Comparison {
  int64_t draws = 0, near_ties = 0;
  double max_prob_diff = 0, prob_spread = 0;
};

// Compares the fast and the naive runs as described in the file comment.
Comparison compare(const Run& fast, const Run& naive, int64_t N) {
  Comparison res;
  REQUIRE(fast.draws.size() == naive.draws.size());
  std::vector<bool> parted(static_cast<size_t>(N), false);
  double lo = 1, hi = 0;
  for (size_t i = 0; i < fast.draws.size(); ++i) {
    const Draw &a = fast.draws[i], &b = naive.draws[i];
    REQUIRE((a.n == b.n && a.ch == b.ch && a.r == b.r && a.c == b.c && a.u == b.u));
    if (parted[a.n]) continue;
    ++res.draws;
    REQUIRE(a.probs.size() == b.probs.size());
    for (size_t k = 0; k < a.probs.size(); ++k) {
      res.max_prob_diff = std::max(res.max_prob_diff, std::fabs(a.probs[k] - b.probs[k]));
      lo = std::min(lo, b.probs[k]);
      hi = std::max(hi, b.probs[k]);
    }
    if (a.value != b.value) {
      const bool tie = near_boundary(a.probs, a.u, 1e-5) || near_boundary(b.probs, b.u, 1e-5);
      CAPTURE(i);
      CHECK_MESSAGE(tie, "fast and naive drew different values with u = " << a.u << " not near a boundary");
      ++res.near_ties;
      parted[a.n] = true;
    }
  }
  res.prob_spread = hi - lo;
  CHECK(res.max_prob_diff <= 1e-5);
  // Images that never parted are identical.
  const std::vector<float> fa = fast.out.to_float_vector(), na = naive.out.to_float_vector();
  const size_t per = fa.size() / static_cast<size_t>(N);
  for (int64_t n = 0; n < N; ++n)
    if (!parted[n])
      for (size_t e = 0; e < per; ++e) REQUIRE(fa[n * per + e] == na[n * per + e]);
  return res;
}

struct Case {
  std::string model, inner;
  int64_t channels, levels;
};

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  for (const std::string m : {"pixelcnn", "row_lstm", "diagonal_bilstm"})
    for (auto [C, lv] : {std::pair<int64_t, int64_t>{1, 2}, {1, 256}, {3, 256}}) cs.push_back({m, "row_lstm", C, lv});
  for (const std::string in : {"pixelcnn", "row_lstm", "diagonal_bilstm"}) cs.push_back({"multiscale", in, 1, 2});
  cs.push_back({"multiscale", "row_lstm", 1, 256});
  cs.push_back({"multiscale", "diagonal_bilstm", 3, 256});
  return cs;
}

std::string describe(const Case& k) {
  return k.model + (k.model == "multiscale" ? "(" + k.inner + ")" : "") + " C=" + std::to_string(k.channels) +
         " levels=" + std::to_string(k.levels);
}

}  // namespace

TEST_CASE("fast and naive samplers: same probabilities and images for every model, levels and channels") {
  uint64_t seed = 100;
  for (const Case& k : all_cases()) {
    CAPTURE(describe(k));
    fw::Rng init(seed++);
    auto m = make_model(tiny(k.model, k.channels, k.levels, k.inner), init);
    train_a_little(*m, k.levels, seed++);
    const int64_t N = 3;
    Tensor canvas = Tensor::zeros({N, k.channels, 6, 6});
    Run fast = run(*m, canvas, Tensor(), seed, false), naive = run(*m, canvas, Tensor(), seed, true);
    ++seed;
    // Every element drawn once (Multi-scale: the 3x3 small image's, then the rest of the 6x6 one's).
    CHECK(static_cast<int64_t>(fast.draws.size()) == N * k.channels * 36);
    Comparison cmp = compare(fast, naive, N);
    MESSAGE(describe(k) << ": " << cmp.draws << " draws compared, max |p_fast - p_naive| = " << cmp.max_prob_diff
                        << ", near ties " << cmp.near_ties);
    CHECK(cmp.near_ties <= 1);       // u within 1e-5 of a boundary: about 1e-5 per draw at most
    CHECK(cmp.prob_spread > 1e-3);   // the distributions are not all the same (the test is not vacuous)
    CHECK(fast.progress == naive.progress);
    REQUIRE(!fast.progress.empty());
    CHECK(fast.progress.back().first == fast.progress.back().second);
  }
}

TEST_CASE("complete: visible pixels bit-exact, hidden ones as the naive sampler draws them") {
  uint64_t seed = 300;
  for (const Case& k : all_cases()) {
    CAPTURE(describe(k));
    fw::Rng init(seed++);
    auto m = make_model(tiny(k.model, k.channels, k.levels, k.inner), init);
    train_a_little(*m, k.levels, seed++);
    const int64_t N = 3, C = k.channels;
    Tensor canvas = random_images(N, C, 6, k.levels, seed++);
    // Image 0: the bottom half hidden; image 1: a rectangle hidden, and its G channel everywhere visible;
    // image 2: every other element hidden (channels too), so some pixels are partly known.
    std::vector<float> kv(static_cast<size_t>(N * C * 36), 1.0f);
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t c = 0; c < 6; ++c) {
          auto at = [&](int64_t n) { return static_cast<size_t>(((n * C + ch) * 6 + r) * 6 + c); };
          if (r >= 3) kv[at(0)] = 0;
          if (r >= 1 && r < 5 && c >= 2 && c < 5 && !(C == 3 && ch == 1)) kv[at(1)] = 0;
          if ((r * 6 + c + ch) % 2) kv[at(2)] = 0;
        }
    Tensor known = Tensor::from_vector({N, C, 6, 6}, kv);
    Run fast = run(*m, canvas, known, seed, false), naive = run(*m, canvas, known, seed, true);
    ++seed;
    const std::vector<float> out = fast.out.to_float_vector(), in = canvas.to_float_vector();
    int64_t changed = 0, hidden = 0;
    for (size_t e = 0; e < kv.size(); ++e) {
      changed += kv[e] == 1.0f && out[e] != in[e];
      hidden += kv[e] == 0.0f;
    }
    CHECK(changed == 0);
    check_images(fast.out, C, 6, 6, k.levels, "fast completion");
    Comparison cmp = compare(fast, naive, N);
    MESSAGE(describe(k) << ": " << hidden << " hidden elements, max |p_fast - p_naive| = " << cmp.max_prob_diff
                        << ", near ties " << cmp.near_ties);
    CHECK(cmp.near_ties <= 1);
    CHECK(fast.progress == naive.progress);
  }
}

TEST_CASE("fast sampler: deterministic, independent of the thread count, cancellable, errors name the model") {
  fw::Rng init(7);
  auto m = make_model(tiny("diagonal_bilstm", 3, 256), init);
  Tensor canvas = Tensor::zeros({5, 3, 6, 6});
  fw::set_num_threads(1);
  fw::Rng r1(5);
  Tensor a = m->sample(canvas, Tensor(), r1);
  fw::set_num_threads(2);
  fw::Rng r2(5);
  Tensor b = m->sample(canvas, Tensor(), r2);
  fw::set_num_threads(0);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(r1.next_u64() == r2.next_u64());  // the same number of draws
  // A progress callback that throws cancels the call.
  SampleOptions o;
  o.progress = [](int64_t done, int64_t) {
    if (done == 10) throw std::runtime_error("cancelled");
  };
  fw::Rng r3(5);
  CHECK_THROWS_WITH_AS(m->sample(canvas, Tensor(), r3, o), "cancelled", std::runtime_error);
  // Bad canvases.
  fw::Rng r4(5);
  std::string msg;
  try {
    m->sample(Tensor::zeros({1, 3, 5, 6}), Tensor(), r4);
  } catch (const std::exception& e) {
    msg = e.what();
  }
  CHECK(msg.find("diagonal_bilstm") != std::string::npos);
  CHECK(msg.find("(1, 3, 5, 6)") != std::string::npos);
  CHECK_THROWS_AS(m->sample(Tensor::full({1, 3, 6, 6}, 300.0), Tensor(), r4), std::invalid_argument);
}

TEST_CASE("the comparison allows different draws only at a near tie, and then stops comparing that image") {
  // Two scripted runs of 2 images x 2 elements (levels 2). Image 0's first u sits on P(1) = 0.3 up to 1e-7: the
  // paths draw 1 and 0; its second element then differs freely (another context). Image 1 agrees throughout.
  Run fast, naive;
  fast.draws = {{0, 0, 0, 0, 1, 0.3, {0.6999999, 0.3000001}}, {1, 0, 0, 0, 1, 0.9, {0.05, 0.95}},
                {0, 0, 0, 1, 1, 0.1, {0.2, 0.8}}, {1, 0, 0, 1, 0, 0.5, {0.6, 0.4}}};
  naive.draws = {{0, 0, 0, 0, 0, 0.3, {0.7, 0.3}}, {1, 0, 0, 0, 1, 0.9, {0.05, 0.95}},
                 {0, 0, 0, 1, 0, 0.1, {0.95, 0.05}}, {1, 0, 0, 1, 0, 0.5, {0.6, 0.4}}};
  fast.out = Tensor::from_vector({2, 1, 1, 2}, std::vector<float>{1, 1, 1, 0});
  naive.out = Tensor::from_vector({2, 1, 1, 2}, std::vector<float>{0, 0, 1, 0});
  Comparison cmp = compare(fast, naive, 2);
  CHECK(cmp.near_ties == 1);
  CHECK(cmp.draws == 3);  // image 0's second draw is not compared
  CHECK(cmp.max_prob_diff < 1e-6);
  CHECK(near_boundary({0.2, 0.5, 0.3}, 0.7000001, 1e-5));  // levels 256: a cumulative probability
  CHECK(!near_boundary({0.2, 0.5, 0.3}, 0.75, 1e-5));
  CHECK(!near_boundary({0.7, 0.3}, 0.7, 1e-5));  // levels 2: the boundary is P(1), not P(0)
}
