// framework/ops/residual.cpp: the fused bottleneck residual block (framework/ops/residual.h): the CPU kernels
// (forward and backward, one image at a time through the three convolutions), then the op, its gradient, and the
// composed form it is tested against.
//
// Per image n, P = H*W pixels; conv_detail (framework/ops/conv_im2col.h) gives the column matrices, so a dead tap
// of a mask costs nothing here either (La, Lb, Lc <= the convolutions' K: their live taps).
//   forward   ra[n] (F, P) = relu(ba + wa_eff (F, La) colsA (La, P)),  colsA = relu(x[n]) (im2col with the ReLU)
//             rb[n] (F, P) = relu(bb + wb_eff (F, Lb) colsB (Lb, P)),  colsB = im2col(ra[n])
//             y[n]  (C, P) = x[n] + bc + wc_eff (C, Lc) colsC (Lc, P), colsC = rb[n] (a 1x1 reads it in place)
//   backward  g = dy[n] (C, P)
//             dWc^T (Lc, C) += colsC g^T;            dbc += sum_p g;   d2 = col2im(wc_eff^T g) * (rb[n] > 0)
//             dWb^T (Lb, F) += colsB d2^T;           dbb += sum_p d2;  d1 = col2im(wb_eff^T d2) * (ra[n] > 0)
//             dWa^T (La, F) += colsA d1^T;           dba += sum_p d1;  dx[n] = g + (x[n] > 0) * col2im(wa_eff^T d1)
// All of one image's intermediates (at most (Lb, P) floats of columns: 1.25 MB for 64 channels, 28x28, 5 taps)
// stay in this thread's cache; ra and rb are written once, for the backward.
// Threads: the forward is parallel over images; the backward over min(N, kWeightChunks) fixed chunks of images,
// each summing its images' weight gradients in order into its own partials, which are then added in chunk order:
// bit-identical at any thread count (the same rule as conv2d_backward_weight).
#include "framework/ops/residual.h"

#include <string>
#include <type_traits>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/profile.h"
#include "framework/ops/conv_im2col.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/gemm_avx512.h"

