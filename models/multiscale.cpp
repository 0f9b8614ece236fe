// models/multiscale.cpp: the Multi-scale PixelRNN (paper section 3.6): an unconditional network on the
// subsampled image and a conditional one on the full image; exact joint likelihood; small-first sampling.
#include "models/multiscale.h"

#include <stdexcept>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"

namespace pixelrnn {
namespace {

ModelConfig sub_config(const ModelConfig& c, int64_t height, int64_t width) {
  ModelConfig s = c;
  s.model = c.inner;
  s.height = height;
  s.width = width;
  s.small = 0;
  return s;
}

// 1 at the positions of S (row f i, column f j), 0 elsewhere: (1, 1, H, W) in dtype, on device.
fw::Tensor grid_mask(int64_t H, int64_t W, int64_t f, fw::DType dtype, fw::Device device) {
  std::vector<double> m(static_cast<size_t>(H * W), 0.0);
  for (int64_t r = 0; r < H; r += f)
    for (int64_t c = 0; c < W; c += f) m[r * W + c] = 1.0;
  fw::Tensor t = fw::Tensor::from_vector({1, 1, H, W}, m);
  return (dtype == fw::DType::F64 ? t : t.to(dtype)).detach().to_device(device);
}

// The inverse placement of subsample: s: (N, C, H/f, W/f) -> (N, C, H, W), s at the positions of S, 0 elsewhere.
fw::Tensor place(const fw::Tensor& s, int64_t f) {
  const int64_t N = s.size(0), C = s.size(1), h = s.size(2), w = s.size(3);
  if (f == 1) return s;
  fw::Tensor y = fw::reshape(s, {N, C, h, 1, w, 1});                                        // (N, C, h, 1, w, 1)
  y = fw::concat({y, fw::Tensor::zeros({N, C, h, 1, w, f - 1}, s.dtype(), s.device())}, 5);            // (N, C, h, 1, w, f)
  y = fw::concat({y, fw::Tensor::zeros({N, C, h, f - 1, w, f}, s.dtype(), s.device())}, 3);            // (N, C, h, f, w, f)
  return fw::reshape(y, {N, C, h * f, w * f});                                              // (N, C, H, W)
}

}  // namespace

fw::Tensor subsample(const fw::Tensor& x, int64_t f) {
  if (!x.defined() || x.dim() != 4 || f < 1 || x.size(2) % f || x.size(3) % f)
    throw fw::ShapeError("subsample: " + (x.defined() ? x.str() : std::string("undefined")) +
                         " is not (N, C, H, W) with H and W multiples of " + std::to_string(f));
  const int64_t N = x.size(0), C = x.size(1), h = x.size(2) / f, w = x.size(3) / f;
  fw::Tensor y = fw::reshape(x, {N, C, h, f, w, f});  // y: (N, C, h, f, w, f)
  y = fw::slice(fw::slice(y, 3, 0, 1), 5, 0, 1);      // y: (N, C, h, 1, w, 1), the top-left of each block
  return fw::reshape(y, {N, C, h, w});                // (N, C, h, w)
}

MultiScalePixelRNN::MultiScalePixelRNN(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype)
    : PixelModel(cfg, dtype) {
  if (cfg_.model != "multiscale" || cfg_.small < 1 || cfg_.height % cfg_.small)
    throw std::invalid_argument("MultiScalePixelRNN: configuration not resolved (" + cfg_.describe() + ")");
  factor_ = cfg_.height / cfg_.small;
  if (cfg_.width % factor_)
    throw std::invalid_argument("MultiScalePixelRNN: width " + std::to_string(cfg_.width) +
                                " is not a multiple of the subsampling factor " + std::to_string(factor_));
  small = register_module(
      "small", std::make_shared<PixelNetwork>(sub_config(cfg_, cfg_.small, cfg_.width / factor_), rng, dtype));
  large = register_module(
      "large", std::make_shared<PixelNetwork>(sub_config(cfg_, cfg_.height, cfg_.width), rng, dtype, factor_));
}

fw::Tensor MultiScalePixelRNN::logits(const fw::Tensor& x) { return large->logits(x, subsample(x, factor_)); }

fw::Tensor MultiScalePixelRNN::nll(const fw::Tensor& x) {
  fw::Tensor xs = subsample(x, factor_);  // xs: (N, C, H/f, W/f)
  fw::Tensor small_nll = small->nll(xs);  // (N, C, H/f, W/f)
  fw::Tensor large_nll = large->nll(x, xs);  // (N, C, H, W)
  fw::Tensor on_grid = grid_mask(cfg_.height, cfg_.width, factor_, dtype_, x.device());  // (1, 1, H, W)
  fw::Tensor off_grid = fw::add_scalar(fw::neg(on_grid), 1.0);
  return fw::add(fw::mul(large_nll, off_grid), place(small_nll, factor_));  // (N, C, H, W)
}

fw::Tensor MultiScalePixelRNN::sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                      const SampleOptions& opts) {
  fw::NoGradGuard no_grad;
  if (!canvas.defined() || canvas.dim() != 4 || canvas.size(2) != cfg_.height || canvas.size(3) != cfg_.width)
    throw fw::ShapeError("multiscale sample: canvas " + (canvas.defined() ? canvas.str() : std::string("undefined")) +
                         " is not (N, C, " + std::to_string(cfg_.height) + ", " + std::to_string(cfg_.width) + ")");
  if (known.defined() && known.shape() != canvas.shape())
    throw fw::ShapeError("multiscale sample: known " + known.str() + " does not match canvas " + canvas.str());
  const fw::Tensor c32 = canvas.dtype() == fw::DType::F32 ? canvas : canvas.to(fw::DType::F32);
  // 1. The small image: its known elements are those at the positions of S.
  fw::Tensor small_known = known.defined() ? subsample(known, factor_) : fw::Tensor();
  const int64_t C = canvas.size(1), h = cfg_.height / factor_, w = cfg_.width / factor_;
  const int64_t small_total = C * h * w, large_total = C * cfg_.height * cfg_.width;
  SampleOptions small_opts = opts;
  if (opts.progress)
    small_opts.progress = [&](int64_t done, int64_t) { opts.progress(done, small_total + large_total); };
  fw::Tensor s = small->sample(subsample(c32, factor_), small_known, rng, small_opts);  // s: (N, C, H/f, W/f)
  // 2. Write it into the canvas at S and mark those elements known; draw the rest with the large network.
  fw::Tensor on_grid = grid_mask(cfg_.height, cfg_.width, factor_, fw::DType::F32, canvas.device());  // (1, 1, H, W)
  fw::Tensor off_grid = fw::add_scalar(fw::neg(on_grid), 1.0);
  fw::Tensor big = fw::add(fw::mul(c32, off_grid), place(s, factor_));  // (N, C, H, W)
  fw::Tensor big_known = known.defined() ? (known.dtype() == fw::DType::F32 ? known : known.to(fw::DType::F32))
                                         : fw::Tensor::zeros(canvas.shape());
  big_known = fw::add(fw::mul(big_known, off_grid), fw::mul(fw::Tensor::ones(canvas.shape()), on_grid));
  return large->sample(big, big_known, rng, s, opts, small_total, small_total);
}

}  // namespace pixelrnn
