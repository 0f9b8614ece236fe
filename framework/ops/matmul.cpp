// framework/ops/matmul.cpp: the GEMM kernel on cblas_sgemm / cblas_dgemm, the raw gemm() helper and the matmul
// op with its gradient, side by side.
#include "framework/ops/matmul.h"

#include <cblas.h>

#include <string>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"

namespace fw {
namespace {

// ---- GEMM kernel: C = alpha op(A) op(B) + beta C, row-major, single-threaded BLAS.
// A: (M, K) or (K, M) if transA; B: (K, N) or (N, K) if transB; C: (M, N).
int k_gemm(const fw_kernel_args* k) {
  init_thread_policy();
  const bool ta = k->i[0] != 0, tb = k->i[1] != 0;
  const int64_t M = k->i[2], N = k->i[3], K = k->i[4];
  if (M < 0 || N < 0 || K < 0) return FW_ERR_INVALID;
  if (M == 0 || N == 0) return FW_OK;
  const int lda = static_cast<int>(std::max<int64_t>(1, ta ? M : K));
  const int ldb = static_cast<int>(std::max<int64_t>(1, tb ? K : N));
  const int ldc = static_cast<int>(N);
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if (k->dtype == FW_F32) {
    float* C = static_cast<float*>(k->b[0]);
    if (K == 0) {  // C = beta C; beta 0 clears (no NaN from old contents)
      for (int64_t e = 0; e < M * N; ++e) C[e] = k->s[1] == 0 ? 0.0f : static_cast<float>(k->s[1]) * C[e];
      return FW_OK;
    }
    cblas_sgemm(CblasRowMajor, TA, TB, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                static_cast<float>(k->s[0]), static_cast<const float*>(k->b[1]), lda,
                static_cast<const float*>(k->b[2]), ldb, static_cast<float>(k->s[1]), C, ldc);
  } else {
    double* C = static_cast<double*>(k->b[0]);
    if (K == 0) {
      for (int64_t e = 0; e < M * N; ++e) C[e] = k->s[1] == 0 ? 0.0 : k->s[1] * C[e];
      return FW_OK;
    }
    cblas_dgemm(CblasRowMajor, TA, TB, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), k->s[0],
                static_cast<const double*>(k->b[1]), lda, static_cast<const double*>(k->b[2]), ldb, k->s[1], C,
                ldc);
  }
  return FW_OK;
}
}  // namespace

// Called once by the CPU backend (framework/backend/cpu_kernels.h).
void register_matmul_cpu_kernels() {
  register_cpu_kernel(FW_K_GEMM, k_gemm);
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
  fw_kernel_args args = kernel_args(c.dtype());
  set_buffer(args, 0, c);
  set_buffer(args, 1, a);
  set_buffer(args, 2, b);
  args.i[0] = ta;
  args.i[1] = tb;
  args.i[2] = m;
  args.i[3] = n;
  args.i[4] = k;
  args.s[0] = alpha;
  args.s[1] = beta;
  launch(device_of(c), FW_K_GEMM, args);
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
