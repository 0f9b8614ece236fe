// framework/ops/copy.cpp: fill and strided-copy kernels (CPU reference) and the copy/convert ops.
#include "framework/ops/copy.h"

#include <algorithm>
#include <cstring>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"

namespace fw {
namespace {

// fill: y[i] = value.  y: (n,), fixed chunks in parallel.
template <class T> void fill_forward(T* y, int64_t n, T v) {
  parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) { std::fill(y + i0, y + i1, v); });
}
int k_fill(const fw_kernel_args* a) {
  if (a->dtype == FW_F32) fill_forward(static_cast<float*>(a->b[0]), a->i[0], static_cast<float>(a->s[0]));
  else fill_forward(static_cast<double*>(a->b[0]), a->i[0], a->s[0]);
  return FW_OK;
}

// copy_strided: y (contiguous, shape) = x (strided view). Size-1 dims are dropped and dims x steps over as
// one block are merged (a contiguous x is one memcpy per chunk); then an odometer over the outer dims walks
// rows cut into fixed chunks run in parallel. Each element is written once, so chunking changes nothing.
template <class T> void copy_strided(T* y, const T* x, int nd, const int64_t* shape, const int64_t* st) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  int64_t sh[8], sx[8];
  int m = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (m > 0 && sx[m - 1] == st[d] * shape[d]) {
      sh[m - 1] *= shape[d];
      sx[m - 1] = st[d];
      continue;
    }
    sh[m] = shape[d];
    sx[m] = st[d];
    ++m;
  }
  if (m == 0) { y[0] = x[0]; return; }
  const int64_t inner = sh[m - 1], ist = sx[m - 1], rows = n / inner;
  parallel_chunks(rows, std::max<int64_t>(1, kElementwiseChunk / inner), [&](int64_t r0, int64_t r1) {
    int64_t idx[8] = {0};  // the row r0 as an index over the outer dims
    for (int64_t d = m - 2, r = r0; d >= 0; --d) {
      idx[d] = r % sh[d];
      r /= sh[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0;
      for (int d = 0; d < m - 1; ++d) off += idx[d] * sx[d];
      const T* xp = x + off;
      T* yr = y + r * inner;
      if (ist == 1) std::memcpy(yr, xp, sizeof(T) * static_cast<size_t>(inner));
      else for (int64_t j = 0; j < inner; ++j) yr[j] = xp[j * ist];
      for (int d = m - 2; d >= 0; --d) {
        if (++idx[d] < sh[d]) break;
        idx[d] = 0;
      }
    }
  });
}
int k_copy_strided(const fw_kernel_args* a) {
  int nd = static_cast<int>(a->i[0]);
  if (nd < 0 || nd > 8) return FW_ERR_INVALID;
  if (a->dtype == FW_F32)
    copy_strided(static_cast<float*>(a->b[0]), static_cast<const float*>(a->b[1]), nd, a->i + 1, a->i + 9);
  else
    copy_strided(static_cast<double*>(a->b[0]), static_cast<const double*>(a->b[1]), nd, a->i + 1, a->i + 9);
  return FW_OK;
}

}  // namespace

// Called once by the CPU backend (framework/backend/cpu_kernels.h).
void register_copy_cpu_kernels() {
  register_cpu_kernel(FW_K_FILL, k_fill);
  register_cpu_kernel(FW_K_COPY_STRIDED, k_copy_strided);
}

namespace {

}  // namespace

void copy_into(Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape() || dst.dtype() != src.dtype())
    throw ShapeError("copy: " + src.str() + " into " + dst.str());
  if (!dst.is_contiguous()) throw ShapeError("copy: destination " + dst.str() + " is not contiguous");
  if (src.dim() > 8) throw ShapeError("copy: more than 8 dimensions in " + src.str());
  fw_kernel_args a = kernel_args(dst.dtype());
  set_buffer(a, 0, dst);
  set_buffer(a, 1, src);
  a.i[0] = src.dim();
  for (int64_t d = 0; d < src.dim(); ++d) {
    a.i[1 + d] = src.shape()[d];
    a.i[9 + d] = src.strides()[d];
  }
  launch(device_of(dst), FW_K_COPY_STRIDED, a);
}

Tensor copy_op(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_into(y, x);
  return record(y, "copy", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor convert_op(const Tensor& x, DType d) {
  if (x.dtype() == d) return copy_op(x);
  if (x.device() != Device::CPU) throw ShapeError("to: dtype conversion runs on the CPU only");
  Tensor y = d == DType::F32 ? Tensor::from_vector(x.shape(), x.to_float_vector())
                             : Tensor::from_vector(x.shape(), x.to_vector());
  DType from = x.dtype();
  return record(y, "convert", {x}, [from](const Tensor& g) { return std::vector<Tensor>{convert_op(g, from)}; });
}

}  // namespace fw
