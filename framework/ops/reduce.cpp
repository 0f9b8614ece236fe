// framework/ops/reduce.cpp: sum/mean over all elements or chosen dims; the CPU kernel sums one dim at a time.
#include "framework/ops/reduce.h"

#include <algorithm>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
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
int k_sum_dim(const fw_kernel_args* k) {
  if (k->dtype == FW_F32)
    sum_dim_forward(static_cast<float*>(k->b[0]), static_cast<const float*>(k->b[1]), k->i[0], k->i[1], k->i[2]);
  else
    sum_dim_forward(static_cast<double*>(k->b[0]), static_cast<const double*>(k->b[1]), k->i[0], k->i[1],
                    k->i[2]);
  return FW_OK;
}
}  // namespace

// Called once by the CPU backend (framework/backend/cpu_kernels.h).
void register_reduce_cpu_kernels() {
  register_cpu_kernel(FW_K_SUM_DIM, k_sum_dim);
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
  fw_kernel_args k = kernel_args(x.dtype());
  set_buffer(k, 0, y);
  set_buffer(k, 1, x);
  k.i[0] = outer;
  k.i[1] = red;
  k.i[2] = inner;
  launch(device_of(y), FW_K_SUM_DIM, k);
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
    return std::vector<Tensor>{add(Tensor::zeros(xs, g.dtype()), gk)};
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

}  // namespace fw
