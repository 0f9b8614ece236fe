// tests/test_gated.cpp: the Gated PixelCNN (models/gated_pixelcnn.h; "Conditional Image Generation with PixelCNN
// Decoders", section 2): its receptive field is exactly the stacks' geometry with no blind spot, where PixelCNN's
// misses pixels inside its own reach (the blind spot); its parameter names (docs/weights.md); overfitting two
// images with 3 colour channels. Causality of every configuration is in tests/test_models.cpp (for_each_kind).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/gated_pixelcnn.h"
#include "models/pixel_model.h"
#include "models/receptive_field.h"

using namespace pixelrnn;
using fw::Tensor;

namespace {

ModelConfig tiny(const std::string& model, int64_t channels, int64_t levels, int64_t side, int64_t layers) {
  ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = side;
  c.layers = layers;
  c.hidden = channels == 3 ? 6 : 4;
  c.out_hidden = channels == 3 ? 24 : 8;
  return c;
}

Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, int64_t levels, uint64_t seed) {
  fw::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n * c * h * w));
  for (auto& a : v) a = static_cast<float>(rng.below(static_cast<uint64_t>(levels)));
  return Tensor::from_vector({n, c, h, w}, v);
}

using Offsets = std::set<std::pair<int64_t, int64_t>>;  // (row, column) offsets from the output pixel

// PixelCNN's receptive field from its geometry: the 7x7 mask-A input layer's taps, then per block the union of
// the field itself (the residual path) and the field moved by each open tap of the 3x3 mask-B convolution.
Offsets pixelcnn_field(int64_t layers) {
  Offsets f;
  for (int64_t a = -3; a <= 3; ++a)
    for (int64_t b = -3; b <= 3; ++b)
      if (a < 0 || (a == 0 && b < 0)) f.insert({a, b});
  const std::pair<int64_t, int64_t> taps[] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}};
  for (int64_t l = 0; l < layers; ++l) {
    Offsets next = f;
    for (auto [da, db] : taps)
      for (auto [a, b] : f) next.insert({a + da, b + db});
    f = next;
  }
  return f;
}

// The Gated PixelCNN's field from the stacks' geometry (models/gated_pixelcnn.h): rows 1 .. L + 3 above at
// columns within L + 2 either side, and the L + 2 pixels to the left in the pixel's own row.
Offsets gated_field(int64_t layers) {
  Offsets f;
  for (int64_t a = -(layers + 3); a <= -1; ++a)
    for (int64_t b = -(layers + 2); b <= layers + 2; ++b) f.insert({a, b});
  for (int64_t b = -(layers + 2); b <= -1; ++b) f.insert({0, b});
  return f;
}

// The measured field of output (r0, c0), channel 0, as offsets.
Offsets measured(PixelModel& m, int64_t r0, int64_t c0, int64_t side) {
  ReceptiveField rf = receptive_field(m, r0, c0, 0, 3);
  Offsets f;
  for (int64_t r = 0; r < side; ++r)
    for (int64_t c = 0; c < side; ++c)
      if (rf.pixel(r, c) != 0.0) f.insert({r - r0, c - c0});
  return f;
}

std::string show(const Offsets& f) {
  std::string s;
  for (auto [a, b] : f) s += "(" + std::to_string(a) + "," + std::to_string(b) + ") ";
  return s;
}

}  // namespace

TEST_CASE("receptive field: the Gated PixelCNN sees exactly its stacks' geometry, PixelCNN has a blind spot") {
  // A 16x16 image and an output far from the borders, so nothing is clipped.
  const int64_t side = 16, r0 = 10, c0 = 8;
  for (int64_t L : {1, 2, 3}) {
    CAPTURE(L);
    fw::Rng rng(21);
    auto g = make_model(tiny("gated_pixelcnn", 1, 2, side, L), rng);
    const Offsets gf = measured(*g, r0, c0, side), want = gated_field(L);
    INFO("gated measured: " << show(gf));
    CHECK(gf == want);
    // No blind spot: every pixel of the causal past within the field's own bounding box is seen.
    for (int64_t a = -(L + 3); a <= 0; ++a)
      for (int64_t b = -(L + 2); b <= L + 2; ++b)
        if (a < 0 || b < 0) CHECK(gf.count({a, b}) == 1);

    auto p = make_model(tiny("pixelcnn", 1, 2, side, L), rng);
    const Offsets pf = measured(*p, r0, c0, side), pwant = pixelcnn_field(L);
    INFO("pixelcnn measured: " << show(pf));
    CHECK(pf == pwant);
    // PixelCNN's blind spot: causal pixels inside its own reach (L + 3 rows up, L + 3 columns either side) that
    // it never sees, all to the upper right; e.g. (r0 - 1, c0 + 4) at depth 1.
    int64_t blind = 0;
    for (int64_t a = -(L + 3); a <= 0; ++a)
      for (int64_t b = -(L + 3); b <= L + 3; ++b)
        if ((a < 0 || b < 0) && !pwant.count({a, b})) {
          ++blind;
          CHECK(b > 0);
        }
    CHECK(blind > 0);
    CHECK(pwant.count({-1, 4}) == 0);
    CHECK(want.count({-1, L + 2}) == 1);  // the gated model sees the pixel above-right at its full reach
  }
}

