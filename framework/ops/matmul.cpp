// framework/ops/matmul.cpp: the GEMM kernel (framework/ops/blas.h, single-threaded BLAS), the raw gemm() helper
// and the matmul op with its gradient, side by side.
#include "framework/ops/matmul.h"

#include <string>

#include "framework/backend/backend.h"
#include "framework/ops/blas.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"

namespace fw {

// gemm: c (M, N) = alpha op(a) op(b) + beta c, row-major, dense operands.
template <class T> void gemm_forward(const fw_gemm_params* p) {
  const bool ta = p->trans_a != 0, tb = p->trans_b != 0;
  blas::gemm(ta, tb, p->M, p->N, p->K, static_cast<T>(p->alpha), static_cast<const T*>(p->a.ptr), ta ? p->M : p->K,
             static_cast<const T*>(p->b.ptr), tb ? p->K : p->N, static_cast<T>(p->beta), static_cast<T*>(p->c.ptr),
             p->N);
}
int cpu_gemm(int32_t dtype, const fw_gemm_params* p) {
  if (p->M < 0 || p->N < 0 || p->K < 0) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32) gemm_forward<float>(p);
  else gemm_forward<double>(p);
  return FW_OK;
}

namespace {

// A 2-D operand for GEMM: a row-major buffer plus a transpose flag, so a transposed view (strides (1, rows))
// is passed as-is instead of copied. Anything else is made contiguous.
struct Operand {
  Tensor buf;  // contiguous, shape (rows, cols) if !trans, (cols, rows) if trans
  bool trans = false;
};
Operand as_operand(const Tensor& t) {
  NoGradGuard ng;
  if (t.is_contiguous()) return {t.detach(), false};
  const Shape& s = t.shape();
  const Shape& st = t.strides();
  if (st[0] == 1 && st[1] == s[0])
    return {Tensor::view_of(t.detach(), {s[1], s[0]}, {s[0], 1}, t.offset()).detach(), true};
  return {t.contiguous().detach(), false};
}

void gemm_raw(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const Tensor& a, const Tensor& b,
              double beta, Tensor& c) {
  launch(c.device(), c.dtype(),
         fw_gemm_params{buffer_of(c), buffer_of(a), buffer_of(b), ta, tb, m, n, k, alpha, beta});
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const Tensor& a,
          const Tensor& b, double beta, Tensor& c) {
  if (!a.defined() || !b.defined() || !c.defined()) throw ShapeError("gemm: undefined operand");
  if (m < 0 || n < 0 || k < 0)
    throw ShapeError("gemm: negative size m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
  if (a.dtype() != c.dtype() || b.dtype() != c.dtype())
    throw ShapeError("gemm: dtypes differ: a " + a.str() + ", b " + b.str() + ", c " + c.str());
  if (!a.is_contiguous() || !b.is_contiguous() || !c.is_contiguous())
    throw ShapeError("gemm: operands must be contiguous: a " + a.str() + ", b " + b.str() + ", c " + c.str());
  if (a.numel() < m * k || b.numel() < k * n || c.numel() < m * n)
    throw ShapeError("gemm: buffers too small for m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k) + ": a " + a.str() + ", b " + b.str() + ", c " + c.str());
  gemm_raw(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

// y = a b.  a: (M, K), b: (K, N), y: (M, N).  da = g b^T: (M, K);  db = a^T g: (K, N).
Tensor matmul(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw ShapeError("matmul: undefined input");
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0))
    throw ShapeError("matmul: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                     " do not multiply (need (M, K) x (K, N))");
  if (a.dtype() != b.dtype()) throw ShapeError("matmul: dtypes differ: " + a.str() + " and " + b.str());
  if (a.device() != b.device()) throw ShapeError("matmul: inputs on different devices");
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Operand A = as_operand(a), B = as_operand(b);
  Tensor y = Tensor::empty({M, N}, a.dtype(), a.device());
  gemm_raw(A.trans, B.trans, M, N, K, 1.0, A.buf, B.buf, 0.0, y);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(y, "matmul", {a, b}, [A, B, M, N, K, ga, gb](const Tensor& g0) {
    Tensor g = g0.contiguous();  // g: (M, N)
    Tensor da, db;
    if (ga) {  // da (M, K) = g (M, N) B^T; op(B) = B, so B^T flips B's flag
      da = Tensor::empty({M, K}, g.dtype(), g.device());
      gemm_raw(false, !B.trans, M, K, N, 1.0, g, B.buf, 0.0, da);
    }
    if (gb) {  // db (K, N) = A^T (K, M) g (M, N)
      db = Tensor::empty({K, N}, g.dtype(), g.device());
      gemm_raw(!A.trans, false, K, N, M, 1.0, A.buf, g, 0.0, db);
    }
    return std::vector<Tensor>{da, db};
  });
}

}  // namespace fw
