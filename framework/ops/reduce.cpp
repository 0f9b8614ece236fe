// framework/ops/reduce.cpp: sum/mean over all elements or chosen dims (the CPU kernel sums one dim at a time),
// and the sum of squares that gradient clipping needs.
#include "framework/ops/reduce.h"

#include <algorithm>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/view.h"

namespace fw {
namespace {

// sum_dim: y[o, i] = sum_r x[o, r, i], r ascending.  x: (outer, red, inner), y: (outer, inner)
// Work items are (o, block of up to kElementwiseChunk i's), run in fixed chunks in parallel. Each y[o, i] is
// summed alone, from 0 in r order (the inner loop over i vectorises across outputs, never across r), so
// the result is the same at any thread count.
template <class T> void sum_dim_forward(T* y, const T* x, int64_t outer, int64_t red, int64_t inner) {
  if (outer == 0 || inner == 0) return;
  const int64_t iblock = std::min<int64_t>(inner, kElementwiseChunk), nib = (inner + iblock - 1) / iblock;
  const int64_t per_item = std::max<int64_t>(1, red) * iblock;
  parallel_chunks(outer * nib, std::max<int64_t>(1, kElementwiseChunk / per_item), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nib, i0 = (t % nib) * iblock, i1 = std::min(inner, i0 + iblock);
      T* yo = y + o * inner;
      if (inner == 1) {  // a plain sum along r
        T s = T(0);
        const T* xo = x + o * red;
        for (int64_t r = 0; r < red; ++r) s += xo[r];
        yo[0] = s;
        continue;
      }
      for (int64_t i = i0; i < i1; ++i) yo[i] = T(0);
      for (int64_t r = 0; r < red; ++r) {
        const T* xr = x + (o * red + r) * inner;
        for (int64_t i = i0; i < i1; ++i) yo[i] += xr[i];
      }
    }
  });
}
}  // namespace

int cpu_sum_dim(int32_t dtype, const fw_sum_dim_params* p) {
  if (p->outer < 0 || p->red < 0 || p->inner < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    sum_dim_forward(static_cast<float*>(p->y.ptr), static_cast<const float*>(p->x.ptr), p->outer, p->red, p->inner);
  else
    sum_dim_forward(static_cast<double*>(p->y.ptr), static_cast<const double*>(p->x.ptr), p->outer, p->red,
                    p->inner);
  return FW_OK;
}

// sum_squares: out[0] = sum_i x[i]^2 in double, i ascending.  x: (n,), out: (1,) float64
int cpu_sum_squares(int32_t dtype, const fw_sum_squares_params* p) {
  if (p->n < 0 || !p->out.ptr) return FW_ERR_INVALID;
  double s = 0;
  if (dtype == FW_F32) {
    const float* x = static_cast<const float*>(p->x.ptr);
    for (int64_t i = 0; i < p->n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  } else {
    const double* x = static_cast<const double*>(p->x.ptr);
    for (int64_t i = 0; i < p->n; ++i) s += x[i] * x[i];
  }
  *static_cast<double*>(p->out.ptr) = s;
  return FW_OK;
}

namespace {

// Sums one dim of a contiguous tensor, keeping it as size 1. No graph.
Tensor sum_one_dim(const Tensor& x, int64_t d) {
  Shape s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= s[i];
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= s[i];
  int64_t red = s[d];
  s[d] = 1;
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  launch(y.device(), y.dtype(), fw_sum_dim_params{buffer_of(y), buffer_of(x), outer, red, inner});
  return y;
}

std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t rank, const Tensor& x) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    int64_t k = d < 0 ? d + rank : d;
    if (k < 0 || k >= rank) throw ShapeError("sum_dims: dim " + std::to_string(d) + " out of range for " + x.str());
    if (std::find(out.begin(), out.end(), k) != out.end())
      throw ShapeError("sum_dims: dim " + std::to_string(d) + " repeated for " + x.str());
    out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Tensor sum_dims(const Tensor& x0, const std::vector<int64_t>& dims0, bool keepdim) {
  std::vector<int64_t> dims = normalize_dims(dims0, x0.dim(), x0);
  Tensor y;
  {
    NoGradGuard ng;
    y = x0.contiguous();
    for (int64_t d : dims) y = sum_one_dim(y, d);
    if (dims.empty()) y = y.clone();
  }
  Shape kept = y.shape();
  if (!keepdim) {
    Shape s;
    for (int64_t d = 0; d < x0.dim(); ++d)
      if (!std::binary_search(dims.begin(), dims.end(), d)) s.push_back(kept[d]);
    y = Tensor::view_of(y, s, contiguous_strides(s), 0);
  }
  Shape xs = x0.shape();
  return record(y, "sum", {x0}, [xs, kept](const Tensor& g) {
    // Broadcast the gradient back over the summed dims: g (kept shape) + zeros (xs).
    Tensor gk = reshape(g, kept);
    return std::vector<Tensor>{add(Tensor::zeros(xs, g.dtype(), g.device()), gk)};
  });
}

Tensor sum(const Tensor& x) {
  std::vector<int64_t> all(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) all[d] = d;
  return sum_dims(x, all, false);
}

Tensor mean_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> nd = normalize_dims(dims, x.dim(), x);
  int64_t count = 1;
  for (int64_t d : nd) count *= x.shape()[d];
  return mul_scalar(sum_dims(x, dims, keepdim), count ? 1.0 / static_cast<double>(count) : 0.0);
}

Tensor mean(const Tensor& x) { return mul_scalar(sum(x), x.numel() ? 1.0 / static_cast<double>(x.numel()) : 0.0); }

double sum_squares(const Tensor& x0) {
  if (!x0.defined()) throw ShapeError("sum_squares: undefined input");
  Tensor x = x0.contiguous();
  Tensor out = Tensor::empty({1}, DType::F64, x.device());  // out: (1,) float64 whatever x's dtype
  launch(x.device(), x.dtype(), fw_sum_squares_params{buffer_of(out), buffer_of(x), x.numel()});
  return out.item();
}

}  // namespace fw
