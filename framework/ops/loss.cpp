// framework/ops/loss.cpp: log_softmax, softmax cross-entropy and binary cross-entropy on logits.
//
// Kernels (framework/ops/loss.h), each a forward/backward pair:
//   log_softmax and softmax_xent work on an (outer, K, inner) layout: the class axis K in the middle, so any dim
//     of a contiguous tensor is the class axis without a transpose. Every row is shifted by its max before exp
//     (log-sum-exp), so logits of any size are safe.
//   bce_logits: elementwise l = max(x,0) - x t + log1p(exp(-|x|)), and its backward sigmoid(x) - t.
// Targets are checked on the host before any kernel runs, so the kernels may assume valid class indices.
#include "framework/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/vec_math.h"
#include "framework/ops/reduce.h"

namespace fw {
namespace {

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

// log_softmax: y = x - lse.  y, x: (outer, K, inner)
template <class T> void log_softmax_forward(T* y, const T* x, int64_t outer, int64_t K, int64_t inner) {
  std::vector<double> lse(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t row = o * K * inner;  // start of (o, :, :)
    row_logsumexp(x + row, K, inner, lse);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) y[row + k * inner + i] = static_cast<T>(x[row + k * inner + i] - lse[i]);
  }
}
// log_softmax backward: dx = dy - exp(y) sum_k dy.  dx, dy, y: (outer, K, inner)
template <class T>
void log_softmax_backward(T* dx, const T* dy, const T* y, int64_t outer, int64_t K, int64_t inner) {
  std::vector<double> acc(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t row = o * K * inner;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) acc[i] += dy[row + k * inner + i];
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t j = row + k * inner + i;
        dx[j] = static_cast<T>(dy[j] - std::exp(static_cast<double>(y[j])) * acc[i]);
      }
  }
}
// ---- softmax cross-entropy. Work items: (o, block of up to kXentBlock positions i), run in parallel in fixed
// chunks; each item is computed on its own, k ascending, so results do not depend on the threads. Inside an item
// the loops run over the block's positions (contiguous in x), so exp (vec_math's float exp; libm's in double)
// vectorises; the sums of exp(x - m) run in double. x: (outer, K, inner); t, loss, dl: (outer, inner)
constexpr int64_t kXentBlock = 64;

// lse[i] = m[i] + log sum_k exp(x[k, i] - m[i]), m = max_k x[k, i], for the n <= kXentBlock positions at xo.
// xo: (K, inner) at the block's first position; lse: (n,)
template <class T> void block_logsumexp(const T* xo, int64_t K, int64_t inner, int64_t n, double* lse) {
  T m[kXentBlock];
  double sum[kXentBlock];
  for (int64_t i = 0; i < n; ++i) {
    m[i] = xo[i];
    sum[i] = 0.0;
  }
  for (int64_t k = 1; k < K; ++k)
    for (int64_t i = 0; i < n; ++i) m[i] = std::max(m[i], xo[k * inner + i]);
  for (int64_t k = 0; k < K; ++k) {
    T e[kXentBlock];
    for (int64_t i = 0; i < n; ++i) e[i] = vec_math::exp(T(xo[k * inner + i] - m[i]));
    for (int64_t i = 0; i < n; ++i) sum[i] += double(e[i]);
  }
  for (int64_t i = 0; i < n; ++i) lse[i] = double(m[i]) + std::log(sum[i]);
}

// Runs body(o, i0, n) over the work items in parallel.
template <class F> void for_xent_blocks(int64_t outer, int64_t K, int64_t inner, F&& body) {
  const int64_t nib = (inner + kXentBlock - 1) / kXentBlock;
  const int64_t per_chunk = std::max<int64_t>(1, kElementwiseChunk / (K * kXentBlock));
  parallel_chunks(outer * nib, per_chunk, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nib, i0 = (t % nib) * kXentBlock;
      body(o, i0, std::min(kXentBlock, inner - i0));
    }
  });
}

