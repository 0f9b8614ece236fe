// models/config.h: the configuration of a PixelRNN-family model, and its round trip through checkpoint metadata.
//
// One ModelConfig describes any of the four models of "Pixel Recurrent Neural Networks" (van den Oord et al.
// 2016): PixelCNN (section 3.5), Row LSTM (3.1), Diagonal BiLSTM (3.2) and the Multi-scale PixelRNN (3.6), and
// the Gated PixelCNN (models/gated_pixelcnn.h), for binary images with a Bernoulli output or 8-bit images with a
// 256-way softmax per channel (section 2.2).
// Defaults (a field left at 0) are filled by resolved() and documented in docs/models.md.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace pixelrnn {

struct ModelConfig {
  std::string model = "pixelcnn";  // pixelcnn | row_lstm | diagonal_bilstm | multiscale | gated_pixelcnn
  int64_t channels = 1;            // 1 or 3
  int64_t height = 28, width = 28;
  int64_t levels = 2;              // 2: binary pixels, Bernoulli output (channels == 1); 256: softmax per channel
  int64_t layers = 0;              // residual blocks; 0: the model's default (see resolved())
  int64_t hidden = 0;              // h (the blocks carry 2h maps); 0: 16 for 1 channel, 24 for 3 channels
  int64_t out_hidden = 0;          // maps in the output stack; 0: 32 for levels 2, 1024 for levels 256
                                   // (1023 for 3 channels, the largest multiple of 3 not above 1024)
  std::string inner = "row_lstm";  // multiscale only: the layer kind of both networks (any of the three)
  int64_t small = 0;               // multiscale only: height of the small image; 0: height / 2
  int64_t classes = 0;             // 0: unconditional; > 0: class-conditional on labels 0 .. classes-1 (a learned
                                   // per-class bias in every layer; not for multiscale). Metadata key
                                   // "model.classes", absent (0) in checkpoints written before it existed.

  // Fills the zeros with the model's defaults and checks every field; throws std::invalid_argument naming the
  // field and the problem (unknown model, levels not 2/256, 3 channels with levels 2, hidden not divisible by 3
  // for 3 channels, ...). Default layers: pixelcnn and gated_pixelcnn 6, row_lstm 3, diagonal_bilstm 2,
  // multiscale 3 per network.
  ModelConfig resolved() const;
  // String map for checkpoint metadata (keys "model.<field>") and back; from_metadata throws naming a missing
  // or malformed key.
  std::map<std::string, std::string> to_metadata() const;
  static ModelConfig from_metadata(const std::map<std::string, std::string>& meta);
  // Human-readable differences between two configurations ("hidden: 32 vs 64"), empty when equal.
  std::string diff(const ModelConfig& other) const;
  std::string describe() const;

  // Derived sizes (call on a resolved config).
  int64_t subsample_factor() const { return small > 0 ? height / small : 0; }  // multiscale: f = height / small
};

}  // namespace pixelrnn
