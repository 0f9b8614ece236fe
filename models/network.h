// models/network.h: one PixelRNN network, the single-scale models PixelCNN (paper section 3.5), Row LSTM (3.1)
// and Diagonal BiLSTM (3.2), optionally conditioned on a small image (the large network of section 3.6).
//
// Architecture (paper Table 2 / section 4, "Specifications of Models"), for C channels, h hidden units,
// L layers, K = 1 (levels 2) or 256 (levels 256):
//   x: (N, C, H, W) values -> scaled (levels 256: x / 255; levels 2: x)
//   input   7x7 convolution, mask A                      (N, C, H, W)   -> (N, 2h, H, W)
//   blocks  L residual blocks of the model's kind        (N, 2h, H, W)  -> (N, 2h, H, W)   (models/blocks.h)
//   output  relu -> hidden 1x1 mask B (2h -> out_hidden) -> relu -> logits 1x1 mask B (out_hidden -> C*K)
//           -> (N, C*K, H, W), channel c's K maps contiguous, arranged as (N, K, C, H, W)
//   distribution: levels 2: Bernoulli(sigmoid(logit)); levels 256: softmax over K per channel (section 2.2).
// Conditional (cond_factor f > 0): condition, a ConditioningNet, maps the small image (N, C, H/f, W/f) (values,
// scaled like x) to (N, h, H, W), fed to every block's "cond" 1x1 convolution (models/blocks.h).
// Class-conditional (cfg.classes > 0, not together with cond_factor): every block adds its per-class bias
// (models/blocks.h, models/class_cond.h); class_sample always takes the naive raster sampler.
#pragma once
#include <memory>

#include "framework/nn/conv2d.h"
#include "models/blocks.h"
#include "models/pixel_model.h"

namespace pixelrnn {

// The output stack: sub-modules hidden (1x1, 2h -> out_hidden) and logits (1x1, out_hidden -> C*K), mask B.
class OutputStack : public fw::nn::Module {
 public:
  OutputStack(int64_t in, int64_t out_hidden, int64_t channels, int64_t k, fw::DType dtype, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& x) const;  // x: (N, 2h, H, W) -> (N, K, C, H, W)
  std::shared_ptr<fw::nn::Conv2d> hidden, logits;

 private:
  int64_t channels_, k_;
};

class PixelNetwork : public PixelModel {
 public:
  // cfg: resolved, cfg.model one of pixelcnn | row_lstm | diagonal_bilstm (the block kind). cond_factor > 0
  // makes the network conditional on a small image of side H / cond_factor, W / cond_factor.
  PixelNetwork(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype = fw::DType::F32, int64_t cond_factor = 0);

  fw::Tensor nll(const fw::Tensor& x) override;     // unconditional networks only
  fw::Tensor logits(const fw::Tensor& x) override;  // unconditional networks only
  fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                    const SampleOptions& opts = {}) override;
  fw::Tensor class_nll(const fw::Tensor& x, const std::vector<int64_t>& labels) override;
  fw::Tensor class_logits(const fw::Tensor& x, const std::vector<int64_t>& labels) override;
  fw::Tensor class_sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                          const std::vector<int64_t>& labels, const SampleOptions& opts = {}) override;

  // Conditional versions. small: (N, C, H/f, W/f) pixel values (same convention as x); undefined for an
  // unconditional network. The outputs may depend on all of `small` (it is context) but on x only causally.
  fw::Tensor logits(const fw::Tensor& x, const fw::Tensor& small);
  fw::Tensor nll(const fw::Tensor& x, const fw::Tensor& small);
  fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng, const fw::Tensor& small,
                    const SampleOptions& opts, int64_t done_before = 0, int64_t total_extra = 0);

  bool conditional() const { return static_cast<bool>(condition); }
  int64_t cond_factor() const { return cond_factor_; }
  // -log p per element from logits (N, K, C, H, W) and targets x (N, C, H, W): (N, C, H, W).
  fw::Tensor nll_from_logits(const fw::Tensor& logits, const fw::Tensor& x) const;
  // x converted to the network's dtype and scaled (levels 256: / 255). Differentiable.
  fw::Tensor prepare(const fw::Tensor& x) const;

  std::shared_ptr<fw::nn::Conv2d> input;
  std::shared_ptr<BlockList> blocks;
  std::shared_ptr<OutputStack> output;
  std::shared_ptr<ConditioningNet> condition;  // null unless conditional

 private:
  void check_small(const fw::Tensor& small, const fw::Tensor& x) const;
  void check_input(const fw::Tensor& x) const;
  // x, small as for logits; onehot (N, classes) iff class-conditional. -> (N, K, C, H, W)
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& small, const fw::Tensor& onehot);
  int64_t cond_factor_;
};

}  // namespace pixelrnn