// A target is a class index in [0, K) (checked before any work; NaN-safe).
template <class T> bool targets_ok(const T* t, int64_t n, int64_t K) {
  for (int64_t i = 0; i < n; ++i)
    if (!(t[i] >= 0 && t[i] < K)) return false;
  return true;
}

// cross-entropy: loss = lse - x[t].  False on a bad target (nothing written then).
template <class T> bool xent_forward(T* loss, const T* x, const T* t, int64_t outer, int64_t K, int64_t inner) {
  if (!targets_ok(t, outer * inner, K)) return false;
  for_xent_blocks(outer, K, inner, [&](int64_t o, int64_t i0, int64_t n) {
    const T* xo = x + o * K * inner + i0;  // xo: (K, inner) at position i0
    double lse[kXentBlock];
    block_logsumexp(xo, K, inner, n, lse);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ti = static_cast<int64_t>(t[o * inner + i0 + i]);
      loss[o * inner + i0 + i] = static_cast<T>(lse[i] - double(xo[ti * inner + i]));
    }
  });
  return true;
}
// cross-entropy backward: dx = dl (softmax(x) - onehot(t)), softmax(x) = exp(x - lse).  False on a bad target.
template <class T>
bool xent_backward(T* dx, const T* dl, const T* x, const T* t, int64_t outer, int64_t K, int64_t inner) {
  if (!targets_ok(t, outer * inner, K)) return false;
  for_xent_blocks(outer, K, inner, [&](int64_t o, int64_t i0, int64_t n) {
    const int64_t row = o * K * inner + i0;  // (o, 0, i0)
    double lse[kXentBlock];
    block_logsumexp(x + row, K, inner, n, lse);
    T l[kXentBlock], g[kXentBlock];
    for (int64_t i = 0; i < n; ++i) {
      l[i] = static_cast<T>(lse[i]);
      g[i] = dl[o * inner + i0 + i];
    }
    for (int64_t k = 0; k < K; ++k) {
      T* d = dx + row + k * inner;
      const T* xk = x + row + k * inner;
      for (int64_t i = 0; i < n; ++i) d[i] = g[i] * vec_math::exp(T(xk[i] - l[i]));
    }
    for (int64_t i = 0; i < n; ++i) {  // minus dl at the target
      const int64_t ti = static_cast<int64_t>(t[o * inner + i0 + i]);
      dx[row + ti * inner + i] -= g[i];
    }
  });
  return true;
}

// bce: l = max(x,0) - x t + log1p(exp(-|x|)); backward dx = dl (sigmoid(x) - t).  all: (n,)
template <class T> void bce_forward(T* l, const T* x, const T* t, int64_t n) {
  for (int64_t i = 0; i < n; ++i) l[i] = std::max(x[i], T(0)) - x[i] * t[i] + std::log1p(std::exp(-std::fabs(x[i])));
}
template <class T> void bce_backward(T* dx, const T* dl, const T* x, const T* t, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    T e = std::exp(-std::fabs(x[i]));  // in (0, 1]: never overflows
    T s = x[i] >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
    dx[i] = dl[i] * (s - t[i]);
  }
}
template <class T> const T* in(const fw_buffer& b) { return static_cast<const T*>(b.ptr); }
template <class T> T* out(const fw_buffer& b) { return static_cast<T*>(b.ptr); }
bool bad_dims(int64_t outer, int64_t K, int64_t inner) { return outer < 0 || K < 1 || inner < 0; }

}  // namespace

