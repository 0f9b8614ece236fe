// models/lstm.h: the two spatial LSTM layers of PixelRNN: Row LSTM (paper section 3.1) and Diagonal BiLSTM
// (section 3.2), each as a pure function of tensors (what the float64 gradient checks exercise) and as a module.
//
// Gates. Every LSTM here computes 4h gate maps, stacked along the channel dim in the order i | f | o | g (input,
// forget, output, content; each h maps). With s = the state-to-state and x = the input-to-state contribution:
//   [i, f, o, g] = [sigmoid, sigmoid, sigmoid, tanh](K_ss (*) h_prev + K_is (*) x)
//   c = f * c_prev + i * g,   h = o * tanh(c)          (the paper's equation (3); zero initial state)
// For 3 colour channels the h units of each gate split into R | G | B groups (models/masks.h), so gate map
// (gate, unit) belongs to the group of `unit`; the masks of the input-to-state convolutions follow that.
// Optional conditioning (the Multi-scale PixelRNN's large network, section 3.6): a (N, 4h, H, W) map added to
// the input-to-state gates as a bias.
#pragma once
#include <memory>

#include "framework/core/rng.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/module.h"
#include "framework/ops/conv.h"

namespace pixelrnn {

// The weights of one LSTM direction. w_is: (4h, Cin, KH, KW) with its mask mask_is (same shape) and bias b_is
// (4h,); w_ss: (4h, h, KH', KW'), unmasked and without bias.
struct LstmWeights {
  fw::Tensor w_is, b_is, mask_is, w_ss;
};

// One LSTM update on stacked gate pre-activations. gates: (N, 4h, A, B); c_prev: (N, h, A, B) or undefined
// (a zero state). Sets h_out, c_out: (N, h, A, B).
void lstm_cell(const fw::Tensor& gates, const fw::Tensor& c_prev, fw::Tensor& h_out, fw::Tensor& c_out);

// Row LSTM (section 3.1). x: (N, Cin, H, W); weights: w_is (4h, Cin, 1, k) (mask B), w_ss (4h, h, 1, k);
// cond: (N, 4h, H, W) or undefined. The input-to-state convolution runs once over the whole image; then rows
// are processed top to bottom, row r's gates adding a width-k unmasked convolution of row r-1's hidden state.
// Returns h: (N, h, H, W).
// The recurrence is one fused op (fw::lstm_scan); row_lstm_reference computes the same function from small ops
// (one conv2d and one lstm_cell per row), the reference it is tested against (tests/test_models.cpp).
fw::Tensor row_lstm(const fw::Tensor& x, const LstmWeights& w, const fw::Tensor& cond);
fw::Tensor row_lstm_reference(const fw::Tensor& x, const LstmWeights& w, const fw::Tensor& cond);

// The Diagonal LSTM's state-to-state convolution (section 3.2). h_prev: (N, h, H, 1), the hidden state of the
// previous skewed column; w_ss: (4h, h, 2, 1), no bias. Row r of the result reads rows r-1 and r of h_prev (one
// zero row of padding on top, none below: kDiagonalStatePadding), which in image coordinates are the pixels
// above and to the left of row r's pixel; never row r+1 (below and to the left: the future). -> (N, 4h, H, 1).
constexpr fw::Padding2d kDiagonalStatePadding{1, 0, 0, 0};
fw::Tensor diagonal_state_to_state(const fw::Tensor& h_prev, const fw::Tensor& w_ss);

// One direction of the Diagonal LSTM (section 3.2) on input-to-state gates already computed in image
// coordinates. gates: (N, 4h, H, W); w_ss: (4h, h, 2, 1). The gates are skewed (row r moved right by r) into
// (N, 4h, H, W+H-1), whose columns are the image's diagonals; columns are processed left to right, column j's
// gates adding diagonal_state_to_state of column j-1's hidden state, which in image coordinates is the state of
// the pixels above and to the left (the sweep is one fused op, fw::lstm_scan, over the skewed columns). The
// result is unskewed: h: (N, h, H, W); h at (r, c) depends on the gates
// at (r', c') with r' <= r and c' <= c only.
// The skew's padding: row r's left triangle (skewed columns j < r, before the row starts) holds zero gates and
// reads only zero states, so its states are exactly 0 and each row starts from a zero state on its left. The
// right triangle (columns j >= r + W, after the row ends) is not zero: it carries on from the row's last pixel.
// It feeds only the right triangles of rows r and r+1, never a pixel, and the unskew drops it.
fw::Tensor diagonal_lstm(const fw::Tensor& gates, const fw::Tensor& w_ss);

// The same recurrence written plainly, the reference diagonal_lstm is tested against: skew, then one column
// at a time (a slice, diagonal_state_to_state, lstm_cell), then unskew. When skewed_h is given it receives the
// hidden states before the unskew: (N, h, H, W+H-1), padding included.
fw::Tensor diagonal_lstm_reference(const fw::Tensor& gates, const fw::Tensor& w_ss,
                                   fw::Tensor* skewed_h = nullptr);

// Diagonal BiLSTM (section 3.2). x: (N, Cin, H, W); l2r, r2l: weights of the two directions with w_is
// (4h, Cin, 1, 1) (mask B) and w_ss (4h, h, 2, 1); cond: (N, 4h, H, W) or undefined (added to both).
// left-to-right: diagonal_lstm(K_is (*) x + cond)                       sees rows <= r, columns <= c
// right-to-left: the same on the map mirrored along W, mirrored back,  sees rows <= r, columns >= c ...
//   ... which includes the current row's future, so its output is shifted DOWN one row before it is added:
//   pixel (r, c) receives the right-to-left state of (r-1, c), which sees rows <= r-1 only.
// Returns h_l2r + shift_down(h_r2l): (N, h, H, W), which depends only on pixels before (r, c) in raster order
// (and on (r, c) itself through mask B's colour rule).
// The fast form: both directions in ONE sweep of W+H-1 steps (their gates interleaved into 8h maps, a
// block-diagonal state-to-state kernel keeping them apart).
fw::Tensor diagonal_bilstm(const fw::Tensor& x, const LstmWeights& l2r, const LstmWeights& r2l,
                           const fw::Tensor& cond);

// The paper's form, the reference diagonal_bilstm is tested against (same arguments, same function): two
// separate directions, each its own skew -> sweep -> unskew (diagonal_lstm_reference), the right-to-left one
// on the image mirrored along W (its input and cond mirrored, its output mirrored back), then the down-shift
// and the sum. Twice the sequential steps of the fast form.
fw::Tensor diagonal_bilstm_reference(const fw::Tensor& x, const LstmWeights& l2r, const LstmWeights& r2l,
                                     const fw::Tensor& cond);

// Options shared by the LSTM modules. in: input maps (2h in PixelRNN); hidden: h; channels: 1 or 3 (colour
// groups of the masks); dtype: F32 for models, F64 for gradient checks.
struct LstmOptions {
  int64_t in = 2, hidden = 1, channels = 1;
  fw::DType dtype = fw::DType::F32;
};

// Row LSTM layer. Parameters: input_to_state.{weight (4h, in, 1, 3), bias (4h,)}, buffer input_to_state.mask
// (mask B); state_to_state.weight (4h, h, 1, 3).
class RowLSTM : public fw::nn::Module {
 public:
  static constexpr int64_t kWidth = 3;  // the paper's k = 3
  RowLSTM(const LstmOptions& opt, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond = fw::Tensor()) const;  // -> (N, h, H, W)
  LstmWeights weights() const;
  std::shared_ptr<fw::nn::Conv2d> input_to_state, state_to_state;
};

// One direction of the Diagonal BiLSTM. Parameters: input_to_state.{weight (4h, in, 1, 1), bias (4h,)}, buffer
// input_to_state.mask (mask B); state_to_state.weight (4h, h, 2, 1). state_to_state is padded
// kDiagonalStatePadding, so its forward() is diagonal_state_to_state (row r reads rows r-1 and r, never r+1).
class DiagonalDirection : public fw::nn::Module {
 public:
  DiagonalDirection(const LstmOptions& opt, fw::Rng& rng);
  // This direction's recurrence in its own coordinates (left to right; DiagonalBiLSTM runs right_to_left on
  // the mirrored image): diagonal_lstm(input_to_state(x) + cond, state_to_state.weight). x: (N, in, H, W);
  // cond: (N, 4h, H, W) or undefined. -> (N, h, H, W); (r, c) sees inputs (r', c') with r' <= r, c' <= c only.
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond = fw::Tensor()) const;
  LstmWeights weights() const;
  std::shared_ptr<fw::nn::Conv2d> input_to_state, state_to_state;
};

// Diagonal BiLSTM layer: sub-modules left_to_right and right_to_left (DiagonalDirection).
class DiagonalBiLSTM : public fw::nn::Module {
 public:
  DiagonalBiLSTM(const LstmOptions& opt, fw::Rng& rng);
  fw::Tensor forward(const fw::Tensor& x, const fw::Tensor& cond = fw::Tensor()) const;  // -> (N, h, H, W)
  std::shared_ptr<DiagonalDirection> left_to_right, right_to_left;
};

}  // namespace pixelrnn
