// tests/test_models.cpp: the PixelRNN models (models/): configuration, masks (paper section 3.4), causality of
// every model for both output kinds and 1 and 3 channels (by gradients and by perturbation), receptive fields
// (section 3.1, 3.2, 3.5, Figure 4), float64 gradient checks of the LSTM layers and the skew path, overfitting a
// tiny batch, sampling, the Multi-scale likelihood (section 3.6) and the parameter naming scheme.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "framework/optim/optimizer.h"
#include "models/lstm.h"
#include "models/masks.h"
#include "models/multiscale.h"
#include "models/network.h"
#include "models/pixel_model.h"
#include "models/receptive_field.h"
#include "models/sampler.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace pixelrnn;
using fw::Tensor;
using test_util::bitwise_equal;
using test_util::leaf;
using test_util::max_abs_diff;

namespace {

ModelConfig tiny(const std::string& model, int64_t channels, int64_t levels, int64_t side, int64_t layers = 2) {
  ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = side;
  c.layers = layers;
  c.hidden = channels == 3 ? 6 : 4;
  c.out_hidden = channels == 3 ? 24 : 8;
  if (model == "multiscale") c.small = side / 2;
  return c;
}

// Random valid images (N, C, H, W) in F32.
Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, int64_t levels, uint64_t seed) {
  fw::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n * c * h * w));
  for (auto& a : v) a = static_cast<float>(rng.below(static_cast<uint64_t>(levels)));
  return Tensor::from_vector({n, c, h, w}, v);
}

// Copies of image 0 of x, `n` times: (n, C, H, W).
Tensor repeat(const Tensor& x, int64_t n) {
  std::vector<float> one = x.to_float_vector(), all;
  for (int64_t i = 0; i < n; ++i) all.insert(all.end(), one.begin(), one.end());
  return Tensor::from_vector({n, x.size(1), x.size(2), x.size(3)}, all);
}

using Logits = std::function<Tensor(const Tensor&)>;  // (N, C, H, W) -> (N, K, C, H, W)

// Raster index of element (channel ch, row r, column c): row, then column, then channel (section 2.1).
int64_t key(int64_t r, int64_t c, int64_t ch, int64_t W, int64_t C) { return (r * W + c) * C + ch; }

// Gradient test, batched: image n of the batch selects output element n (raster order); the gradient of that
// output with respect to image n must be exactly zero at every element whose key is >= n. So that the test is not
// vacuous, at least 90% of the outputs must have a nonzero gradient somewhere before them (not all: with random
// weights, a few outputs can sit behind ReLU units that are off for every input; the receptive-field tests below
// check the exact sets).
void check_causal_gradients(const Logits& f, const Tensor& base, int64_t levels) {
  const int64_t C = base.size(1), H = base.size(2), W = base.size(3), E = C * H * W;
  const int64_t K = levels == 2 ? 1 : levels;
  Tensor x = repeat(base, E);
  x.requires_grad_();
  Tensor lg = f(x);  // (E, K, C, H, W)
  REQUIRE(lg.shape() == fw::Shape{E, K, C, H, W});
  fw::Rng rng(7);
  std::vector<float> sel(static_cast<size_t>(lg.numel()), 0.0f);
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch) {
        int64_t n = key(r, c, ch, W, C);
        for (int64_t k = 0; k < K; ++k)
          sel[(((n * K + k) * C + ch) * H + r) * W + c] = static_cast<float>(0.5 + rng.uniform());
      }
  Tensor st = Tensor::from_vector(lg.shape(), sel);
  if (lg.dtype() == fw::DType::F64) st = st.to(fw::DType::F64).detach();
  fw::sum(fw::mul(lg, st)).backward();
  std::vector<double> g = x.grad().to_vector();
  int64_t violations = 0, blind = 0;
  std::string first;
  for (int64_t n = 0; n < E; ++n) {
    bool any_before = false;
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c)
        for (int64_t ch = 0; ch < C; ++ch) {
          double v = g[((n * C + ch) * H + r) * W + c];
          if (key(r, c, ch, W, C) >= n) {
            if (v != 0.0 && violations++ == 0)
              first = "output element " + std::to_string(n) + " has gradient " + std::to_string(v) +
                      " w.r.t. input (ch " + std::to_string(ch) + ", r " + std::to_string(r) + ", c " +
                      std::to_string(c) + ")";
          } else if (v != 0.0) {
            any_before = true;
          }
        }
    if (n > 0 && !any_before) ++blind;
  }
  INFO(first);
  CHECK(violations == 0);
  CHECK(blind * 10 <= E);
}

// Perturbation test: for each element e, every input element with key >= e is redrawn; the outputs of every
// element with key <= e must stay bit-identical, and (for at least 90% of the e < E - 1, see above) some later
// output must change.
void check_causal_perturbation(const Logits& f, const Tensor& base, int64_t levels) {
  fw::NoGradGuard no_grad;
  const int64_t C = base.size(1), H = base.size(2), W = base.size(3), E = C * H * W;
  const int64_t K = levels == 2 ? 1 : levels;
  std::vector<double> ref = f(base).to_vector();  // (1, K, C, H, W) row-major
  std::vector<float> bv = base.to_float_vector();
  fw::Rng rng(11);
  int64_t violations = 0, unchanged = 0;
  std::string first;
  for (int64_t e = 0; e < E; ++e) {
    std::vector<float> pv = bv;
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c)
        for (int64_t ch = 0; ch < C; ++ch)
          if (key(r, c, ch, W, C) >= e) {
            float& a = pv[(ch * H + r) * W + c];
            a = static_cast<float>((static_cast<uint64_t>(a) + 1 + rng.below(levels - 1)) % levels);  // != before
          }
    std::vector<double> out = f(Tensor::from_vector(base.shape(), pv)).to_vector();
    bool later_changed = false;
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c)
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t k = 0; k < K; ++k) {
            size_t i = static_cast<size_t>(((k * C + ch) * H + r) * W + c);
            if (key(r, c, ch, W, C) <= e) {
              if (out[i] != ref[i] && violations++ == 0)
                first = "perturbing elements >= " + std::to_string(e) + " changed the output of element " +
                        std::to_string(key(r, c, ch, W, C));
            } else if (out[i] != ref[i]) {
              later_changed = true;
            }
          }
    if (e < E - 1 && !later_changed) ++unchanged;
  }
  INFO(first);
  CHECK(violations == 0);
  CHECK(unchanged * 10 <= E);
}

