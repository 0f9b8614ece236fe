// models/generate_common.cpp: per-position evaluation of masked convolutions (paper section 3.4) and the LSTM cell
// (section 3, equation (3)) for the incremental generators.
#include "models/generate_common.h"

#include <algorithm>
#include <stdexcept>

namespace pixelrnn::gen {

ConvP read_conv(const fw::nn::Conv2d& conv) {
  const fw::Tensor& wt = conv.weight;  // (co, ci, kh, kw)
  if (!wt.defined() || wt.dim() != 4)
    throw fw::ShapeError("read_conv: convolution weight " + (wt.defined() ? wt.str() : std::string("undefined")) +
                         " is not (out, in, KH, KW)");
  const int64_t co = wt.size(0), ci = wt.size(1), kh = wt.size(2), kw = wt.size(3);
  const std::vector<float> w = wt.to_float_vector();
  std::vector<float> m(w.size(), 1.0f);
  if (conv.mask.defined()) {
    if (conv.mask.shape() != wt.shape())
      throw fw::ShapeError("read_conv: mask " + conv.mask.str() + " does not match weight " + wt.str());
    m = conv.mask.to_float_vector();
  }
  ConvP p;
  p.co = co;
  p.ci = ci;
  p.bias.assign(static_cast<size_t>(co), 0.0f);
  if (conv.bias.defined()) p.bias = conv.bias.to_float_vector();
  if (static_cast<int64_t>(p.bias.size()) != co) throw fw::ShapeError("read_conv: bias " + conv.bias.str());
  for (int64_t a = 0; a < kh; ++a)
    for (int64_t b = 0; b < kw; ++b) {
      Tap t;
      t.dr = a - (kh - 1) / 2;
      t.dc = b - (kw - 1) / 2;
      t.w.assign(static_cast<size_t>(ci * co), 0.0f);
      t.n_in.assign(static_cast<size_t>(co), 0);
      bool any = false;
      for (int64_t o = 0; o < co; ++o)
        for (int64_t i = 0; i < ci; ++i) {
          const size_t k = static_cast<size_t>(((o * ci + i) * kh + a) * kw + b);
          if (m[k] == 0.0f) continue;
          t.w[i * co + o] = w[k] * m[k];
          t.n_in[o] = i + 1;
          any = true;
        }
      if (any) p.taps.push_back(std::move(t));
    }
  return p;
}

namespace {

// y[o] += sum_{i < n} w[i * co + o] * act(x[i]) for o in [o0, o1).
inline void accumulate(const Tap& t, int64_t co, const float* x, int64_t o0, int64_t o1, bool relu_in, float* y) {
  int64_t n = 0;
  for (int64_t o = o0; o < o1; ++o) n = std::max(n, t.n_in[o]);
  const float* w = t.w.data();
  for (int64_t i = 0; i < n; ++i) {
    float a = x[i];
    if (relu_in && !(a > 0.0f)) continue;  // relu(a) == 0 adds nothing
    if (a == 0.0f) continue;
    const float* wi = w + i * co;
    for (int64_t o = o0; o < o1; ++o) y[o] += wi[o] * a;
  }
}

}  // namespace

void conv_at(const ConvP& p, const Cache& in, int64_t r, int64_t c, int64_t n, int64_t o0, int64_t o1,
             bool relu_in, float* y, bool init) {
  if (init)
    for (int64_t o = o0; o < o1; ++o) y[o] = p.bias[o];
  for (const Tap& t : p.taps) {
    const int64_t rr = r + t.dr, cc = c + t.dc;
    if (rr < 0 || rr >= in.H || cc < 0 || cc >= in.W) continue;  // zero padding
    accumulate(t, p.co, in.at(rr, cc, n), o0, o1, relu_in, y);
  }
}

void dense_at(const ConvP& p, const float* x, int64_t o0, int64_t o1, bool relu_in, float* y) {
  if (p.taps.size() > 1 || (p.taps.size() == 1 && (p.taps[0].dr || p.taps[0].dc)))
    throw std::logic_error("dense_at: not a 1x1 convolution");
  for (int64_t o = o0; o < o1; ++o) y[o] = p.bias[o];
  if (!p.taps.empty()) accumulate(p.taps[0], p.co, x, o0, o1, relu_in, y);
}

void lstm_cell_at(const float* gates, const float* c_prev, int64_t h, int64_t u0, int64_t u1, float* h_out,
                  float* c_out) {
  for (int64_t u = u0; u < u1; ++u) {
    const float i = sigmoidf(gates[u]), f = sigmoidf(gates[h + u]), o = sigmoidf(gates[2 * h + u]);
    const float g = std::tanh(gates[3 * h + u]);
    float c = i * g;
    if (c_prev) c = f * c_prev[u] + c;  // c = f * c_prev + i * g
    c_out[u] = c;
    h_out[u] = o * std::tanh(c);
  }
}

}  // namespace pixelrnn::gen
