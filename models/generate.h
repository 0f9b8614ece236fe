// models/generate.h: fast generation (the incremental generators of PixelCNN, Row LSTM, Diagonal BiLSTM and, through
// its two networks, the Multi-scale PixelRNN; paper sections 3.1, 3.2, 3.5, 3.6), the same distribution and rng
// use as the raster sampler of models/sampler.h in about one forward pass instead of one per drawn element.
//
// PixelModel::sample(canvas, known, rng, opts) uses it unless opts.naive. docs/models.md ("Fast generation")
// explains why it is exact.
#pragma once
#include <cstdint>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "models/sampler.h"

namespace pixelrnn {

class PixelNetwork;

// The contract of sample_raster (models/sampler.h) for one network: requires canvas (N, C, H, W) of the network's
// configuration with valid values, known undefined or of the same shape with 0/1 entries, small the conditioning
// image (N, C, H/f, W/f) iff the network is conditional. Draws every unknown element in raster order (row, column,
// R, G, B) with one rng.uniform() per drawn element, images in order, by the same rule (draw_element), calling
// opts.progress and opts.on_draw as sample_raster does. Each layer's activation at each pixel is computed once
// (once per colour group for 3 channels) in float32, from caches sized once per call (O(layers x features x H x
// W x N)) and freed on return. Returns a new F32 canvas, known elements copied bit-exactly.
// throws fw::ShapeError / std::invalid_argument naming the model on bad shapes or values.
fw::Tensor generate(const PixelNetwork& net, const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                    const fw::Tensor& small, const SampleOptions& opts, int64_t done_before = 0,
                    int64_t total_extra = 0);

}  // namespace pixelrnn
