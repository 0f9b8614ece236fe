// models/sampler.h: generation in raster order (paper section 2.1: p(x) = prod_i p(x_i | x_<i), channels R, G,
// B within a pixel) and the input checks shared by the models.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace pixelrnn {

// How to sample. naive: the reference sampler (one full forward pass per drawn element); otherwise the model's
// fast incremental generator where it has one. progress(done, total) is called after each drawn element (done
// counts elements in raster order over the whole canvas, total = C * H * W; for the Multi-scale model the small
// image's elements come first, total = C * (h * w + H * W)); it may throw to cancel (the canvas is discarded).
// on_draw (a debugging and testing hook, normally unset) is called for every single draw, in the order of the
// rng.uniform() calls, with the distribution the element was drawn from (see DrawInfo).
struct DrawInfo {
  int64_t n = 0, channel = 0, row = 0, col = 0;  // the element drawn (coordinates of the network's own canvas:
                                                 // the small image's for the Multi-scale model's first stage)
  double u = 0;                                  // the uniform draw
  int64_t value = 0;                             // the value drawn
  const std::vector<double>* probs = nullptr;    // P(value = k), k = 0 .. levels-1 (levels 2: {1 - p, p})
};
// choose (normally unset) replaces the random draw: it is called for every draw, in the same order as on_draw,
// with the element's DrawInfo (u and value as the rng would have drawn them; probs always filled) and returns the
// value the element takes instead (0 .. levels-1, else std::invalid_argument). rng.uniform() is still called once
// per element, so the rng advances as usual; on_draw then reports the chosen value. Lossless compression
// (tools/pixelrnn/compress.cpp) uses it to drive the generator with the true pixels (encoder) or the decoded
// ones (decoder), so both see the same probabilities.
struct SampleOptions {
  bool naive = false;
  std::function<void(int64_t done, int64_t total)> progress;
  std::function<void(const DrawInfo&)> on_draw;
  std::function<int64_t(const DrawInfo&)> choose;
};

// The value of one draw under opts.choose (see SampleOptions): info.value when choose is unset, else choose's
// answer, checked to lie in 0 .. levels-1 (throws std::invalid_argument naming `who`).
int64_t chosen_value(const SampleOptions& opts, const DrawInfo& info, int64_t levels, const std::string& who);

// The draw rule shared by every sampler: z holds the distribution parameters of one element (levels 2: z[0] is
// the logit of P(1); levels 256: 256 unnormalised log-probabilities). levels 2: 1 iff u < sigmoid(z[0]);
// levels 256: the inverse CDF of softmax(z) at u. When probs is non-null it receives P(value = k) for every k.
int64_t draw_element(const double* z, int64_t levels, double u, std::vector<double>* probs = nullptr);

// The input checks of sample(): canvas (N, C, H, W) of valid values, known undefined or of the same shape with
// 0/1 entries. Returns known as a flat vector (all zeros when undefined). throws naming `who`.
std::vector<double> check_sample_inputs(const fw::Tensor& canvas, const fw::Tensor& known, int64_t levels,
                                        const std::string& who);

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
