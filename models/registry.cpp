// models/registry.cpp: builds a PixelRNN-family model from its name and configuration (paper sections 3.1-3.6), and
// the Gated PixelCNN of "Conditional Image Generation with PixelCNN Decoders" (models/gated_pixelcnn.h).
#include <stdexcept>

#include "models/gated_pixelcnn.h"
#include "models/multiscale.h"
#include "models/network.h"
#include "models/pixel_model.h"

namespace pixelrnn {

std::vector<std::string> model_names() {
  return {"pixelcnn", "row_lstm", "diagonal_bilstm", "multiscale", "gated_pixelcnn"};
}

std::unique_ptr<PixelModel> make_model(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype) {
  ModelConfig c = cfg.resolved();  // throws std::invalid_argument naming the field
  if (c.model == "gated_pixelcnn") return std::make_unique<GatedPixelCNN>(c, rng, dtype);
  if (c.model == "multiscale") return std::make_unique<MultiScalePixelRNN>(c, rng, dtype);
  if (c.model == "pixelcnn" || c.model == "row_lstm" || c.model == "diagonal_bilstm")
    return std::make_unique<PixelNetwork>(c, rng, dtype);
  throw std::invalid_argument("make_model: unknown model '" + c.model + "'");
}

namespace {
[[noreturn]] void not_conditional(const ModelConfig& c, const char* what) {
  throw std::invalid_argument(c.model + " " + what + ": the model is not class-conditional (trained without "
                              "--conditional, classes 0); it takes no labels");
}
}  // namespace

fw::Tensor PixelModel::class_nll(const fw::Tensor&, const std::vector<int64_t>&) { not_conditional(cfg_, "nll"); }
fw::Tensor PixelModel::class_logits(const fw::Tensor&, const std::vector<int64_t>&) {
  not_conditional(cfg_, "logits");
}
fw::Tensor PixelModel::class_sample(const fw::Tensor&, const fw::Tensor&, fw::Rng&, const std::vector<int64_t>&,
                                    const SampleOptions&) {
  not_conditional(cfg_, "sample");
}
void PixelModel::require_unconditional(const std::string& who) const {
  if (cfg_.classes > 0)
    throw std::invalid_argument(who + ": the model is class-conditional (" + std::to_string(cfg_.classes) +
                                " classes): give a label per image (class_nll / class_logits / class_sample)");
}

std::unique_ptr<PixelModel> make_model(const ModelConfig& cfg, fw::Rng& rng) {
  return make_model(cfg, rng, fw::DType::F32);
}

}  // namespace pixelrnn
