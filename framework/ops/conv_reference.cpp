// framework/ops/conv_reference.cpp: direct-loop convolution and its gradient, the reference for conv2d's
// im2col + GEMM kernels (see conv_reference.h). Notation as in conv.cpp: x (N, Ci, H, W), w and mask
// (Co, Ci, KH, KW), y and its gradient g (N, Co, Ho, Wo), y[n,o,i,j] = bias[o] + sum (w*mask)[o,c,a,b] *
// x[n, c, i + a - top, j + b - left] (zero outside x).
#include "framework/ops/conv_reference.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "framework/core/autograd.h"

namespace fw {
namespace {

struct Dims {
  int64_t N, Ci, H, W, Co, KH, KW, Ho, Wo;
  Padding2d p;
};

// Runs body(r) for r in [0, n) on the TBB pool; every r writes its own outputs only.
template <class F> void for_rows(int64_t n, F&& body) {
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) body(i);
  });
}

template <class T> double wm(const T* w, const T* mask, int64_t e) {
  return mask ? double(w[e]) * double(mask[e]) : double(w[e]);
}

// y: (N, Co, Ho, Wo); one task per (n, o).
template <class T> void forward(T* y, const T* x, const T* w, const T* bias, const T* mask, const Dims& d) {
  for_rows(d.N * d.Co, [&](int64_t no) {
    const int64_t n = no / d.Co, o = no % d.Co;
    for (int64_t i = 0; i < d.Ho; ++i)
      for (int64_t j = 0; j < d.Wo; ++j) {
        double s = bias ? double(bias[o]) : 0.0;
        for (int64_t c = 0; c < d.Ci; ++c)
          for (int64_t a = 0; a < d.KH; ++a)
            for (int64_t b = 0; b < d.KW; ++b) {
              const int64_t hi = i + a - d.p.top, wi = j + b - d.p.left;
              if (hi < 0 || hi >= d.H || wi < 0 || wi >= d.W) continue;
              s += wm(w, mask, ((o * d.Ci + c) * d.KH + a) * d.KW + b) * double(x[((n * d.Ci + c) * d.H + hi) * d.W + wi]);
            }
        y[((n * d.Co + o) * d.Ho + i) * d.Wo + j] = static_cast<T>(s);
      }
  });
}

// dx: (N, Ci, H, W), dx[n,c,h,v] = sum_{o,a,b} (w*mask)[o,c,a,b] g[n, o, h - a + top, v - b + left]; one task per (n, c).
template <class T> void backward_data(T* dx, const T* g, const T* w, const T* mask, const Dims& d) {
  for_rows(d.N * d.Ci, [&](int64_t nc) {
    const int64_t n = nc / d.Ci, c = nc % d.Ci;
    for (int64_t h = 0; h < d.H; ++h)
      for (int64_t v = 0; v < d.W; ++v) {
        double s = 0;
        for (int64_t o = 0; o < d.Co; ++o)
          for (int64_t a = 0; a < d.KH; ++a)
            for (int64_t b = 0; b < d.KW; ++b) {
              const int64_t i = h - a + d.p.top, j = v - b + d.p.left;
              if (i < 0 || i >= d.Ho || j < 0 || j >= d.Wo) continue;
              s += wm(w, mask, ((o * d.Ci + c) * d.KH + a) * d.KW + b) * double(g[((n * d.Co + o) * d.Ho + i) * d.Wo + j]);
            }
        dx[((n * d.Ci + c) * d.H + h) * d.W + v] = static_cast<T>(s);
      }
  });
}