int cpu_log_softmax(int32_t dtype, const fw_log_softmax_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  if (dtype == FW_F32) log_softmax_forward(out<float>(p->y), in<float>(p->x), p->outer, p->classes, p->inner);
  else log_softmax_forward(out<double>(p->y), in<double>(p->x), p->outer, p->classes, p->inner);
  return FW_OK;
}
int cpu_log_softmax_backward(int32_t dtype, const fw_log_softmax_backward_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    log_softmax_backward(out<float>(p->dx), in<float>(p->dy), in<float>(p->y), p->outer, p->classes, p->inner);
  else
    log_softmax_backward(out<double>(p->dx), in<double>(p->dy), in<double>(p->y), p->outer, p->classes, p->inner);
  return FW_OK;
}
int cpu_softmax_xent(int32_t dtype, const fw_softmax_xent_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const bool ok = dtype == FW_F32 ? xent_forward(out<float>(p->loss), in<float>(p->x), in<float>(p->target),
                                                 p->outer, p->classes, p->inner)
                                  : xent_forward(out<double>(p->loss), in<double>(p->x), in<double>(p->target),
                                                 p->outer, p->classes, p->inner);
  return ok ? FW_OK : FW_ERR_INVALID;
}
int cpu_softmax_xent_backward(int32_t dtype, const fw_softmax_xent_backward_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const bool ok = dtype == FW_F32 ? xent_backward(out<float>(p->dx), in<float>(p->dloss), in<float>(p->x),
                                                  in<float>(p->target), p->outer, p->classes, p->inner)
                                  : xent_backward(out<double>(p->dx), in<double>(p->dloss), in<double>(p->x),
                                                  in<double>(p->target), p->outer, p->classes, p->inner);
  return ok ? FW_OK : FW_ERR_INVALID;
}
int cpu_bce_logits(int32_t dtype, const fw_bce_logits_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32) bce_forward(out<float>(p->loss), in<float>(p->x), in<float>(p->target), p->n);
  else bce_forward(out<double>(p->loss), in<double>(p->x), in<double>(p->target), p->n);
  return FW_OK;
}
int cpu_bce_logits_backward(int32_t dtype, const fw_bce_logits_backward_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    bce_backward(out<float>(p->dx), in<float>(p->dloss), in<float>(p->x), in<float>(p->target), p->n);
  else
    bce_backward(out<double>(p->dx), in<double>(p->dloss), in<double>(p->x), in<double>(p->target), p->n);
  return FW_OK;
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

// Launches a loss kernel, reporting a failure as a ShapeError naming the op (a bad class index is caught on the
// host first, so this is a backend's complaint).
template <class P> void launch_loss(const Tensor& dst, const P& params, const char* op) {
  if (dst.numel() == 0) return;
  try {
    launch(dst.device(), dst.dtype(), params);
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
  launch_loss(l, fw_bce_logits_params{buffer_of(l), buffer_of(x), buffer_of(t), x.numel()}, "bce_with_logits");
  l = record(l, "bce_with_logits", {logits}, [x, t](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());  // dx: logits' shape
    launch_loss(dx, fw_bce_logits_backward_params{buffer_of(dx), buffer_of(g), buffer_of(x), buffer_of(t), x.numel()},
                "bce_with_logits backward");
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
  launch_loss(l, fw_softmax_xent_params{buffer_of(l), buffer_of(x), buffer_of(t), outer, K, inner}, op);
  l = record(l, op, {logits}, [x, t, outer, K, inner](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());  // dx: (outer, K, inner)
    launch_loss(dx,
                fw_softmax_xent_backward_params{buffer_of(dx), buffer_of(g), buffer_of(x), buffer_of(t), outer, K,
                                                inner},
                "softmax_cross_entropy backward");
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
  launch_loss(y, fw_log_softmax_params{buffer_of(y), buffer_of(x), outer, K, inner}, "log_softmax");
  Tensor yd = y.detach();
  return record(y, "log_softmax", {x0}, [yd, outer, K, inner](const Tensor& g0) {
    Tensor g = g0.contiguous();
    Tensor dx = Tensor::empty(yd.shape(), yd.dtype(), yd.device());  // dx: (outer, K, inner)
    launch_loss(dx, fw_log_softmax_backward_params{buffer_of(dx), buffer_of(g), buffer_of(yd), outer, K, inner},
                "log_softmax backward");
    return std::vector<Tensor>{dx};
  });
}

}  // namespace fw