// Both causality tests on one model.
void check_causal(const Logits& f, const Tensor& base, int64_t levels) {
  check_causal_gradients(f, base, levels);
  check_causal_perturbation(f, base, levels);
}

// Calls f(name, channels, levels) for each name and each output kind (1 channel with levels 2 and 256, 3
// channels with levels 256), the three captured for failure messages.
template <class F> void for_each_kind(std::initializer_list<const char*> names, F f) {
  const std::pair<int64_t, int64_t> kinds[] = {{1, 2}, {1, 256}, {3, 256}};
  for (const std::string name : names)
    for (auto [channels, levels] : kinds) {
      CAPTURE(name);
      CAPTURE(channels);
      CAPTURE(levels);
      f(name, channels, levels);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
TEST_CASE("config: defaults, validation naming the field, metadata round trip") {
  ModelConfig c;
  c.model = "row_lstm";
  ModelConfig r = c.resolved();
  CHECK(r.layers == 3);
  CHECK(r.hidden == 16);
  CHECK(r.out_hidden == 32);
  ModelConfig p;
  CHECK(p.resolved().layers == 6);
  p.model = "diagonal_bilstm";
  CHECK(p.resolved().layers == 2);
  ModelConfig big;
  big.levels = 256;
  big.channels = 3;
  ModelConfig br = big.resolved();
  CHECK(br.out_hidden == 1023);
  CHECK(br.hidden == 24);
  big.channels = 1;
  CHECK(big.resolved().out_hidden == 1024);
  ModelConfig ms;
  ms.model = "multiscale";
  CHECK(ms.resolved().small == 14);
  CHECK(ms.resolved().subsample_factor() == 2);

  // Each invalid configuration: a change to c (row_lstm) or ms (multiscale), and a piece of its message.
  struct Bad {
    const ModelConfig& base;
    std::function<void(ModelConfig&)> change;
    std::string what;
  };
  const Bad bads[] = {
      {c, [](ModelConfig& b) { b.channels = 3, b.levels = 256, b.hidden = 16; }, "hidden: 16 does not split"},
      {c, [](ModelConfig& b) { b.channels = 3, b.levels = 256, b.hidden = 12, b.out_hidden = 32; }, "out_hidden: 32"},
      {c, [](ModelConfig& b) { b.channels = 3; }, "levels"},
      {c, [](ModelConfig& b) { b.model = "pixelrnn"; }, "unknown model 'pixelrnn'"},
      {c, [](ModelConfig& b) { b.levels = 16; }, "levels: 16"},
      {ms, [](ModelConfig& b) { b.small = 10; }, "small"},
      {ms, [](ModelConfig& b) { b.inner = "gru"; }, "inner"},
  };
  for (const Bad& bad : bads) {
    ModelConfig b = bad.base;
    bad.change(b);
    CHECK(test_util::throws_with<std::invalid_argument>([&] { b.resolved(); }, {bad.what}));
  }

  ModelConfig m = ms.resolved();
  m.hidden = 12;
  auto meta = m.to_metadata();
  CHECK(meta.at("model.model") == "multiscale");
  ModelConfig back = ModelConfig::from_metadata(meta);
  CHECK(back.diff(m).empty());
  CHECK(back.to_metadata() == meta);
  back.hidden = 24;
  CHECK(back.diff(m) == "hidden: 24 vs 12");
  meta.erase("model.levels");
  CHECK_THROWS_WITH_AS(ModelConfig::from_metadata(meta), doctest::Contains("model.levels"), std::invalid_argument);
  meta = m.to_metadata();
  meta["model.hidden"] = "12x";
  CHECK_THROWS_WITH_AS(ModelConfig::from_metadata(meta), doctest::Contains("model.hidden"), std::invalid_argument);
  CHECK(model_names() ==
        std::vector<std::string>{"pixelcnn", "row_lstm", "diagonal_bilstm", "multiscale", "gated_pixelcnn"});
}

TEST_CASE("masks A and B: greyscale and R, G, B groups (section 3.4)") {
  // Greyscale 3x3: the row above and the left neighbour; the centre only for mask B.
  std::vector<double> a = make_mask(MaskType::A, 3, 3, {0}, {0}, fw::DType::F64).to_vector();
  std::vector<double> b = make_mask(MaskType::B, 3, 3, {0}, {0}, fw::DType::F64).to_vector();
  CHECK(a == std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 0});
  CHECK(b == std::vector<double>{1, 1, 1, 1, 1, 0, 0, 0, 0});
  // Colour, at the centre of a 1x1 kernel: out (R, G, B) x in (R, G, B).
  std::vector<int64_t> rgb = feature_groups(3, 3, "t");
  CHECK(make_mask(MaskType::A, 1, 1, rgb, rgb, fw::DType::F64).to_vector() ==
        std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0});
  CHECK(make_mask(MaskType::B, 1, 1, rgb, rgb, fw::DType::F64).to_vector() ==
        std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});
  // Off-centre taps ignore groups: a B-group output sees an R input at the left neighbour, a G output nothing
  // to its right.
  Tensor m = make_mask(MaskType::A, 1, 3, feature_groups(6, 3, "t"), rgb, fw::DType::F64);  // (6, 3, 1, 3)
  CHECK(m.at({0, 2, 0, 0}) == 1);
  CHECK(m.at({2, 0, 0, 2}) == 0);
  CHECK(feature_groups(6, 3, "t") == std::vector<int64_t>{0, 0, 1, 1, 2, 2});
  CHECK(gate_groups(3, 3, 4, "t") == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
  CHECK_THROWS_WITH_AS(feature_groups(16, 3, "hidden"), doctest::Contains("hidden: 16 features"),
                       std::invalid_argument);
}

