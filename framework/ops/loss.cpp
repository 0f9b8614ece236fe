// framework/ops/loss.cpp: log_softmax, softmax cross-entropy and binary cross-entropy on logits.
//
// Two kernels (framework/backend/backend_abi.h):
//   FW_K_SOFTMAX works on an (outer, K, inner) layout: the class axis K in the middle, so any dim of a
//     contiguous tensor is the class axis without a transpose. Modes: log_softmax, its backward, cross-entropy,
//     its backward. Every row is shifted by its max before exp (log-sum-exp), so logits of any size are safe.
//   FW_K_BCE_LOGITS: elementwise l = max(x,0) - x t + log1p(exp(-|x|)), and its backward sigmoid(x) - t.
// Targets are checked on the host before any kernel runs, so the kernels may assume valid class indices.
#include "framework/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/reduce.h"

namespace fw {
namespace {

enum SoftmaxMode { kLogSoftmax = 0, kLogSoftmaxBackward = 1, kXent = 2, kXentBackward = 3 };

// Per (o, i): lse[i] = log sum_k exp(x[o, k, i]), computed as m + log sum exp(x - m) with m = max_k x.
// x: (outer, K, inner) at row o; lse, m: (inner,). Sums run in double, k ascending (deterministic).
template <class T> void row_logsumexp(const T* xo, int64_t K, int64_t inner, std::vector<double>& lse) {
  std::vector<double> m(inner, -std::numeric_limits<double>::infinity());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < inner; ++i) m[i] = std::max(m[i], static_cast<double>(xo[k * inner + i]));
  std::fill(lse.begin(), lse.end(), 0.0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < inner; ++i) lse[i] += std::exp(static_cast<double>(xo[k * inner + i]) - m[i]);
  for (int64_t i = 0; i < inner; ++i) lse[i] = m[i] + std::log(lse[i]);
}

// Checks the class indices of rows [0, outer): t: (outer, inner). Before any output is written, so a bad
// target leaves the outputs untouched whatever the thread count. NaN-safe (the test is before the cast).
template <class T> bool targets_valid(const T* t, int64_t n, int64_t K) {
  for (int64_t i = 0; i < n; ++i)
    if (!(t[i] >= 0 && t[i] < K)) return false;
  return true;
}

// One row o of the softmax kernel. lse, acc: (inner,) scratch of the calling task.
template <class T>
void softmax_row(int mode, int64_t o, int64_t K, int64_t inner, const fw_kernel_args* a, std::vector<double>& lse,
                 std::vector<double>& acc) {
  const int64_t row = o * K * inner;  // start of (o, :, :)
  if (mode == kLogSoftmax) {
    // y: (outer, K, inner), x: (outer, K, inner)
    T* y = static_cast<T*>(a->b[0]) + row;
    const T* x = static_cast<const T*>(a->b[1]) + row;
    row_logsumexp(x, K, inner, lse);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) y[k * inner + i] = static_cast<T>(x[k * inner + i] - lse[i]);
  } else if (mode == kLogSoftmaxBackward) {
    // dx, dy, y: (outer, K, inner); dx = dy - exp(y) sum_k dy
    T* dx = static_cast<T*>(a->b[0]) + row;
    const T* dy = static_cast<const T*>(a->b[1]) + row;
    const T* y = static_cast<const T*>(a->b[2]) + row;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) acc[i] += dy[k * inner + i];
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t j = k * inner + i;
        dx[j] = static_cast<T>(dy[j] - std::exp(static_cast<double>(y[j])) * acc[i]);
      }
  } else {
    // x: (outer, K, inner); t: (outer, inner) class indices, already checked
    const T* x = static_cast<const T*>(a->b[mode == kXent ? 1 : 2]) + row;
    const T* t = static_cast<const T*>(a->b[mode == kXent ? 2 : 3]) + o * inner;
    row_logsumexp(x, K, inner, lse);
    if (mode == kXent) {
      T* loss = static_cast<T*>(a->b[0]) + o * inner;  // loss: (outer, inner)
      for (int64_t i = 0; i < inner; ++i) loss[i] = static_cast<T>(lse[i] - x[static_cast<int64_t>(t[i]) * inner + i]);
    } else {
      // dx: (outer, K, inner) = dl (softmax(x) - onehot(t)); dl: (outer, inner)
      T* dx = static_cast<T*>(a->b[0]) + row;
      const T* dl = static_cast<const T*>(a->b[1]) + o * inner;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t j = k * inner + i;
          double p = std::exp(static_cast<double>(x[j]) - lse[i]);
          dx[j] = static_cast<T>(dl[i] * (p - (static_cast<int64_t>(t[i]) == k ? 1.0 : 0.0)));
        }
    }
  }
}

