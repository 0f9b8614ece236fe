// models/gated_pixelcnn.h: the Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with
// PixelCNN Decoders", section 2.1-2.2 and Figure 2), the successor of the PixelRNN paper's PixelCNN: a vertical
// and a horizontal stack of gated convolutions that together see the whole context window above and to the left
// of a pixel, without PixelCNN's blind spot.
//
// For C channels, p = hidden units, L layers, K = 1 (levels 2) or 256 (levels 256), kernel size n (7 in the first
// layer, 3 after it; n / 2 = 3 or 1):
//   x: (N, C, H, W) values -> scaled (levels 256: x / 255; levels 2: x)               v_0 = h_0 = x
//   layer i (0 .. L-1), v_i, h_i: (N, in, H, W), in = C for i = 0, p after:
//     vertical   vp = v conv (n/2 + 1) x n over rows r - n/2 .. r, columns c - n/2 .. c + n/2   (N, 2p, H, W)
//                (the n x n kernel with its rows below the centre cut off; unmasked)
//     link       hp = h conv 1 x (n/2 + 1) over columns c - n/2 .. c of row r, the centre column masked by the
//                colour rule (mask A for i = 0, mask B after; models/masks.h)                 (N, 2p, H, W)
//                  + link 1x1 (2p -> 2p) of vp shifted down one row (so row r receives rows <= r - 1 only)
//     gates      v_{i+1} = gate(vp), gate(z) = tanh(z_f) * sigmoid(z_g) with z = z_f | z_g (framework/ops/gate.h)
//                h_{i+1} = out 1x1 mask B (p -> p) of gate(hp), plus h_i for i > 0 (the residual connection)
//   output     the PixelRNN output stack (models/network.h): relu -> 1x1 mask B (p -> out_hidden) -> relu
//              -> 1x1 mask B (out_hidden -> C*K) -> (N, K, C, H, W)
// Colour (3 channels): the horizontal stack's features split into R | G | B groups (each gate half z_f, z_g
// keeps the groups of its p units); the vertical stack only ever reaches row r through the down-shift, so it
// sees whole pixels of earlier rows and needs no colour mask. The receptive field of output (r, c) is exactly
// rows r - L - 3 .. r - 1 at columns c - L - 2 .. c + L + 2, and row r at columns c - L - 2 .. c - 1 (plus the
// earlier colours of (r, c)): no blind spot (tests/test_models.cpp). Parameter layout: docs/weights.md.
// Sampling: the naive raster sampler for both SampleOptions settings (no incremental generator yet).
// Class-conditional (cfg.classes > 0, models/class_cond.h): each layer adds its own learned per-class biases
// class_v[label] to vp and class_h[label] to hp (paper equation 4 with a one-hot h), so every gate is conditioned.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/conv2d.h"
#include "models/network.h"
#include "models/pixel_model.h"

namespace pixelrnn {

// One gated layer: sub-modules "v", "h", "link", "out" (see above).
class GatedLayer : public fw::nn::Module {
 public:
  // in: C for the first layer (first = true: mask A, no residual), p after; k: the kernel size n (odd);
  // classes > 0: parameters class_v, class_h (classes, 2p), registered before the sub-modules.
  GatedLayer(int64_t in, int64_t hidden, int64_t k, bool first, int64_t channels, int64_t classes, fw::DType dtype,
             fw::Rng& rng);
  // v, h: (N, in, H, W) -> v, h: (N, p, H, W) in place. last: v's gate is not computed (nothing reads it).
  // onehot: (N, classes) for a class-conditional layer, undefined otherwise.
  void forward(fw::Tensor& v, fw::Tensor& h, bool last, const fw::Tensor& onehot) const;
  std::shared_ptr<fw::nn::Conv2d> v, h, link, out;
  fw::Tensor class_v, class_h;  // (classes, 2p), undefined unless conditional

 private:
  bool first_;
};

// The layers, registered as "0", "1", ... (so their parameters are "layers.<i>.<...>").
class GatedLayerList : public fw::nn::Module {
 public:
  void push_back(std::shared_ptr<GatedLayer> l) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(l)));
  }
  const std::vector<std::shared_ptr<GatedLayer>>& items() const { return items_; }

 private:
  std::vector<std::shared_ptr<GatedLayer>> items_;
};

class GatedPixelCNN : public PixelModel {
 public:
  // cfg: resolved, cfg.model == "gated_pixelcnn". throws std::invalid_argument otherwise.
  GatedPixelCNN(const ModelConfig& cfg, fw::Rng& rng, fw::DType dtype = fw::DType::F32);
  fw::Tensor nll(const fw::Tensor& x) override;
  fw::Tensor logits(const fw::Tensor& x) override;
  fw::Tensor sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                    const SampleOptions& opts = {}) override;
  fw::Tensor class_nll(const fw::Tensor& x, const std::vector<int64_t>& labels) override;
  fw::Tensor class_logits(const fw::Tensor& x, const std::vector<int64_t>& labels) override;
  fw::Tensor class_sample(const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                          const std::vector<int64_t>& labels, const SampleOptions& opts = {}) override;

  std::shared_ptr<GatedLayerList> layers;
  std::shared_ptr<OutputStack> output;

 private:
  fw::Tensor prepare(const fw::Tensor& x) const;
  void check_input(const fw::Tensor& x) const;
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& onehot);  // -> (N, K, C, H, W)
  fw::Tensor nll_of(const fw::Tensor& x, const fw::Tensor& logits) const;
};

}  // namespace pixelrnn
