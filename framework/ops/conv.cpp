// framework/ops/conv.cpp: 2-D convolution (stride 1, per-side zero padding, optional constant weight mask) as
// im2col + GEMM, llm.c style: the three CPU kernels (forward, backward-data, backward-weight) side by side, then
// the op that launches them and records its gradient, then the naive six-loop reference.
//
// Layout. Per image n, with K = Ci*KH*KW and P = Ho*Wo:
//   cols: (K, P), cols[(c*KH + a)*KW + b, i*Wo + j] = xpad[n, c, i + a, j + b]   (im2col)
//   w viewed as (Co, K) (its natural row-major layout), y[n] viewed as (Co, P):
//   forward          y[n]  = w_eff (Co, K) cols (K, P) + bias
//   backward-data    dx[n] += col2im(w_eff^T (K, Co) dy[n] (Co, P))
//   backward-weight  dw    += mask * sum_n dy[n] (Co, P) cols_n^T (P, K);  dbias += sum_{n,p} dy[n, :, p]
// A 1x1 kernel without padding has cols == x[n] (Ci, H*W): no im2col, plain GEMM.
//
// Threads: parallel over images with tbb::parallel_for; OpenBLAS single-threaded inside each task. Per-image
// results do not depend on which thread runs them. The weight gradient sums per-chunk partials: the batch is
// cut into min(N, kWeightChunks) fixed chunks (independent of the thread count), each summed in image order,
// and the partials are added in chunk order, so every result is bit-identical at any thread count.
// Scratch: the (K, P) column buffer is thread-local and grows to the largest call (no allocation per call).
#include "framework/ops/conv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "framework/backend/backend.h"
#include "framework/ops/blas.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/profile.h"
#include "framework/ops/conv_reference.h"