TEST_CASE("models build by name; masked weights start at zero; errors name the model") {
  fw::Rng rng(1);
  for (const auto& name : model_names()) {
    CAPTURE(name);
    auto m = make_model(tiny(name, 3, 256, 4), rng);
    CHECK(m->config().model == name);
    CHECK(m->num_parameters() > 0);
    // Every masked weight is exactly zero.
    auto params = m->named_parameters();
    for (const auto& [bname, mask] : m->named_buffers()) {
      REQUIRE(bname.size() > 5);
      std::string wname = bname.substr(0, bname.size() - 4) + "weight";
      Tensor w;
      for (const auto& [pn, pt] : params)
        if (pn == wname) w = pt;
      REQUIRE(w.defined());
      std::vector<double> wv = w.to_vector(), mv = mask.to_vector();
      int64_t bad = 0;
      for (size_t i = 0; i < wv.size(); ++i) bad += mv[i] == 0.0 && wv[i] != 0.0;
      CHECK(bad == 0);
    }
  }
  ModelConfig bad = tiny("row_lstm", 3, 256, 4);
  bad.hidden = 4;
  CHECK_THROWS_WITH_AS(make_model(bad, rng), doctest::Contains("hidden"), std::invalid_argument);
  auto m = make_model(tiny("pixelcnn", 1, 2, 4), rng);
  CHECK_THROWS_AS(m->nll(Tensor::zeros({1, 1, 5, 4})), fw::ShapeError);
  CHECK_THROWS_WITH_AS(m->nll(Tensor::full({1, 1, 4, 4}, 0.5)), doctest::Contains("not 0 or 1"),
                       std::invalid_argument);
}

TEST_CASE("parameter names and shapes (docs/weights.md)") {
  fw::Rng rng(2);
  auto names_shapes = [](const fw::nn::NamedTensors& ps) {
    std::vector<std::string> out;
    for (const auto& [n, t] : ps) out.push_back(n + " " + fw::shape_str(t.shape()));
    return out;
  };
  auto with = [](ModelConfig c, int64_t h, int64_t oh) {
    c.hidden = h;
    c.out_hidden = oh;
    return c;
  };
  ModelConfig c = with(tiny("row_lstm", 1, 2, 4, 1), 2, 4);
  auto m = make_model(c, rng);
  CHECK(names_shapes(m->named_parameters()) ==
        std::vector<std::string>{"input.weight (4, 1, 7, 7)", "input.bias (4,)",
                                 "blocks.0.lstm.input_to_state.weight (8, 4, 1, 3)",
                                 "blocks.0.lstm.input_to_state.bias (8,)",
                                 "blocks.0.lstm.state_to_state.weight (8, 2, 1, 3)",
                                 "blocks.0.expand.weight (4, 2, 1, 1)", "blocks.0.expand.bias (4,)",
                                 "output.hidden.weight (4, 4, 1, 1)", "output.hidden.bias (4,)",
                                 "output.logits.weight (1, 4, 1, 1)", "output.logits.bias (1,)"});
  CHECK(names_shapes(m->named_buffers()) ==
        std::vector<std::string>{"input.mask (4, 1, 7, 7)", "blocks.0.lstm.input_to_state.mask (8, 4, 1, 3)",
                                 "blocks.0.expand.mask (4, 2, 1, 1)", "output.hidden.mask (4, 4, 1, 1)",
                                 "output.logits.mask (1, 4, 1, 1)"});
  c = with(tiny("pixelcnn", 3, 256, 4, 1), 3, 6);
  m = make_model(c, rng);
  CHECK(names_shapes(m->named_parameters()) ==
        std::vector<std::string>{"input.weight (6, 3, 7, 7)", "input.bias (6,)", "blocks.0.reduce.weight (3, 6, 1, 1)",
                                 "blocks.0.reduce.bias (3,)", "blocks.0.conv.weight (3, 3, 3, 3)",
                                 "blocks.0.conv.bias (3,)", "blocks.0.expand.weight (6, 3, 1, 1)",
                                 "blocks.0.expand.bias (6,)", "output.hidden.weight (6, 6, 1, 1)",
                                 "output.hidden.bias (6,)", "output.logits.weight (768, 6, 1, 1)",
                                 "output.logits.bias (768,)"});
  c = with(tiny("diagonal_bilstm", 1, 2, 4, 1), 2, 4);
  m = make_model(c, rng);
  auto dn = names_shapes(m->named_parameters());
  REQUIRE(dn.size() == 14);
  CHECK(dn[2] == "blocks.0.lstm.left_to_right.input_to_state.weight (8, 4, 1, 1)");
  CHECK(dn[4] == "blocks.0.lstm.left_to_right.state_to_state.weight (8, 2, 2, 1)");
  CHECK(dn[5] == "blocks.0.lstm.right_to_left.input_to_state.weight (8, 4, 1, 1)");
  c = with(tiny("multiscale", 1, 2, 4, 1), 2, 4);
  m = make_model(c, rng);
  auto mn = names_shapes(m->named_parameters());
  CHECK(mn.front() == "small.input.weight (4, 1, 7, 7)");
  CHECK(std::find(mn.begin(), mn.end(), "large.blocks.0.cond.weight (8, 2, 1, 1)") != mn.end());
  CHECK(std::find(mn.begin(), mn.end(), "large.condition.conv1.weight (2, 1, 3, 3)") != mn.end());
  CHECK(std::find(mn.begin(), mn.end(), "large.condition.conv2.weight (2, 2, 3, 3)") != mn.end());
}

// ---------------------------------------------------------------------------------------------------------------
TEST_CASE("causality of every model, both output kinds, 1 and 3 channels: gradients and perturbations") {
  for_each_kind({"pixelcnn", "row_lstm", "diagonal_bilstm", "gated_pixelcnn"},
                [](const std::string& name, int64_t C, int64_t K) {
    fw::Rng rng(3);
    ModelConfig cfg = tiny(name, C, K, 5);
    // The Gated PixelCNN's stream into the output stack carries h maps (the others' 2h): 4 units per colour
    // group, as the others have, so that few outputs sit behind ReLUs that are off for every input.
    if (name == "gated_pixelcnn") cfg.hidden = 4 * C;
    auto m = make_model(cfg, rng);
    Tensor base = random_images(1, C, 5, 5, K, 5);
    check_causal([&](const Tensor& x) { return m->logits(x); }, base, K);
  });
}