TEST_CASE("gated_pixelcnn parameter names and shapes (docs/weights.md)") {
  fw::Rng rng(22);
  ModelConfig c = tiny("gated_pixelcnn", 3, 256, 4, 2);
  c.hidden = 3;
  c.out_hidden = 6;
  auto m = make_model(c, rng);
  std::vector<std::string> got, buffers;
  for (const auto& [n, t] : m->named_parameters()) got.push_back(n + " " + fw::shape_str(t.shape()));
  for (const auto& [n, t] : m->named_buffers()) buffers.push_back(n + " " + fw::shape_str(t.shape()));
  CHECK(got == std::vector<std::string>{
                   "layers.0.v.weight (6, 3, 4, 7)", "layers.0.v.bias (6,)", "layers.0.h.weight (6, 3, 1, 4)",
                   "layers.0.h.bias (6,)", "layers.0.link.weight (6, 6, 1, 1)", "layers.0.link.bias (6,)",
                   "layers.0.out.weight (3, 3, 1, 1)", "layers.0.out.bias (3,)", "layers.1.v.weight (6, 3, 2, 3)",
                   "layers.1.v.bias (6,)", "layers.1.h.weight (6, 3, 1, 2)", "layers.1.h.bias (6,)",
                   "layers.1.link.weight (6, 6, 1, 1)", "layers.1.link.bias (6,)",
                   "layers.1.out.weight (3, 3, 1, 1)", "layers.1.out.bias (3,)", "output.hidden.weight (6, 3, 1, 1)",
                   "output.hidden.bias (6,)", "output.logits.weight (768, 6, 1, 1)", "output.logits.bias (768,)"});
  CHECK(buffers == std::vector<std::string>{"layers.0.h.mask (6, 3, 1, 4)", "layers.0.out.mask (3, 3, 1, 1)",
                                            "layers.1.h.mask (6, 3, 1, 2)", "layers.1.out.mask (3, 3, 1, 1)",
                                            "output.hidden.mask (6, 3, 1, 1)", "output.logits.mask (768, 6, 1, 1)"});
  // The first horizontal kernel's own-pixel column: mask A by colour. Gate maps f | g, each R | G | B (one unit
  // each here); the G unit of z_f (map 1) sees R (input 0) only, the R unit of z_g (map 3) sees nothing.
  auto* g = dynamic_cast<GatedPixelCNN*>(m.get());
  REQUIRE(g != nullptr);
  const Tensor& mask = g->layers->items()[0]->h->mask;
  CHECK(mask.at({1, 0, 0, 3}) == 1);
  CHECK(mask.at({1, 1, 0, 3}) == 0);
  CHECK(mask.at({3, 0, 0, 3}) == 0);
  CHECK(mask.at({5, 1, 0, 3}) == 1);
  CHECK(mask.at({3, 2, 0, 0}) == 1);  // the columns to the left: open
}