namespace fw {
namespace {

using namespace conv_detail;

// The three convolutions as conv_detail geometries over the whole batch (per-image calls pass n0 = n, gn = 1).
struct BlockDims {
  ConvDims a, b, c;
  int64_t N, C, F, P;
};
bool block_dims(const fw_bottleneck_geometry& g, BlockDims& bd) {
  if (g.KH < 1 || g.KW < 1 || g.pad_top + g.pad_bottom != g.KH - 1 || g.pad_left + g.pad_right != g.KW - 1)
    return false;
  const fw_conv2d_geometry ga{g.N, g.C, g.H, g.W, g.F, 1, 1, 0, 0, 0, 0, 1};
  const fw_conv2d_geometry gb{g.N, g.F, g.H, g.W, g.F, g.KH, g.KW, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, 0};
  const fw_conv2d_geometry gc{g.N, g.F, g.H, g.W, g.C, 1, 1, 0, 0, 0, 0, 0};
  if (!dims_from(ga, bd.a) || !dims_from(gb, bd.b) || !dims_from(gc, bd.c)) return false;
  bd.N = g.N, bd.C = g.C, bd.F = g.F, bd.P = g.H * g.W;
  return true;
}

// One convolution's live taps and compacted weight.
template <class T> struct Live {
  std::vector<Tap> taps;
  std::vector<T> store;
  const T* we = nullptr;  // we: (Co, L)
  int64_t L = 0;
  Live(const T* w, const T* mask, const ConvDims& d) : taps(live_taps(mask, d)) {
    rows_out = d.Co;
    L = static_cast<int64_t>(taps.size());
    we = compact_weight(w, mask, taps, d, store);
  }
  bool in_place(const ConvDims& d) const { return d.direct && !d.relu && L == d.K; }  // cols == the input
  bool direct_data(const ConvDims& d) const { return d.direct && L == d.K; }         // dx = we^T g, no col2im
  // For the AVX-512 GEMM (float only, framework/ops/gemm_avx512.h): we (Co, L) packed, and we^T (L, Co) packed.
  std::vector<float> fwd, bwd;
  void pack(bool backward) {
    if constexpr (std::is_same_v<T, float>) {
      fwd.resize(static_cast<size_t>(avx512::packed_size(rows_out, L)));
      avx512::pack_a(we, L, false, rows_out, L, fwd.data());
      if (backward) {
        bwd.resize(static_cast<size_t>(avx512::packed_size(L, rows_out)));
        avx512::pack_a(we, L, true, L, rows_out, bwd.data());
      }
    }
  }
  int64_t rows_out = 0;  // Co
};

// The AVX-512 GEMM runs the float kernels when the CPU has it; float64, and float elsewhere, use OpenBLAS.
template <class T> bool use_avx512() {
  if constexpr (std::is_same_v<T, float>) return avx512::available();
  return false;
}

// The column matrix (L, P) of image n of src: src[n] itself when the convolution reads it in place, else
// im2col into scratch slot 4.  src: (N, Ci, H, W)
template <class T> const T* cols_of(const T* src, int64_t n, const Live<T>& lv, const ConvDims& d) {
  if (lv.in_place(d)) return src + n * d.Ci * d.P;
  T* buf = scratch<T, 4>(static_cast<size_t>(lv.L * d.P));
  im2col(src, buf, n, 1, lv.taps, d);
  return buf;
}

// out (Co, P) = prefill + w_eff cols; prefill is out's contents (the caller's bias or residual).
template <class T> void conv_image(T* out, const T* cols, const Live<T>& lv, const ConvDims& d) {
  if (lv.L > 0) blas::gemm(false, false, d.Co, d.P, lv.L, T(1), lv.we, lv.L, cols, d.P, T(1), out, d.P);
}

// dst (Ci, P) = col2im(w_eff^T (L, Co) g (Co, P)): the input gradient of one image, overwritten.
template <class T> void data_grad_image(T* dst, const T* g, const Live<T>& lv, const ConvDims& d) {
  if (lv.L == 0) {
    std::fill(dst, dst + d.Ci * d.P, T(0));
    return;
  }
  if (d.direct && lv.L == d.K) {  // 1x1, every tap live: the GEMM writes dst
    blas::gemm(true, false, d.K, d.P, d.Co, T(1), lv.we, d.K, g, d.P, T(0), dst, d.P);
    return;
  }
  T* t = scratch<T, 5>(static_cast<size_t>(lv.L * d.P));  // t: (L, P)
  blas::gemm(true, false, lv.L, d.P, d.Co, T(1), lv.we, lv.L, g, d.P, T(0), t, d.P);
  std::fill(dst, dst + d.Ci * d.P, T(0));
  for (int64_t r = 0; r < lv.L; ++r) col2im_tap_add(t + r * d.P, dst, lv.taps[r], d);
}

// data_grad_image with the AVX-512 GEMM (float): dst (Ci, P) = gate(col2im(w_eff^T g)) + add, where gate (Ci, P)
// (null: none) zeroes dst where gate <= 0 and add (Ci, P) (null: none) is added; gate and add only when the
// convolution is direct (no col2im), as the callers use them.
template <class T>
void data_grad_image_fast(T* dst, const T* g, const Live<T>& lv, const ConvDims& d, const T* gate, const T* add) {
  if constexpr (std::is_same_v<T, float>) {
    avx512::Epilogue e;
    e.gate = gate, e.ld_gate = d.P, e.add = add, e.ld_add = d.P;
    if (d.direct && lv.L == d.K) {
      avx512::gemm(d.K, d.P, d.Co, lv.bwd.data(), g, d.P, dst, d.P, e);
      return;
    }
    T* t = scratch<T, 5>(static_cast<size_t>(lv.L * d.P));  // t: (L, P)
    avx512::gemm(lv.L, d.P, d.Co, lv.bwd.data(), g, d.P, t, d.P, avx512::Epilogue{});
    std::fill(dst, dst + d.Ci * d.P, T(0));
    for (int64_t r = 0; r < lv.L; ++r) col2im_tap_add(t + r * d.P, dst, lv.taps[r], d);
  }
}

// The middle convolution read in place by the AVX-512 GEMM (float): its column matrix as avx512::ImplicitRows
// over one image, forward (rows = live taps (c, a, b), reading src[c, i + a - pt, j + b - pl]) or for the input
// gradient (rows = (o, a, b) for every output channel o and every tap position live for some channel, reading
// src[o, i - a + pt, j - b + pl]: the transposed convolution), with the packed weight for it.
struct ImplicitConv {
  std::vector<int64_t> off;                 // (K) offsets into one image
  std::vector<std::vector<uint16_t>> masks; // per tap position: (P + 15) / 16 column masks
  std::vector<const uint16_t*> rows;        // (K) the mask row of each row of b
  std::vector<float> ap;                    // the packed weight (backward only; the forward uses Live::fwd)
  avx512::ImplicitRows at(const float* src) const { return {src, off.data(), rows.data()}; }
};
// Masks of the pixels (i, j) of an H x W image whose neighbour (i + di, j + dj) is inside it.
std::vector<uint16_t> window_masks(int64_t di, int64_t dj, int64_t H, int64_t W) {
  std::vector<uint16_t> m(static_cast<size_t>((H * W + 15) / 16), 0);
  for (int64_t p = 0; p < H * W; ++p) {
    const int64_t i = p / W + di, j = p % W + dj;
    if (i >= 0 && i < H && j >= 0 && j < W) m[static_cast<size_t>(p / 16)] |= static_cast<uint16_t>(1u << (p % 16));
  }
  return m;
}
template <class T> ImplicitConv implicit_forward(const Live<T>& lv, const ConvDims& d) {
  ImplicitConv ic;
  std::vector<int64_t> pos_of(static_cast<size_t>(d.KH * d.KW), -1);
  for (const Tap& t : lv.taps) {
    int64_t& q = pos_of[static_cast<size_t>(t.a * d.KW + t.b)];
    if (q < 0) {
      q = static_cast<int64_t>(ic.masks.size());
      ic.masks.push_back(window_masks(t.a - d.pt, t.b - d.pl, d.H, d.W));
    }
    ic.off.push_back(t.c * d.P + (t.a - d.pt) * d.W + (t.b - d.pl));
  }
  for (const Tap& t : lv.taps) ic.rows.push_back(ic.masks[static_cast<size_t>(pos_of[static_cast<size_t>(t.a * d.KW + t.b)])].data());
  return ic;
}
// we: (Co, L) compacted weight of lv. The backward's weight (Ci, Co * npos): [c, o * npos + q] = w_eff[o, c, pos q].
template <class T> ImplicitConv implicit_backward(const Live<T>& lv, const ConvDims& d) {
  ImplicitConv ic;
  std::vector<std::pair<int64_t, int64_t>> pos;  // live (a, b), in first-seen order
  std::vector<int64_t> pos_of(static_cast<size_t>(d.KH * d.KW), -1);
  for (const Tap& t : lv.taps)
    if (pos_of[static_cast<size_t>(t.a * d.KW + t.b)] < 0) {
      pos_of[static_cast<size_t>(t.a * d.KW + t.b)] = static_cast<int64_t>(pos.size());
      pos.push_back({t.a, t.b});
      ic.masks.push_back(window_masks(d.pt - t.a, d.pl - t.b, d.H, d.W));
    }
  const int64_t np = static_cast<int64_t>(pos.size()), K = d.Co * np;
  for (int64_t o = 0; o < d.Co; ++o)
    for (int64_t q = 0; q < np; ++q) {
      ic.off.push_back(o * d.P + (d.pt - pos[q].first) * d.W + (d.pl - pos[q].second));
      ic.rows.push_back(ic.masks[static_cast<size_t>(q)].data());
    }
  std::vector<float> a(static_cast<size_t>(d.Ci * K), 0.0f);  // a: (Ci, Co * npos)
  for (int64_t o = 0; o < d.Co; ++o)
    for (int64_t r = 0; r < lv.L; ++r) {
      const Tap& t = lv.taps[r];
      a[static_cast<size_t>(t.c * K + o * np + pos_of[static_cast<size_t>(t.a * d.KW + t.b)])] =
          static_cast<float>(lv.we[o * lv.L + r]);
    }
  ic.ap.resize(static_cast<size_t>(avx512::packed_size(d.Ci, K)));
  avx512::pack_a(a.data(), K, false, d.Ci, K, ic.ap.data());
  return ic;
}

template <class T> void bias_rows(T* out, const T* bias, int64_t rows, int64_t P) {
  for (int64_t o = 0; o < rows; ++o) std::fill(out + o * P, out + (o + 1) * P, bias ? bias[o] : T(0));
}
template <class T> void relu_in_place(T* __restrict v, int64_t n) {
  for (int64_t m = 0; m < n; ++m) v[m] = v[m] > T(0) ? v[m] : T(0);
}

// y, x: (N, C, H, W); ra, rb: (N, F, H, W); wa (F, C), wb (F, F, KH, KW), wc (C, F); biases and masks or null
template <class T>
void bottleneck_forward(T* y, T* ra, T* rb, const T* x, const T* wa, const T* ba, const T* ma, const T* wb,
                        const T* bb, const T* mb, const T* wc, const T* bc, const T* mc, const BlockDims& bd) {
  Live<T> la(wa, ma, bd.a), lb(wb, mb, bd.b), lc(wc, mc, bd.c);
  const int64_t C = bd.C, F = bd.F, P = bd.P;
  const bool fast = use_avx512<T>();
  ImplicitConv icf;
  if (fast) {
    for (Live<T>* lv : {&la, &lb, &lc}) lv->pack(false);
    icf = implicit_forward(lb, bd.b);
  }
  const double flops = 2.0 * P * (F * la.L + F * lb.L + C * lc.L);
  for_items(bd.N, flops, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* yan = ra + n * F * P;  // yan, ybn: (F, P); yn, xn: (C, P)
      if constexpr (std::is_same_v<T, float>)
        if (fast) {  // each GEMM with its bias, ReLU or residual applied as it stores
          avx512::Epilogue ea, eb, ec;
          ea.bias = ba, ea.relu = true, eb.bias = bb, eb.relu = true, ec.bias = bc;
          ec.add = x + n * C * P, ec.ld_add = P;
          avx512::gemm(F, P, la.L, la.fwd.data(), cols_of(x, n, la, bd.a), P, yan, P, ea);
          if (lb.in_place(bd.b)) avx512::gemm(F, P, lb.L, lb.fwd.data(), ra + n * F * P, P, rb + n * F * P, P, eb);
          else avx512::gemm_implicit(F, P, lb.L, lb.fwd.data(), icf.at(ra + n * F * P), rb + n * F * P, P, eb);
          avx512::gemm(C, P, lc.L, lc.fwd.data(), cols_of(rb, n, lc, bd.c), P, y + n * C * P, P, ec);
          continue;
        }
      bias_rows(yan, ba, F, P);
      conv_image(yan, cols_of(x, n, la, bd.a), la, bd.a);
      relu_in_place(yan, F * P);
      T* ybn = rb + n * F * P;
      bias_rows(ybn, bb, F, P);
      conv_image(ybn, cols_of(ra, n, lb, bd.b), lb, bd.b);
      relu_in_place(ybn, F * P);
      T* yn = y + n * C * P;
      const T* xn = x + n * C * P;
      for (int64_t o = 0; o < C; ++o) {
        const T bo = bc ? bc[o] : T(0);
        for (int64_t p = 0; p < P; ++p) yn[o * P + p] = xn[o * P + p] + bo;
      }
      conv_image(yn, cols_of(rb, n, lc, bd.c), lc, bd.c);
    }
  });
}