namespace fw {
namespace {

constexpr int64_t kWeightChunks = 8;       // fixed batch chunks of the weight gradient
constexpr double kMinTaskFlops = 2.0e5;    // below this per task, TBB scheduling costs more than it saves

// Convolution geometry from the kernel parameters (framework/ops/conv.h).
struct ConvDims {
  int64_t N, Ci, H, W, Co, KH, KW, pt, pb, pl, pr;
  int64_t Ho, Wo, K, P;  // derived: output size, GEMM inner dim Ci*KH*KW, pixels per output plane
  bool direct;           // 1x1, no padding: cols == x[n]
};
bool dims_from(const fw_conv2d_geometry& g, ConvDims& d) {
  d = {g.N, g.Ci, g.H, g.W, g.Co, g.KH, g.KW, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, 0, 0, 0, 0, false};
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

// Thread-local column buffer of at least n elements. Only used inside one task body, which never waits on TBB,
// so no other task can run on this thread while the buffer is live.
template <class T> T* cols_scratch(size_t n) {
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

// im2col for one image.  x: (Ci, H, W) -> cols: (K, P), zero where the window reads padding.
template <class T> void im2col(const T* x, T* cols, const ConvDims& d) {
  for (int64_t c = 0; c < d.Ci; ++c)
    for (int64_t a = 0; a < d.KH; ++a)
      for (int64_t b = 0; b < d.KW; ++b) {
        T* row = cols + ((c * d.KH + a) * d.KW + b) * d.P;  // row: (Ho, Wo)
        // Output column j reads input column j + b - pl; valid for j in [j0, j1).
        const int64_t j0 = std::clamp<int64_t>(d.pl - b, 0, d.Wo), j1 = std::clamp<int64_t>(d.W + d.pl - b, j0, d.Wo);
        for (int64_t i = 0; i < d.Ho; ++i) {
          T* out = row + i * d.Wo;
          const int64_t hi = i + a - d.pt;
          if (hi < 0 || hi >= d.H) {
            std::fill(out, out + d.Wo, T(0));
            continue;
          }
          const T* src = x + (c * d.H + hi) * d.W;  // src: row hi of channel c, (W)
          std::fill(out, out + j0, T(0));
          if (j1 > j0) std::memcpy(out + j0, src + (j0 + b - d.pl), static_cast<size_t>(j1 - j0) * sizeof(T));
          std::fill(out + j1, out + d.Wo, T(0));
        }
      }
}

// col2im for one image, the adjoint of im2col: dx += scatter(cols).  cols: (K, P), dx: (Ci, H, W).
template <class T> void col2im_add(const T* cols, T* dx, const ConvDims& d) {
  for (int64_t c = 0; c < d.Ci; ++c)
    for (int64_t a = 0; a < d.KH; ++a)
      for (int64_t b = 0; b < d.KW; ++b) {
        const T* row = cols + ((c * d.KH + a) * d.KW + b) * d.P;  // row: (Ho, Wo)
        const int64_t j0 = std::clamp<int64_t>(d.pl - b, 0, d.Wo), j1 = std::clamp<int64_t>(d.W + d.pl - b, j0, d.Wo);
        for (int64_t i = 0; i < d.Ho; ++i) {
          const int64_t hi = i + a - d.pt;
          if (hi < 0 || hi >= d.H) continue;
          const T* src = row + i * d.Wo;
          T* dst = dx + (c * d.H + hi) * d.W;  // dst: row hi of channel c, (W); output j hits j + b - pl
          for (int64_t j = j0; j < j1; ++j) dst[j + b - d.pl] += src[j];
        }
      }
}

// w_eff = w * mask, or w itself when there is no mask.  w, mask, store: (Co, K)
template <class T> const T* effective_weight(const T* w, const T* mask, int64_t n, std::vector<T>& store) {
  if (!mask) return w;
  store.resize(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) store[e] = w[e] * mask[e];
  return store.data();
}

// ---- forward: y[n] (Co, P) = w_eff (Co, K) cols_n (K, P) + bias.
// y: (N, Co, Ho, Wo), x: (N, Ci, H, W), w: (Co, Ci, KH, KW), bias: (Co) or null, mask: like w or null
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* bias, const T* mask, const ConvDims& d) {
  std::vector<T> wstore;
  const T* we = effective_weight(w, mask, d.Co * d.K, wstore);
  for_items(d.N, 2.0 * d.Co * d.K * d.P, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* xn = x + n * d.Ci * d.H * d.W;  // xn: (Ci, H, W)
      T* yn = y + n * d.Co * d.P;              // yn: (Co, P)
      const T* cols = xn;                      // cols: (K, P)
      if (!d.direct) {
        T* buf = cols_scratch<T>(static_cast<size_t>(d.K * d.P));
        im2col(xn, buf, d);
        cols = buf;
      }
      if (bias)
        for (int64_t o = 0; o < d.Co; ++o) std::fill(yn + o * d.P, yn + (o + 1) * d.P, bias[o]);
      gemm(false, false, d.Co, d.P, d.K, T(1), we, d.K, cols, d.P, bias ? T(1) : T(0), yn, d.P);
    }
  });
}

// ---- backward-data: dx[n] += col2im(w_eff^T (K, Co) dy[n] (Co, P)).
// dx: (N, Ci, H, W), dy: (N, Co, Ho, Wo), w and mask: (Co, Ci, KH, KW)
template <class T> void conv2d_backward_data(T* dx, const T* dy, const T* w, const T* mask, const ConvDims& d) {
  std::vector<T> wstore;
  const T* we = effective_weight(w, mask, d.Co * d.K, wstore);
  for_items(d.N, 2.0 * d.Co * d.K * d.P, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* dxn = dx + n * d.Ci * d.H * d.W;  // dxn: (Ci, H, W)
      const T* dyn = dy + n * d.Co * d.P;  // dyn: (Co, P)
      if (d.direct) {                      // dxn (Ci, HW) += w_eff^T (Ci, Co) dyn (Co, HW)
        gemm(true, false, d.K, d.P, d.Co, T(1), we, d.K, dyn, d.P, T(1), dxn, d.P);
        continue;
      }
      T* cols = cols_scratch<T>(static_cast<size_t>(d.K * d.P));  // cols: (K, P)
      gemm(true, false, d.K, d.P, d.Co, T(1), we, d.K, dyn, d.P, T(0), cols, d.P);
      col2im_add(cols, dxn, d);
    }
  });
}

