// models/blocks.cpp: residual blocks (paper section 3.3, Figure 5) and the Multi-scale conditioning network
// (section 3.6). Shapes: N batch, h hidden units, blocks carry 2h maps, H x W image.
#include "models/blocks.h"

#include <stdexcept>

#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/residual.h"
#include "framework/ops/spatial.h"
#include "models/class_cond.h"
#include "models/masks.h"

namespace pixelrnn {
namespace {

// A 1x1 or kxk mask-B convolution between hidden feature sets split into colour groups.
std::shared_ptr<fw::nn::Conv2d> hidden_conv(int64_t in, int64_t out, int64_t k, const BlockOptions& opt,
                                            fw::Rng& rng, const std::string& who) {
  fw::Tensor mask = make_mask(MaskType::B, k, k, feature_groups(out, opt.channels, who + " output"),
                              feature_groups(in, opt.channels, who + " input"), opt.dtype);
  return make_conv(in, out, k, k, mask, true, opt.dtype, rng);
}

}  // namespace

fw::Tensor ResidualBlock::conditioning(const fw::Tensor& cond, const fw::Tensor& x) const {
  if (!cond_conv) {
    if (cond.defined()) throw std::invalid_argument("residual block '" + path() + "': not conditional, got a map");
    return fw::Tensor();
  }
  if (!cond.defined()) throw std::invalid_argument("residual block '" + path() + "': conditioning map missing");
  if (cond.dim() != 4 || cond.size(0) != x.size(0) || cond.size(2) != x.size(2) || cond.size(3) != x.size(3))
    throw fw::ShapeError("residual block '" + path() + "': conditioning " + cond.str() + " does not match " +
                         x.str());
  return cond_conv->forward(cond);
}

fw::Tensor ResidualBlock::class_term(const fw::Tensor& onehot) const {
  if (onehot.defined() != class_.defined())
    throw std::invalid_argument("residual block '" + path() + "': " +
                                (onehot.defined() ? "not class-conditional, got labels" : "class labels missing"));
  return onehot.defined() ? class_bias(onehot, class_) : fw::Tensor();
}

PixelCNNBlock::PixelCNNBlock(const BlockOptions& o, fw::Rng& rng) {
  const int64_t h = o.hidden;
  reduce = register_module("reduce", hidden_conv(2 * h, h, 1, o, rng, "PixelCNN block reduce"));
  conv = register_module("conv", hidden_conv(h, h, 3, o, rng, "PixelCNN block conv"));
  expand = register_module("expand", hidden_conv(h, 2 * h, 1, o, rng, "PixelCNN block expand"));
  if (o.conditional) cond_conv = register_module("cond", make_conv(h, h, 1, 1, fw::Tensor(), true, o.dtype, rng));
  if (o.classes > 0) class_ = register_parameter("class", class_table(o.classes, h, o.dtype));
}

fw::Tensor PixelCNNBlock::forward(const fw::Tensor& x, const fw::Tensor& cond, const fw::Tensor& onehot) const {
  // Unconditional: the whole block (relu, reduce, relu, conv, relu, expand, plus x) is one fused op that runs each
  // image through the three convolutions while it is in cache (framework/ops/residual.h); same function.
  if (!cond.defined() && !onehot.defined() && x.defined() && x.dim() == 4 && x.size(1) == reduce->options().in &&
      x.dtype() == reduce->weight.dtype())
    return fw::bottleneck_residual(x, {reduce->weight, reduce->bias, reduce->mask},
                                   {conv->weight, conv->bias, conv->mask}, conv->options().pad,
                                   {expand->weight, expand->bias, expand->mask});
  // Otherwise composed. forward_relu(v) = forward(relu(v)) as one op (fw::relu_conv2d): the ReLUs of Figure 5 are
  // read inside the convolutions, so no ReLU output is ever stored.
  fw::Tensor y = reduce->forward_relu(x);          // y: (N, h, H, W)
  y = conv->forward_relu(y);                       // y: (N, h, H, W), 3x3 mask B
  fw::Tensor c = conditioning(cond, x);            // c: (N, h, H, W) or undefined
  if (c.defined()) y = fw::add(y, c);
  fw::Tensor k = class_term(onehot);               // k: (N, h, 1, 1) or undefined
  if (k.defined()) y = fw::add(y, k);
  return fw::add(x, expand->forward_relu(y));        // (N, 2h, H, W)
}

namespace {
template <class Lstm> const char* block_name();
template <> const char* block_name<RowLSTM>() { return "Row LSTM block"; }
template <> const char* block_name<DiagonalBiLSTM>() { return "Diagonal BiLSTM block"; }
}  // namespace

template <class Lstm> LstmBlock<Lstm>::LstmBlock(const BlockOptions& o, fw::Rng& rng) {
  const int64_t h = o.hidden;
  lstm = register_module("lstm", std::make_shared<Lstm>(LstmOptions{2 * h, h, o.channels, o.dtype}, rng));
  expand = register_module("expand", hidden_conv(h, 2 * h, 1, o, rng, std::string(block_name<Lstm>()) + " expand"));
  if (o.conditional)
    cond_conv = register_module("cond", make_conv(h, 4 * h, 1, 1, fw::Tensor(), true, o.dtype, rng));
  if (o.classes > 0) class_ = register_parameter("class", class_table(o.classes, 4 * h, o.dtype));
}

template <class Lstm>
fw::Tensor LstmBlock<Lstm>::forward(const fw::Tensor& x, const fw::Tensor& cond, const fw::Tensor& onehot) const {
  fw::Tensor c = conditioning(cond, x);  // c: (N, 4h, H, W) or undefined
  fw::Tensor k = class_term(onehot);     // k: (N, 4h, 1, 1) or undefined
  if (k.defined()) {
    if (!c.defined()) c = fw::Tensor::zeros({x.size(0), k.size(1), x.size(2), x.size(3)}, x.dtype(), x.device());
    c = fw::add(c, k);  // the LSTM's cond input: (N, 4h, H, W)
  }
  fw::Tensor hs = lstm->forward(x, c);  // hs: (N, h, H, W); cond on the 4h gates
  return fw::add(x, expand->forward(hs));                   // (N, 2h, H, W)
}

template class LstmBlock<RowLSTM>;
template class LstmBlock<DiagonalBiLSTM>;

std::shared_ptr<ResidualBlock> make_block(const std::string& kind, const BlockOptions& opt, fw::Rng& rng) {
  if (kind == "pixelcnn") return std::make_shared<PixelCNNBlock>(opt, rng);
  if (kind == "row_lstm") return std::make_shared<RowLSTMBlock>(opt, rng);
  if (kind == "diagonal_bilstm") return std::make_shared<DiagonalBiLSTMBlock>(opt, rng);
  throw std::invalid_argument("make_block: unknown layer kind '" + kind + "' (pixelcnn, row_lstm, diagonal_bilstm)");
}

void BlockList::push_back(std::shared_ptr<ResidualBlock> b) {
  items_.push_back(register_module(std::to_string(items_.size()), std::move(b)));
}

ConditioningNet::ConditioningNet(int64_t channels, int64_t hidden, int64_t factor, fw::DType dtype, fw::Rng& rng)
    : factor_(factor) {
  if (factor < 1) throw std::invalid_argument("ConditioningNet: factor " + std::to_string(factor) + " < 1");
  conv1 = register_module("conv1", make_conv(channels, hidden, 3, 3, fw::Tensor(), true, dtype, rng));
  conv2 = register_module("conv2", make_conv(hidden, hidden, 3, 3, fw::Tensor(), true, dtype, rng));
}

fw::Tensor ConditioningNet::forward(const fw::Tensor& small) const {
  fw::Tensor y = fw::relu(conv1->forward(small));  // y: (N, h, H/f, W/f)
  y = fw::upsample_nearest(y, factor_);           // y: (N, h, H, W)
  return fw::relu(conv2->forward(y));              // (N, h, H, W)
}

}  // namespace pixelrnn
