// models/gated_pixelcnn.cpp: the Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with
// PixelCNN Decoders", section 2 and Figure 2): vertical and horizontal stacks of gated convolutions. The
// architecture and its receptive field are described in models/gated_pixelcnn.h.
#include "models/gated_pixelcnn.h"

#include <stdexcept>

#include "framework/ops/elementwise.h"
#include "framework/ops/gate.h"
#include "framework/ops/loss.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "models/class_cond.h"
#include "models/masks.h"
#include "models/sampler.h"

namespace pixelrnn {
namespace {

std::shared_ptr<fw::nn::Conv2d> conv(int64_t in, int64_t out, int64_t kh, int64_t kw, fw::Padding2d pad,
                                     const fw::Tensor& mask, fw::DType dtype, fw::Rng& rng) {
  fw::nn::Conv2dOptions o;
  o.in = in;
  o.out = out;
  o.kh = kh;
  o.kw = kw;
  o.pad = pad;
  o.mask = mask;
  o.dtype = dtype;
  return std::make_shared<fw::nn::Conv2d>(o, rng);
}

// The horizontal kernel's mask (out, in, 1, kw): every column before the last (columns c - kw + 1 .. c - 1) open;
// the last one (the pixel itself) by the colour rule: mask A open iff group(o) > group(i), mask B iff >=.
fw::Tensor horizontal_mask(MaskType type, int64_t kw, const std::vector<int64_t>& out_groups,
                           const std::vector<int64_t>& in_groups, fw::DType dtype) {
  const int64_t co = static_cast<int64_t>(out_groups.size()), ci = static_cast<int64_t>(in_groups.size());
  std::vector<double> m(static_cast<size_t>(co * ci * kw), 1.0);
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < ci; ++i)
      m[(o * ci + i) * kw + kw - 1] =
          type == MaskType::A ? (out_groups[o] > in_groups[i]) : (out_groups[o] >= in_groups[i]);
  fw::Tensor t = fw::Tensor::from_vector({co, ci, 1, kw}, m);
  return dtype == fw::DType::F64 ? t : t.to(dtype);
}

}  // namespace

GatedLayer::GatedLayer(int64_t in, int64_t p, int64_t k, bool first, int64_t C, int64_t classes, fw::DType dtype,
                       fw::Rng& rng)
    : first_(first) {
  if (classes > 0) {
    class_v = register_parameter("class_v", class_table(classes, 2 * p, dtype));
    class_h = register_parameter("class_h", class_table(classes, 2 * p, dtype));
  }
  const int64_t half = k / 2;
  const std::string who = std::string("gated_pixelcnn layer ") + (first ? "0" : "i > 0");
  // Vertical: rows r - half .. r, columns c - half .. c + half; unmasked (only ever read one row down).
  v = register_module("v", conv(in, 2 * p, half + 1, k, fw::Padding2d{half, 0, half, half}, fw::Tensor(), dtype, rng));
  // Horizontal: columns c - half .. c of row r, the pixel itself by the colour rule.
  const std::vector<int64_t> in_groups =
      first ? feature_groups(in, C, "image channels") : feature_groups(in, C, who + " hidden");
  h = register_module("h", conv(in, 2 * p, 1, half + 1, fw::Padding2d{0, 0, half, 0},
                                horizontal_mask(first ? MaskType::A : MaskType::B, half + 1,
                                                gate_groups(p, C, 2, who + " gates"), in_groups, dtype),
                                dtype, rng));
  link = register_module("link", conv(2 * p, 2 * p, 1, 1, fw::Padding2d{}, fw::Tensor(), dtype, rng));
  out = register_module("out", make_conv(p, p, 1, 1,
                                         make_mask(MaskType::B, 1, 1, feature_groups(p, C, who + " hidden"),
                                                   feature_groups(p, C, who + " hidden"), dtype),
                                         true, dtype, rng));
}

void GatedLayer::forward(fw::Tensor& vx, fw::Tensor& hx, bool last, const fw::Tensor& onehot) const {
  if (onehot.defined() != class_v.defined())
    throw std::invalid_argument("gated_pixelcnn layer '" + path() + "': " +
                                (onehot.defined() ? "not class-conditional, got labels" : "labels missing"));
  fw::Tensor vp = v->forward(vx);                                             // vp: (N, 2p, H, W), rows <= r
  if (onehot.defined()) vp = fw::add(vp, class_bias(onehot, class_v));       // + (N, 2p, 1, 1)
  fw::Tensor hp = fw::add(h->forward(hx), link->forward(fw::shift(vp, 2, 1)));  // hp: (N, 2p, H, W)
  if (onehot.defined()) hp = fw::add(hp, class_bias(onehot, class_h));
  fw::Tensor hn = out->forward(fw::gate(hp));                                 // hn: (N, p, H, W)
  hx = first_ ? hn : fw::add(hx, hn);
  vx = last ? fw::Tensor() : fw::gate(vp);                                    // (N, p, H, W)
}

