// models/generate_lstm.cpp: the incremental generators of the Row LSTM block (paper section 3.1) and the Diagonal
// BiLSTM block (section 3.2), each followed by its 1x1 mask-B expand and the residual (section 3.3).
//
// Row LSTM: gates(r, c) = K_is (*) x over (r, c-1), (r, c) [mask B] + K_ss (*) h over (r-1, c-1..c+1) [+ cond];
//   c(r, c) = f * c(r-1, c) + i * g. Row r-1's state is final when row r starts, so pixel (r, c) computes only its
//   own gates and cell, colour group g's units at colour g (gate maps take their unit's group).
// Diagonal BiLSTM: in image coordinates the left-to-right state at (r, c) depends on (r-1, c) and (r, c-1)
//   (the skewed column j-1 = r + c - 1 at rows r-1 and r), its cell on c(r, c-1): both earlier, computed per
//   pixel. The right-to-left state depends on (r-1, c) and (r, c+1), so it is computed for the whole row r, right
//   to left, once row r is final (row_done); pixel (r+1, c) then adds the right-to-left state of (r, c) (the
//   one-row down-shift). The skew's padding holds zero gates and states (docs/models.md), which is the zero
//   padding here.
// Gate maps are kept in gate_order (models/generate_common.h): colour group g's i | f | o | g are one contiguous
// block, computed at colour g.
#include <stdexcept>

#include "models/generate_common.h"

namespace pixelrnn::gen {
namespace {

void check_lstm(const ConvP& is, const ConvP& ss, const ConvP& expand, const BlockContext& ctx, const char* who) {
  const int64_t h = ctx.hidden;
  if (is.ci != 2 * h || is.co != 4 * h || ss.ci != h || ss.co != 4 * h || expand.ci != h || expand.co != 2 * h ||
      ctx.in->F != 2 * h)
    throw fw::ShapeError(std::string(who) + ": layer sizes do not match hidden " + std::to_string(h));
  if (ctx.cond && ctx.cond->F != 4 * h)
    throw fw::ShapeError(std::string(who) + ": conditioning bias has " + std::to_string(ctx.cond->F) +
                         " maps, not 4h = " + std::to_string(4 * h));
}

// Adds the conditioning bias of pixel (r, c) (the layer's gate order) to the gates [q0, q1) (gate_order).
void add_cond(const BlockContext& ctx, const std::vector<int64_t>& order, int64_t r, int64_t c, int64_t n,
              int64_t q0, int64_t q1, float* gates) {
  if (!ctx.cond) return;
  const float* cb = ctx.cond->at(r, c, n);
  for (int64_t q = q0; q < q1; ++q) gates[q] += cb[order[q]];
}

// out(r, c) of group g = in(r, c) + expand(hs), hs: (h,) of the current pixel (groups <= g final).
void expand_residual(const ConvP& expand, const BlockContext& ctx, int64_t r, int64_t c, int64_t g, int64_t n,
                     const float* hs) {
  const int64_t o0 = group_begin(2 * ctx.hidden, ctx.channels, g), o1 = group_end(2 * ctx.hidden, ctx.channels, g);
  const float* x = ctx.in->at(r, c, n);
  float* out = ctx.out->at(r, c, n);
  dense_at(expand, hs, o0, o1, false, out);
  for (int64_t o = o0; o < o1; ++o) out[o] = x[o] + out[o];
}

class RowLSTMGen : public BlockGen {
 public:
  RowLSTMGen(const RowLSTMBlock& b, const BlockContext& ctx)
      : ctx_(ctx), order_(gate_order(ctx.hidden, ctx.channels)), is_(read_conv(*b.lstm->input_to_state, order_)),
        ss_(read_conv(*b.lstm->state_to_state, order_)), expand_(read_conv(*b.expand)) {
    check_lstm(is_, ss_, expand_, ctx, "Row LSTM block generator");
    const Cache& in = *ctx.in;
    h_ = ctx.hidden;
    hs_ = Cache(in.H, in.W, in.N, h_);  // hs, cs: (H, W, N, h), the LSTM state
    cs_ = Cache(in.H, in.W, in.N, h_);
    gates_.assign(static_cast<size_t>(in.N * 4 * h_), 0.0f);  // gates: (N, 4h), the current pixel, gate_order
  }

  void at(int64_t r, int64_t c, int64_t g, int64_t n) override {
    const int64_t hc = h_ / ctx_.channels, q0 = g * 4 * hc, q1 = q0 + 4 * hc;
    float* gates = gates_.data() + n * 4 * h_;
    conv_at(is_, *ctx_.in, r, c, n, q0, q1, false, gates);                     // 1 x 3, mask B
    if (r > 0) conv_at(ss_, hs_, r - 1, c, n, q0, q1, false, gates, false);  // the row above, 1 x 3
    add_cond(ctx_, order_, r, c, n, q0, q1, gates);
    lstm_cell_at(gates + q0, r > 0 ? cs_.at(r - 1, c, n) : nullptr, g * hc, hc, hs_.at(r, c, n), cs_.at(r, c, n));
    expand_residual(expand_, ctx_, r, c, g, n, hs_.at(r, c, n));
  }

