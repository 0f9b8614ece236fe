// framework/ops/conv_im2col.h: INTERNAL to the CPU kernels of framework/ops/conv.cpp and
// framework/ops/residual.cpp (never installed, never included by an installed header): the convolution geometry,
// the live taps of a mask, im2col / col2im of one image or a group of images, the thread-local scratch buffers
// and the task split. conv.cpp's header comment explains the layout (cols: (L, G*P), one row per live tap).
// Scratch slots: conv.cpp's kernels use 0-3, residual.cpp's 4-9 (a slot is one thread-local buffer per thread).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "framework/ops/blas.h"
#include "framework/ops/conv.h"

namespace fw {
namespace conv_detail {

constexpr int64_t kWeightChunks = 8;       // fixed batch chunks of the weight gradient
constexpr double kMinTaskFlops = 2.0e5;    // below this per task, TBB scheduling costs more than it saves

// Convolution geometry from the kernel parameters (framework/ops/conv.h).
struct ConvDims {
  int64_t N, Ci, H, W, Co, KH, KW, pt, pb, pl, pr;
  int64_t Ho, Wo, K, P;  // derived: output size, GEMM inner dim Ci*KH*KW, pixels per output plane
  bool direct;           // 1x1, no padding: cols == x[n] (unless relu)
  bool relu;             // input_relu: x is read as relu(x)
};
inline bool dims_from(const fw_conv2d_geometry& g, ConvDims& d) {
  d = {g.N, g.Ci, g.H, g.W, g.Co, g.KH, g.KW, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, 0, 0, 0, 0, false,
       g.input_relu == 1};
  if (g.input_relu != 0 && g.input_relu != 1) return false;
  for (int64_t v : {g.N, g.Ci, g.H, g.W, g.Co, g.KH, g.KW, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right})
    if (v < 0) return false;
  d.Ho = d.H + d.pt + d.pb - d.KH + 1;
  d.Wo = d.W + d.pl + d.pr - d.KW + 1;
  if (d.KH < 1 || d.KW < 1 || d.Ho < 1 || d.Wo < 1) return false;
  d.K = d.Ci * d.KH * d.KW;
  d.P = d.Ho * d.Wo;
  d.direct = d.KH == 1 && d.KW == 1 && d.pt == 0 && d.pb == 0 && d.pl == 0 && d.pr == 0;
  return true;
}

using blas::gemm;  // framework/ops/blas.h: row-major C = alpha op(A) op(B) + beta C with leading dimensions

// Thread-local scratch buffer `Slot` of at least n elements. Only used inside one task body, which never waits
// on TBB, so no other task can run on this thread while the buffer is live.
template <class T, int Slot> T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Runs body(lo, hi) over [0, n) items of `flops_per_item` each: serially when the whole job is small,
// else with tbb::parallel_for. The split never changes what one item computes.
template <class F> void for_items(int64_t n, double flops_per_item, F&& body) {
  int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kMinTaskFlops / std::max(1.0, flops_per_item)));
  if (n <= grain) {
    body(int64_t(0), n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, static_cast<size_t>(grain)),
                    [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
}

// The live taps: the rows (c, a, b) of the column matrix that can meet a nonzero weight. A tap is dead when
// the mask zeroes it for every output channel (a 3x3 mask-B kernel keeps 5 of 9, the 7x7 mask-A one 24 of 49)
// or when its window only ever reads padding (a 3x3 kernel on a 1-row input: rows a = 0 and 2). Dead taps
// contribute exact zeros to y and dx and receive a zero weight gradient, so the kernels skip them: they
// im2col only the live rows and multiply by w_eff compacted to the live columns.
struct Tap {
  int64_t k, c, a, b;  // k = (c*KH + a)*KW + b, the column of w viewed as (Co, K)
};
template <class T> std::vector<Tap> live_taps(const T* mask, const ConvDims& d) {
  std::vector<Tap> taps;
  taps.reserve(static_cast<size_t>(d.K));
  for (int64_t c = 0; c < d.Ci; ++c)
    for (int64_t a = 0; a < d.KH; ++a)
      for (int64_t b = 0; b < d.KW; ++b) {
        // Output row i reads input row i + a - pt, for i in [0, Ho): live if that range meets [0, H).
        if (a - d.pt > d.H - 1 || a - d.pt + d.Ho - 1 < 0) continue;
        if (b - d.pl > d.W - 1 || b - d.pl + d.Wo - 1 < 0) continue;
        const int64_t k = (c * d.KH + a) * d.KW + b;
        bool live = !mask;
        for (int64_t o = 0; o < d.Co && !live; ++o) live = mask[o * d.K + k] != T(0);
        if (live) taps.push_back({k, c, a, b});
      }
  return taps;
}

// w_eff compacted to the live taps: we (Co, L) = (w * mask)[:, taps]. Returns w itself when every tap is live
// and there is no mask.  w, mask: (Co, K)
template <class T>
const T* compact_weight(const T* w, const T* mask, const std::vector<Tap>& taps, const ConvDims& d,
                        std::vector<T>& store) {
  const int64_t L = static_cast<int64_t>(taps.size());
  if (!mask && L == d.K) return w;
  store.resize(static_cast<size_t>(d.Co * L));
  for (int64_t o = 0; o < d.Co; ++o)
    for (int64_t r = 0; r < L; ++r) {
      const int64_t e = o * d.K + taps[r].k;
      store[o * L + r] = mask ? w[e] * mask[e] : w[e];
    }
  return store.data();
}

// Images per group GEMM: enough that the group's columns G*P reach kGroupCols, but at most half the batch
// (rounded up), so that a batch of two or more images makes at least two groups for two threads to share.
// A 28-pixel row of the Row LSTM at batch 16 is two GEMMs of 8 images (was 16 GEMMs of 28 columns); a 28x28
// image (P = 784) is a group of its own, whose column matrix is already wide and whose output the GEMM
// writes straight into y. Depends only on the geometry, never on the thread count.
constexpr int64_t kGroupCols = 512;
inline int64_t group_size(const ConvDims& d) {
  const int64_t wide = (kGroupCols + d.P - 1) / std::max<int64_t>(1, d.P), half = (d.N + 1) / 2;
  return std::max<int64_t>(1, std::min(wide, half));
}

// The window of one tap: output rows [i0, i1) and columns [j0, j1) read input pixels (i + a - pt, j + b - pl);
// the others read padding.
struct TapWindow {
  int64_t i0, i1, j0, j1;
};
inline TapWindow tap_window(const Tap& t, const ConvDims& d) {
  TapWindow w;
  w.i0 = std::clamp<int64_t>(d.pt - t.a, 0, d.Ho);
  w.i1 = std::clamp<int64_t>(d.H + d.pt - t.a, w.i0, d.Ho);
  w.j0 = std::clamp<int64_t>(d.pl - t.b, 0, d.Wo);
  w.j1 = std::clamp<int64_t>(d.W + d.pl - t.b, w.j0, d.Wo);
  return w;
}

// dst[m] = src[m], or relu(src[m]) when relu, for m in [0, n).
// Both loops below are selects over restrict pointers, so they vectorise (branches on the signs of activations
// would mispredict half the time).
template <class T> inline void copy_span(T* __restrict dst, const T* __restrict src, int64_t n, bool relu) {
  if (!relu) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  for (int64_t m = 0; m < n; ++m) {
    const T v = src[m];
    dst[m] = v > T(0) ? v : T(0);
  }
}

// im2col of one tap of one image: out (Ho, Wo) = xpad[c, i + a, j + b] (through the ReLU when d.relu), zero where
// the window reads padding.
// xn: (Ci, H, W). When Wo == W ("same" width) an output row and an input row have the same length, so the
// whole window is one shifted span, out[m] = x_c[m + (a - pt) W + (b - pl)]: one memcpy, then the few
// columns that wrapped into the neighbouring row are zeroed. Otherwise row by row.
template <class T> void im2col_tap(const T* xn, T* out, const Tap& t, const ConvDims& d) {
  const TapWindow w = tap_window(t, d);
  if (w.i1 == w.i0 || w.j1 == w.j0) {
    std::fill(out, out + d.P, T(0));
    return;
  }
  const T* xc = xn + t.c * d.H * d.W;  // xc: channel c, (H, W)
  if (d.Wo == d.W) {
    const int64_t m0 = w.i0 * d.W + w.j0, m1 = (w.i1 - 1) * d.W + w.j1;  // the span of valid outputs
    const int64_t shift = (t.a - d.pt) * d.W + (t.b - d.pl);
    std::fill(out, out + m0, T(0));
    copy_span(out + m0, xc + m0 + shift, m1 - m0, d.relu);
    std::fill(out + m1, out + d.P, T(0));
    if (w.j0 > 0 || w.j1 < d.W)
      for (int64_t i = w.i0; i < w.i1; ++i) {
        T* row = out + i * d.W;
        std::fill(row, row + w.j0, T(0));
        std::fill(row + w.j1, row + d.W, T(0));
      }
    return;
  }
  for (int64_t i = 0; i < d.Ho; ++i, out += d.Wo) {
    if (i < w.i0 || i >= w.i1) {
      std::fill(out, out + d.Wo, T(0));
      continue;
    }
    const T* src = xc + (i + t.a - d.pt) * d.W;  // src: row i + a - pt of channel c, (W)
    std::fill(out, out + w.j0, T(0));
    copy_span(out + w.j0, src + (w.j0 + t.b - d.pl), w.j1 - w.j0, d.relu);
    std::fill(out + w.j1, out + d.Wo, T(0));
  }
}

// col2im of one tap of one image, the adjoint of im2col_tap: dxn += scatter(in).  in: (Ho, Wo), dxn: (Ci, H, W)
// When Wo == W the window is one shifted span as in im2col_tap: the wrapped columns of `in` (a scratch buffer)
// are zeroed first, so the span adds exact zeros there, and the rest is one vectorisable loop.
template <class T> void col2im_tap_add(T* in, T* dxn, const Tap& t, const ConvDims& d) {
  const TapWindow w = tap_window(t, d);
  if (w.i1 == w.i0 || w.j1 == w.j0) return;
  T* xc = dxn + t.c * d.H * d.W;  // xc: channel c of dx, (H, W)
  if (d.Wo == d.W) {
    const int64_t m0 = w.i0 * d.W + w.j0, m1 = (w.i1 - 1) * d.W + w.j1;
    const int64_t shift = (t.a - d.pt) * d.W + (t.b - d.pl);
    if (w.j0 > 0 || w.j1 < d.W)
      for (int64_t i = w.i0; i < w.i1; ++i) {
        T* row = in + i * d.W;
        std::fill(row, row + w.j0, T(0));
        std::fill(row + w.j1, row + d.W, T(0));
      }
    T* dst = xc + m0 + shift;
    const T* src = in + m0;
    for (int64_t m = 0; m < m1 - m0; ++m) dst[m] += src[m];
    return;
  }
  for (int64_t i = w.i0; i < w.i1; ++i) {
    const T* src = in + i * d.Wo;
    T* dst = xc + (i + t.a - d.pt) * d.W;  // dst: row i + a - pt of channel c, (W); output j hits j + b - pl
    for (int64_t j = w.j0; j < w.j1; ++j) dst[j + t.b - d.pl] += src[j];
  }
}

// im2col of a group of gn images starting at n0: cols (L, gn*P), cols[r, t*P + p] = tap r of image n0 + t.
// x: (N, Ci, H, W)
template <class T>
void im2col(const T* x, T* cols, int64_t n0, int64_t gn, const std::vector<Tap>& taps, const ConvDims& d) {
  const int64_t ld = gn * d.P;
  for (size_t r = 0; r < taps.size(); ++r)
    for (int64_t t = 0; t < gn; ++t) im2col_tap(x + (n0 + t) * d.Ci * d.H * d.W, cols + r * ld + t * d.P, taps[r], d);
}

// dx[m] = x[m] > 0 ? s[m] : 0 for m in [0, n): relu's backward applied to s. s may be dx itself.
template <class T> inline void where_positive(T* dx, const T* s, const T* __restrict x, int64_t n) {
  for (int64_t m = 0; m < n; ++m) {
    const T v = s[m];
    dx[m] = x[m] > T(0) ? v : T(0);
  }
}

// col2im of a group, the adjoint of im2col: dx[n0 + t] = scatter(cols[:, t*P : (t+1)*P]), each image zeroed first
// (in its task, so the scatter finds it in cache).  cols: (L, gn*P), scratch (its padding positions are
// overwritten with zeros). With d.relu the scatter goes into a zeroed scratch image, written to dx where x > 0.
// x: (N, Ci, H, W) (relu) or null
template <class T>
void col2im(T* cols, T* dx, const T* x, int64_t n0, int64_t gn, const std::vector<Tap>& taps, const ConvDims& d) {
  const int64_t ld = gn * d.P, img = d.Ci * d.H * d.W;
  for (int64_t t = 0; t < gn; ++t) {
    T* dxn = dx + (n0 + t) * img;  // dxn: (Ci, H, W)
    T* dst = d.relu ? scratch<T, 2>(static_cast<size_t>(img)) : dxn;  // dst: (Ci, H, W)
    std::fill(dst, dst + img, T(0));
    for (size_t r = 0; r < taps.size(); ++r) col2im_tap_add(cols + r * ld + t * d.P, dst, taps[r], d);
    if (d.relu) where_positive(dxn, dst, x + (n0 + t) * img, img);
  }
}

// The column matrix of a group: x[n0] itself when it already is one (1x1 without padding, every tap live, a
// group of one image, no input ReLU), else im2col into scratch slot 0.  Returns cols: (L, gn*P)
template <class T>
const T* group_cols(const T* x, int64_t n0, int64_t gn, const std::vector<Tap>& taps, const ConvDims& d) {
  if (d.direct && !d.relu && gn == 1 && static_cast<int64_t>(taps.size()) == d.K) return x + n0 * d.Ci * d.H * d.W;
  T* buf = scratch<T, 0>(taps.size() * static_cast<size_t>(gn * d.P));
  im2col(x, buf, n0, gn, taps, d);
  return buf;
}

// dy of a group as one (Co, gn*P) matrix: dy[n0] itself for a group of one, else gathered into scratch slot 1.
// dy: (N, Co, Ho, Wo)
template <class T> const T* group_dy(const T* dy, int64_t n0, int64_t gn, const ConvDims& d) {
  if (gn == 1) return dy + n0 * d.Co * d.P;
  T* buf = scratch<T, 1>(static_cast<size_t>(d.Co * gn * d.P));
  for (int64_t o = 0; o < d.Co; ++o)
    for (int64_t t = 0; t < gn; ++t)
      std::memcpy(buf + o * gn * d.P + t * d.P, dy + ((n0 + t) * d.Co + o) * d.P, static_cast<size_t>(d.P) * sizeof(T));
  return buf;
}


// sum_p v[p] in a fixed order that vectorises: 8 running sums over p = k mod 8, the tail added to sum k,
// then ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). Depends only on n.  v: (n,)
template <class T> T plane_sum(const T* v, int64_t n) {
  T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int k = 0; k < 8; ++k) s[k] += v[p + k];
  for (int k = 0; p < n; ++p, ++k) s[k] += v[p];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace conv_detail
}  // namespace fw