// Rows o are independent: fixed chunks of rows run in parallel, each row computed as in the serial loop.
template <class T>
int softmax_kernel(int mode, int64_t outer, int64_t K, int64_t inner, const fw_kernel_args* a) {
  if (mode == kXent || mode == kXentBackward) {
    const T* t = static_cast<const T*>(a->b[mode == kXent ? 2 : 3]);  // t: (outer, inner)
    if (!targets_valid(t, outer * inner, K)) return FW_ERR_INVALID;
  }
  const int64_t rows_per_chunk = std::max<int64_t>(1, kElementwiseChunk / std::max<int64_t>(1, K * inner));
  parallel_chunks(outer, rows_per_chunk, [&](int64_t o0, int64_t o1) {
    std::vector<double> lse(inner), acc(inner);
    for (int64_t o = o0; o < o1; ++o) softmax_row<T>(mode, o, K, inner, a, lse, acc);
  });
  return FW_OK;
}
int k_softmax(const fw_kernel_args* a) {
  int mode = static_cast<int>(a->i[3]);
  if (mode < kLogSoftmax || mode > kXentBackward || a->i[1] < 1) return FW_ERR_INVALID;
  return a->dtype == FW_F32 ? softmax_kernel<float>(mode, a->i[0], a->i[1], a->i[2], a)
                            : softmax_kernel<double>(mode, a->i[0], a->i[1], a->i[2], a);
}

// bce: l = max(x,0) - x t + log1p(exp(-|x|)); backward dx = dl (sigmoid(x) - t).  all: (n,)
// Elementwise, in fixed chunks run in parallel (chunking never changes a result).
template <class T> void bce_forward(T* l, const T* x, const T* t, int64_t n) {
  parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      l[i] = std::max(x[i], T(0)) - x[i] * t[i] + std::log1p(std::exp(-std::fabs(x[i])));
  });
}
template <class T> void bce_backward(T* dx, const T* dl, const T* x, const T* t, int64_t n) {
  parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T e = std::exp(-std::fabs(x[i]));  // in (0, 1]: never overflows
      T s = x[i] >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
      dx[i] = dl[i] * (s - t[i]);
    }
  });
}
int k_bce(const fw_kernel_args* a) {
  int64_t n = a->i[0];
  int mode = static_cast<int>(a->i[1]);
  if (mode != 0 && mode != 1) return FW_ERR_INVALID;
  if (a->dtype == FW_F32) {
    if (mode == 0)
      bce_forward(static_cast<float*>(a->b[0]), static_cast<const float*>(a->b[1]),
                  static_cast<const float*>(a->b[2]), n);
    else
      bce_backward(static_cast<float*>(a->b[0]), static_cast<const float*>(a->b[1]),
                   static_cast<const float*>(a->b[2]), static_cast<const float*>(a->b[3]), n);
  } else {
    if (mode == 0)
      bce_forward(static_cast<double*>(a->b[0]), static_cast<const double*>(a->b[1]),
                  static_cast<const double*>(a->b[2]), n);
    else
      bce_backward(static_cast<double*>(a->b[0]), static_cast<const double*>(a->b[1]),
                   static_cast<const double*>(a->b[2]), static_cast<const double*>(a->b[3]), n);
  }
  return FW_OK;
}

}  // namespace

// Called once by the CPU backend (framework/backend/cpu_kernels.h).
void register_loss_cpu_kernels() {
  register_cpu_kernel(FW_K_SOFTMAX, k_softmax);
  register_cpu_kernel(FW_K_BCE_LOGITS, k_bce);
}

namespace {

// ---- host-side helpers

std::string index_str(int64_t flat, const Shape& s) {  // flat index -> "(i, j, k)"
  Shape idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = s[d] ? flat % s[d] : 0;
    flat = s[d] ? flat / s[d] : 0;
  }
  return shape_str(idx);
}

std::string num_str(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void check_inputs(const Tensor& x, const Tensor& t, const char* op) {
  if (!x.defined() || !t.defined()) throw ShapeError(std::string(op) + ": undefined input");
  if (x.dtype() != t.dtype() || x.device() != t.device())
    throw ShapeError(std::string(op) + ": logits " + x.str() + " and targets " + t.str() +
                     " differ in dtype or device");
}

Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::None: return l;
    case Reduction::Sum: return sum(l);
    default: return mean(l);
  }
}

// Runs FW_K_SOFTMAX in one mode. bufs: the mode's buffers in order b0, b1, ...
void launch_softmax(int mode, std::initializer_list<const Tensor*> bufs, int64_t outer, int64_t K, int64_t inner,
                    const char* op) {
  fw_kernel_args a = kernel_args((*bufs.begin())->dtype());
  int slot = 0;
  for (const Tensor* t : bufs) set_buffer(a, slot++, *t);
  a.i[0] = outer;
  a.i[1] = K;
  a.i[2] = inner;
  a.i[3] = mode;
  if (outer * K * inner == 0) return;
  try {
    launch(device_of(**bufs.begin()), FW_K_SOFTMAX, a);
  } catch (const BackendError& e) {
    throw ShapeError(std::string(op) + ": " + e.what());
  }
}

