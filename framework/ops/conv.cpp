// framework/ops/conv.cpp: 2-D convolution (stride 1, per-side zero padding, optional constant weight mask) as
// im2col + GEMM, llm.c style: the three CPU kernels (forward, backward-data, backward-weight) side by side, then
// the op that launches them and records its gradient, then the naive six-loop reference.
//
// Layout. With K = Ci*KH*KW taps (c, a, b), P = Ho*Wo, and L <= K live taps (see live_taps: the taps the mask
// zeroes for every output channel, or whose window only reads padding, are skipped), the images are taken in
// groups of G (group_size: G*P >= kGroupCols columns or half the batch, fixed by the geometry) and a group is
// one GEMM:
//   cols: (L, G*P), cols[r, t*P + i*Wo + j] = xpad[n0 + t, c_r, i + a_r, j + b_r]   (im2col of the live taps)
//   w_eff = (w * mask)[:, live taps]: (Co, L); dy_group: (Co, G*P) (dy of the group's images side by side)
//   forward          y_group  = bias + w_eff (Co, L) cols (L, G*P)
//   backward-data    dx[n]    = col2im(w_eff^T (L, Co) dy_group (Co, G*P))   (image n's columns; dx overwritten)
//   backward-weight  dw[:, live] += mask * sum_groups dy_group (Co, G*P) cols^T (G*P, L); dbias += sum dy
// A 1x1 kernel without padding, all taps live, in a group of one image has cols == x[n]: no im2col.
// Input ReLU (geometry.input_relu, fw::relu_conv2d): x is read as relu(x). im2col applies it as it copies (for the
// 1x1 case too, which then copies); backward-data scatters an image's columns into a zeroed scratch image and
// writes it to dx where x > 0, zero elsewhere — exactly what relu's backward does to conv2d's dx, with no tensor
// in between.
//
// Threads: parallel over groups with tbb::parallel_for; OpenBLAS single-threaded inside each task. Per-group
// results do not depend on which thread runs them, and the groups do not depend on the thread count. The
// weight gradient sums per-chunk partials: the groups are cut into min(groups, kWeightChunks) fixed chunks,
// each summed in group order, and the partials are added in chunk order, so every result is bit-identical at
// any thread count.
// Scratch: the column and group buffers are thread-local and grow to the largest call (no allocation per call).
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
#include "framework/ops/conv_im2col.h"
#include "framework/ops/conv_reference.h"
#include "framework/ops/elementwise.h"

namespace fw {
namespace {

using namespace conv_detail;  // framework/ops/conv_im2col.h: geometry, taps, im2col / col2im, scratch

// ---- forward: per group of G images, out (Co, G*P) = bias + w_eff[:, live] (Co, L) cols (L, G*P) (out
// prefilled with the bias, GEMM with beta 1), then y[n, o, :] = out[o, image n's P columns].
// y: (N, Co, Ho, Wo), x: (N, Ci, H, W), w: (Co, Ci, KH, KW), bias: (Co) or null, mask: like w or null
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* bias, const T* mask, const ConvDims& d) {
  const std::vector<Tap> taps = live_taps(mask, d);
  const int64_t L = static_cast<int64_t>(taps.size()), G = group_size(d), groups = (d.N + G - 1) / G;
  std::vector<T> wstore;
  const T* we = compact_weight(w, mask, taps, d, wstore);  // we: (Co, L)
  for_items(groups, 2.0 * d.Co * std::max<int64_t>(1, L) * d.P * G, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t n0 = g * G, gn = std::min(G, d.N - n0), ld = gn * d.P;
      // out: (Co, gn*P); y[n0] itself for a group of one image
      T* out = gn == 1 ? y + n0 * d.Co * d.P : scratch<T, 1>(static_cast<size_t>(d.Co * ld));
      if (bias || L == 0)
        for (int64_t o = 0; o < d.Co; ++o) std::fill(out + o * ld, out + (o + 1) * ld, bias ? bias[o] : T(0));
      if (L > 0)
        gemm(false, false, d.Co, ld, L, T(1), we, L, group_cols(x, n0, gn, taps, d), ld, bias ? T(1) : T(0),
                  out, ld);
      if (gn > 1)
        for (int64_t t = 0; t < gn; ++t)
          for (int64_t o = 0; o < d.Co; ++o)
            std::memcpy(y + ((n0 + t) * d.Co + o) * d.P, out + o * ld + t * d.P, static_cast<size_t>(d.P) * sizeof(T));
    }
  });
}

