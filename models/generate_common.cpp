// models/generate_common.cpp: per-position evaluation of masked convolutions (paper section 3.4) and the LSTM cell
// (section 3, equation (3)) for the incremental generators.
#include "models/generate_common.h"

#include <algorithm>
#include <stdexcept>

namespace pixelrnn::gen {

std::vector<int64_t> gate_order(int64_t h, int64_t C) {
  const int64_t hc = h / C;
  std::vector<int64_t> q(static_cast<size_t>(4 * h));
  for (int64_t g = 0; g < C; ++g)
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t j = 0; j < hc; ++j) q[(g * 4 + k) * hc + j] = k * h + g * hc + j;
  return q;
}

ConvP read_conv(const fw::nn::Conv2d& conv, const std::vector<int64_t>& out_order) {
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
  if (!out_order.empty() && static_cast<int64_t>(out_order.size()) != co)
    throw fw::ShapeError("read_conv: output order of " + std::to_string(out_order.size()) + " for " + wt.str());
  auto old = [&](int64_t o) { return out_order.empty() ? o : out_order[o]; };
  const std::vector<float> b0 = p.bias;
  for (int64_t o = 0; o < co; ++o) p.bias[o] = b0[old(o)];
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
          const size_t k = static_cast<size_t>(((old(o) * ci + i) * kh + a) * kw + b);
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

// y[o .. o+B) += sum_{i < n} w[i * co + o ..] * act(x[i]), the B sums kept in registers.
template <int B, bool Relu>
inline void accumulate_block(const float* __restrict w, int64_t co, const float* __restrict x, int64_t n,
                             float* __restrict y) {
  float acc[B];
  for (int j = 0; j < B; ++j) acc[j] = y[j];
  for (int64_t i = 0; i < n; ++i) {
    const float a = Relu ? (x[i] > 0.0f ? x[i] : 0.0f) : x[i];
    const float* wi = w + i * co;
    for (int j = 0; j < B; ++j) acc[j] += wi[j] * a;
  }
  for (int j = 0; j < B; ++j) y[j] = acc[j];
}

template <bool Relu>
void accumulate_range(const Tap& t, int64_t co, const float* x, int64_t o0, int64_t o1, float* y) {
  int64_t n = 0;
  for (int64_t o = o0; o < o1; ++o) n = std::max(n, t.n_in[o]);
  if (n == 0) return;
  const float* w = t.w.data();
  int64_t o = o0;
  for (; o + 32 <= o1; o += 32) accumulate_block<32, Relu>(w + o, co, x, n, y + o);
  for (; o + 8 <= o1; o += 8) accumulate_block<8, Relu>(w + o, co, x, n, y + o);
  for (; o < o1; ++o) accumulate_block<1, Relu>(w + o, co, x, n, y + o);
}

// y[o] += sum_{i < n} w[i * co + o] * act(x[i]) for o in [o0, o1).
inline void accumulate(const Tap& t, int64_t co, const float* x, int64_t o0, int64_t o1, bool relu_in, float* y) {
  if (relu_in) accumulate_range<true>(t, co, x, o0, o1, y);
  else accumulate_range<false>(t, co, x, o0, o1, y);
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

void lstm_cell_at(const float* gates, const float* c_prev, int64_t u0, int64_t hc, float* h_out, float* c_out) {
  for (int64_t j = 0; j < hc; ++j) {
    const int64_t u = u0 + j;
    const float i = sigmoidf(gates[j]), f = sigmoidf(gates[hc + j]), o = sigmoidf(gates[2 * hc + j]);
    const float g = tanhf_fast(gates[3 * hc + j]);
    float c = i * g;
    if (c_prev) c = f * c_prev[u] + c;  // c = f * c_prev + i * g
    c_out[u] = c;
    h_out[u] = o * tanhf_fast(c);
  }
}

}  // namespace pixelrnn::gen