GatedPixelCNN::GatedPixelCNN(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype) : PixelModel(cfg, dtype) {
  const ModelConfig& c = cfg_;
  if (c.model != "gated_pixelcnn")
    throw std::invalid_argument("GatedPixelCNN: model '" + c.model + "' is not gated_pixelcnn");
  if (c.layers < 1 || c.hidden < 1 || c.out_hidden < 1)
    throw std::invalid_argument("GatedPixelCNN: configuration not resolved (" + c.describe() + ")");
  layers = register_module("layers", std::make_shared<GatedLayerList>());
  for (int64_t i = 0; i < c.layers; ++i)
    layers->push_back(std::make_shared<GatedLayer>(i == 0 ? c.channels : c.hidden, c.hidden, i == 0 ? 7 : 3,
                                                   i == 0, c.channels, c.classes, dtype, rng));
  output = register_module(
      "output", std::make_shared<OutputStack>(c.hidden, c.out_hidden, c.channels, c.levels == 2 ? 1 : 256, dtype, rng));
}

fw::Tensor GatedPixelCNN::prepare(const fw::Tensor& x) const {
  fw::Tensor y = x.dtype() == dtype_ ? x : x.to(dtype_);
  return cfg_.levels == 256 ? fw::mul_scalar(y, 1.0 / 255.0) : y;
}

void GatedPixelCNN::check_input(const fw::Tensor& x) const {
  if (!x.defined() || x.dim() != 4 || x.size(1) != cfg_.channels || x.size(2) != cfg_.height ||
      x.size(3) != cfg_.width)
    throw fw::ShapeError("gated_pixelcnn: input " + (x.defined() ? x.str() : std::string("undefined")) +
                         " should be (N, " + std::to_string(cfg_.channels) + ", " + std::to_string(cfg_.height) +
                         ", " + std::to_string(cfg_.width) + ")");
}

fw::Tensor GatedPixelCNN::forward(const fw::Tensor& x, const fw::Tensor& onehot) {
  fw::Tensor v = prepare(x), h = v;  // v, h: (N, C, H, W)
  const auto& ls = layers->items();
  for (size_t i = 0; i < ls.size(); ++i) ls[i]->forward(v, h, i + 1 == ls.size(), onehot);  // h: (N, p, H, W)
  return output->forward(h);                                                                 // (N, K, C, H, W)
}

fw::Tensor GatedPixelCNN::nll_of(const fw::Tensor& x, const fw::Tensor& lg) const {
  fw::Tensor t = x.dtype() == dtype_ ? x.detach() : x.detach().to(dtype_);  // targets: (N, C, H, W)
  if (cfg_.levels == 2) return fw::bce_with_logits(fw::reshape(lg, t.shape()), t, fw::Reduction::None);
  return fw::softmax_cross_entropy(lg, t, 1, fw::Reduction::None);  // (N, C, H, W)
}

fw::Tensor GatedPixelCNN::logits(const fw::Tensor& x) {
  require_unconditional("gated_pixelcnn logits");
  check_input(x);
  return forward(x, fw::Tensor());
}

fw::Tensor GatedPixelCNN::class_logits(const fw::Tensor& x, const std::vector<int64_t>& labels) {
  check_input(x);
  return forward(x, class_onehot(labels, x.size(0), cfg_.classes, dtype_, x.device(), "gated_pixelcnn logits"));
}

fw::Tensor GatedPixelCNN::nll(const fw::Tensor& x) {
  check_images(x, cfg_.channels, cfg_.height, cfg_.width, cfg_.levels, "gated_pixelcnn nll");
  return nll_of(x, logits(x));
}

fw::Tensor GatedPixelCNN::class_nll(const fw::Tensor& x, const std::vector<int64_t>& labels) {
  check_images(x, cfg_.channels, cfg_.height, cfg_.width, cfg_.levels, "gated_pixelcnn nll");
  return nll_of(x, class_logits(x, labels));
}

fw::Tensor GatedPixelCNN::sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                 const SampleOptions& opts) {
  require_unconditional("gated_pixelcnn sample");
  // No incremental generator: both settings of opts.naive take the raster sampler (one forward pass per element).
  return sample_raster([&](const fw::Tensor& x) { return logits(x); }, cfg_.levels, canvas, known, rng,
                       "gated_pixelcnn sample", opts);
}

fw::Tensor GatedPixelCNN::class_sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                                       const std::vector<int64_t>& labels, const SampleOptions& opts) {
  if (!canvas.defined() || canvas.dim() != 4)
    throw fw::ShapeError("gated_pixelcnn sample: canvas must be (N, C, H, W)");
  const fw::Tensor onehot =
      class_onehot(labels, canvas.size(0), cfg_.classes, dtype_, canvas.device(), "gated_pixelcnn sample");
  return sample_raster(
      [&](const fw::Tensor& x) {
        check_input(x);
        return forward(x, onehot);
      },
      cfg_.levels, canvas, known, rng, "gated_pixelcnn sample", opts);
}

}  // namespace pixelrnn
