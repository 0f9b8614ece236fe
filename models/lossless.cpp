// models/lossless.cpp: model-driven range coding (models/lossless.h).
#include "models/lossless.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "framework/core/rng.h"

namespace pixelrnn {
namespace {

// The rng seed of the generator's (unused) uniform draws; any constant works, both sides use this one.
constexpr uint64_t kSeed = 0;

}  // namespace

std::vector<uint32_t> code_frequencies(const std::vector<double>& probs) {
  return fw::io::quantize_probs(probs, kCodeTotal);
}

void visit_elements(PixelModel& model, const fw::Tensor& x, const std::function<void(const DrawInfo&)>& visit) {
  const ModelConfig& cfg = model.config();
  check_images(x, cfg.channels, cfg.height, cfg.width, cfg.levels, cfg.model + " compress");
  const int64_t N = x.size(0), C = cfg.channels, H = cfg.height, W = cfg.width;
  const std::vector<float> px = x.to_float_vector();
  // Multi-scale: the first N * C * h * w draws are the small image's, small[n, c, i, j] = x[n, c, f i, f j]
  // (models/multiscale.h); the rest are the large image's off-grid elements, in its own coordinates.
  const bool multi = cfg.model == "multiscale";
  const int64_t f = multi ? H / cfg.small : 1;
  const int64_t small_draws = multi ? N * C * (H / f) * (W / f) : 0;
  int64_t count = 0;
  SampleOptions o;
  o.choose = [&](const DrawInfo& d) -> int64_t {
    const int64_t s = count < small_draws ? f : 1;
    ++count;
    const int64_t r = d.row * s, c = d.col * s;
    if (d.n < 0 || d.n >= N || d.channel < 0 || d.channel >= C || r < 0 || r >= H || c < 0 || c >= W)
      throw std::logic_error("visit_elements: draw outside the image");
    const int64_t v = static_cast<int64_t>(px[static_cast<size_t>(((d.n * C + d.channel) * H + r) * W + c)]);
    DrawInfo e = d;
    e.value = v;
    e.row = r;
    e.col = c;
    visit(e);
    return v;
  };
  fw::Rng rng(kSeed);
  model.sample(fw::Tensor::zeros({N, C, H, W}), fw::Tensor(), rng, o);
}

double encode_images(PixelModel& model, const fw::Tensor& x, fw::io::RangeEncoder& enc) {
  double bits = 0;
  visit_elements(model, x, [&](const DrawInfo& d) {
    const std::vector<uint32_t> fr = code_frequencies(*d.probs);
    uint32_t cum = 0;
    for (int64_t k = 0; k < d.value; ++k) cum += fr[static_cast<size_t>(k)];
    const uint32_t q = fr[static_cast<size_t>(d.value)];
    enc.encode(cum, q, kCodeTotal);
    bits -= std::log2(static_cast<double>(q) / kCodeTotal);
  });
  return bits;
}

fw::Tensor decode_images(PixelModel& model, int64_t n, fw::io::RangeDecoder& dec) {
  const ModelConfig& cfg = model.config();
  if (n < 1) throw std::invalid_argument("decode_images: " + std::to_string(n) + " images");
  SampleOptions o;
  o.choose = [&](const DrawInfo& d) -> int64_t {
    return static_cast<int64_t>(dec.decode(code_frequencies(*d.probs), kCodeTotal));
  };
  fw::Rng rng(kSeed);
  return model.sample(fw::Tensor::zeros({n, cfg.channels, cfg.height, cfg.width}), fw::Tensor(), rng, o);
}

}  // namespace pixelrnn
