// models/network.cpp: the single-scale PixelRNN network (paper sections 3.1-3.5 and Table 2): masked 7x7 input
// convolution, residual blocks, output stack, Bernoulli or 256-way softmax likelihood; and its conditional
// variant for the Multi-scale model (section 3.6).
#include "models/network.h"

#include <stdexcept>

#include "framework/ops/elementwise.h"
#include "framework/ops/loss.h"
#include "framework/ops/view.h"
#include "models/class_cond.h"
#include "models/generate.h"
#include "models/masks.h"
#include "models/sampler.h"

namespace pixelrnn {

OutputStack::OutputStack(int64_t in, int64_t out_hidden, int64_t channels, int64_t k, fw::DType dtype,
                         fw::Rng& rng)
    : channels_(channels), k_(k) {
  // Mask B on both: output feature groups R | G | B; logit map m belongs to channel m / K.
  hidden = register_module(
      "hidden", make_conv(in, out_hidden, 1, 1,
                          make_mask(MaskType::B, 1, 1, feature_groups(out_hidden, channels, "out_hidden"),
                                    feature_groups(in, channels, "output stack input"), dtype),
                          true, dtype, rng));
  logits = register_module(
      "logits", make_conv(out_hidden, channels * k, 1, 1,
                          make_mask(MaskType::B, 1, 1, feature_groups(channels * k, channels, "output logits"),
                                    feature_groups(out_hidden, channels, "out_hidden"), dtype),
                          true, dtype, rng));
}

fw::Tensor OutputStack::forward(const fw::Tensor& x) const {
  fw::Tensor y = hidden->forward_relu(x);  // y: (N, out_hidden, H, W); forward_relu(v) = forward(relu(v))
  y = logits->forward_relu(y);             // y: (N, C*K, H, W)
  const int64_t N = y.size(0), H = y.size(2), W = y.size(3);
  y = fw::reshape(y, {N, channels_, k_, H, W});  // y: (N, C, K, H, W)
  return fw::permute(y, {0, 2, 1, 3, 4});        // (N, K, C, H, W)
}

PixelNetwork::PixelNetwork(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype, int64_t cond_factor)
    : PixelModel(cfg, dtype), cond_factor_(cond_factor) {
  const ModelConfig& c = cfg_;
  if (c.model != "pixelcnn" && c.model != "row_lstm" && c.model != "diagonal_bilstm")
    throw std::invalid_argument("PixelNetwork: model '" + c.model + "' is not a single-scale model");
  if (c.layers < 1 || c.hidden < 1 || c.out_hidden < 1)
    throw std::invalid_argument("PixelNetwork: configuration not resolved (" + c.describe() + ")");
  if (cond_factor < 0 || (cond_factor > 0 && (c.height % cond_factor || c.width % cond_factor)))
    throw std::invalid_argument("PixelNetwork: conditioning factor " + std::to_string(cond_factor) +
                                " does not divide the image size " + std::to_string(c.height) + "x" +
                                std::to_string(c.width));
  const int64_t h = c.hidden, C = c.channels;
  // The first layer: 7x7 mask A (a pixel's colour sees only the context and the colours before it).
  input = register_module(
      "input", make_conv(C, 2 * h, 7, 7,
                         make_mask(MaskType::A, 7, 7, feature_groups(2 * h, C, c.model + " 2h (hidden " +
                                                                                  std::to_string(h) + ")"),
                                   feature_groups(C, C, "image channels"), dtype),
                         true, dtype, rng));
  blocks = register_module("blocks", std::make_shared<BlockList>());
  if (c.classes > 0 && cond_factor > 0)
    throw std::invalid_argument("PixelNetwork: class conditioning and a conditioning image do not go together");
  BlockOptions bo{h, C, cond_factor > 0, c.classes, dtype};
  for (int64_t i = 0; i < c.layers; ++i) blocks->push_back(make_block(c.model, bo, rng));
  output = register_module("output",
                           std::make_shared<OutputStack>(2 * h, c.out_hidden, C, c.levels == 2 ? 1 : 256, dtype, rng));
  if (cond_factor > 0)
    condition = register_module("condition", std::make_shared<ConditioningNet>(C, h, cond_factor, dtype, rng));
}

fw::Tensor PixelNetwork::prepare(const fw::Tensor& x) const {
  fw::Tensor y = x.dtype() == dtype_ ? x : x.to(dtype_);
  return cfg_.levels == 256 ? fw::mul_scalar(y, 1.0 / 255.0) : y;
}

void PixelNetwork::check_small(const fw::Tensor& small, const fw::Tensor& x) const {
  if (!conditional()) {
    if (small.defined())
      throw std::invalid_argument(cfg_.model + " network: unconditional, but a conditioning image was given");
    return;
  }
  if (!small.defined())
    throw std::invalid_argument(cfg_.model + " network: conditional, but no conditioning image was given");
  fw::Shape want{x.size(0), cfg_.channels, cfg_.height / cond_factor_, cfg_.width / cond_factor_};
  if (small.shape() != want)
    throw fw::ShapeError(cfg_.model + " network: conditioning image " + small.str() + " should be " +
                         fw::shape_str(want));
}

void PixelNetwork::check_input(const fw::Tensor& x) const {
  if (!x.defined() || x.dim() != 4 || x.size(1) != cfg_.channels || x.size(2) != cfg_.height ||
      x.size(3) != cfg_.width)
    throw fw::ShapeError(cfg_.model + " network: input " + (x.defined() ? x.str() : std::string("undefined")) +
                         " should be (N, " + std::to_string(cfg_.channels) + ", " + std::to_string(cfg_.height) +
                         ", " + std::to_string(cfg_.width) + ")");
}

fw::Tensor PixelNetwork::forward(const fw::Tensor& x, const fw::Tensor& small, const fw::Tensor& onehot) {
  check_input(x);
  check_small(small, x);
  fw::Tensor cond;
  if (conditional()) cond = condition->forward(prepare(small));          // cond: (N, h, H, W)
  fw::Tensor f = input->forward(prepare(x));                             // f: (N, 2h, H, W)
  for (const auto& b : blocks->items()) f = b->forward(f, cond, onehot);  // f: (N, 2h, H, W)
  return output->forward(f);                                             // (N, K, C, H, W)
}

fw::Tensor PixelNetwork::logits(const fw::Tensor& x, const fw::Tensor& small) {
  require_unconditional(cfg_.model + " logits");
  return forward(x, small, fw::Tensor());
}

fw::Tensor PixelNetwork::class_logits(const fw::Tensor& x, const std::vector<int64_t>& labels) {
  check_input(x);
  return forward(x, fw::Tensor(),
                 class_onehot(labels, x.size(0), cfg_.classes, dtype_, x.device(), cfg_.model + " logits"));
}

fw::Tensor PixelNetwork::class_nll(const fw::Tensor& x, const std::vector<int64_t>& labels) {
  check_images(x, cfg_.channels, cfg_.height, cfg_.width, cfg_.levels, cfg_.model + " nll");
  return nll_from_logits(class_logits(x, labels), x);
}

fw::Tensor PixelNetwork::class_sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                      const std::vector<int64_t>& labels, const SampleOptions& opts) {
  if (!canvas.defined() || canvas.dim() != 4)
    throw fw::ShapeError(cfg_.model + " sample: canvas must be (N, C, H, W)");
  const fw::Tensor onehot =
      class_onehot(labels, canvas.size(0), cfg_.classes, dtype_, canvas.device(), cfg_.model + " sample");
  // The fast generators (models/generate*.cpp) do not carry the class bias: always the raster sampler.
  return sample_raster([&](const fw::Tensor& x) { return forward(x, fw::Tensor(), onehot); }, cfg_.levels, canvas,
                       known, rng, cfg_.model + " sample", opts);
}

