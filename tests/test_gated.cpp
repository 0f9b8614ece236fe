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
