// models/pixel_model.h: the interface every PixelRNN-family model implements (van den Oord et al. 2016).
//
// Data convention: an image batch x is a float tensor (N, C, H, W) holding pixel values: {0, 1} for levels 2,
// whole numbers 0..255 for levels 256. Models scale their input themselves (levels 256: x / 255; levels 2: x).
//
// nll(x) requires x of the configured shape and values; ensures the per-element negative log-likelihood in nats,
//   (N, C, H, W), whose sum over (C, H, W) is -log p(image) (for the Multi-scale model see docs/models.md for how
//   the small image's terms are placed). Differentiable with respect to the parameters (and to x's scaled input).
// logits(x) requires x as for nll; ensures the output distribution's parameters (N, K, C, H, W): K = 1 for
//   levels 2 (the logit of P(pixel = 1)), K = 256 for levels 256 (unnormalised log-probabilities). Element
//   (n, :, c, r, col) depends only on x's elements before (c, r, col) in raster order (section 2.1). For the
//   Multi-scale model these are the large network's, conditioned on the image's subsampled version.
// sample(canvas, known, rng) requires canvas (N, C, H, W) of values as above and `known` of the same shape with 0/1
//   entries (undefined = nothing known); ensures a canvas where every known element is exactly as given and every
//   other element was drawn from the model in raster order (row by row, left to right, R then G then B), each
//   conditioned on everything before it. opts (models/sampler.h) picks the naive reference sampler or the fast one
//   and reports progress. Runs without building a graph; the same rng state gives the same draw.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/rng.h"
#include "framework/nn/module.h"
#include "models/config.h"
#include "models/sampler.h"

namespace pixelrnn {

class PixelModel : public fw::nn::Module {
 public:
  explicit PixelModel(const ModelConfig& cfg, fw::DType dtype = fw::DType::F32) : cfg_(cfg), dtype_(dtype) {}
  const ModelConfig& config() const { return cfg_; }
  fw::DType dtype() const { return dtype_; }  // of the parameters and the computation (F64 for gradient checks)
  virtual fw::Tensor nll(const fw::Tensor& x) = 0;
  virtual fw::Tensor logits(const fw::Tensor& x) = 0;
  virtual fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                            const SampleOptions& opts = {}) = 0;

  // Class conditioning (config().classes > 0; models/class_cond.h): the same contracts as nll, logits and sample,
  // given one label in 0 .. classes-1 per image; sampling draws from p(x | label) (always the naive raster
  // sampler). The unconditional nll / logits / sample of a class-conditional model throw std::invalid_argument
  // saying labels are needed; these throw on an unconditional model (the default here: not conditional).
  bool class_conditional() const { return cfg_.classes > 0; }
  virtual fw::Tensor class_nll(const fw::Tensor& x, const std::vector<int64_t>& labels);
  virtual fw::Tensor class_logits(const fw::Tensor& x, const std::vector<int64_t>& labels);
  virtual fw::Tensor class_sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                  const std::vector<int64_t>& labels, const SampleOptions& opts = {});

 protected:
  // Throws std::invalid_argument naming `who` when the model is class-conditional (its calls need labels).
  void require_unconditional(const std::string& who) const;
  ModelConfig cfg_;
  fw::DType dtype_;
};

// Builds a model by name from a configuration (resolved first); weights initialised from rng.
// Throws std::invalid_argument naming the model and the problem.
std::unique_ptr<PixelModel> make_model(const ModelConfig& cfg, fw::Rng& rng);
// The same with the parameters in `dtype` (F64 for float64 gradient checks).
std::unique_ptr<PixelModel> make_model(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype);
std::vector<std::string> model_names();  // pixelcnn, row_lstm, diagonal_bilstm, multiscale, gated_pixelcnn

}  // namespace pixelrnn