void dims_around(const Shape& s, int64_t d, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= s[i];
  for (size_t i = d + 1; i < s.size(); ++i) inner *= s[i];
}

}  // namespace

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets0, Reduction r) {
  check_inputs(logits, targets0, "bce_with_logits");
  if (logits.shape() != targets0.shape())
    throw ShapeError("bce_with_logits: logits " + logits.str() + " and targets " + targets0.str() +
                     " differ in shape");
  Tensor x = logits.contiguous().detach(), t = targets0.contiguous().detach();
  std::vector<double> tv = t.to_vector();
  for (size_t i = 0; i < tv.size(); ++i)
    if (!(tv[i] >= 0.0 && tv[i] <= 1.0))
      throw ShapeError("bce_with_logits: target at " + index_str(static_cast<int64_t>(i), t.shape()) + " is " +
                       num_str(tv[i]) + ", not in [0, 1]");
  Tensor l = Tensor::empty(x.shape(), x.dtype(), x.device());  // l: logits' shape
  fw_kernel_args a = kernel_args(x.dtype());
  set_buffer(a, 0, l);
  set_buffer(a, 1, x);
  set_buffer(a, 2, t);
  a.i[0] = x.numel();
  a.i[1] = 0;
  launch(device_of(l), FW_K_BCE_LOGITS, a);
  l = record(l, "bce_with_logits", {logits}, [x, t](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());  // dx: logits' shape
    fw_kernel_args b = kernel_args(x.dtype());
    set_buffer(b, 0, dx);
    set_buffer(b, 1, g);
    set_buffer(b, 2, x);
    set_buffer(b, 3, t);
    b.i[0] = x.numel();
    b.i[1] = 1;
    launch(device_of(dx), FW_K_BCE_LOGITS, b);
    return std::vector<Tensor>{dx};
  });
  return reduce(l, r);
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets0, int64_t class_dim, Reduction r) {
  const char* op = "softmax_cross_entropy";
  check_inputs(logits, targets0, op);
  int64_t d = class_dim < 0 ? class_dim + logits.dim() : class_dim;
  if (d < 0 || d >= logits.dim())
    throw ShapeError(std::string(op) + ": class_dim " + std::to_string(class_dim) + " out of range for " +
                     logits.str());
  Shape ts = logits.shape();
  int64_t K = ts[d];
  ts.erase(ts.begin() + d);
  if (targets0.shape() != ts)
    throw ShapeError(std::string(op) + ": targets " + targets0.str() + " must have logits' shape " +
                     shape_str(logits.shape()) + " without class_dim " + std::to_string(d) + ", i.e. " +
                     shape_str(ts));
  if (K < 1) throw ShapeError(std::string(op) + ": no classes in " + logits.str());
  Tensor x = logits.contiguous().detach(), t = targets0.contiguous().detach();
  std::vector<double> tv = t.to_vector();
  for (size_t i = 0; i < tv.size(); ++i)
    if (!(tv[i] >= 0.0 && tv[i] < static_cast<double>(K) && tv[i] == std::floor(tv[i])))
      throw ShapeError(std::string(op) + ": target at " + index_str(static_cast<int64_t>(i), t.shape()) + " is " +
                       num_str(tv[i]) + ", not a class index in 0.." + std::to_string(K - 1));
  int64_t outer, inner;
  dims_around(x.shape(), d, outer, inner);
  Tensor l = Tensor::empty(ts, x.dtype(), x.device());  // l: (outer, inner) = targets' shape
  launch_softmax(kXent, {&l, &x, &t}, outer, K, inner, op);
  l = record(l, op, {logits}, [x, t, outer, K, inner](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());  // dx: (outer, K, inner)
    launch_softmax(kXentBackward, {&dx, &g, &x, &t}, outer, K, inner, "softmax_cross_entropy backward");
    return std::vector<Tensor>{dx};
  });
  return reduce(l, r);
}

Tensor log_softmax(const Tensor& x0, int64_t dim) {
  if (!x0.defined()) throw ShapeError("log_softmax: undefined input");
  int64_t d = dim < 0 ? dim + x0.dim() : dim;
  if (d < 0 || d >= x0.dim())
    throw ShapeError("log_softmax: dim " + std::to_string(dim) + " out of range for " + x0.str());
  Tensor x = x0.contiguous();
  int64_t outer, inner, K = x.shape()[d];
  dims_around(x.shape(), d, outer, inner);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());  // y: (outer, K, inner)
  launch_softmax(kLogSoftmax, {&y, &x}, outer, K, inner, "log_softmax");
  Tensor yd = y.detach();
  return record(y, "log_softmax", {x0}, [yd, outer, K, inner](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(yd.shape(), yd.dtype(), yd.device());  // dx: (outer, K, inner)
    launch_softmax(kLogSoftmaxBackward, {&dx, &g, &yd}, outer, K, inner, "log_softmax backward");
    return std::vector<Tensor>{dx};
  });
}

}  // namespace fw
