// models/blocks.h: the residual blocks of PixelRNN / PixelCNN (paper section 3.3, Figure 5) and the
// conditioning network of the Multi-scale PixelRNN's large network (section 3.6).
//
// Every block maps x: (N, 2h, H, W) -> x + F(x): (N, 2h, H, W), F respecting the masks of section 3.4 (all 1x1
// convolutions on hidden features carry mask B with R, G, B groups, so colour causality holds; for 1 channel
// such a mask is all ones). An optional conditioning map cond: (N, h, H, W) (the upsampled small image) enters
// every block through an unmasked 1x1 convolution "cond", added as a bias:
//   PixelCNN block (3.5):  relu -> reduce 1x1 (2h->h) -> relu -> conv 3x3 mask B (h->h) [+ cond 1x1 (h->h)]
//                          -> relu -> expand 1x1 (h->2h), plus x
//   Row LSTM block (3.1):  lstm: RowLSTM (2h -> h) [+ cond 1x1 (h->4h) on its input-to-state gates]
//                          -> expand 1x1 (h->2h), plus x
//   Diagonal BiLSTM block (3.2): the same with a DiagonalBiLSTM (cond added to both directions' gates).
// Class-conditional blocks (classes > 0; models/class_cond.h) have a parameter "class" (classes, F), the learned
// per-class bias added where cond enters: to the PixelCNN block's 3x3 output (F = h), to the LSTM's input-to-state
// gates through its cond input (F = 4h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/rng.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/module.h"
#include "models/lstm.h"

namespace pixelrnn {

struct BlockOptions {
  int64_t hidden = 1;     // h
  int64_t channels = 1;   // colour groups of the masks
  bool conditional = false;
  int64_t classes = 0;    // > 0: class-conditional (parameter "class")
  fw::DType dtype = fw::DType::F32;
};

class ResidualBlock : public fw::nn::Module {
 public:
  // x: (N, 2h, H, W); cond: (N, h, H, W), required iff the block is conditional; onehot: (N, classes), required
  // iff the block is class-conditional. -> (N, 2h, H, W)
  virtual fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond,
                             const fw::Tensor& onehot = fw::Tensor()) const = 0;
  const fw::Tensor& class_weights() const { return class_; }  // (classes, F); undefined unless class-conditional
  // The conditioning convolution "cond" (null unless conditional); the fast generator reads it.
  const std::shared_ptr<fw::nn::Conv2d>& cond_layer() const { return cond_conv; }

 protected:
  fw::Tensor conditioning(const fw::Tensor& cond, const fw::Tensor& x) const;  // checks, then cond_conv(cond)
  // The per-class bias (N, F, 1, 1) for onehot, undefined when onehot is; checks that they go together.
  fw::Tensor class_term(const fw::Tensor& onehot) const;
  std::shared_ptr<fw::nn::Conv2d> cond_conv;  // registered as "cond" when conditional
  fw::Tensor class_;                          // registered as "class" when class-conditional
};

class PixelCNNBlock : public ResidualBlock {
 public:
  PixelCNNBlock(const BlockOptions& opt, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond,
                     const fw::Tensor& onehot = fw::Tensor()) const override;
  std::shared_ptr<fw::nn::Conv2d> reduce, conv, expand;
};

// The Row LSTM block (Lstm = RowLSTM) and the Diagonal BiLSTM block (Lstm = DiagonalBiLSTM): one class, the layer
// its parameter. Sub-modules "lstm" (2h -> h), "expand" (h -> 2h), and "cond" (h -> 4h) when conditional.
template <class Lstm> class LstmBlock : public ResidualBlock {
 public:
  LstmBlock(const BlockOptions& opt, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond,
                     const fw::Tensor& onehot = fw::Tensor()) const override;
  std::shared_ptr<Lstm> lstm;
  std::shared_ptr<fw::nn::Conv2d> expand;
};
using RowLSTMBlock = LstmBlock<RowLSTM>;
using DiagonalBiLSTMBlock = LstmBlock<DiagonalBiLSTM>;

// kind: pixelcnn | row_lstm | diagonal_bilstm; throws std::invalid_argument naming an unknown kind.
std::shared_ptr<ResidualBlock> make_block(const std::string& kind, const BlockOptions& opt, fw::Rng& rng);

// The blocks of a network, registered as "0", "1", ... (so their parameters are "blocks.<i>.<...>").
class BlockList : public fw::nn::Module {
 public:
  void push_back(std::shared_ptr<ResidualBlock> b);
  const std::vector<std::shared_ptr<ResidualBlock>>& items() const { return items_; }

 private:
  std::vector<std::shared_ptr<ResidualBlock>> items_;
};

// The Multi-scale model's upsampling network (section 3.6): the small image s: (N, C, H/f, W/f), already scaled,
// -> conv1 3x3 (C->h) -> relu -> nearest upsampling by f -> conv2 3x3 (h->h) -> relu -> (N, h, H, W).
// All unmasked: the whole small image is context for the large one.
class ConditioningNet : public fw::nn::Module {
 public:
  ConditioningNet(int64_t channels, int64_t hidden, int64_t factor, fw::DType dtype, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& small) const;
  int64_t factor() const { return factor_; }
  std::shared_ptr<fw::nn::Conv2d> conv1, conv2;

 private:
  int64_t factor_;
};

}  // namespace pixelrnn