// One convolution's share of a chunk's partials: the weight gradient transposed (L, Co), then the bias's (Co).
struct PartLayout {
  int64_t wa, ba, wb, bb, wc, bc, total;  // offsets within a chunk's row
};

// Adds the chunks' partials in chunk order and writes dw (Co, K) = mask * sum (zero on dead taps) and db (Co).
// part: (chunks, total); pw at offset ow (L, Co), pb at offset ob (Co)
template <class T>
void reduce_parts(T* dw, T* db, const T* mask, const T* part, int64_t chunks, int64_t total, int64_t ow,
                  int64_t ob, const Live<T>& lv, const ConvDims& d) {
  auto sum_at = [&](int64_t off) {
    T s = part[off];
    for (int64_t c = 1; c < chunks; ++c) s += part[c * total + off];
    return s;
  };
  if (dw) {
    std::fill(dw, dw + d.Co * d.K, T(0));
    for (int64_t r = 0; r < lv.L; ++r)
      for (int64_t o = 0; o < d.Co; ++o) {
        const int64_t k = o * d.K + lv.taps[r].k;
        const T s = sum_at(ow + r * d.Co + o);
        dw[k] = mask ? mask[k] * s : s;
      }
  }
  if (db)
    for (int64_t o = 0; o < d.Co; ++o) db[o] = sum_at(ob + o);
}