// ---- backward-weight: dw += mask * sum_n dy[n] (Co, P) cols_n^T (P, K); dbias += sum_{n, p} dy[n, :, p].
// dw: (Co, Ci, KH, KW) or null (bias only), dy: (N, Co, Ho, Wo), x: (N, Ci, H, W), dbias: (Co) or null
template <class T>
void conv2d_backward_weight(T* dw, const T* dy, const T* x, T* dbias, const T* mask, const ConvDims& d) {
  const int64_t chunks = std::min(d.N, kWeightChunks);
  if (chunks == 0) return;  // empty batch: nothing to add
  const int64_t wn = dw ? d.Co * d.K : 0, bn = dbias ? d.Co : 0;
  // part: (chunks, Co*K + Co), uninitialised: the first image of each chunk writes its row with beta = 0
  std::unique_ptr<T[]> part(new T[static_cast<size_t>(chunks * (wn + bn))]);
  auto chunk_begin = [&](int64_t c) { return c * d.N / chunks; };
  const double flops_per_chunk = (dw ? 2.0 * d.Co * d.K * d.P : d.Co * d.P) * d.N / std::max<int64_t>(1, chunks);
  for_items(chunks, flops_per_chunk, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* pw = part.get() + c * (wn + bn);  // pw: (Co, K)
      T* pb = pw + wn;                      // pb: (Co)
      std::fill(pb, pb + bn, T(0));
      for (int64_t n = chunk_begin(c); n < chunk_begin(c + 1); ++n) {
        const T* dyn = dy + n * d.Co * d.P;  // dyn: (Co, P)
        if (dw) {
          const T* cols = x + n * d.Ci * d.H * d.W;  // cols: (K, P)
          if (!d.direct) {
            T* buf = cols_scratch<T>(static_cast<size_t>(d.K * d.P));
            im2col(cols, buf, d);
            cols = buf;
          }
          const bool first = n == chunk_begin(c);
          gemm(false, true, d.Co, d.K, d.P, T(1), dyn, d.P, cols, d.P, first ? T(0) : T(1), pw, d.K);
        }
        for (int64_t o = 0; o < bn; ++o) {
          T s = 0;
          for (int64_t p = 0; p < d.P; ++p) s += dyn[o * d.P + p];
          pb[o] += s;
        }
      }
    }
  });
  // Reduce the partials in chunk order, in place into chunk 0's row: element e is ((p0 + p1) + p2) + ...
  // whatever the thread count. Parallel over fixed blocks of elements; the inner loops vectorise.
  const int64_t total = wn + bn, block = 4096, blocks = (wn + block - 1) / block;
  T* sum = part.get();  // sum: (Co*K + Co), chunk 0's row
  for_items(blocks, 2.0 * block * chunks, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const int64_t e0 = bi * block, e1 = std::min(wn, e0 + block);
      for (int64_t c = 1; c < chunks; ++c) {
        const T* pc = part.get() + c * total;  // pc: chunk c's row
        for (int64_t e = e0; e < e1; ++e) sum[e] += pc[e];
      }
      if (mask)
        for (int64_t e = e0; e < e1; ++e) dw[e] += mask[e] * sum[e];
      else
        for (int64_t e = e0; e < e1; ++e) dw[e] += sum[e];
    }
  });
  for (int64_t o = 0; o < bn; ++o) {  // dbias: Co sums, serial, same order
    T s = sum[wn + o];
    for (int64_t c = 1; c < chunks; ++c) s += part[c * total + wn + o];
    dbias[o] += s;
  }
}

template <class T> const T* in(const fw_buffer& b) { return static_cast<const T*>(b.ptr); }
template <class T> T* out(const fw_buffer& b) { return static_cast<T*>(b.ptr); }

}  // namespace

