// models/receptive_field.h: which input pixels an output depends on, measured from the gradients, and drawn as
// a picture (the paper's Figure 4 compares the receptive fields of the models; docs/models.md shows ours).
//
// receptive_field(model, row, col, channel) computes |d s / d x| over x: (C, H, W), where s is a fixed random
// combination sum_k u_k logits[k, channel, row, col] of the output distribution's parameters at that element
// (u_k ~ N(0, 1) from `seed`; u = 1 for the single Bernoulli logit), with the model's current weights, averaged
// over `samples` random input images (valid values for the model's levels). An exactly zero entry means that input
// element is outside the receptive field for those inputs; a model's masks make the whole future exactly zero.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/pixel_model.h"

namespace pixelrnn {

struct ReceptiveField {
  int64_t channels = 0, height = 0, width = 0;  // the image's
  int64_t row = 0, col = 0, channel = 0;        // the output element
  std::vector<double> grad;                     // (C, H, W) row-major: mean |d s / d x|
  // Sum over channels at pixel (r, c).
  double pixel(int64_t r, int64_t c) const;
  // Number of pixels (other than the target) with a nonzero gradient.
  int64_t seen_pixels() const;
};

// requires 0 <= row < H, 0 <= col < W, 0 <= channel < C, samples >= 1; throws std::invalid_argument otherwise.
ReceptiveField receptive_field(PixelModel& model, int64_t row, int64_t col, int64_t channel, int samples = 4,
                               uint64_t seed = 1);

// An RGB picture (3, H*scale, W*scale), planar: the target pixel red; pixels with a nonzero gradient in cyan,
// brighter for larger |gradient| (log scale over 6 decades below the maximum); the causal past that is not seen
// dark grey; the future (later raster positions) near black; thin black lines between pixels when scale >= 6.
// scale 0 picks max(1, 320 / max(H, W)).
std::vector<uint8_t> render_receptive_field(const ReceptiveField& rf, int scale, int64_t& out_h, int64_t& out_w);
// Writes render_receptive_field as a PNG (framework/io/png.h); throws naming the path on I/O errors.
void write_receptive_field_png(const ReceptiveField& rf, const std::string& path, int scale = 0);

}  // namespace pixelrnn