 private:
  BlockContext ctx_;
  std::vector<int64_t> order_;
  ConvP is_, ss_, expand_;
  int64_t h_ = 0;
  Cache hs_, cs_;
  std::vector<float> gates_;
};

class DiagonalGen : public BlockGen {
 public:
  DiagonalGen(const DiagonalBiLSTMBlock& b, const BlockContext& ctx)
      : ctx_(ctx), order_(gate_order(ctx.hidden, ctx.channels)),
        l_is_(read_conv(*b.lstm->left_to_right->input_to_state, order_)),
        l_ss_(read_conv(*b.lstm->left_to_right->state_to_state, order_)),
        r_is_(read_conv(*b.lstm->right_to_left->input_to_state, order_)),
        r_ss_(read_conv(*b.lstm->right_to_left->state_to_state, order_)), expand_(read_conv(*b.expand)) {
    check_lstm(l_is_, l_ss_, expand_, ctx, "Diagonal BiLSTM block generator");
    check_lstm(r_is_, r_ss_, expand_, ctx, "Diagonal BiLSTM block generator");
    // The 2x1 state-to-state kernel: tap 0 reads the skewed row above (image (r-1, c)), tap 1 the same row of the
    // previous skewed column (image (r, c-1) left to right; (r, c+1) right to left, the image being mirrored).
    if (l_ss_.taps.size() != 2 || r_ss_.taps.size() != 2)
      throw fw::ShapeError("Diagonal BiLSTM block generator: state-to-state kernels should be 2 x 1");
    l_ss_.taps[0].dr = -1, l_ss_.taps[0].dc = 0, l_ss_.taps[1].dr = 0, l_ss_.taps[1].dc = -1;
    r_ss_.taps[0].dr = -1, r_ss_.taps[0].dc = 0, r_ss_.taps[1].dr = 0, r_ss_.taps[1].dc = 1;
    const Cache& in = *ctx.in;
    h_ = ctx.hidden;
    hl_ = Cache(in.H, in.W, in.N, h_);  // hl, cl, hr, cr: (H, W, N, h), the two directions' states
    cl_ = Cache(in.H, in.W, in.N, h_);
    hr_ = Cache(in.H, in.W, in.N, h_);
    cr_ = Cache(in.H, in.W, in.N, h_);
    gates_.assign(static_cast<size_t>(in.N * 4 * h_), 0.0f);  // gates: (N, 4h), the current pixel, gate_order
    sum_.assign(static_cast<size_t>(in.N * h_), 0.0f);        // sum: (N, h), h_l2r + shifted h_r2l
  }

  void at(int64_t r, int64_t c, int64_t g, int64_t n) override {
    const int64_t hc = h_ / ctx_.channels, q0 = g * 4 * hc, q1 = q0 + 4 * hc;
    const int64_t u0 = g * hc, u1 = u0 + hc;
    float* gates = gates_.data() + n * 4 * h_;
    dense_at(l_is_, ctx_.in->at(r, c, n), q0, q1, false, gates);  // 1x1, mask B
    conv_at(l_ss_, hl_, r, c, n, q0, q1, false, gates, false);     // (r-1, c) and (r, c-1)
    add_cond(ctx_, order_, r, c, n, q0, q1, gates);
    lstm_cell_at(gates + q0, c > 0 ? cl_.at(r, c - 1, n) : nullptr, u0, hc, hl_.at(r, c, n), cl_.at(r, c, n));
    float* s = sum_.data() + n * h_;
    const float* hl = hl_.at(r, c, n);
    const float* hr = r > 0 ? hr_.at(r - 1, c, n) : nullptr;  // the down-shift: the row above's right-to-left
    for (int64_t u = u0; u < u1; ++u) s[u] = hr ? hl[u] + hr[u] : hl[u];
    expand_residual(expand_, ctx_, r, c, g, n, s);
  }

  void row_done(int64_t r, int64_t n) override {
    if (r + 1 >= ctx_.in->H) return;  // the last row's right-to-left state reaches no pixel
    const int64_t W = ctx_.in->W;
    float* gates = gates_.data() + n * 4 * h_;
    const int64_t hc = h_ / ctx_.channels;
    for (int64_t c = W - 1; c >= 0; --c) {
      dense_at(r_is_, ctx_.in->at(r, c, n), 0, 4 * h_, false, gates);
      conv_at(r_ss_, hr_, r, c, n, 0, 4 * h_, false, gates, false);  // (r-1, c) and (r, c+1)
      add_cond(ctx_, order_, r, c, n, 0, 4 * h_, gates);
      for (int64_t g = 0; g < ctx_.channels; ++g)
        lstm_cell_at(gates + g * 4 * hc, c + 1 < W ? cr_.at(r, c + 1, n) : nullptr, g * hc, hc, hr_.at(r, c, n),
                     cr_.at(r, c, n));
    }
  }

 private:
  BlockContext ctx_;
  std::vector<int64_t> order_;
  ConvP l_is_, l_ss_, r_is_, r_ss_, expand_;
  int64_t h_ = 0;
  Cache hl_, cl_, hr_, cr_;
  std::vector<float> gates_, sum_;
};

}  // namespace

std::unique_ptr<BlockGen> make_row_lstm_gen(const RowLSTMBlock& block, const BlockContext& ctx) {
  return std::make_unique<RowLSTMGen>(block, ctx);
}

std::unique_ptr<BlockGen> make_diagonal_gen(const DiagonalBiLSTMBlock& block, const BlockContext& ctx) {
  return std::make_unique<DiagonalGen>(block, ctx);
}

}  // namespace pixelrnn::gen
