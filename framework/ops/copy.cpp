// framework/ops/copy.cpp: fill and strided-copy kernels (CPU reference) and the copy/convert ops.
#include "framework/ops/copy.h"

#include <cstring>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/autograd.h"

namespace fw {
namespace {

// fill: y[i] = value.  y: (n,)
template <class T> void fill_forward(T* y, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) y[i] = v;
}
int k_fill(const fw_kernel_args* a) {
  if (a->dtype == FW_F32) fill_forward(static_cast<float*>(a->b[0]), a->i[0], static_cast<float>(a->s[0]));
  else fill_forward(static_cast<double*>(a->b[0]), a->i[0], a->s[0]);
  return FW_OK;
}

// copy_strided: y (contiguous, shape) = x (strided view). Walks the index like an odometer.
template <class T> void copy_strided(T* y, const T* x, int nd, const int64_t* shape, const int64_t* st) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  if (nd == 0) { y[0] = x[0]; return; }
  int64_t idx[8] = {0};
  int64_t inner = shape[nd - 1], ist = st[nd - 1];
  for (int64_t o = 0; o < n; o += inner) {
    int64_t off = 0;
    for (int d = 0; d < nd - 1; ++d) off += idx[d] * st[d];
    const T* xp = x + off;
    if (ist == 1) std::memcpy(y + o, xp, sizeof(T) * inner);
    else for (int64_t j = 0; j < inner; ++j) y[o + j] = xp[j * ist];
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
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