// dx: (N, C, H, W) or null; dw*, db*: like the parameters, or null; dy, x: (N, C, H, W); ra, rb: (N, F, H, W)
template <class T>
void bottleneck_backward(T* dx, T* dwa, T* dba, T* dwb, T* dbb, T* dwc, T* dbc, const T* dy, const T* x,
                         const T* ra, const T* rb, const T* wa, const T* ma, const T* wb, const T* mb, const T* wc,
                         const T* mc, const BlockDims& bd) {
  if (bd.N == 0) {
    for (auto [p, n] : {std::pair<T*, int64_t>{dwa, bd.F * bd.C}, {dba, bd.F}, {dwb, bd.F * bd.b.K}, {dbb, bd.F},
                        {dwc, bd.C * bd.F}, {dbc, bd.C}})
      if (p) std::fill(p, p + n, T(0));
    return;
  }
  Live<T> la(wa, ma, bd.a), lb(wb, mb, bd.b), lc(wc, mc, bd.c);
  const int64_t C = bd.C, F = bd.F, P = bd.P;
  const bool fast = use_avx512<T>();
  ImplicitConv icb;
  if (fast) {
    for (Live<T>* lv : {&la, &lb, &lc}) lv->pack(true);
    icb = implicit_backward(lb, bd.b);
  }
  PartLayout pl;
  pl.wa = 0, pl.ba = pl.wa + la.L * F, pl.wb = pl.ba + F, pl.bb = pl.wb + lb.L * F, pl.wc = pl.bb + F;
  pl.bc = pl.wc + lc.L * C, pl.total = pl.bc + C;
  const int64_t chunks = std::min(bd.N, kWeightChunks);
  T* const part = scratch<T, 9>(static_cast<size_t>(chunks * pl.total));  // the calling thread's; tasks use 4-8
  auto chunk_begin = [&](int64_t c) { return c * bd.N / chunks; };
  const double flops = 4.0 * P * (F * la.L + F * lb.L + C * lc.L) * bd.N / chunks;
  for_items(chunks, flops, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      T* pp = part + ch * pl.total;  // this chunk's partials
      std::fill(pp, pp + pl.total, T(0));
      for (int64_t n = chunk_begin(ch); n < chunk_begin(ch + 1); ++n) {
        const T* g = dy + n * C * P;  // g: (C, P)
        // conv_c: weight and bias gradients, then d2 (F, P), masked by rb > 0
        if (dwc) blas::gemm(false, true, lc.L, C, P, T(1), cols_of(rb, n, lc, bd.c), P, g, P, T(1), pp + pl.wc, C);
        for (int64_t o = 0; o < C; ++o) pp[pl.bc + o] += plane_sum(g + o * P, P);
        T* d2 = scratch<T, 6>(static_cast<size_t>(F * P));  // d2: (F, P)
        if (fast && lc.direct_data(bd.c)) {
          data_grad_image_fast(d2, g, lc, bd.c, rb + n * F * P, static_cast<const T*>(nullptr));
        } else {
          data_grad_image(d2, g, lc, bd.c);
          where_positive(d2, d2, rb + n * F * P, F * P);
        }
        // conv_b
        if (dwb) blas::gemm(false, true, lb.L, F, P, T(1), cols_of(ra, n, lb, bd.b), P, d2, P, T(1), pp + pl.wb, F);
        for (int64_t o = 0; o < F; ++o) pp[pl.bb + o] += plane_sum(d2 + o * P, P);
        T* d1 = scratch<T, 7>(static_cast<size_t>(F * P));  // d1: (F, P)
        if constexpr (std::is_same_v<T, float>) {
          if (fast) {  // d1 = (ra > 0) * transposed conv of d2, read in place
            avx512::Epilogue e;
            e.gate = ra + n * F * P, e.ld_gate = P;
            avx512::gemm_implicit(F, P, static_cast<int64_t>(icb.off.size()), icb.ap.data(), icb.at(d2), d1, P, e);
          }
        }
        if (!fast) {
          data_grad_image(d1, d2, lb, bd.b);
          where_positive(d1, d1, ra + n * F * P, F * P);
        }
        // conv_a, its input read through the ReLU; dx = dy + the gradient through the block
        if (dwa) blas::gemm(false, true, la.L, F, P, T(1), cols_of(x, n, la, bd.a), P, d1, P, T(1), pp + pl.wa, F);
        for (int64_t o = 0; o < F; ++o) pp[pl.ba + o] += plane_sum(d1 + o * P, P);
        if (dx) {
          T* dxn = dx + n * C * P;  // dxn, xn: (C, P)
          const T* xn = x + n * C * P;
          if (fast && la.direct_data(bd.a)) {
            data_grad_image_fast(dxn, d1, la, bd.a, xn, g);
          } else {
            data_grad_image(dxn, d1, la, bd.a);
            for (int64_t m = 0; m < C * P; ++m) dxn[m] = g[m] + (xn[m] > T(0) ? dxn[m] : T(0));
          }
        }
      }
    }
  });
  reduce_parts(dwa, dba, ma, part, chunks, pl.total, pl.wa, pl.ba, la, bd.a);
  reduce_parts(dwb, dbb, mb, part, chunks, pl.total, pl.wb, pl.bb, lb, bd.b);
  reduce_parts(dwc, dbc, mc, part, chunks, pl.total, pl.wc, pl.bc, lc, bd.c);
}

