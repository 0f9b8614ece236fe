// framework/ops/gemm_avx512.h: INTERNAL to the CPU kernels (never installed): a float32 GEMM for AVX-512 CPUs with
// the elementwise work that follows a convolution's GEMM done as it stores (bias, ReLU, a ReLU mask, a residual),
// used by the fused residual block (framework/ops/residual.cpp).
//   c (M, N) = epilogue(a (M, K) b (K, N)),  b row-major with leading dimension ldb, read in place (no packing:
//   the operand is an image's activations or column matrix, already in cache); a packed once per call by
//   pack_a into panels of 8 rows.
// Why: OpenBLAS packs b on every call and zeroes c for beta = 0, and the epilogue would be one more pass over c
// each; for the per-image shapes of a PixelCNN block (M = 64..320, N = 784, K = 64..320) this kernel measured
// 112-148 GFLOP/s against OpenBLAS's 114-141 on one core of an Intel Xeon (AVX-512), before counting the passes
// it saves (docs/performance.md). Each c element sums its K products in order with FMAs: deterministic, the same
// bits at any thread count; not the same bits as OpenBLAS.
#pragma once
#include <cstdint>

namespace fw::avx512 {

// True when this CPU runs AVX-512F (checked once) and the kernel is not switched off: by set_disabled(true), or
// by the environment variable PIXELRNN_AVX512=0 at start-up (to compare the two paths). Callers use OpenBLAS
// otherwise.
bool available();
void set_disabled(bool off);

// Packs a (M, K) for gemm: `a` is row-major (M, K) with leading dimension lda, or, with trans, row-major (K, M)
// (a = its transpose). ap: packed_size(M, K) floats; rows past M are zero.
int64_t packed_size(int64_t M, int64_t K);
void pack_a(const float* a, int64_t lda, bool trans, int64_t M, int64_t K, float* ap);

// What happens to v = (a b)[i, j] before c[i, j] is written, in this order (each optional):
//   v += bias[i];  v = max(v, 0) if relu;  v = gate[i, j] > 0 ? v : 0;  v += add[i, j]
struct Epilogue {
  const float* bias = nullptr;  // (M)
  bool relu = false;
  const float* gate = nullptr;  // (M, N), leading dimension ld_gate
  int64_t ld_gate = 0;
  const float* add = nullptr;   // (M, N), leading dimension ld_add
  int64_t ld_add = 0;
};

// c (M, N) (leading dimension ldc, overwritten) = epilogue(a b). ap from pack_a; b (K, N) row-major, ldb. c must
// not overlap b, gate may equal add only if both are read-only. Requires available().
void gemm(int64_t M, int64_t N, int64_t K, const float* ap, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& e);

// A column matrix read in place from an image (an implicit im2col): row k of b is src[off[k] + j] where bit
// (j % 16) of mask[k][j / 16] is set, and 0 where it is not (a tap's window leaving the image). Masked lanes are
// never read, so off[k] + j may point outside src there.
struct ImplicitRows {
  const float* src = nullptr;
  const int64_t* off = nullptr;          // (K)
  const uint16_t* const* mask = nullptr; // (K) pointers to rows of (N + 15) / 16 masks
};
// c (M, N) = epilogue(a b) with b given by rows (its N columns: the pixels).
void gemm_implicit(int64_t M, int64_t N, int64_t K, const float* ap, const ImplicitRows& rows, float* c,
                   int64_t ldc, const Epilogue& e);

}  // namespace fw::avx512