int cpu_conv2d_forward(int32_t dtype, const fw_conv2d_forward_params* p) {
  ConvDims d;
  if (!dims_from(p->g, d) || !p->y.ptr || !p->x.ptr || !p->w.ptr) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32)
    conv2d_forward(out<float>(p->y), in<float>(p->x), in<float>(p->w), in<float>(p->bias), in<float>(p->mask), d);
  else
    conv2d_forward(out<double>(p->y), in<double>(p->x), in<double>(p->w), in<double>(p->bias), in<double>(p->mask),
                   d);
  return FW_OK;
}
int cpu_conv2d_backward_data(int32_t dtype, const fw_conv2d_backward_data_params* p) {
  ConvDims d;
  if (!dims_from(p->g, d) || !p->dx.ptr || !p->dy.ptr || !p->w.ptr) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32)
    conv2d_backward_data(out<float>(p->dx), in<float>(p->dy), in<float>(p->w), in<float>(p->mask), d);
  else
    conv2d_backward_data(out<double>(p->dx), in<double>(p->dy), in<double>(p->w), in<double>(p->mask), d);
  return FW_OK;
}
int cpu_conv2d_backward_weight(int32_t dtype, const fw_conv2d_backward_weight_params* p) {
  ConvDims d;
  if (!dims_from(p->g, d) || !p->dy.ptr || !p->x.ptr) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32)
    conv2d_backward_weight(out<float>(p->dw), in<float>(p->dy), in<float>(p->x), out<float>(p->dbias),
                           in<float>(p->mask), d);
  else
    conv2d_backward_weight(out<double>(p->dw), in<double>(p->dy), in<double>(p->x), out<double>(p->dbias),
                           in<double>(p->mask), d);
  return FW_OK;
}

namespace {

// ---- the op

std::string pad_str(const Padding2d& p) {
  return "padding (top " + std::to_string(p.top) + ", bottom " + std::to_string(p.bottom) + ", left " +
         std::to_string(p.left) + ", right " + std::to_string(p.right) + ")";
}

// Checks the arguments of conv2d / conv2d_naive and returns the output shape; throws ShapeError naming `op`.
Shape check_conv(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias, const Padding2d& pad,
                 const Tensor& mask) {
  const std::string o(op);
  if (!x.defined() || !w.defined()) throw ShapeError(o + ": undefined input or weight");
  if (x.dim() != 4) throw ShapeError(o + ": input " + x.str() + " must be (N, Ci, H, W)");
  if (w.dim() != 4) throw ShapeError(o + ": weight " + w.str() + " must be (Co, Ci, KH, KW)");
  if (x.size(1) != w.size(1))
    throw ShapeError(o + ": input " + x.str() + " has " + std::to_string(x.size(1)) + " channels but weight " +
                     w.str() + " expects " + std::to_string(w.size(1)));
  if (x.dtype() != w.dtype()) throw ShapeError(o + ": dtypes differ: input " + x.str() + ", weight " + w.str());
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.size(0) != w.size(0))
      throw ShapeError(o + ": bias " + bias.str() + " must be " + shape_str({w.size(0)}) + " for weight " +
                       w.str());
    if (bias.dtype() != w.dtype())
      throw ShapeError(o + ": dtypes differ: bias " + bias.str() + ", weight " + w.str());
  }
  if (mask.defined()) {
    if (mask.shape() != w.shape())
      throw ShapeError(o + ": mask " + mask.str() + " must have the weight's shape " + w.str());
    if (mask.dtype() != w.dtype())
      throw ShapeError(o + ": dtypes differ: mask " + mask.str() + ", weight " + w.str());
  }
  for (const Tensor* t : {&w, &bias, &mask})
    if (t->defined() && t->device() != x.device()) throw ShapeError(o + ": inputs on different devices");
  if (pad.top < 0 || pad.bottom < 0 || pad.left < 0 || pad.right < 0)
    throw ShapeError(o + ": negative " + pad_str(pad) + " for input " + x.str());
  const int64_t ho = x.size(2) + pad.top + pad.bottom - w.size(2) + 1;
  const int64_t wo = x.size(3) + pad.left + pad.right - w.size(3) + 1;
  if (w.size(2) < 1 || w.size(3) < 1 || ho < 1 || wo < 1)
    throw ShapeError(o + ": output size (" + std::to_string(ho) + ", " + std::to_string(wo) + ") < 1 for input " +
                     x.str() + ", weight " + w.str() + ", " + pad_str(pad));
  return {x.size(0), w.size(0), ho, wo};
}