// dw: (Co, Ci, KH, KW), dw[o,c,a,b] = mask[o,c,a,b] * sum_{n,i,j} g[n,o,i,j] x[n, c, i + a - top, j + b - left];
// db: (Co,) = sum_{n,i,j} g[n,o,i,j] (either may be null). One task per (o, c).
template <class T> void backward_weight(T* dw, T* db, const T* g, const T* x, const T* mask, const Dims& d) {
  if (dw)
    for_rows(d.Co * d.Ci, [&](int64_t oc) {
      const int64_t o = oc / d.Ci, c = oc % d.Ci;
      for (int64_t a = 0; a < d.KH; ++a)
        for (int64_t b = 0; b < d.KW; ++b) {
          const int64_t e = ((o * d.Ci + c) * d.KH + a) * d.KW + b;
          double s = 0;
          for (int64_t n = 0; n < d.N; ++n)
            for (int64_t i = 0; i < d.Ho; ++i)
              for (int64_t j = 0; j < d.Wo; ++j) {
                const int64_t hi = i + a - d.p.top, wi = j + b - d.p.left;
                if (hi < 0 || hi >= d.H || wi < 0 || wi >= d.W) continue;
                s += double(g[((n * d.Co + o) * d.Ho + i) * d.Wo + j]) * double(x[((n * d.Ci + c) * d.H + hi) * d.W + wi]);
              }
          dw[e] = static_cast<T>(mask ? s * double(mask[e]) : s);
        }
    });
  if (db)
    for_rows(d.Co, [&](int64_t o) {
      double s = 0;
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t k = 0; k < d.Ho * d.Wo; ++k) s += double(g[(n * d.Co + o) * d.Ho * d.Wo + k]);
      db[o] = static_cast<T>(s);
    });
}

// Contiguous, detached copy or alias of an optional tensor (no graph).
Tensor plain(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard ng;
  return t.contiguous().detach();
}

template <class T> const T* ptr(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T> T* mut(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// Calls f(T{}) with T the C++ type of dtype (F32 or F64).
template <class F> void dispatch(DType dt, F&& f) {
  if (dt == DType::F32) f(float{});
  else if (dt == DType::F64) f(double{});
  else throw ShapeError("conv2d_reference: float32 or float64 tensors only");
}

}  // namespace

Tensor conv2d_reference(const Tensor& x0, const Tensor& w0, const Tensor& b0, Padding2d pad, const Tensor& mask0) {
  if (!x0.defined() || !w0.defined() || x0.dim() != 4 || w0.dim() != 4 || x0.size(1) != w0.size(1) ||
      x0.dtype() != w0.dtype())
    throw ShapeError("conv2d_reference: input " + (x0.defined() ? x0.str() : std::string("undefined")) +
                     " and weight " + (w0.defined() ? w0.str() : std::string("undefined")) +
                     " must be (N, Ci, H, W) and (Co, Ci, KH, KW) of one dtype");
  if (x0.device() != Device::CPU) throw ShapeError("conv2d_reference: CPU tensors only, got " + x0.str());
  Tensor x = plain(x0), w = plain(w0), bias = plain(b0), mask = plain(mask0);
  const Dims d{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
               x.size(2) + pad.top + pad.bottom - w.size(2) + 1, x.size(3) + pad.left + pad.right - w.size(3) + 1,
               pad};
  if (d.Ho < 1 || d.Wo < 1) throw ShapeError("conv2d_reference: empty output for input " + x.str() + ", weight " + w.str());
  Tensor y = Tensor::empty({d.N, d.Co, d.Ho, d.Wo}, x.dtype());  // y: (N, Co, Ho, Wo)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward<T>(mut<T>(y), ptr<T>(x), ptr<T>(w), ptr<T>(bias), ptr<T>(mask), d);
  });
  const bool gx = x0.requires_grad(), gw = w0.requires_grad(), gb = b0.defined() && b0.requires_grad();
  return record(y, "conv2d_reference", {x0, w0, b0}, [x, w, mask, d, gx, gw, gb](const Tensor& g0) {
    Tensor g = plain(g0);  // g: (N, Co, Ho, Wo)
    Tensor dx = gx ? Tensor::empty(x.shape(), x.dtype()) : Tensor();     // dx: (N, Ci, H, W)
    Tensor dw = gw ? Tensor::empty(w.shape(), w.dtype()) : Tensor();     // dw: (Co, Ci, KH, KW)
    Tensor db = gb ? Tensor::empty({d.Co}, w.dtype()) : Tensor();        // db: (Co,)
    dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (gx) backward_data<T>(mut<T>(dx), ptr<T>(g), ptr<T>(w), ptr<T>(mask), d);
      if (gw || gb) backward_weight<T>(mut<T>(dw), mut<T>(db), ptr<T>(g), ptr<T>(x), ptr<T>(mask), d);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace fw
