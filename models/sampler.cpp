// models/sampler.cpp: raster-order sampling (paper section 2.1) and image checks.
#include "models/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "framework/core/autograd.h"

namespace pixelrnn {

void check_images(const fw::Tensor& x, int64_t channels, int64_t height, int64_t width, int64_t levels,
                  const std::string& who) {
  if (!x.defined()) throw std::invalid_argument(who + ": the image batch is undefined");
  if (x.dim() != 4 || x.size(0) < 1 || x.size(1) != channels || x.size(2) != height || x.size(3) != width)
    throw fw::ShapeError(who + ": images " + x.str() + " should be (N, " + std::to_string(channels) + ", " +
                         std::to_string(height) + ", " + std::to_string(width) + ") with N >= 1");
  std::vector<double> v = x.to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    double a = v[i];
    bool ok = levels == 2 ? (a == 0.0 || a == 1.0) : (a >= 0.0 && a <= 255.0 && a == std::floor(a));
    if (!ok)
      throw std::invalid_argument(who + ": element " + std::to_string(i) + " is " + std::to_string(a) +
                                  (levels == 2 ? ", not 0 or 1 (levels 2)" : ", not a whole number 0..255"));
  }
}

int64_t draw_element(const double* z, int64_t levels, double u, std::vector<double>* probs) {
  if (levels == 2) {
    const double p = 1.0 / (1.0 + std::exp(-z[0]));
    if (probs) *probs = {1.0 - p, p};
    return u < p ? 1 : 0;
  }
  const int64_t K = levels;
  std::vector<double> e(static_cast<size_t>(K));
  double mx = -INFINITY;
  for (int64_t k = 0; k < K; ++k) mx = std::max(mx, z[k]);
  double total = 0;
  for (int64_t k = 0; k < K; ++k) total += (e[k] = std::exp(z[k] - mx));
  if (probs) {
    probs->resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) (*probs)[k] = e[k] / total;
  }
  double target = u * total, acc = 0;
  int64_t k = 0;
  for (; k < K - 1; ++k) {
    acc += e[k];
    if (target < acc) break;
  }
  return k;
}

int64_t chosen_value(const SampleOptions& opts, const DrawInfo& info, int64_t levels, const std::string& who) {
  if (!opts.choose) return info.value;
  const int64_t v = opts.choose(info);
  if (v < 0 || v >= levels)
    throw std::invalid_argument(who + ": the choose hook returned " + std::to_string(v) + " for element (n " +
                                std::to_string(info.n) + ", channel " + std::to_string(info.channel) + ", row " +
                                std::to_string(info.row) + ", col " + std::to_string(info.col) + "), not in 0.." +
                                std::to_string(levels - 1));
  return v;
}

std::vector<double> check_sample_inputs(const fw::Tensor& canvas, const fw::Tensor& known, int64_t levels,
                                        const std::string& who) {
  if (!canvas.defined() || canvas.dim() != 4) throw fw::ShapeError(who + ": canvas must be (N, C, H, W)");
  const int64_t N = canvas.size(0), C = canvas.size(1), H = canvas.size(2), W = canvas.size(3);
  check_images(canvas, C, H, W, levels, who + " canvas");
  std::vector<double> kn(static_cast<size_t>(N * C * H * W), 0.0);
  if (known.defined()) {
    if (known.shape() != canvas.shape())
      throw fw::ShapeError(who + ": known " + known.str() + " does not match canvas " + canvas.str());
    kn = known.to_vector();
    for (double k : kn)
      if (k != 0.0 && k != 1.0) throw std::invalid_argument(who + ": known must hold 0/1 entries, got " +
                                                            std::to_string(k));
  }
  return kn;
}

fw::Tensor sample_raster(const LogitsFn& logits_fn, int64_t levels, const fw::Tensor& canvas,
                         const fw::Tensor& known, fw::Rng& rng, const std::string& who,
                         const SampleOptions& opts, int64_t done_before, int64_t total_extra) {
  fw::NoGradGuard no_grad;
  const std::vector<double> kn = check_sample_inputs(canvas, known, levels, who);
  const int64_t N = canvas.size(0), C = canvas.size(1), H = canvas.size(2), W = canvas.size(3);
  // A fresh F32 copy: the caller's canvas is never written.
  fw::Tensor out = fw::Tensor::from_vector(canvas.shape(), canvas.to_float_vector());
  float* px = out.data<float>();
  auto idx = [&](int64_t n, int64_t c, int64_t r, int64_t j) { return ((n * C + c) * H + r) * W + j; };
  std::vector<double> z, probs;
  for (int64_t r = 0; r < H; ++r)
    for (int64_t j = 0; j < W; ++j)
      for (int64_t c = 0; c < C; ++c) {
        bool any = false;
        for (int64_t n = 0; n < N && !any; ++n) any = kn[idx(n, c, r, j)] == 0.0;
        if (!any) continue;  // known everywhere: no forward pass needed
        fw::Tensor lg = logits_fn(out);  // lg: (N, K, C, H, W)
        const int64_t K = lg.size(1);
        if (lg.dim() != 5 || lg.size(0) != N || lg.size(2) != C || lg.size(3) != H || lg.size(4) != W ||
            K != (levels == 2 ? 1 : levels))
          throw fw::ShapeError(who + ": logits " + lg.str() + " do not match canvas " + canvas.str());
        z.resize(static_cast<size_t>(K));
        for (int64_t n = 0; n < N; ++n) {
          if (kn[idx(n, c, r, j)] != 0.0) continue;
          const double u = rng.uniform();
          for (int64_t k = 0; k < K; ++k) z[k] = lg.at({n, k, c, r, j});
          const bool want = opts.on_draw || opts.choose;
          int64_t value = draw_element(z.data(), levels, u, want ? &probs : nullptr);
          if (opts.choose) value = chosen_value(opts, DrawInfo{n, c, r, j, u, value, &probs}, levels, who);
          px[idx(n, c, r, j)] = static_cast<float>(value);
          if (opts.on_draw) opts.on_draw(DrawInfo{n, c, r, j, u, value, &probs});
        }
        if (opts.progress) opts.progress(done_before + (r * W + j) * C + c + 1, total_extra + C * H * W);
      }
  return out;
}

}  // namespace pixelrnn
