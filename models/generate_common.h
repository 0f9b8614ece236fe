// models/generate_common.h: the pieces shared by the incremental generators (models/generate.h): per-position
// evaluation of masked convolutions (paper section 3.4) from activation caches, and the block generator interface.
//
// Why this is exact (docs/models.md, "Fast generation"): every layer's activation at pixel (r, c) depends only on
// inputs at earlier pixels in raster order and, at (r, c) itself, on colour groups up to its own (mask A / B).
// So the generator walks the pixels in raster order and, for colour g of a pixel, computes colour group g of every
// layer at that pixel from caches of the earlier pixels and of the groups < g at this pixel, which are final.
//
// Caches hold float32 activations laid out (H, W, N, F): a pixel's features for all images together, features
// innermost (loops over output features vectorise). Everything is sized once per call and freed with it.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/nn/conv2d.h"
#include "models/blocks.h"

namespace pixelrnn::gen {

// An activation cache: (H, W, N, F) float32, zero-initialised (the zero padding of every convolution).
struct Cache {
  int64_t H = 0, W = 0, N = 0, F = 0;
  std::vector<float> v;
  Cache() = default;
  Cache(int64_t h, int64_t w, int64_t n, int64_t f)
      : H(h), W(w), N(n), F(f), v(static_cast<size_t>(h * w * n * f), 0.0f) {}
  float* at(int64_t r, int64_t c, int64_t n) { return v.data() + ((r * W + c) * N + n) * F; }
  const float* at(int64_t r, int64_t c, int64_t n) const { return v.data() + ((r * W + c) * N + n) * F; }
};

// One kernel tap of a convolution: it reads the input at (r + dr, c + dc). w: (ci, co), w[i * co + o] =
// weight[o, i, a, b] * mask[o, i, a, b]. n_in[o]: 1 + the last input i with a non-zero mask entry for output o
// (0: output o ignores this tap), so loops stop where the mask does (the colour groups of section 3.4).
struct Tap {
  int64_t dr = 0, dc = 0;
  std::vector<float> w;
  std::vector<int64_t> n_in;
};

// A convolution's parameters read once per call into plain float arrays.
struct ConvP {
  int64_t co = 0, ci = 0;
  std::vector<Tap> taps;   // only taps whose mask is not all zero
  std::vector<float> bias; // (co,), zeros without a bias
};

// Reads a Conv2d with "same" padding (tap (a, b) reads (r + a - (KH-1)/2, c + b - (KW-1)/2)); the weight is
// multiplied by the mask, taps with an all-zero mask are dropped. out_order (optional): output o of the result is
// the layer's output out_order[o] (the LSTMs reorder their gates, see gate_order).
ConvP read_conv(const fw::nn::Conv2d& conv, const std::vector<int64_t>& out_order = {});

// The gate order of the generators: colour group by colour group, each group's i | f | o | g of its hc = h / C
// units, so that a group's 4 hc gate maps are contiguous. Element q of the result is the layer's gate map
// (k * h + u): q = (g * 4 + k) * hc + j with u = g * hc + j.
std::vector<int64_t> gate_order(int64_t hidden, int64_t channels);

// y[o] = bias[o] for o in [o0, o1) when init, then y[o] += sum over taps inside the image and i < n_in of
// w * act(in(r + dr, c + dc, n)[i]), act = relu when relu_in, identity otherwise. in.F must equal p.ci.
void conv_at(const ConvP& p, const Cache& in, int64_t r, int64_t c, int64_t n, int64_t o0, int64_t o1,
             bool relu_in, float* y, bool init = true);
// The same for a 1x1 convolution (its single tap) on one input vector x: (ci,).
void dense_at(const ConvP& p, const float* x, int64_t o0, int64_t o1, bool relu_in, float* y);

// [g * n / C, (g + 1) * n / C): colour group g of n features (models/masks.h).
inline int64_t group_begin(int64_t n, int64_t C, int64_t g) { return g * (n / C); }
inline int64_t group_end(int64_t n, int64_t C, int64_t g) { return (g + 1) * (n / C); }

// The framework's float sigmoid (framework/ops/elementwise.cpp); tanh through one expf (within a few float32
// ulps of std::tanh in absolute terms, and several times faster than libm's tanhf).
inline float sigmoidf(float x) {
  return x >= 0 ? 1.0f / (1.0f + std::exp(-x)) : std::exp(x) / (1.0f + std::exp(x));
}
inline float tanhf_fast(float x) {
  const float t = std::exp(-2.0f * std::fabs(x));  // in (0, 1]
  const float y = (1.0f - t) / (1.0f + t);
  return x < 0 ? -y : y;
}

// The LSTM cell (paper equation (3)) for the hc units u0 .. u0 + hc - 1 of one pixel: gates (4 hc,) = the
// group's i | f | o | g pre-activations (gate_order); c_prev (h,) or null (zero state); writes h_out, c_out (h,)
// at units u0 .. u0 + hc - 1.
void lstm_cell_at(const float* gates, const float* c_prev, int64_t u0, int64_t hc, float* h_out, float* c_out);

// One residual block's generator. It reads the block input cache `in` (H, W, N, 2h) and writes the block output
// cache `out` (same shape); cond (H, W, N, F) is the block's conditioning bias (its "cond" convolution of the
// conditioning map, precomputed for the whole image) or null.
class BlockGen {
 public:
  virtual ~BlockGen() = default;
  // Colour group g of out(r, c) for image n. requires: every earlier pixel done in every layer, and groups < g
  // of pixel (r, c) done in this block; in(r, c) groups <= g final.
  virtual void at(int64_t r, int64_t c, int64_t g, int64_t n) = 0;
  // Called for image n once row r is final in every layer, before row r + 1 starts.
  virtual void row_done(int64_t /*r*/, int64_t /*n*/) {}
};

struct BlockContext {
  const Cache* in = nullptr;
  Cache* out = nullptr;
  const Cache* cond = nullptr;
  int64_t hidden = 0, channels = 1;
};

// The block generators (models/generate_pixelcnn.cpp, models/generate_lstm.cpp); they read the block's
// parameters once.
std::unique_ptr<BlockGen> make_pixelcnn_gen(const PixelCNNBlock& block, const BlockContext& ctx);
std::unique_ptr<BlockGen> make_row_lstm_gen(const RowLSTMBlock& block, const BlockContext& ctx);
std::unique_ptr<BlockGen> make_diagonal_gen(const DiagonalBiLSTMBlock& block, const BlockContext& ctx);

}  // namespace pixelrnn::gen