TEST_CASE("class-conditional models: causal given the labels, and the labels change the output") {
  for_each_kind({"pixelcnn", "row_lstm", "diagonal_bilstm", "gated_pixelcnn"},
                [](const std::string& name, int64_t C, int64_t K) {
    if (C == 1 && K == 256 && name != "gated_pixelcnn") return;  // keep the suite fast
    // The unconditional causality test's models (the same seed; the class tables draw nothing from rng), so
    // that the same few outputs sit behind always-off ReLUs, plus class tables.
    fw::Rng rng(3);
    ModelConfig cfg = tiny(name, C, K, 5);
    if (name == "gated_pixelcnn") cfg.hidden = 4 * C;
    cfg.classes = 3;
    auto m = make_model(cfg, rng);
    // The per-class tables start at zero; give them small values (as after a little training) so the labels matter.
    int64_t tables = 0;
    for (auto& [pname, p] : m->named_parameters())
      if (pname.find("class") != std::string::npos) {
        p.copy_(fw::mul_scalar(gradcheck::random(p.shape(), 40 + tables++), 0.1).to(p.dtype()));
      }
    CHECK(tables == (name == "gated_pixelcnn" ? 2 : 1) * cfg.layers);
    Tensor base = random_images(1, C, 5, 5, K, 5);
    check_causal([&](const Tensor& x) { return m->class_logits(x, std::vector<int64_t>(size_t(x.size(0)), 2)); },
                 base, K);
    fw::NoGradGuard no_grad;
    Tensor two = repeat(base, 2);
    Tensor lg = m->class_logits(two, {0, 1});  // the same image under two labels
    std::vector<double> v = lg.to_vector();
    const size_t half = v.size() / 2;  // (2, K, C, H, W): image 0's then image 1's
    int64_t differ = 0;
    for (size_t i = 0; i < half; ++i) differ += v[i] != v[half + i];
    CHECK(differ * 2 > int64_t(half));  // most outputs, including the first element's (no context, only the class)
    CHECK(v[0] != v[half]);
  });
}

TEST_CASE("Multi-scale causality: each network, the small image counting as context for the large one") {
  for_each_kind({"row_lstm", "pixelcnn", "diagonal_bilstm"}, [](const std::string& inner, int64_t C, int64_t K) {
    if (inner != "row_lstm" && C == 1 && K == 256) return;  // keep the suite fast
    fw::Rng rng(4);
    ModelConfig c = tiny("multiscale", C, K, 6);
    c.inner = inner;
    auto mp = make_model(c, rng);
    auto* m = dynamic_cast<MultiScalePixelRNN*>(mp.get());
    REQUIRE(m != nullptr);
    REQUIRE(m->factor() == 2);
    Tensor base = random_images(1, C, 6, 6, K, 6);
    // The small network alone, on the 3x3 image.
    Tensor sbase = subsample(base, 2);
    check_causal([&](const Tensor& x) { return m->small->logits(x); }, sbase, K);
    // The large network, with the small image held fixed (as context).
    Tensor small_fixed = Tensor::from_vector(sbase.shape(), sbase.to_float_vector());
    Logits fl = [&](const Tensor& x) {
      Tensor s = small_fixed;
      if (x.size(0) > 1) s = repeat(small_fixed, x.size(0));
      return m->large->logits(x, s);
    };
    check_causal(fl, base, K);
    // The large network does see the small image, also its "future": the outputs of the first row depend on
    // the small image's second row, which is the full image's third row.
    Tensor s = Tensor::from_vector(sbase.shape(), sbase.to_float_vector());
    s.requires_grad_();
    Tensor lg = m->large->logits(base, s);  // (1, K, C, 6, 6)
    fw::sum(fw::slice(lg, 3, 0, 1)).backward();
    Tensor gs = s.grad();  // (1, C, 3, 3)
    double g1 = 0;
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t j = 0; j < 3; ++j) g1 += std::fabs(gs.at({0, ch, 1, j}));
    CHECK(g1 > 0.0);
  });
}

// ---------------------------------------------------------------------------------------------------------------
TEST_CASE("receptive field: the Diagonal BiLSTM sees the whole causal past") {
  // Exactly the causal past, with one exception the paper does not mention: the 7x7 mask-A input layer hands
  // the last pixel of a row, (r-1, W-1), only to features of the rows below (there is no later feature in its own
  // row), at columns W-4 .. W-1; the left-to-right LSTM brings row r's features only from columns <= c. So
  // (r, c) does not see (r-1, W-1) when c < W-4. At the last pixel, and wherever c >= W-4, nothing is missed.
  fw::Rng rng(5);
  for (int64_t L : {1, 2}) {
    auto m = make_model(tiny("diagonal_bilstm", 1, 2, 6, L), rng);
    for (auto [r0, c0] : {std::pair<int64_t, int64_t>{5, 5}, {4, 2}, {3, 0}, {2, 1}}) {
      CAPTURE(L);
      CAPTURE(r0);
      CAPTURE(c0);
      ReceptiveField rf = receptive_field(*m, r0, c0, 0, 2);
      const bool blind_spot = c0 < 6 - 4;
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t c = 0; c < 6; ++c) {
          CAPTURE(r);
          CAPTURE(c);
          bool past = r < r0 || (r == r0 && c < c0);
          bool expected = past && !(blind_spot && r == r0 - 1 && c == 5);
          CHECK((rf.pixel(r, c) != 0.0) == expected);
        }
      CHECK(rf.seen_pixels() == r0 * 6 + c0 - (blind_spot ? 1 : 0));
    }
  }
}

