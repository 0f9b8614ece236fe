// models/pixel_model.h: the interface every PixelRNN-family model implements (van den Oord et al. 2016).
//
// Data convention: an image batch x is a float tensor (N, C, H, W) holding pixel values: {0, 1} for levels 2,
// whole numbers 0..255 for levels 256. Models scale their input themselves.
//
// nll(x) requires x of the configured shape and values; ensures the per-element negative log-likelihood in nats,
//   (N, C, H, W), whose sum over (C, H, W) is -log p(image) (for the Multi-scale model see docs/models.md for how
//   the small image's terms are placed). Differentiable with respect to the parameters.
// sample(canvas, known, rng) requires canvas (N, C, H, W) of values as above and `known` of the same shape with 0/1
//   entries (undefined = nothing known); ensures a canvas where every known element is exactly as given and every
//   other element was drawn from the model in raster order (row by row, left to right, R then G then B), each
//   conditioned on everything before it. Runs without building a graph.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/rng.h"
#include "framework/nn/module.h"
#include "models/config.h"

namespace pixelrnn {

class PixelModel : public fw::nn::Module {
 public:
  explicit PixelModel(const ModelConfig& cfg) : cfg_(cfg) {}
  const ModelConfig& config() const { return cfg_; }
  virtual fw::Tensor nll(const fw::Tensor& x) = 0;
  virtual fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng) = 0;

 protected:
  ModelConfig cfg_;
};

// Builds a model by name from a configuration (resolved first); weights initialised from rng.
// Throws std::invalid_argument naming the model and the problem.
std::unique_ptr<PixelModel> make_model(const ModelConfig& cfg, fw::Rng& rng);
std::vector<std::string> model_names();

}  // namespace pixelrnn
