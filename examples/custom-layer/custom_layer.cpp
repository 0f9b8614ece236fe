// examples/custom-layer/custom_layer.cpp: a new layer, written outside the repository on the installed framework
// (docs/extending.md, "Using the framework from your own project"). The layer, GatedResidual, is one the framework
// does not have: a residual block whose branch is scaled by a learned per-channel gate,
//   y = x + sigmoid(s) * conv_B(relu(x))      x, y: (N, C, H, W); s: (C,), starts at -2 (the branch mostly closed)
// built from framework ops only (autograd gives its backward). A tiny autoregressive model uses it (a mask-A 5x5
// convolution from models/masks.h, two GatedResidual layers, a 1x1 convolution to one logit per pixel) and trains
// with the framework's Adam on synthetic 8x8 binary images whose columns are all-on or all-off, which it can
// learn: every pixel below the first row repeats the one above it. It prints the loss (nats per image) and exits
// 1 unless the loss fell to under half its first value.
#include <cstdio>
#include <memory>
#include <vector>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/module.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/loss.h"
#include "framework/ops/view.h"
#include "framework/optim/optimizer.h"
#include "models/masks.h"

using pixelrnn::MaskType;

// The new layer. Its convolution has mask B (a pixel sees the pixels before it and itself), so stacking it after a
// mask-A layer keeps the model causal.
class GatedResidual : public fw::nn::Module {
 public:
  GatedResidual(int64_t channels, fw::Rng& rng) : channels_(channels) {
    const auto groups = pixelrnn::feature_groups(channels, 1, "GatedResidual");
    conv_ = register_module("conv", pixelrnn::make_conv(channels, channels, 3, 3,
        pixelrnn::make_mask(MaskType::B, 3, 3, groups, groups, fw::DType::F32), true, fw::DType::F32, rng));
    gate_ = register_parameter("gate", fw::Tensor::full({channels}, -2.0));
  }
  fw::Tensor forward(const fw::Tensor& x) const {  // x: (N, C, H, W)
    const fw::Tensor g = fw::reshape(fw::sigmoid(gate_), {1, channels_, 1, 1});  // g: (1, C, 1, 1)
    return x + g * conv_->forward(fw::relu(x));
  }

 private:
  int64_t channels_;
  std::shared_ptr<fw::nn::Conv2d> conv_;
  fw::Tensor gate_;
};

// A tiny model using it: logits of p(x_ij = 1 | the pixels before ij in raster order).
class TinyModel : public fw::nn::Module {
 public:
  TinyModel(int64_t hidden, fw::Rng& rng) {
    in_ = register_module("in", pixelrnn::make_conv(1, hidden, 5, 5,
        pixelrnn::make_mask(MaskType::A, 5, 5, pixelrnn::feature_groups(hidden, 1, "in"), {0}, fw::DType::F32),
        true, fw::DType::F32, rng));
    res1_ = register_module("res1", std::make_shared<GatedResidual>(hidden, rng));
    res2_ = register_module("res2", std::make_shared<GatedResidual>(hidden, rng));
    out_ = register_module("out", pixelrnn::make_conv(hidden, 1, 1, 1, fw::Tensor(), true, fw::DType::F32, rng));
  }
  fw::Tensor logits(const fw::Tensor& x) const {  // x: (N, 1, H, W) of 0/1 -> (N, 1, H, W)
    return out_->forward(fw::relu(res2_->forward(res1_->forward(in_->forward(x)))));
  }

 private:
  std::shared_ptr<fw::nn::Conv2d> in_, out_;
  std::shared_ptr<GatedResidual> res1_, res2_;
};

int main() {
  const int64_t n = 16, side = 8;
  fw::Rng rng(7);
  std::vector<float> pixels;  // images: (n, 1, side, side), each column all 0 or all 1
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> column(side);
    for (float& c : column) c = rng.uniform() < 0.5 ? 0.0f : 1.0f;
    for (int64_t r = 0; r < side; ++r) pixels.insert(pixels.end(), column.begin(), column.end());
  }
  const fw::Tensor x = fw::Tensor::from_vector({n, 1, side, side}, pixels);

  TinyModel model(16, rng);
  fw::optim::OptimizerOptions opt;
  opt.name = "adam";
  opt.lr = 0.01;
  auto optimizer = fw::optim::make_optimizer(model.named_parameters(), opt);
  std::printf("custom-layer: TinyModel with 2 GatedResidual layers, %lld parameters\n",
              static_cast<long long>(model.num_parameters()));

  double first = 0, last = 0;
  const int steps = 150;
  for (int step = 0; step < steps; ++step) {
    optimizer->zero_grad();
    // loss: negative log-likelihood in nats per image (the sum over pixels of the Bernoulli NLL, over n images)
    const fw::Tensor loss = fw::bce_with_logits(model.logits(x), x, fw::Reduction::Sum) * (1.0 / n);
    loss.backward();
    optimizer->step();
    last = loss.item();
    if (step == 0) first = last;
    if (step % 25 == 0 || step == steps - 1) std::printf("step %3d  loss %.3f nats/image\n", step, last);
  }
  const bool fell = last < 0.5 * first;
  std::printf("custom-layer: loss %.3f -> %.3f nats/image (%s)\n", first, last,
              fell ? "fell below half: ok" : "did NOT fall below half: FAIL");
  return fell ? 0 : 1;
}