TEST_CASE("receptive field: the Row LSTM sees a triangle above the pixel, not the rest of the context") {
  // With the 7x7 mask-A input layer (3 rows up, 3 columns either side) and L Row LSTM layers (input-to-state:
  // the left neighbour; state-to-state: 3 columns of the row above), output (r0, c0) sees exactly
  //   row r0:       columns c0-L-3 .. c0-1
  //   row r0-R > 0: columns c0-R-L-3 .. c0+R+2   (a triangle widening upwards, clipped to the image)
  // so the row LSTM misses context on both sides in the rows just above (paper Figure 4, section 3.1).
  fw::Rng rng(6);
  for (int64_t L : {1, 2}) {
    CAPTURE(L);
    ModelConfig c = tiny("row_lstm", 1, 2, 6, L);
    c.width = 12;
    auto m = make_model(c, rng);
    const int64_t r0 = 5, c0 = 6;
    ReceptiveField rf = receptive_field(*m, r0, c0, 0, 2);
    int64_t missed_context = 0;
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t col = 0; col < 12; ++col) {
        CAPTURE(r);
        CAPTURE(col);
        int64_t R = r0 - r;
        bool expected = R == 0 ? (col >= c0 - L - 3 && col <= c0 - 1)
                               : (R > 0 && col >= c0 - R - L - 3 && col <= c0 + R + 2);
        CHECK((rf.pixel(r, col) != 0.0) == expected);
        bool past = r < r0 || (r == r0 && col < c0);
        missed_context += past && !expected;
      }
    CHECK(missed_context > 0);  // e.g. (4, 11) and (5, 0): context the Row LSTM cannot see
  }
}

TEST_CASE("receptive field: PixelCNN's grows with depth and stays in the causal past") {
  // The 7x7 mask-A layer sees 3 rows up and 3 columns either side; each block's 3x3 mask-B convolution adds one
  // row up and one column either side. So at depth L the field lies within 3 + L rows up and 3 + L columns
  // either side, in the causal past, and holds at least the first layer's 3 * 7 + 3 pixels (the residual path).
  std::vector<int64_t> seen;
  const int64_t r0 = 8, c0 = 6;
  for (int64_t L : {1, 2, 3}) {
    CAPTURE(L);
    fw::Rng rng(7);
    auto m = make_model(tiny("pixelcnn", 1, 2, 12, L), rng);
    ReceptiveField rf = receptive_field(*m, r0, c0, 0, 3);
    int64_t outside = 0;
    for (int64_t r = 0; r < 12; ++r)
      for (int64_t c = 0; c < 12; ++c) {
        bool past = r < r0 || (r == r0 && c < c0);
        bool in_reach = r0 - r <= 3 + L && std::abs(c - c0) <= 3 + L;
        outside += rf.pixel(r, c) != 0.0 && !(past && in_reach);
      }
    CHECK(outside == 0);
    seen.push_back(rf.seen_pixels());
  }
  CHECK(seen[0] >= 3 * 7 + 3);
  CHECK(seen[0] < seen[1]);
  CHECK(seen[1] < seen[2]);
}