TEST_CASE("gated_pixelcnn overfits two images, 1 channel levels 2 and 3 channels levels 256") {
  for (auto [C, K] : {std::pair<int64_t, int64_t>{1, 2}, {3, 256}}) {
    CAPTURE(C);
    fw::Rng rng(23);
    ModelConfig c = tiny("gated_pixelcnn", C, K, C == 1 ? 6 : 4, 2);
    c.hidden = C == 1 ? 8 : 6;
    c.out_hidden = C == 1 ? 16 : 12;
    auto m = make_model(c, rng);
    Tensor batch = random_images(2, C, c.height, c.width, K, 24);
    fw::optim::OptimizerOptions oo;
    oo.name = "adam";
    oo.lr = 0.02;
    auto opt = fw::optim::make_optimizer(m->named_parameters(), oo);
    double first = 0, last = 0;
    for (int s = 0; s < 200; ++s) {
      opt->zero_grad();
      Tensor loss = fw::mul_scalar(fw::sum(m->nll(batch)), 0.5);
      loss.backward();
      opt->step();
      (s == 0 ? first : last) = loss.item();
    }
    MESSAGE("gated_pixelcnn " << C << "x" << K << ": loss " << first << " -> " << last << " nats/image");
    // Start: about E log K nats (E elements); end: far below.
    CHECK(first > 0.8 * double(C * c.height * c.width) * std::log(double(K)));
    CHECK(last < (C == 1 ? 0.2 : 0.3) * first);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Class conditioning (models/class_cond.h): every conditionable model learns p(x | label).

TEST_CASE("class-conditional sampling draws from the conditioned model: one pattern per label is learned") {
  // Label 0: all-black 4x4 images; label 1: all-white. Only the class tells the first pixel which; after
  // training, samples of each label must be that label's image (the unconditional first pixel would be 50/50).
  for (const std::string name : {"gated_pixelcnn", "pixelcnn", "row_lstm", "diagonal_bilstm"}) {
    CAPTURE(name);
    fw::Rng rng(41);
    ModelConfig c = tiny(name, 1, 2, 4, 2);
    c.classes = 2;
    auto m = make_model(c, rng);
    std::vector<float> px;
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < 8; ++i) {
      labels.push_back(i % 2);
      px.insert(px.end(), 16, float(i % 2));
    }
    Tensor batch = Tensor::from_vector({8, 1, 4, 4}, px);
    fw::optim::OptimizerOptions oo;
    oo.name = "adam";
    oo.lr = 0.05;
    auto opt = fw::optim::make_optimizer(m->named_parameters(), oo);
    double last = 0;
    for (int s = 0; s < 150; ++s) {
      opt->zero_grad();
      Tensor loss = fw::mul_scalar(fw::sum(m->class_nll(batch, labels)), 1.0 / 8);
      loss.backward();
      opt->step();
      last = loss.item();
    }
    MESSAGE(name << ": conditional NLL after 150 steps " << last << " nats/image");
    // An unconditional model cannot go below log 2 = 0.69 nats per image here (the first pixel is 50/50).
    CHECK(last < 0.5);
    fw::Rng srng(42);
    Tensor canvas = Tensor::zeros({16, 1, 4, 4});
    std::vector<int64_t> want;
    for (int64_t i = 0; i < 16; ++i) want.push_back(i < 8 ? 0 : 1);
    std::vector<double> v = m->class_sample(canvas, Tensor(), srng, want).to_vector();
    int64_t wrong = 0;
    for (int64_t i = 0; i < 16; ++i)
      for (int64_t k = 0; k < 16; ++k) wrong += v[size_t(i * 16 + k)] != double(want[size_t(i)]);
    CHECK(wrong <= 4);  // of 256 drawn pixels
  }
}

TEST_CASE("class conditioning: errors name the problem; metadata records the classes") {
  fw::Rng rng(43);
  ModelConfig c = tiny("gated_pixelcnn", 1, 2, 4, 1);
  auto plain = make_model(c, rng);
  c.classes = 3;
  auto cond = make_model(c, rng);
  Tensor x = random_images(2, 1, 4, 4, 2, 44);
  CHECK_FALSE(plain->class_conditional());
  CHECK(cond->class_conditional());
  CHECK_THROWS_WITH_AS(cond->nll(x), doctest::Contains("class-conditional (3 classes)"), std::invalid_argument);
  fw::Rng r(1);
  CHECK_THROWS_WITH_AS(cond->sample(x, Tensor(), r), doctest::Contains("give a label"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(plain->class_nll(x, {0, 1}), doctest::Contains("not class-conditional"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cond->class_nll(x, {0, 3}), doctest::Contains("label 3 of image 1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cond->class_nll(x, {0}), doctest::Contains("1 labels for 2 images"), std::invalid_argument);
  ModelConfig p = tiny("pixelcnn", 1, 2, 4, 1);
  p.classes = 3;
  auto pc = make_model(p, rng);
  CHECK_THROWS_WITH_AS(pc->logits(x), doctest::Contains("class-conditional"), std::invalid_argument);
  CHECK(pc->class_logits(x, {2, 0}).shape() == fw::Shape{2, 1, 1, 4, 4});
  // Parameter names (docs/weights.md): the tables come first in their layer / block.
  std::vector<std::string> names;
  for (const auto& [n, t] : cond->named_parameters()) names.push_back(n + " " + fw::shape_str(t.shape()));
  CHECK(names[0] == "layers.0.class_v (3, 8)");
  CHECK(names[1] == "layers.0.class_h (3, 8)");
  bool found = false;
  for (const auto& [n, t] : pc->named_parameters())
    found = found || (n == "blocks.0.class" && t.shape() == fw::Shape{3, 4});
  CHECK(found);
  // Metadata: model.classes round-trips; a checkpoint without the key is unconditional.
  auto meta = c.resolved().to_metadata();
  CHECK(meta.at("model.classes") == "3");
  CHECK(ModelConfig::from_metadata(meta).classes == 3);
  meta.erase("model.classes");
  CHECK(ModelConfig::from_metadata(meta).classes == 0);
  ModelConfig ms = tiny("multiscale", 1, 2, 4, 1);
  ms.classes = 2;
  CHECK_THROWS_WITH_AS(ms.resolved(), doctest::Contains("ModelConfig.classes"), std::invalid_argument);
}