// ---- backward-data: per group, cols (L, G*P) = w_eff[:, live]^T (L, Co) dy_group (Co, G*P), then
// dx[n] = col2im(image n's columns) (zero where x <= 0, with d.relu). A 1x1 kernel without padding on one image
// writes the GEMM into dx[n] (then the x > 0 select in place, with d.relu). dx's old contents are never read.
// dx: (N, Ci, H, W), dy: (N, Co, Ho, Wo), w and mask: (Co, Ci, KH, KW), x: (N, Ci, H, W) (relu) or null
template <class T>
void conv2d_backward_data(T* dx, const T* dy, const T* w, const T* mask, const T* x, const ConvDims& d) {
  const std::vector<Tap> taps = live_taps(mask, d);
  const int64_t L = static_cast<int64_t>(taps.size()), G = group_size(d), groups = (d.N + G - 1) / G;
  if (L == 0) {  // every tap dead: dx = 0
    std::fill(dx, dx + d.N * d.Ci * d.H * d.W, T(0));
    return;
  }
  std::vector<T> wstore;
  const T* we = compact_weight(w, mask, taps, d, wstore);  // we: (Co, L)
  for_items(groups, 2.0 * d.Co * L * d.P * G, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t n0 = g * G, gn = std::min(G, d.N - n0), ld = gn * d.P;
      const T* dyg = group_dy(dy, n0, gn, d);  // dyg: (Co, gn*P)
      if (d.direct && gn == 1 && L == d.K) {   // dx[n0] (Ci, HW) = w_eff^T (Ci, Co) dy[n0] (Co, HW)
        const int64_t img = d.Ci * d.P;
        gemm(true, false, d.K, d.P, d.Co, T(1), we, d.K, dyg, d.P, T(0), dx + n0 * img, d.P);
        if (d.relu) where_positive(dx + n0 * img, dx + n0 * img, x + n0 * img, img);
        continue;
      }
      T* cols = scratch<T, 0>(static_cast<size_t>(L * ld));  // cols: (L, gn*P)
      gemm(true, false, L, ld, d.Co, T(1), we, L, dyg, ld, T(0), cols, ld);
      col2im(cols, dx, x, n0, gn, taps, d);
    }
  });
}


// ---- backward-weight: dw[:, live] += mask * sum_groups (cols_group (L, G*P) dy_group^T (G*P, Co))^T;
// dbias += sum_{n, p} dy[n, :, p]. Dead taps get nothing (their gradient is exactly zero).
// The partials are computed transposed, (L, Co), because that orientation runs the GEMM faster: with L >= Co
// OpenBLAS's kernel gets the long side as its M (measured with bench/bench_gemm_shapes: 3x3 mask B at h=64,
// 154 GFLOP/s as (320 x 64 x 784) against 139 as (64 x 320 x 784), Intel Xeon AVX-512, 1 thread).
// dw: (Co, Ci, KH, KW) or null (bias only), dy: (N, Co, Ho, Wo), x: (N, Ci, H, W), dbias: (Co) or null
template <class T>
void conv2d_backward_weight(T* dw, const T* dy, const T* x, T* dbias, const T* mask, const ConvDims& d) {
  if (d.N == 0) return;  // empty batch: nothing to add
  const std::vector<Tap> taps = dw ? live_taps(mask, d) : std::vector<Tap>();
  const int64_t L = static_cast<int64_t>(taps.size()), G = group_size(d), groups = (d.N + G - 1) / G;
  const int64_t chunks = std::min(groups, kWeightChunks);
  const int64_t wn = d.Co * L, bn = dbias ? d.Co : 0, total = wn + bn;
  if (total == 0) return;
  // part: (chunks, L*Co + Co), uninitialised: the first group of each chunk writes its row with beta = 0. The
  // calling thread's scratch slot 3 (tasks use slots 0-2), so no allocation and no page faults per call.
  T* const part = scratch<T, 3>(static_cast<size_t>(chunks * total));
  auto chunk_begin = [&](int64_t c) { return c * groups / chunks; };  // in groups
  const double flops_per_chunk = (wn ? 2.0 * d.Co * L * d.P : d.Co * d.P) * d.N / chunks;
  for_items(chunks, flops_per_chunk, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* pw = part + c * total;  // pw: (L, Co)
      T* pb = pw + wn;           // pb: (Co)
      std::fill(pb, pb + bn, T(0));
      for (int64_t g = chunk_begin(c); g < chunk_begin(c + 1); ++g) {
        const int64_t n0 = g * G, gn = std::min(G, d.N - n0), ld = gn * d.P;
        if (wn) {
          const T* dyg = group_dy(dy, n0, gn, d);  // dyg: (Co, gn*P)
          const T* cols = group_cols(x, n0, gn, taps, d);  // cols: (L, gn*P)
          gemm(false, true, L, d.Co, ld, T(1), cols, ld, dyg, ld, g == chunk_begin(c) ? T(0) : T(1), pw, d.Co);
        }
        for (int64_t n = n0; n < n0 + gn; ++n)
          for (int64_t o = 0; o < bn; ++o) {
            pb[o] += plane_sum(dy + (n * d.Co + o) * d.P, d.P);
          }
      }
    }
  });
  // Reduce the partials in chunk order, in place into chunk 0's row: element e is ((p0 + p1) + p2) + ...
  // whatever the thread count. Parallel over fixed blocks of elements; the inner loops vectorise.
  const int64_t block = 4096, blocks = (wn + block - 1) / block;
  T* sum = part;  // sum: (L*Co + Co), chunk 0's row
  for_items(blocks, 2.0 * block * chunks, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const int64_t e0 = bi * block, e1 = std::min(wn, e0 + block);
      for (int64_t c = 1; c < chunks; ++c) {
        const T* pc = part + c * total;  // pc: chunk c's row
        for (int64_t e = e0; e < e1; ++e) sum[e] += pc[e];
      }
      for (int64_t e = e0; e < e1; ++e) {  // transposed compact (r, o) -> dw (o, taps[r].k)
        const int64_t o = e % d.Co, k = o * d.K + taps[e / d.Co].k;
        dw[k] += mask ? mask[k] * sum[e] : sum[e];
      }
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
  if (!dims_from(p->g, d) || !p->dx.ptr || !p->dy.ptr || !p->w.ptr || (d.relu && !p->x.ptr)) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32)
    conv2d_backward_data(out<float>(p->dx), in<float>(p->dy), in<float>(p->w), in<float>(p->mask), in<float>(p->x), d);
  else
    conv2d_backward_data(out<double>(p->dx), in<double>(p->dy), in<double>(p->w), in<double>(p->mask),
                         in<double>(p->x), d);
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
fw_conv2d_geometry geometry(const Tensor& x, const Tensor& w, const Padding2d& p, bool input_relu) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
          p.top,     p.bottom,  p.left,    p.right,     input_relu ? 1 : 0};
}

