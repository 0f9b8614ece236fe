// models/config.h: the configuration of a PixelRNN-family model, and its round trip through checkpoint metadata.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace pixelrnn {

struct ModelConfig {
  std::string model = "pixelcnn";  // pixelcnn | row_lstm | diagonal_bilstm | multiscale
  int64_t channels = 1;            // 1 or 3
  int64_t height = 28, width = 28;
  int64_t levels = 2;              // 2: binary pixels, Bernoulli output (channels == 1); 256: softmax per channel
  int64_t layers = 0;              // 0: the model's default
  int64_t hidden = 0;              // h; 0: the model's default
  int64_t out_hidden = 0;          // maps in the output stack; 0: 32 for levels 2, 1024 for levels 256... see models.md
  std::string inner = "row_lstm";  // multiscale only: the layer kind of both networks
  int64_t small = 0;               // multiscale only: side of the small image; 0: height / 2

  // Fills the zeros with the model's defaults and checks every field; throws std::invalid_argument naming the
  // field and the problem (unknown model, levels not 2/256, 3 channels with levels 2, hidden not divisible by 3
  // for 3 channels, ...).
  ModelConfig resolved() const;
  // String map for checkpoint metadata (keys "model.<field>") and back; from_metadata throws naming a missing
  // or malformed key.
  std::map<std::string, std::string> to_metadata() const;
  static ModelConfig from_metadata(const std::map<std::string, std::string>& meta);
  // Human-readable differences between two configurations ("hidden: 32 vs 64"), empty when equal.
  std::string diff(const ModelConfig& other) const;
  std::string describe() const;
};

}  // namespace pixelrnn
