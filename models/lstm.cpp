// models/lstm.cpp: Row LSTM (paper section 3.1) and Diagonal BiLSTM (section 3.2, Figure 3), built from
// conv2d, slices and the skew op. Shapes: N batch, h hidden units, H x W image, 4h stacked gates i|f|o|g.
#include "models/lstm.h"

#include <stdexcept>
#include <vector>

#include "framework/core/profile.h"
#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/rnn.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "models/masks.h"

namespace pixelrnn {
namespace {

int64_t hidden_of(const LstmWeights& w, const char* who) {
  if (!w.w_is.defined() || !w.w_ss.defined() || w.w_is.dim() != 4 || w.w_ss.dim() != 4)
    throw fw::ShapeError(std::string(who) + ": weights must be 4-D convolution kernels");
  int64_t g = w.w_is.size(0);
  if (g % 4 || w.w_ss.size(0) != g || w.w_ss.size(1) * 4 != g)
    throw fw::ShapeError(std::string(who) + ": input-to-state " + w.w_is.str() + " and state-to-state " +
                         w.w_ss.str() + " do not make 4h gates of h units");
  return g / 4;
}

void check_cond(const fw::Tensor& cond, const fw::Tensor& x, int64_t h, const char* who) {
  if (!cond.defined()) return;
  fw::Shape want{x.size(0), 4 * h, x.size(2), x.size(3)};
  if (cond.shape() != want)
    throw fw::ShapeError(std::string(who) + ": conditioning " + cond.str() + " should be " + fw::shape_str(want));
}

// The n = x.size(dim) unit slices of x along dim, by recursive halving. Cutting each step's slice straight out
// of x would cost a full-size gradient scatter per step in the backward pass (O(n * |x|)); halving costs
// O(|x| log n) and gives the same values and gradients.
void unit_slices(const fw::Tensor& x, int64_t dim, std::vector<fw::Tensor>& out) {
  const int64_t n = x.size(dim);
  if (n == 1) {
    out.push_back(x);
    return;
  }
  const int64_t half = n / 2;
  std::vector<fw::Tensor> parts = fw::split(x, dim, {half, n - half});
  unit_slices(parts[0], dim, out);
  unit_slices(parts[1], dim, out);
}

}  // namespace

void lstm_cell(const fw::Tensor& gates, const fw::Tensor& c_prev, fw::Tensor& h_out, fw::Tensor& c_out) {
  // gates: (N, 4h, A, B) -> i, f, o, g: (N, h, A, B) each
  int64_t h = gates.size(1) / 4;
  std::vector<fw::Tensor> p = fw::split(gates, 1, {h, h, h, h});
  fw::Tensor i = fw::sigmoid(p[0]), f = fw::sigmoid(p[1]), o = fw::sigmoid(p[2]), g = fw::tanh(p[3]);
  fw::Tensor c = fw::mul(i, g);                          // c: (N, h, A, B)
  if (c_prev.defined()) c = fw::add(fw::mul(f, c_prev), c);  // c = f * c_prev + i * g
  h_out = fw::mul(o, fw::tanh(c));                       // h: (N, h, A, B)
  c_out = c;
}

fw::Tensor row_lstm(const fw::Tensor& x, const LstmWeights& w, const fw::Tensor& cond) {
  const int64_t h = hidden_of(w, "row_lstm");
  if (x.dim() != 4) throw fw::ShapeError("row_lstm: input " + x.str() + " is not (N, C, H, W)");
  check_cond(cond, x, h, "row_lstm");
  if (fw::reference_kernels()) return row_lstm_reference(x, w, cond);  // framework/core/profile.h
  const int64_t k_is = w.w_is.size(3), k_ss = w.w_ss.size(3);
  // Input-to-state, whole image at once: a (1 x k) mask-B convolution along each row.
  fw::Tensor is = fw::conv2d(x, w.w_is, w.b_is, fw::Padding2d::same(1, k_is), w.mask_is);  // is: (N, 4h, H, W)
  if (cond.defined()) is = fw::add(is, cond);
  // The recurrence over rows, fused (framework/ops/rnn.h): row r's gates add the width-k convolution of row
  // r-1's hidden state, centred as Padding2d::same(1, k) centres it.
  fw::Tensor w_ss = fw::reshape(w.w_ss, {4 * h, h, k_ss});  // (4h, h, 1, k) -> (4h, h, k)
  return fw::lstm_scan(is, w_ss, fw::Padding2d::same(1, k_ss).left);  // h: (N, h, H, W)
}

fw::Tensor row_lstm_reference(const fw::Tensor& x, const LstmWeights& w, const fw::Tensor& cond) {
  const int64_t h = hidden_of(w, "row_lstm_reference");
  if (x.dim() != 4) throw fw::ShapeError("row_lstm_reference: input " + x.str() + " is not (N, C, H, W)");
  check_cond(cond, x, h, "row_lstm_reference");
  const int64_t H = x.size(2);
  const int64_t k_is = w.w_is.size(3), k_ss = w.w_ss.size(3);
  // Input-to-state, whole image at once: a (1 x k) mask-B convolution along each row.
  fw::Tensor is = fw::conv2d(x, w.w_is, w.b_is, fw::Padding2d::same(1, k_is), w.mask_is);  // is: (N, 4h, H, W)
  if (cond.defined()) is = fw::add(is, cond);
  const int64_t N = x.size(0), W = x.size(3);
  // Rows first in memory, so that each row's gates are one contiguous block.
  std::vector<fw::Tensor> rows, is_rows;
  unit_slices(fw::permute(is, {2, 0, 1, 3}).contiguous(), 0, is_rows);  // H pieces (1, N, 4h, W)
  fw::Tensor hs, cs;  // hs, cs: (N, h, 1, W), the previous row's state (undefined = zero for row 0)
  for (int64_t r = 0; r < H; ++r) {
    fw::Tensor gates = fw::reshape(is_rows[r], {N, 4 * h, 1, W});  // gates: (N, 4h, 1, W)
    if (hs.defined())  // state-to-state: an unmasked (1 x k) convolution of the row above's hidden state
      gates = fw::add(gates, fw::conv2d(hs, w.w_ss, fw::Tensor(), fw::Padding2d::same(1, k_ss)));
    lstm_cell(gates, cs, hs, cs);
    rows.push_back(fw::reshape(hs, {1, N, h, W}));
  }
  return fw::permute(fw::concat(rows, 0), {1, 2, 0, 3});  // (H, N, h, W) -> h: (N, h, H, W)
}

fw::Tensor diagonal_state_to_state(const fw::Tensor& h_prev, const fw::Tensor& w_ss) {
  return fw::conv2d(h_prev, w_ss, fw::Tensor(), kDiagonalStatePadding);  // (N, 4h, H, 1)
}

namespace {

void check_diagonal(const fw::Tensor& gates_img, const fw::Tensor& w_ss, const char* who) {
  if (gates_img.dim() != 4 || w_ss.dim() != 4 || w_ss.size(2) != 2 || w_ss.size(3) != 1 ||
      w_ss.size(0) != gates_img.size(1) || w_ss.size(1) * 4 != w_ss.size(0))
    throw fw::ShapeError(std::string(who) + ": gates " + gates_img.str() + " and state-to-state " + w_ss.str() +
                         " should be (N, 4h, H, W) and (4h, h, 2, 1)");
}

}  // namespace

fw::Tensor diagonal_lstm(const fw::Tensor& gates_img, const fw::Tensor& w_ss) {
  check_diagonal(gates_img, w_ss, "diagonal_lstm");
  if (fw::reference_kernels()) return diagonal_lstm_reference(gates_img, w_ss);  // framework/core/profile.h
  const int64_t G = gates_img.size(1), W = gates_img.size(3), h = G / 4;
  fw::Tensor s = fw::skew(gates_img);  // s: (N, 4h, H, W + H - 1); column j holds the diagonal r + c = j
  // The recurrence over skewed columns, fused (framework/ops/rnn.h): steps are columns, the state runs along H,
  // and the (2, 1) state-to-state kernel reads rows r-1 and r (kDiagonalStatePadding: one row on top).
  fw::Tensor steps = fw::permute(s, {0, 1, 3, 2});                    // steps: (N, 4h, W + H - 1, H)
  fw::Tensor w = fw::reshape(w_ss, {G, h, 2});                        // (4h, h, 2, 1) -> (4h, h, 2)
  fw::Tensor hcols = fw::lstm_scan(steps, w, kDiagonalStatePadding.top);  // (N, h, W + H - 1, H)
  return fw::unskew(fw::permute(hcols, {0, 1, 3, 2}).contiguous(), W);   // h: (N, h, H, W)
}

fw::Tensor diagonal_lstm_reference(const fw::Tensor& gates_img, const fw::Tensor& w_ss, fw::Tensor* skewed_h) {
  check_diagonal(gates_img, w_ss, "diagonal_lstm_reference");
  const int64_t W = gates_img.size(3);
  fw::Tensor s = fw::skew(gates_img);  // s: (N, 4h, H, W + H - 1)
  std::vector<fw::Tensor> out;
  fw::Tensor hs, cs;  // hs, cs: (N, h, H, 1), the previous column's state (undefined = zero before column 0)
  for (int64_t j = 0; j < s.size(3); ++j) {
    fw::Tensor gates = fw::slice(s, 3, j, j + 1);  // gates: (N, 4h, H, 1), column j
    if (hs.defined()) gates = fw::add(gates, diagonal_state_to_state(hs, w_ss));
    lstm_cell(gates, cs, hs, cs);
    out.push_back(hs);
  }
  fw::Tensor hcols = fw::concat(out, 3);  // hcols: (N, h, H, W + H - 1)
  if (skewed_h) *skewed_h = hcols;
  return fw::unskew(hcols, W);  // h: (N, h, H, W)
}

namespace {

// Checks the Diagonal BiLSTM's arguments; returns h.
int64_t check_bilstm(const fw::Tensor& x, const LstmWeights& l2r, const LstmWeights& r2l, const fw::Tensor& cond,
                     const char* who) {
  const int64_t h = hidden_of(l2r, who);
  if (hidden_of(r2l, who) != h)
    throw fw::ShapeError(std::string(who) + ": the two directions have different hidden sizes");
  if (x.dim() != 4) throw fw::ShapeError(std::string(who) + ": input " + x.str() + " is not (N, C, H, W)");
  check_cond(cond, x, h, who);
  return h;
}

// A direction's input-to-state gates: a 1x1 mask-B convolution in image coordinates (before the skew, so the
// skew's padding receives no bias), plus cond. -> (N, 4h, H, W)
fw::Tensor diagonal_input_gates(const fw::Tensor& x, const LstmWeights& w, const fw::Tensor& cond) {
  fw::Tensor g = fw::conv2d(x, w.w_is, w.b_is, fw::Padding2d{}, w.mask_is);  // g: (N, 4h, H, W)
  return cond.defined() ? fw::add(g, cond) : g;
}

}  // namespace

fw::Tensor diagonal_bilstm(const fw::Tensor& x, const LstmWeights& l2r, const LstmWeights& r2l,
                           const fw::Tensor& cond) {
  const int64_t h = check_bilstm(x, l2r, r2l, cond, "diagonal_bilstm");
  fw::Tensor a = diagonal_input_gates(x, l2r, cond);  // a: (N, 4h, H, W)
  fw::Tensor b = diagonal_input_gates(x, r2l, cond);  // b: (N, 4h, H, W)
  // Right to left = the same recurrence on the map mirrored along W. Both directions run in ONE sweep: the
  // left-to-right gates and the mirrored right-to-left gates are interleaved gate by gate into
  // (N, 8h, H, W) = [i_l i_r | f_l f_r | o_l o_r | g_l g_r], which lstm_cell treats as one LSTM of 2h units, and
  // a block-diagonal state-to-state kernel keeps the directions apart. This is the function
  // diagonal_bilstm_reference computes with two separate sweeps (tests/test_models.cpp checks values and
  // gradients), in half the number of steps.
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  fw::Tensor a5 = fw::reshape(a, {N, 4, h, H, W});              // a5: (N, 4, h, H, W)
  fw::Tensor b5 = fw::reshape(fw::flip(b, 3), {N, 4, h, H, W});  // b5: (N, 4, h, H, W), mirrored
  fw::Tensor both = fw::reshape(fw::concat({a5, b5}, 2), {N, 8 * h, H, W});  // both: (N, 8h, H, W)
  fw::Tensor z = fw::Tensor::zeros({4, 1, h, h, 2, 1}, l2r.w_ss.dtype(), l2r.w_ss.device());
  fw::Tensor wl = fw::reshape(l2r.w_ss, {4, 1, h, h, 2, 1}), wr = fw::reshape(r2l.w_ss, {4, 1, h, h, 2, 1});
  fw::Tensor w_ss = fw::reshape(fw::concat({fw::concat({wl, z}, 3), fw::concat({z, wr}, 3)}, 1),
                                {8 * h, 2 * h, 2, 1});  // w_ss: (8h, 2h, 2, 1), [[W_l, 0], [0, W_r]] per gate
  std::vector<fw::Tensor> hs = fw::split(diagonal_lstm(both, w_ss), 1, {h, h});  // 2 x (N, h, H, W)
  fw::Tensor h_l2r = hs[0];                  // h_l2r: (N, h, H, W)
  fw::Tensor h_r2l = fw::flip(hs[1], 3);     // h_r2l: (N, h, H, W), mirrored back
  // Shift down one row so that (r, c) sees the right-to-left state of (r-1, c): no pixel sees its future.
  return fw::add(h_l2r, fw::shift(h_r2l, 2, 1));  // (N, h, H, W)
}

fw::Tensor diagonal_bilstm_reference(const fw::Tensor& x, const LstmWeights& l2r, const LstmWeights& r2l,
                                     const fw::Tensor& cond) {
  check_bilstm(x, l2r, r2l, cond, "diagonal_bilstm_reference");
  // Left to right: sees rows <= r, columns <= c.
  fw::Tensor h_l2r = diagonal_lstm_reference(diagonal_input_gates(x, l2r, cond), l2r.w_ss);  // (N, h, H, W)
  // Right to left: the same on the mirrored image, mirrored back: sees rows <= r, columns >= c.
  fw::Tensor cond_m = cond.defined() ? fw::flip(cond, 3) : fw::Tensor();
  fw::Tensor h_m = diagonal_lstm_reference(diagonal_input_gates(fw::flip(x, 3), r2l, cond_m), r2l.w_ss);
  fw::Tensor h_r2l = fw::flip(h_m, 3);  // h_r2l: (N, h, H, W)
  // Down one row: (r, c) receives the right-to-left state of (r-1, c).
  return fw::add(h_l2r, fw::shift(h_r2l, 2, 1));  // (N, h, H, W)
}

// --- modules ---

namespace {

fw::Tensor input_mask(const LstmOptions& opt, int64_t kw, const std::string& who) {
  // Mask B: gate (g, unit) may see input feature f at its own pixel iff group(unit) >= group(f).
  return make_mask(MaskType::B, 1, kw, gate_groups(opt.hidden, opt.channels, 4, who + " hidden"),
                   feature_groups(opt.in, opt.channels, who + " input"), opt.dtype);
}

}  // namespace

RowLSTM::RowLSTM(const LstmOptions& opt, fw::Rng& rng) {
  input_to_state = register_module(
      "input_to_state",
      make_conv(opt.in, 4 * opt.hidden, 1, kWidth, input_mask(opt, kWidth, "RowLSTM"), true, opt.dtype, rng));
  state_to_state = register_module(
      "state_to_state", make_conv(opt.hidden, 4 * opt.hidden, 1, kWidth, fw::Tensor(), false, opt.dtype, rng));
}

LstmWeights RowLSTM::weights() const {
  return {input_to_state->weight, input_to_state->bias, input_to_state->mask, state_to_state->weight};
}

fw::Tensor RowLSTM::forward(const fw::Tensor& x, const fw::Tensor& cond) const {
  return row_lstm(x, weights(), cond);
}

DiagonalDirection::DiagonalDirection(const LstmOptions& opt, fw::Rng& rng) {
  input_to_state = register_module(
      "input_to_state",
      make_conv(opt.in, 4 * opt.hidden, 1, 1, input_mask(opt, 1, "DiagonalBiLSTM"), true, opt.dtype, rng));
  // Not make_conv: its "same" padding would read the row below (the future). The padding the recurrence needs.
  fw::nn::Conv2dOptions ss;
  ss.in = opt.hidden;
  ss.out = 4 * opt.hidden;
  ss.kh = 2;
  ss.kw = 1;
  ss.pad = kDiagonalStatePadding;
  ss.bias = false;
  ss.dtype = opt.dtype;
  state_to_state = register_module("state_to_state", std::make_shared<fw::nn::Conv2d>(ss, rng));
}

fw::Tensor DiagonalDirection::forward(const fw::Tensor& x, const fw::Tensor& cond) const {
  if (x.dim() != 4) throw fw::ShapeError("DiagonalDirection: input " + x.str() + " is not (N, C, H, W)");
  check_cond(cond, x, state_to_state->weight.size(1), "DiagonalDirection");
  return diagonal_lstm(diagonal_input_gates(x, weights(), cond), state_to_state->weight);  // (N, h, H, W)
}

LstmWeights DiagonalDirection::weights() const {
  return {input_to_state->weight, input_to_state->bias, input_to_state->mask, state_to_state->weight};
}

DiagonalBiLSTM::DiagonalBiLSTM(const LstmOptions& opt, fw::Rng& rng) {
  left_to_right = register_module("left_to_right", std::make_shared<DiagonalDirection>(opt, rng));
  right_to_left = register_module("right_to_left", std::make_shared<DiagonalDirection>(opt, rng));
}

fw::Tensor DiagonalBiLSTM::forward(const fw::Tensor& x, const fw::Tensor& cond) const {
  return diagonal_bilstm(x, left_to_right->weights(), right_to_left->weights(), cond);
}

}  // namespace pixelrnn
