// models/receptive_field.cpp: receptive fields from gradients, and their pictures (paper Figure 4).
#include "models/receptive_field.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "framework/core/autograd.h"
#include "framework/io/png.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"

namespace pixelrnn {

double ReceptiveField::pixel(int64_t r, int64_t c) const {
  double s = 0;
  for (int64_t ch = 0; ch < channels; ++ch) s += grad[(ch * height + r) * width + c];
  return s;
}

int64_t ReceptiveField::seen_pixels() const {
  int64_t n = 0;
  for (int64_t r = 0; r < height; ++r)
    for (int64_t c = 0; c < width; ++c)
      if ((r != row || c != col) && pixel(r, c) != 0.0) ++n;
  return n;
}

ReceptiveField receptive_field(PixelModel& model, int64_t row, int64_t col, int64_t channel, int samples,
                               uint64_t seed) {
  const ModelConfig& cfg = model.config();
  const int64_t C = cfg.channels, H = cfg.height, W = cfg.width;
  if (row < 0 || row >= H || col < 0 || col >= W || channel < 0 || channel >= C || samples < 1)
    throw std::invalid_argument("receptive_field: pixel (" + std::to_string(row) + ", " + std::to_string(col) +
                                ") channel " + std::to_string(channel) + " samples " + std::to_string(samples) +
                                " outside the " + std::to_string(C) + "x" + std::to_string(H) + "x" +
                                std::to_string(W) + " image of " + cfg.model);
  fw::Rng rng(seed);
  const int64_t K = cfg.levels == 2 ? 1 : cfg.levels;
  std::vector<double> u(static_cast<size_t>(K), 1.0);
  if (K > 1)
    for (auto& a : u) a = rng.normal();
  ReceptiveField rf{C, H, W, row, col, channel, std::vector<double>(static_cast<size_t>(C * H * W), 0.0)};
  for (int s = 0; s < samples; ++s) {
    std::vector<double> v(static_cast<size_t>(C * H * W));
    for (auto& a : v) a = static_cast<double>(rng.below(static_cast<uint64_t>(cfg.levels)));
    fw::Tensor x = fw::Tensor::from_vector({1, C, H, W}, v);  // x: (1, C, H, W), F64
    if (model.dtype() == fw::DType::F32) x = x.to(fw::DType::F32).detach();
    x.requires_grad_();
    fw::Tensor lg = model.logits(x);  // lg: (1, K, C, H, W)
    // Selection weights: u at (0, :, channel, row, col), zero elsewhere.
    std::vector<double> sel(static_cast<size_t>(lg.numel()), 0.0);
    for (int64_t k = 0; k < K; ++k) sel[((k * C + channel) * H + row) * W + col] = u[k];
    fw::Tensor selt = fw::Tensor::from_vector(lg.shape(), sel);
    if (lg.dtype() == fw::DType::F32) selt = selt.to(fw::DType::F32).detach();
    fw::sum(fw::mul(lg, selt)).backward();
    std::vector<double> g = x.grad().to_vector();
    for (size_t i = 0; i < g.size(); ++i) rf.grad[i] += std::fabs(g[i]) / samples;
  }
  return rf;
}

std::vector<uint8_t> render_receptive_field(const ReceptiveField& rf, int scale, int64_t& out_h, int64_t& out_w) {
  const int64_t H = rf.height, W = rf.width;
  if (scale <= 0) scale = static_cast<int>(std::max<int64_t>(1, 320 / std::max(H, W)));
  out_h = H * scale;
  out_w = W * scale;
  double gmax = 0;
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c)
      if (r != rf.row || c != rf.col) gmax = std::max(gmax, rf.pixel(r, c));
  std::vector<uint8_t> img(static_cast<size_t>(3 * out_h * out_w), 0);
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c) {
      double rgb[3];
      const double g = rf.pixel(r, c);
      const bool future = r > rf.row || (r == rf.row && c > rf.col);
      if (r == rf.row && c == rf.col) {
        rgb[0] = 230, rgb[1] = 40, rgb[2] = 40;  // the target
      } else if (g > 0 && gmax > 0) {
        double t = std::clamp(1.0 + std::log10(g / gmax) / 6.0, 0.0, 1.0);  // 1 at the max, 0 six decades below
        double b = 0.3 + 0.7 * t;
        rgb[0] = 40 * b, rgb[1] = 220 * b, rgb[2] = 255 * b;  // seen: cyan, brighter = larger gradient
      } else if (future) {
        rgb[0] = rgb[1] = rgb[2] = 12;  // the future
      } else {
        rgb[0] = rgb[1] = rgb[2] = 55;  // causal past that this output does not see
      }
      for (int64_t a = 0; a < scale; ++a)
        for (int64_t b = 0; b < scale; ++b) {
          const bool line = scale >= 6 && (a == 0 || b == 0);
          const int64_t y = r * scale + a, x = c * scale + b;
          for (int k = 0; k < 3; ++k)
            img[(k * out_h + y) * out_w + x] = line ? 0 : static_cast<uint8_t>(std::lround(rgb[k]));
        }
    }
  return img;
}

void write_receptive_field_png(const ReceptiveField& rf, const std::string& path, int scale) {
  int64_t h = 0, w = 0;
  std::vector<uint8_t> img = render_receptive_field(rf, scale, h, w);
  fw::io::write_png(path, img.data(), 3, h, w, 1, 255);
}

}  // namespace pixelrnn
