// models/sampler.h: generation in raster order (paper section 2.1: p(x) = prod_i p(x_i | x_<i), channels R, G,
// B within a pixel) and the input checks shared by the models.
#pragma once
#include <functional>
#include <string>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace pixelrnn {

// How to sample. naive: the reference sampler (one full forward pass per drawn element); otherwise the model's
// fast incremental generator where it has one. progress(done, total) is called after each drawn element (done
// counts elements in raster order over the whole canvas, total = C * H * W; for the Multi-scale model the small
// image's elements come first, total = C * (h * w + H * W)); it may throw to cancel (the canvas is discarded).
struct SampleOptions {
  bool naive = false;
  std::function<void(int64_t done, int64_t total)> progress;
};

// Maps a canvas (N, C, H, W) of pixel values to distribution parameters (N, K, C, H, W) (see PixelModel::logits).
using LogitsFn = std::function<fw::Tensor(const fw::Tensor& canvas)>;

// The generic sampler. requires canvas (N, C, H, W) of valid values, known undefined or of the same shape with
// 0/1 entries. For each element in raster order (row, column, then channel) that is unknown in at least one
// image, runs logits_fn on the current canvas (one full forward pass) and draws that element for every image
// where it is unknown: levels 2: 1 with probability sigmoid(logit); levels 256: a category from
// softmax(logits), by inverse CDF. One rng.uniform() per drawn element, images in order, so the result is a
// function of the rng state. Runs under fw::NoGradGuard; returns a new F32 canvas (known elements copied).
// throws std::invalid_argument / fw::ShapeError naming `who` on bad shapes or values.
// opts.progress is called as described for SampleOptions (total = C * H * W, plus `done_before` and
// `total_extra` for a caller that samples in stages).
fw::Tensor sample_raster(const LogitsFn& logits_fn, int64_t levels, const fw::Tensor& canvas,
                         const fw::Tensor& known, fw::Rng& rng, const std::string& who,
                         const SampleOptions& opts = {}, int64_t done_before = 0, int64_t total_extra = 0);

// Checks x: (N, C, H, W) with N >= 1 and values {0, 1} (levels 2) or whole numbers 0..255 (levels 256).
// throws fw::ShapeError (shape) or std::invalid_argument (values) naming `who`, the index and the value.
void check_images(const fw::Tensor& x, int64_t channels, int64_t height, int64_t width, int64_t levels,
                  const std::string& who);

}  // namespace pixelrnn