TEST_CASE("receptive field picture renders the target, the seen pixels and the rest") {
  fw::Rng rng(8);
  auto m = make_model(tiny("pixelcnn", 1, 2, 8, 1), rng);
  ReceptiveField rf = receptive_field(*m, 4, 4, 0, 1);
  int64_t h = 0, w = 0;
  std::vector<uint8_t> img = render_receptive_field(rf, 10, h, w);
  REQUIRE(h == 80);
  REQUIRE(w == 80);
  auto px = [&](int64_t r, int64_t c, int k) { return img[(k * h + r * 10 + 5) * w + c * 10 + 5]; };
  CHECK(px(4, 4, 0) > 200);           // target: red
  CHECK(px(4, 4, 1) < 100);
  CHECK(px(3, 4, 1) > px(3, 4, 0));   // seen: cyan
  CHECK(px(7, 7, 1) < 30);            // future: dark
  CHECK_THROWS_AS(receptive_field(*m, 8, 0, 0), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------------------
TEST_CASE("float64 gradient checks: Row LSTM, the diagonal (skew) recurrence, Diagonal BiLSTM") {
  using V = std::vector<Tensor>;
  for (int64_t channels : {1, 3}) {
    CAPTURE(channels);
    const int64_t h = channels == 3 ? 3 : 2;
    fw::Rng rng(9);
    LstmOptions o{2 * h, h, channels, fw::DType::F64};
    RowLSTM row(o, rng);
    Tensor x = gradcheck::random({1, 2 * h, 3, 4}, 21);
    Tensor cond = gradcheck::random({1, 4 * h, 3, 4}, 22);
    LstmWeights w = row.weights();
    Tensor wis = gradcheck::random(w.w_is.shape(), 23), bis = gradcheck::random(w.b_is.shape(), 24);
    Tensor wss = gradcheck::random(w.w_ss.shape(), 25);
    for (Tensor* t : {&x, &cond, &wis, &bis, &wss}) t->requires_grad_();
    Tensor mask = w.mask_is;
    auto r = gradcheck::check_gradients(
        "row_lstm", [&](const V& v) { return row_lstm(v[0], LstmWeights{v[2], v[3], mask, v[4]}, v[1]); },
        {x, cond, wis, bis, wss});
    INFO(r.message);
    CHECK(r.ok);

    Tensor gates = gradcheck::random({1, 4 * h, 3, 3}, 26);
    Tensor wss2 = gradcheck::random({4 * h, h, 2, 1}, 27);
    gates.requires_grad_();
    wss2.requires_grad_();
    auto r2 = gradcheck::check_gradients(
        "diagonal_lstm", [](const V& v) { return diagonal_lstm(v[0], v[1]); }, {gates, wss2});
    INFO(r2.message);
    CHECK(r2.ok);

    DiagonalBiLSTM bi(o, rng);
    LstmWeights a = bi.left_to_right->weights(), b = bi.right_to_left->weights();
    Tensor xb = gradcheck::random({1, 2 * h, 3, 3}, 28), cb = gradcheck::random({1, 4 * h, 3, 3}, 29);
    Tensor ai = gradcheck::random(a.w_is.shape(), 30), as = gradcheck::random(a.w_ss.shape(), 31);
    Tensor bi_ = gradcheck::random(b.w_is.shape(), 32), bs = gradcheck::random(b.w_ss.shape(), 33);
    Tensor ab = gradcheck::random(a.b_is.shape(), 34), bb = gradcheck::random(b.b_is.shape(), 35);
    for (Tensor* t : {&xb, &cb, &ai, &as, &bi_, &bs, &ab, &bb}) t->requires_grad_();
    Tensor ma = a.mask_is, mb = b.mask_is;
    auto r3 = gradcheck::check_gradients(
        "diagonal_bilstm",
        [&](const V& v) {
          return diagonal_bilstm(v[0], LstmWeights{v[2], v[6], ma, v[3]}, LstmWeights{v[4], v[7], mb, v[5]}, v[1]);
        },
        {xb, cb, ai, as, bi_, bs, ab, bb});
    INFO(r3.message);
    CHECK(r3.ok);

  }
}

TEST_CASE("Diagonal BiLSTM: the one-sweep form equals the paper's two separate directions, values and gradients") {
  // diagonal_bilstm (both directions as one block-diagonal 8h sweep) against diagonal_bilstm_reference (each
  // direction its own skew -> sweep -> unskew, right-to-left on the mirrored image, then the down-shift and the
  // sum), in float64, on random inputs and weights: square and non-square images, with and without cond.
  struct Geometry {
    int64_t channels, H, W;
    bool cond;
  };
  for (Geometry g : {Geometry{1, 3, 4, false}, Geometry{1, 5, 2, true}, Geometry{3, 4, 3, true}}) {
    CAPTURE(g.channels);
    CAPTURE(g.H);
    CAPTURE(g.W);
    CAPTURE(g.cond);
    const int64_t h = g.channels == 3 ? 3 : 2;
    fw::Rng rng(15);
    DiagonalBiLSTM bi(LstmOptions{2 * h, h, g.channels, fw::DType::F64}, rng);
    const LstmWeights a = bi.left_to_right->weights(), b = bi.right_to_left->weights();
    // v: x, cond, then each direction's w_is, b_is, w_ss: random, not the module's (biases are zero there).
    std::vector<Tensor> v{leaf({2, 2 * h, g.H, g.W}, 41), leaf({2, 4 * h, g.H, g.W}, 42)};
    uint64_t seed = 43;
    for (const LstmWeights* w : {&a, &b})
      for (const Tensor* t : {&w->w_is, &w->b_is, &w->w_ss}) v.push_back(leaf(t->shape(), seed++));
    using Form = fw::Tensor (*)(const Tensor&, const LstmWeights&, const LstmWeights&, const Tensor&);
    const Tensor R = gradcheck::random({2, h, g.H, g.W}, 49);
    // Runs one form; returns its output followed by the gradients of sum(y * R) with respect to v.
    auto run = [&](Form form) {
      for (Tensor& t : v) t.zero_grad();
      Tensor y = form(v[0], LstmWeights{v[2], v[3], a.mask_is, v[4]}, LstmWeights{v[5], v[6], b.mask_is, v[7]},
                      g.cond ? v[1] : Tensor());
      fw::sum(fw::mul(y, R)).backward();
      std::vector<Tensor> out{y.detach()};
      for (size_t i = 0; i < v.size(); ++i)
        if (i != 1 || g.cond) out.push_back(v[i].grad());
      return out;
    };
    const std::vector<Tensor> fast = run(diagonal_bilstm), ref = run(diagonal_bilstm_reference);
    REQUIRE(fast.size() == ref.size());
    for (size_t i = 0; i < fast.size(); ++i) {
      CAPTURE(i);  // 0: the output; then the gradients
      REQUIRE(ref[i].defined());
      CHECK(max_abs_diff(ref[i], Tensor::zeros(ref[i].shape(), fw::DType::F64)) > 1e-3);  // not vacuous
      CHECK(max_abs_diff(fast[i], ref[i]) < 1e-12);
    }
  }
}

TEST_CASE("Row LSTM: the fused recurrence equals the composed reference, values and gradients") {
  // row_lstm (one lstm_scan over the rows) against row_lstm_reference (a conv2d and an lstm_cell per row), in
  // float64 on random inputs and weights, with and without conditioning, 1 and 3 channels.
  for (int64_t channels : {1, 3})
    for (bool with_cond : {false, true}) {
      CAPTURE(channels);
      CAPTURE(with_cond);
      const int64_t h = channels == 3 ? 3 : 2, H = 4, W = 5;
      fw::Rng rng(17);
      RowLSTM layer(LstmOptions{2 * h, h, channels, fw::DType::F64}, rng);
      const LstmWeights lw = layer.weights();
      std::vector<Tensor> v{leaf({2, 2 * h, H, W}, 61), leaf({2, 4 * h, H, W}, 62), leaf(lw.w_is.shape(), 63),
                            leaf(lw.b_is.shape(), 64), leaf(lw.w_ss.shape(), 65)};
      const Tensor R = gradcheck::random({2, h, H, W}, 66);
      using Form = fw::Tensor (*)(const Tensor&, const LstmWeights&, const Tensor&);
      auto run = [&](Form form) {
        for (Tensor& t : v) t.zero_grad();
        Tensor y = form(v[0], LstmWeights{v[2], v[3], lw.mask_is, v[4]}, with_cond ? v[1] : Tensor());
        fw::sum(fw::mul(y, R)).backward();
        std::vector<Tensor> out{y.detach()};
        for (size_t i = 0; i < v.size(); ++i)
          if (i != 1 || with_cond) out.push_back(v[i].grad());
        return out;
      };
      const std::vector<Tensor> fast = run(row_lstm), ref = run(row_lstm_reference);
      REQUIRE(fast.size() == ref.size());
      for (size_t i = 0; i < fast.size(); ++i) {
        CAPTURE(i);  // 0: the output; then the gradients
        CHECK(max_abs_diff(ref[i], Tensor::zeros(ref[i].shape(), fw::DType::F64)) > 1e-3);  // not vacuous
        CHECK(max_abs_diff(fast[i], ref[i]) < 1e-12);
      }
    }
}

TEST_CASE("Diagonal LSTM: the plain sweep equals the fast one; the skew's left padding states are exactly zero") {
  // docs/models.md and docs/weights.md: the left triangle of the skewed map (row r, columns j < r) holds zero
  // gates and sees only zero states, so its states are 0; the right triangle (j >= r + W) carries on from the
  // row's last pixel and is not zero (the unskew drops it).
  const int64_t h = 2, H = 4, W = 3;
  Tensor gates = gradcheck::random({2, 4 * h, H, W}, 51, -2.0, 2.0);  // like input-to-state gates with a bias
  Tensor w_ss = gradcheck::random({4 * h, h, 2, 1}, 52);
  Tensor skewed;  // (2, h, H, W + H - 1)
  Tensor ref = diagonal_lstm_reference(gates, w_ss, &skewed);
  CHECK(max_abs_diff(diagonal_lstm(gates, w_ss), ref) < 1e-14);
  REQUIRE(skewed.shape() == fw::Shape{2, h, H, W + H - 1});
  int64_t left_nonzero = 0, left = 0, right_nonzero = 0, right = 0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t u = 0; u < h; ++u)
      for (int64_t r = 0; r < H; ++r)
        for (int64_t j = 0; j < W + H - 1; ++j) {
          const bool nonzero = skewed.at({n, u, r, j}) != 0.0;
          if (j < r) left++, left_nonzero += nonzero;
          if (j >= r + W) right++, right_nonzero += nonzero;
        }
  CHECK(left == 2 * h * H * (H - 1) / 2);
  CHECK(left_nonzero == 0);
  CHECK(right == left);
  CHECK(right_nonzero == right);
}

TEST_CASE("Diagonal BiLSTM direction: the module's public forwards are causal") {
  // The state-to-state module (a 2x1 Conv2d over a skewed column) pads one row on top, none below: output row r
  // reads rows r-1 and r of its input, never r+1 (which would be a pixel below and to the left: the future).
  // The direction's forward, in its own coordinates, sees exactly the quadrant above and to the left.
  for (int64_t channels : {1, 3}) {
    CAPTURE(channels);
    const int64_t h = channels == 3 ? 3 : 2, H = 4, W = 5;
    fw::Rng rng(16);
    DiagonalDirection d(LstmOptions{2 * h, h, channels, fw::DType::F64}, rng);
    Tensor col = leaf({2, h, H, 1}, 61);  // a skewed column of hidden states
    CHECK(bitwise_equal(d.state_to_state->forward(col), diagonal_state_to_state(col, d.state_to_state->weight)));
    for (int64_t r = 0; r < H; ++r) {
      CAPTURE(r);
      col.zero_grad();
      fw::sum(fw::slice(d.state_to_state->forward(col), 2, r, r + 1)).backward();
      for (int64_t q = 0; q < H; ++q) {
        CAPTURE(q);
        double g = 0;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t u = 0; u < h; ++u) g += std::fabs(col.grad().at({n, u, q, 0}));
        CHECK((g != 0.0) == (q == r - 1 || q == r));
      }
    }
    Tensor x = leaf({1, 2 * h, H, W}, 62), cond = gradcheck::random({1, 4 * h, H, W}, 63);
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c) {
        CAPTURE(r);
        CAPTURE(c);
        x.zero_grad();
        Tensor y = d.forward(x, cond);  // (1, h, H, W)
        fw::sum(fw::slice(fw::slice(y, 2, r, r + 1), 3, c, c + 1)).backward();
        int64_t wrong = 0;
        for (int64_t q = 0; q < H; ++q)
          for (int64_t p = 0; p < W; ++p) {
            double g = 0;
            for (int64_t i = 0; i < 2 * h; ++i) g += std::fabs(x.grad().at({0, i, q, p}));
            wrong += (g != 0.0) != (q <= r && p <= c);
          }
        CHECK(wrong == 0);
      }
  }
}