template <class T> const T* in(const fw_buffer& b) { return static_cast<const T*>(b.ptr); }
template <class T> T* out(const fw_buffer& b) { return static_cast<T*>(b.ptr); }

}  // namespace

int cpu_bottleneck_forward(int32_t dtype, const fw_bottleneck_forward_params* p) {
  BlockDims bd;
  if (!block_dims(p->g, bd) || !p->y.ptr || !p->ra.ptr || !p->rb.ptr || !p->x.ptr || !p->wa.ptr || !p->wb.ptr ||
      !p->wc.ptr)
    return FW_ERR_INVALID;
  init_thread_policy();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    bottleneck_forward(out<T>(p->y), out<T>(p->ra), out<T>(p->rb), in<T>(p->x), in<T>(p->wa), in<T>(p->ba),
                       in<T>(p->ma), in<T>(p->wb), in<T>(p->bb), in<T>(p->mb), in<T>(p->wc), in<T>(p->bc),
                       in<T>(p->mc), bd);
  };
  if (dtype == FW_F32) run(float{});
  else run(double{});
  return FW_OK;
}

int cpu_bottleneck_backward(int32_t dtype, const fw_bottleneck_backward_params* p) {
  BlockDims bd;
  if (!block_dims(p->g, bd) || !p->dy.ptr || !p->x.ptr || !p->ra.ptr || !p->rb.ptr || !p->wa.ptr || !p->wb.ptr ||
      !p->wc.ptr)
    return FW_ERR_INVALID;
  init_thread_policy();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    bottleneck_backward(out<T>(p->dx), out<T>(p->dwa), out<T>(p->dba), out<T>(p->dwb), out<T>(p->dbb),
                        out<T>(p->dwc), out<T>(p->dbc), in<T>(p->dy), in<T>(p->x), in<T>(p->ra), in<T>(p->rb),
                        in<T>(p->wa), in<T>(p->ma), in<T>(p->wb), in<T>(p->mb), in<T>(p->wc), in<T>(p->mc), bd);
  };
  if (dtype == FW_F32) run(float{});
  else run(double{});
  return FW_OK;
}