// Contiguous, detached copy or alias of an optional tensor (no graph).
Tensor plain(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard ng;
  return t.contiguous().detach();
}

// conv2d and relu_conv2d: the kernels launched with input_relu off or on. The backward saves x (as given: the
// kernels apply the ReLU again), w and the mask.
Tensor conv2d_op(const char* op, const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad,
                 const Tensor& mask0, bool input_relu) {
  Tensor x = plain(x0), w = plain(w0), bias = plain(b0), mask = plain(mask0);
  Tensor y = Tensor::empty(check_conv(op, x0, w0, b0, pad, mask0), x.dtype(), x.device());  // y: (N, Co, Ho, Wo)
  const fw_conv2d_geometry geo = geometry(x, w, pad, input_relu);
  launch(y.device(), y.dtype(),
         fw_conv2d_forward_params{buffer_of(y), buffer_of(x), buffer_of(w), buffer_of(bias), buffer_of(mask), geo});
  const bool gx = x0.requires_grad(), gw = w0.requires_grad(), gb = b0.defined() && b0.requires_grad();
  return record(y, op, {x0, w0, b0}, [x, w, mask, geo, gx, gw, gb, input_relu](const Tensor& g0) {
    Tensor g = plain(g0);  // g: (N, Co, Ho, Wo)
    Tensor dx, dw, db;
    if (gx) {  // dx: (N, Ci, H, W), every element written by the kernel
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      launch(dx.device(), dx.dtype(),
             fw_conv2d_backward_data_params{buffer_of(dx), buffer_of(g), buffer_of(w), buffer_of(mask),
                                            input_relu ? buffer_of(x) : fw_buffer{}, geo});
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

}  // namespace

Tensor conv2d(const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad, const Tensor& mask0) {
  check_conv("conv2d", x0, w0, b0, pad, mask0);
  if (reference_kernels() && x0.device() == Device::CPU) return conv2d_reference(x0, w0, b0, pad, mask0);
  return conv2d_op("conv2d", x0, w0, b0, pad, mask0, false);
}

Tensor relu_conv2d(const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad, const Tensor& mask0) {
  check_conv("relu_conv2d", x0, w0, b0, pad, mask0);
  if (reference_kernels() && x0.device() == Device::CPU) return conv2d_reference(relu(x0), w0, b0, pad, mask0);
  return conv2d_op("relu_conv2d", x0, w0, b0, pad, mask0, true);
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