TEST_CASE("float64 gradient check of a whole tiny Diagonal BiLSTM model's NLL with respect to its input path") {
  // The model in F64 (make_model's dtype): nll's gradient w.r.t. the scaled input flows through the 7x7 mask-A
  // layer, the skew path, the output stack and the softmax; checked element by element against finite
  // differences of logits (the targets stay fixed).
  fw::Rng rng(10);
  auto m = make_model(tiny("diagonal_bilstm", 3, 256, 3, 1), rng, fw::DType::F64);
  CHECK(m->dtype() == fw::DType::F64);
  Tensor x = gradcheck::random({1, 3, 3, 3}, 36, 0.0, 255.0);
  x.requires_grad_();
  auto r = gradcheck::check_gradients(
      "model logits", [&](const std::vector<Tensor>& v) { return m->logits(v[0]); }, {x}, 1e-6, 1e-5, 1e-3);
  INFO(r.message);
  CHECK(r.ok);
}

// ---------------------------------------------------------------------------------------------------------------
namespace {

// Trains on a fixed batch with Adam; returns {first loss, last loss} in nats per image.
std::pair<double, double> overfit(PixelModel& m, const Tensor& batch, int steps, double lr) {
  fw::optim::OptimizerOptions oo;
  oo.name = "adam";
  oo.lr = lr;
  auto opt = fw::optim::make_optimizer(m.named_parameters(), oo);
  double first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    Tensor loss = fw::mul_scalar(fw::sum(m.nll(batch)), 1.0 / static_cast<double>(batch.size(0)));
    loss.backward();
    opt->step();
    double v = loss.item();
    if (s == 0) first = v;
    last = v;
  }
  return {first, last};
}

}  // namespace

TEST_CASE("every model overfits a tiny batch") {
  for (const auto& name : model_names()) {
    CAPTURE(name);
    fw::Rng rng(12);
    ModelConfig c = tiny(name, 1, 2, 6, 2);
    c.hidden = 8;
    c.out_hidden = 16;
    auto m = make_model(c, rng);
    Tensor batch = random_images(2, 1, 6, 6, 2, 13);
    auto t0 = std::chrono::steady_clock::now();
    auto [first, last] = overfit(*m, batch, 200, 0.02);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(name << ": loss " << first << " -> " << last << " nats/image in 200 steps (" << secs << " s)");
    CHECK(first > 20.0);       // about 36 log 2 = 25 at the start
    CHECK(last < 0.2 * first);  // far below
  }
  // The 256-way softmax path with colour masks.
  fw::Rng rng(14);
  ModelConfig c = tiny("pixelcnn", 3, 256, 4, 2);
  c.hidden = 6;
  c.out_hidden = 12;
  auto m = make_model(c, rng);
  Tensor batch = random_images(2, 3, 4, 4, 256, 15);
  auto [first, last] = overfit(*m, batch, 200, 0.02);
  MESSAGE("pixelcnn 3x256: loss " << first << " -> " << last << " nats/image");
  CHECK(first > 250.0);  // about 48 log 256 = 266
  CHECK(last < 0.3 * first);
}