fw::Tensor PixelNetwork::nll_from_logits(const fw::Tensor& lg, const fw::Tensor& x) const {
  fw::Tensor t = x.dtype() == dtype_ ? x.detach() : x.detach().to(dtype_);  // targets: (N, C, H, W)
  if (cfg_.levels == 2) {
    fw::Tensor l = fw::reshape(lg, t.shape());  // (N, 1, 1, H, W) -> (N, 1, H, W)
    return fw::bce_with_logits(l, t, fw::Reduction::None);
  }
  return fw::softmax_cross_entropy(lg, t, 1, fw::Reduction::None);  // (N, C, H, W)
}

fw::Tensor PixelNetwork::nll(const fw::Tensor& x, const fw::Tensor& small) {
  check_images(x, cfg_.channels, cfg_.height, cfg_.width, cfg_.levels, cfg_.model + " nll");
  return nll_from_logits(logits(x, small), x);
}

fw::Tensor PixelNetwork::sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                const fw::Tensor& small, const SampleOptions& opts, int64_t done_before,
                                int64_t total_extra) {
  require_unconditional(cfg_.model + " sample");
  if (canvas.defined() && canvas.dim() == 4) check_small(small, canvas);
  if (!opts.naive) return generate(*this, canvas, known, rng, small, opts, done_before, total_extra);
  return sample_raster([&](const fw::Tensor& x) { return logits(x, small); }, cfg_.levels, canvas, known, rng,
                       cfg_.model + " sample", opts, done_before, total_extra);
}

fw::Tensor PixelNetwork::nll(const fw::Tensor& x) { return nll(x, fw::Tensor()); }
fw::Tensor PixelNetwork::logits(const fw::Tensor& x) { return logits(x, fw::Tensor()); }
fw::Tensor PixelNetwork::sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                const SampleOptions& opts) {
  return sample(canvas, known, rng, fw::Tensor(), opts);
}

}  // namespace pixelrnn
