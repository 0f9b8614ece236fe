// models/config.cpp: ModelConfig defaults, validation and the checkpoint-metadata round trip.
//
// The defaults are sized to train in a few minutes on two CPU cores on 28x28 binarized MNIST (docs/models.md);
// the paper's own sizes (section 5: e.g. 7 layers, h = 16 for MNIST; 12 layers, h = 128 for CIFAR-10) are
// reachable through the fields.
#include "models/config.h"

#include <sstream>
#include <stdexcept>
#include <vector>

namespace pixelrnn {
namespace {

bool is_layer_kind(const std::string& s) { return s == "pixelcnn" || s == "row_lstm" || s == "diagonal_bilstm"; }

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw std::invalid_argument("ModelConfig." + field + ": " + problem);
}

int64_t default_layers(const std::string& model) {
  if (model == "pixelcnn" || model == "gated_pixelcnn") return 6;
  if (model == "diagonal_bilstm") return 2;  // the slowest per layer: 2 (W + H - 1) sequential steps
  return 3;  // row_lstm, and each of multiscale's two networks
}

}  // namespace

ModelConfig ModelConfig::resolved() const {
  ModelConfig c = *this;
  if (c.model != "multiscale" && c.model != "gated_pixelcnn" && !is_layer_kind(c.model))
    fail("model", "unknown model '" + c.model + "' (pixelcnn, row_lstm, diagonal_bilstm, multiscale, gated_pixelcnn)");
  if (c.channels != 1 && c.channels != 3) fail("channels", std::to_string(c.channels) + " is not 1 or 3");
  if (c.levels != 2 && c.levels != 256) fail("levels", std::to_string(c.levels) + " is not 2 or 256");
  if (c.levels == 2 && c.channels != 1)
    fail("levels", "levels 2 (binary, Bernoulli output) needs channels 1, got channels " + std::to_string(c.channels));
  if (c.height < 1 || c.width < 1)
    fail("height", "image size " + std::to_string(c.height) + "x" + std::to_string(c.width) + " must be at least 1x1");
  if (c.layers == 0) c.layers = default_layers(c.model);
  if (c.layers < 1) fail("layers", std::to_string(c.layers) + " must be >= 1 (or 0 for the default)");
  if (c.hidden == 0) c.hidden = c.channels == 3 ? 24 : 16;
  if (c.hidden < 1) fail("hidden", std::to_string(c.hidden) + " must be >= 1 (or 0 for the default)");
  if (c.out_hidden == 0) c.out_hidden = c.levels == 2 ? 32 : (c.channels == 3 ? 1023 : 1024);
  if (c.out_hidden < 1) fail("out_hidden", std::to_string(c.out_hidden) + " must be >= 1 (or 0 for the default)");
  if (c.channels == 3) {
    // Section 3.4: every hidden feature set splits into equal R, G, B groups.
    if (c.hidden % 3)
      fail("hidden", std::to_string(c.hidden) + " does not split into three equal R, G, B groups (3 channels)");
    if (c.out_hidden % 3)
      fail("out_hidden",
           std::to_string(c.out_hidden) + " does not split into three equal R, G, B groups (3 channels)");
  }
  if (!is_layer_kind(c.inner))
    fail("inner", "unknown layer kind '" + c.inner + "' (pixelcnn, row_lstm, diagonal_bilstm)");
  if (c.model == "multiscale") {
    if (c.small == 0) c.small = c.height / 2;
    if (c.small < 1 || c.small >= c.height)
      fail("small", std::to_string(c.small) + " must be in [1, height) (height " + std::to_string(c.height) + ")");
    if (c.height % c.small)
      fail("small", "height " + std::to_string(c.height) + " is not a multiple of small " + std::to_string(c.small));
    int64_t f = c.height / c.small;
    if (c.width % f)
      fail("small", "width " + std::to_string(c.width) + " is not a multiple of the subsampling factor " +
                        std::to_string(f) + " (height / small)");
  } else if (c.small < 0) {
    fail("small", std::to_string(c.small) + " must be >= 0");
  }
  if (c.classes < 0 || c.classes > 100000) fail("classes", std::to_string(c.classes) + " must be in [0, 100000]");
  if (c.classes > 0 && c.model == "multiscale")
    fail("classes", "class conditioning is not available for multiscale (pixelcnn, row_lstm, diagonal_bilstm, "
                    "gated_pixelcnn)");
  return c;
}

std::map<std::string, std::string> ModelConfig::to_metadata() const {
  return {{"model.model", model},
          {"model.channels", std::to_string(channels)},
          {"model.height", std::to_string(height)},
          {"model.width", std::to_string(width)},
          {"model.levels", std::to_string(levels)},
          {"model.layers", std::to_string(layers)},
          {"model.hidden", std::to_string(hidden)},
          {"model.out_hidden", std::to_string(out_hidden)},
          {"model.inner", inner},
          {"model.small", std::to_string(small)},
          {"model.classes", std::to_string(classes)}};
}

ModelConfig ModelConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end()) throw std::invalid_argument("model metadata: missing key '" + key + "'");
    return it->second;
  };
  auto get_int = [&](const std::string& key) -> int64_t {
    const std::string& s = get(key);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size())
      throw std::invalid_argument("model metadata: key '" + key + "' is not an integer: '" + s + "'");
    return v;
  };
  ModelConfig c;
  c.model = get("model.model");
  c.channels = get_int("model.channels");
  c.height = get_int("model.height");
  c.width = get_int("model.width");
  c.levels = get_int("model.levels");
  c.layers = get_int("model.layers");
  c.hidden = get_int("model.hidden");
  c.out_hidden = get_int("model.out_hidden");
  c.inner = get("model.inner");
  c.small = get_int("model.small");
  c.classes = meta.count("model.classes") ? get_int("model.classes") : 0;  // older checkpoints: unconditional
  return c;
}

std::string ModelConfig::diff(const ModelConfig& o) const {
  std::vector<std::string> parts;
  auto a = to_metadata(), b = o.to_metadata();
  for (const auto& [key, value] : a) {
    const std::string& other = b.at(key);
    if (value != other) parts.push_back(key.substr(6) + ": " + value + " vs " + other);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

std::string ModelConfig::describe() const {
  std::ostringstream s;
  s << model;
  if (model == "multiscale") s << "(" << inner << ", small " << small << ")";
  s << " " << channels << "x" << height << "x" << width << ", levels " << levels << ", layers " << layers
    << ", hidden " << hidden << ", out_hidden " << out_hidden;
  if (classes > 0) s << ", conditional on " << classes << " classes";
  return s.str();
}

}  // namespace pixelrnn