// ---------------------------------------------------------------------------------------------------------------
TEST_CASE("the raster sampler draws each element from its conditional, in raster order") {
  // A scripted test "model": every element's distribution is a point mass on (previous element in raster order + 1) mod K,
  // computed from the canvas it is given; the first element on 7. Sampling must produce the count 7, 8, 9, ...
  const int64_t C = 3, H = 2, W = 3, K = 256;
  LogitsFn scripted = [&](const Tensor& canvas) {
    std::vector<double> v = canvas.to_vector();
    std::vector<float> lg(static_cast<size_t>(K * C * H * W), -1e4f);
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c)
        for (int64_t ch = 0; ch < C; ++ch) {
          int64_t k = key(r, c, ch, W, C);
          const int64_t q = k - 1, qp = q / C;  // the previous element: channel q % C of pixel qp
          int64_t prev = k == 0 ? 6 : static_cast<int64_t>(v[((q % C) * H + qp / W) * W + qp % W]);
          lg[((((prev + 1) % K) * C + ch) * H + r) * W + c] = 1e4f;
        }
    return Tensor::from_vector({1, K, C, H, W}, lg);
  };
  fw::Rng rng(1);
  Tensor out = sample_raster(scripted, K, Tensor::zeros({1, C, H, W}), Tensor(), rng, "scripted");
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch) CHECK(out.at({0, ch, r, c}) == 7 + key(r, c, ch, W, C));
  // A known element is kept, and what follows continues from it.
  Tensor canvas = Tensor::zeros({1, C, H, W}), known = Tensor::zeros({1, C, H, W});
  canvas.set({0, 1, 0, 1}, 100);  // element key 4
  known.set({0, 1, 0, 1}, 1);
  out = sample_raster(scripted, K, canvas, known, rng, "scripted");
  CHECK(out.at({0, 0, 0, 1}) == 10);
  CHECK(out.at({0, 1, 0, 1}) == 100);
  CHECK(out.at({0, 2, 0, 1}) == 101);
  CHECK(canvas.at({0, 1, 0, 1}) == 100);  // the caller's canvas is not written
  CHECK(canvas.at({0, 0, 0, 0}) == 0);
}

TEST_CASE("sampling: valid values, known elements kept, deterministic given the rng, for every model") {
  for (const auto& name : model_names()) {
    CAPTURE(name);
    for (int64_t levels : {2, 256}) {
      const int64_t C = levels == 2 ? 1 : 3;
      fw::Rng init(16);
      auto m = make_model(tiny(name, C, levels, 4, 1), init);
      Tensor canvas = random_images(2, C, 4, 4, levels, 17);
      std::vector<float> kv(static_cast<size_t>(2 * C * 16), 0.0f);
      for (int64_t i = 0; i < 2 * C * 4; ++i) kv[i] = 1;  // some known elements: image 0's first 8C, memory order
      Tensor known = Tensor::from_vector({2, C, 4, 4}, kv);
      fw::Rng r1(99), r2(99);
      Tensor a = m->sample(canvas, known, r1), b = m->sample(canvas, known, r2);
      CHECK(a.to_vector() == b.to_vector());
      check_images(a, C, 4, 4, levels, "sample");
      std::vector<double> av = a.to_vector(), cv = canvas.to_vector();
      int64_t changed_known = 0;
      for (size_t i = 0; i < kv.size(); ++i) changed_known += kv[i] == 1 && av[i] != cv[i];
      CHECK(changed_known == 0);
      fw::Rng r3(100);
      Tensor d = m->sample(canvas, Tensor(), r3);
      CHECK(d.to_vector() != a.to_vector());
    }
  }
}

TEST_CASE("Multi-scale: the likelihood is the small network's plus the large network's off the grid") {
  fw::Rng rng(18);
  ModelConfig c = tiny("multiscale", 3, 256, 6, 1);
  auto mp = make_model(c, rng);
  auto* m = dynamic_cast<MultiScalePixelRNN*>(mp.get());
  REQUIRE(m != nullptr);
  Tensor x = random_images(2, 3, 6, 6, 256, 19);
  Tensor xs = subsample(x, 2);
  REQUIRE(xs.shape() == fw::Shape{2, 3, 3, 3});
  CHECK(xs.at({1, 2, 1, 2}) == x.at({1, 2, 2, 4}));
  std::vector<double> total = m->nll(x).to_vector();        // (2, 3, 6, 6)
  std::vector<double> small = m->small->nll(xs).to_vector();  // (2, 3, 3, 3)
  std::vector<double> large = m->large->nll(x, xs).to_vector();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t col = 0; col < 6; ++col) {
          size_t i = static_cast<size_t>(((n * 3 + ch) * 6 + r) * 6 + col);
          double want = (r % 2 == 0 && col % 2 == 0)
                            ? small[static_cast<size_t>(((n * 3 + ch) * 3 + r / 2) * 3 + col / 2)]
                            : large[i];
          CHECK(total[i] == doctest::Approx(want).epsilon(1e-6));
        }
  // Completions: the known grid pixels survive, the small image is drawn first.
  Tensor known = Tensor::zeros({2, 3, 6, 6});
  for (int64_t ch = 0; ch < 3; ++ch) known.set({0, ch, 2, 2}, 1);
  fw::Rng r1(5);
  Tensor s = m->sample(x, known, r1);
  for (int64_t ch = 0; ch < 3; ++ch) CHECK(s.at({0, ch, 2, 2}) == x.at({0, ch, 2, 2}));
  check_images(s, 3, 6, 6, 256, "multiscale sample");
}
