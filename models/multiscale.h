// models/multiscale.h: the Multi-scale PixelRNN (paper section 3.6).
//
// Two networks (models/network.h) of the same layer kind (config.inner: row_lstm by default, or pixelcnn,
// diagonal_bilstm), registered as "small" and "large":
//   small: an unconditional PixelRNN on the s x s' subsampled image (s = config.small, f = H / s, s' = W / f);
//   large: a PixelRNN on the full H x W image whose every block is conditioned on the small image (its
//          ConditioningNet upsamples the small image to an h x H x W map; each block's unmasked 1x1 "cond"
//          convolution turns it into the 4h gate maps (h maps for PixelCNN blocks), added as a bias).
// Subsampling: the small image is the full image's pixel at the top-left of each f x f block:
//   small[n, c, i, j] = x[n, c, f i, f j].
// So the small image's pixels are a subset S of the full image's, and the likelihood is exact:
//   log p(x) = log p_small(x_S) + sum_{(r, c) not in S} log p_large(x_rc | x_<rc, x_S),
// a proper autoregressive factorisation (x_S first, then the other pixels in raster order). nll(x) returns it
// per element in (N, C, H, W): at each position of S (row f i, column f j) the small network's term for small
// pixel (i, j); elsewhere the large network's term. Its sum over (C, H, W) is -log p(x); the large network's
// (ignored) predictions at the positions of S carry no gradient.
// Sampling draws the small image first (its known elements are the known elements at the positions of S), writes
// it into the canvas at S, then draws the remaining pixels with the large network.
#pragma once
#include <memory>

#include "models/network.h"
#include "models/pixel_model.h"

namespace pixelrnn {

// x: (N, C, H, W) -> (N, C, H/f, W/f), element (n, c, i, j) = x[n, c, f i, f j]. Differentiable.
fw::Tensor subsample(const fw::Tensor& x, int64_t f);

class MultiScalePixelRNN : public PixelModel {
 public:
  MultiScalePixelRNN(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype = fw::DType::F32);
  fw::Tensor nll(const fw::Tensor& x) override;     // (N, C, H, W), placed as described above
  fw::Tensor logits(const fw::Tensor& x) override;  // the large network's, given subsample(x)
  fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                    const SampleOptions& opts = {}) override;
  int64_t factor() const { return factor_; }
  std::shared_ptr<PixelNetwork> small, large;

 private:
  int64_t factor_;
};

}  // namespace pixelrnn
