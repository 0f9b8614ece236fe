// framework/ops/gate.cpp: the fused gated activation (framework/ops/gate.h): the CPU kernels (forward and
// backward, plain loops over rows of `inner` elements), then the op and its gradient.
#include "framework/ops/gate.h"

#include <string>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/ops/vec_math.h"

namespace fw {
namespace {

// y: (N, c, inner), x: (N, 2c, inner)
template <class T> void gate_forward(T* y, const T* x, int64_t N, int64_t c, int64_t inner) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < c; ++j) {
      const T* xf = x + (n * 2 * c + j) * inner;  // xf, xg: (inner)
      const T* xg = x + (n * 2 * c + c + j) * inner;
      T* yr = y + (n * c + j) * inner;
      for (int64_t i = 0; i < inner; ++i) yr[i] = vec_math::tanh(xf[i]) * vec_math::sigmoid(xg[i]);
    }
}

// dx: (N, 2c, inner), dy: (N, c, inner), x: (N, 2c, inner)
template <class T> void gate_backward(T* dx, const T* dy, const T* x, int64_t N, int64_t c, int64_t inner) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < c; ++j) {
      const int64_t f = (n * 2 * c + j) * inner, g = (n * 2 * c + c + j) * inner;
      const T* d = dy + (n * c + j) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const T t = vec_math::tanh(x[f + i]), s = vec_math::sigmoid(x[g + i]);
        dx[f + i] = d[i] * s * (T(1) - t * t);
        dx[g + i] = d[i] * t * (s * (T(1) - s));
      }
    }
}

}  // namespace

int cpu_gate_forward(int32_t dtype, const fw_gate_forward_params* p) {
  if (p->N < 0 || p->c < 0 || p->inner < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    gate_forward(static_cast<float*>(p->y.ptr), static_cast<const float*>(p->x.ptr), p->N, p->c, p->inner);
  else
    gate_forward(static_cast<double*>(p->y.ptr), static_cast<const double*>(p->x.ptr), p->N, p->c, p->inner);
  return FW_OK;
}

int cpu_gate_backward(int32_t dtype, const fw_gate_backward_params* p) {
  if (p->N < 0 || p->c < 0 || p->inner < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    gate_backward(static_cast<float*>(p->dx.ptr), static_cast<const float*>(p->dy.ptr),
                  static_cast<const float*>(p->x.ptr), p->N, p->c, p->inner);
  else
    gate_backward(static_cast<double*>(p->dx.ptr), static_cast<const double*>(p->dy.ptr),
                  static_cast<const double*>(p->x.ptr), p->N, p->c, p->inner);
  return FW_OK;
}

Tensor gate(const Tensor& x0) {
  if (!x0.defined()) throw ShapeError("gate: undefined input");
  if (x0.dim() < 2 || x0.size(1) == 0 || x0.size(1) % 2)
    throw ShapeError("gate: input " + x0.str() + " should be (N, 2c, ...) with an even, non-zero dimension 1");
  Tensor x = x0.contiguous();
  const int64_t N = x.size(0), c = x.size(1) / 2, inner = x.numel() / (N * 2 * c > 0 ? N * 2 * c : 1);
  Shape ys = x.shape();
  ys[1] = c;
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());  // y: (N, c, ...)
  launch(y.device(), y.dtype(), fw_gate_forward_params{buffer_of(y), buffer_of(x), N, c, inner});
  Tensor xd = x.detach();
  return record(y, "gate", {x0}, [xd, N, c, inner](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(xd.shape(), xd.dtype(), xd.device());  // dx: (N, 2c, ...)
    launch(dx.device(), dx.dtype(), fw_gate_backward_params{buffer_of(dx), buffer_of(g), buffer_of(xd), N, c, inner});
    return std::vector<Tensor>{dx};
  });
}

}  // namespace fw