// The geometry shared by the three conv kernels.
fw_conv2d_geometry geometry(const Tensor& x, const Tensor& w, const Padding2d& p) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
          p.top,     p.bottom,  p.left,    p.right};
}

// Contiguous, detached copy or alias of an optional tensor (no graph).
Tensor plain(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard ng;
  return t.contiguous().detach();
}

}  // namespace

Tensor conv2d(const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad, const Tensor& mask0) {
  Shape ys = check_conv("conv2d", x0, w0, b0, pad, mask0);
  if (reference_kernels() && x0.device() == Device::CPU) return conv2d_reference(x0, w0, b0, pad, mask0);
  Tensor x = plain(x0), w = plain(w0), bias = plain(b0), mask = plain(mask0);
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());  // y: (N, Co, Ho, Wo)
  const fw_conv2d_geometry geo = geometry(x, w, pad);
  launch(y.device(), y.dtype(),
         fw_conv2d_forward_params{buffer_of(y), buffer_of(x), buffer_of(w), buffer_of(bias), buffer_of(mask), geo});
  const bool gx = x0.requires_grad(), gw = w0.requires_grad(), gb = b0.defined() && b0.requires_grad();
  return record(y, "conv2d", {x0, w0, b0}, [x, w, mask, geo, gx, gw, gb](const Tensor& g0) {
    Tensor g = plain(g0);  // g: (N, Co, Ho, Wo)
    Tensor dx, dw, db;
    if (gx) {  // dx: (N, Ci, H, W)
      dx = Tensor::zeros(x.shape(), x.dtype(), x.device());
      launch(dx.device(), dx.dtype(),
             fw_conv2d_backward_data_params{buffer_of(dx), buffer_of(g), buffer_of(w), buffer_of(mask), geo});
    }
    if (gw || gb) {  // dw: (Co, Ci, KH, KW), db: (Co)
      if (gw) dw = Tensor::zeros(w.shape(), w.dtype(), w.device());
      if (gb) db = Tensor::zeros({w.size(0)}, w.dtype(), w.device());
      launch(g.device(), g.dtype(),
             fw_conv2d_backward_weight_params{buffer_of(dw), buffer_of(db), buffer_of(g), buffer_of(x),
                                              buffer_of(mask), geo});
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

// ---- reference: direct convolution, accumulated in double. y: (N, Co, Ho, Wo)
namespace {
template <class T>
void naive_loops(T* y, const T* x, const T* w, const T* bias, const T* mask, int64_t N, int64_t Ci, int64_t H,
                 int64_t W, int64_t Co, int64_t KH, int64_t KW, int64_t Ho, int64_t Wo, const Padding2d& p) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < Co; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double s = bias ? double(bias[o]) : 0.0;
          for (int64_t c = 0; c < Ci; ++c)
            for (int64_t a = 0; a < KH; ++a)
              for (int64_t b = 0; b < KW; ++b) {
                const int64_t hi = i + a - p.top, wi = j + b - p.left;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                const int64_t e = ((o * Ci + c) * KH + a) * KW + b;
                const double we = mask ? double(w[e]) * double(mask[e]) : double(w[e]);
                s += we * double(x[((n * Ci + c) * H + hi) * W + wi]);
              }
          y[((n * Co + o) * Ho + i) * Wo + j] = static_cast<T>(s);
        }
}
}  // namespace

Tensor conv2d_naive(const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad, const Tensor& mask0) {
  Shape ys = check_conv("conv2d_naive", x0, w0, b0, pad, mask0);
  if (x0.device() != Device::CPU) throw ShapeError("conv2d_naive: CPU tensors only, got " + x0.str());
  Tensor x = plain(x0), w = plain(w0), bias = plain(b0), mask = plain(mask0);
  Tensor y = Tensor::empty(ys, x.dtype());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    naive_loops<T>(y.data<T>(), x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                   mask.defined() ? mask.data<T>() : nullptr, x.size(0), x.size(1), x.size(2), x.size(3),
                   w.size(0), w.size(2), w.size(3), ys[2], ys[3], pad);
  };
  if (x.dtype() == DType::F32) run(float{});
  else run(double{});
  return y;
}

}  // namespace fw