namespace {

// ---- the op

void check_conv_params(const std::string& what, const ConvParams& p, const Shape& w_shape, const Tensor& x) {
  const std::string o = "bottleneck_residual: " + what;
  if (!p.w.defined()) throw ShapeError(o + " weight is undefined");
  if (p.w.shape() != w_shape)
    throw ShapeError(o + " weight " + p.w.str() + " should be " + shape_str(w_shape) + " for input " + x.str());
  if (p.bias.defined() && p.bias.shape() != Shape{w_shape[0]})
    throw ShapeError(o + " bias " + p.bias.str() + " should be " + shape_str({w_shape[0]}));
  if (p.mask.defined() && p.mask.shape() != w_shape)
    throw ShapeError(o + " mask " + p.mask.str() + " should be " + shape_str(w_shape));
  for (const Tensor* t : {&p.w, &p.bias, &p.mask})
    if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device()))
      throw ShapeError(o + " " + t->str() + ": dtype or device differs from input " + x.str());
}

fw_bottleneck_geometry check_block(const Tensor& x, const ConvParams& a, const ConvParams& b, const Padding2d& pad,
                                   const ConvParams& c) {
  if (!x.defined()) throw ShapeError("bottleneck_residual: undefined input");
  if (x.dim() != 4) throw ShapeError("bottleneck_residual: input " + x.str() + " must be (N, C, H, W)");
  if (!a.w.defined() || a.w.dim() != 4 || !b.w.defined() || b.w.dim() != 4)
    throw ShapeError("bottleneck_residual: weights a " + a.w.str() + " and b " + b.w.str() +
                     " must be (F, C, 1, 1) and (F, F, KH, KW)");
  const int64_t C = x.size(1), F = a.w.size(0), KH = b.w.size(2), KW = b.w.size(3);
  check_conv_params("a", a, {F, C, 1, 1}, x);
  check_conv_params("b", b, {F, F, KH, KW}, x);
  check_conv_params("c", c, {C, F, 1, 1}, x);
  if (pad.top < 0 || pad.bottom < 0 || pad.left < 0 || pad.right < 0 || pad.top + pad.bottom != KH - 1 ||
      pad.left + pad.right != KW - 1)
    throw ShapeError("bottleneck_residual: padding (top " + std::to_string(pad.top) + ", bottom " +
                     std::to_string(pad.bottom) + ", left " + std::to_string(pad.left) + ", right " +
                     std::to_string(pad.right) + ") must keep the size for weight b " + b.w.str());
  return {x.size(0), C, F, x.size(2), x.size(3), KH, KW, pad.top, pad.bottom, pad.left, pad.right};
}

Tensor plain(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard ng;
  return t.contiguous().detach();
}

}  // namespace

Tensor bottleneck_residual_composed(const Tensor& x, const ConvParams& a, const ConvParams& b, Padding2d pad_b,
                                    const ConvParams& c) {
  check_block(x, a, b, pad_b, c);
  Tensor h = relu(relu_conv2d(x, a.w, a.bias, Padding2d{}, a.mask));  // h: (N, F, H, W)
  h = relu(conv2d(h, b.w, b.bias, pad_b, b.mask));
  return add(x, conv2d(h, c.w, c.bias, Padding2d{}, c.mask));
}

Tensor bottleneck_residual(const Tensor& x0, const ConvParams& a, const ConvParams& b, Padding2d pad_b,
                           const ConvParams& c) {
  const fw_bottleneck_geometry geo = check_block(x0, a, b, pad_b, c);
  if (reference_kernels() && x0.device() == Device::CPU) return bottleneck_residual_composed(x0, a, b, pad_b, c);
  Tensor x = plain(x0);
  const ConvParams pa{plain(a.w), plain(a.bias), plain(a.mask)}, pb{plain(b.w), plain(b.bias), plain(b.mask)},
      pc{plain(c.w), plain(c.bias), plain(c.mask)};
  const Shape hs{geo.N, geo.F, geo.H, geo.W};
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());   // y: (N, C, H, W)
  Tensor ra = Tensor::empty(hs, x.dtype(), x.device());         // ra, rb: (N, F, H, W)
  Tensor rb = Tensor::empty(hs, x.dtype(), x.device());
  const fw_bottleneck_forward_params fp{buffer_of(y),     buffer_of(ra),      buffer_of(rb),     buffer_of(x),
                                        buffer_of(pa.w),  buffer_of(pa.bias), buffer_of(pa.mask), buffer_of(pb.w),
                                        buffer_of(pb.bias), buffer_of(pb.mask), buffer_of(pc.w), buffer_of(pc.bias),
                                        buffer_of(pc.mask), geo};
  launch(y.device(), y.dtype(), fp);
  std::vector<Tensor> inputs{x0, a.w, a.bias, b.w, b.bias, c.w, c.bias};
  std::vector<bool> need;
  for (const Tensor& t : inputs) need.push_back(t.defined() && t.requires_grad());
  return record(y, "bottleneck_residual", inputs, [x, ra, rb, pa, pb, pc, geo, need](const Tensor& g0) {
    Tensor g = plain(g0);  // g: (N, C, H, W)
    const Tensor* like[7] = {&x, &pa.w, &pa.bias, &pb.w, &pb.bias, &pc.w, &pc.bias};
    std::vector<Tensor> grads(7);
    for (size_t i = 0; i < 7; ++i)
      if (need[i]) grads[i] = Tensor::empty(like[i]->shape(), like[i]->dtype(), like[i]->device());
    launch(g.device(), g.dtype(),
           fw_bottleneck_backward_params{buffer_of(grads[0]), buffer_of(grads[1]), buffer_of(grads[2]),
                                         buffer_of(grads[3]), buffer_of(grads[4]), buffer_of(grads[5]),
                                         buffer_of(grads[6]), buffer_of(g), buffer_of(x), buffer_of(ra),
                                         buffer_of(rb), buffer_of(pa.w), buffer_of(pa.mask), buffer_of(pb.w),
                                         buffer_of(pb.mask), buffer_of(pc.w), buffer_of(pc.mask), geo});
    return grads;
  });
}

}  // namespace fw
