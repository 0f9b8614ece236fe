// plugins/cuda/cuda_common.h: what the CUDA plugin's translation units share: the device state (one stream, the
// cuBLAS handle, a grow-only scratch workspace), error mapping, launch geometry, and the per-kernel entry points
// (one per kernel of the v2 list, framework/ops/families.h) that backend.cu's run() dispatches to.
//
// Everything runs on one stream (the legacy default stream), so kernels, cuBLAS calls and copies are ordered;
// the scratch workspace is reused by consecutive kernels safely. Every entry point takes float32 buffers (the
// plugin declines float64: the framework runs those on the CPU) and returns FW_OK, FW_ERR_INVALID (bad sizes or
// targets) or FW_ERR_UNSUPPORTED (a CUDA/cuBLAS failure). Reductions run in fixed orders: no atomics.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "framework/ops/families.h"

namespace fwcuda {

// The cuBLAS handle (created by init(), on the default stream, default math mode: float32, no TF32).
cublasHandle_t blas();
// Device scratch of at least `bytes`, valid until the next scratch() call on the same slot (grow-only).
// slot: 0..9, independent buffers that can be held at once (conv and lstm_scan use 0..5, sum_squares 6, the
// loss kernels' target check 7, the bottleneck backward's d2 and d1 8 and 9).
void* scratch(int slot, size_t bytes);
// FW_OK when the last launch succeeded, else FW_ERR_UNSUPPORTED (and the error is kept for synchronize()).
int check_launch();
int check_blas(cublasStatus_t s);

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > 65535LL * 32) b = 65535LL * 32;  // kernels use grid-stride loops
  return static_cast<unsigned>(b);
}
template <class T> __host__ __device__ inline T* ptr(const fw_buffer& b) { return static_cast<T*>(b.ptr); }

// Row-major GEMM on cuBLAS (float32): c (M, N) = alpha op(a) op(b) + beta c, with leading dimensions.
int sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The same, batched: batch products with element strides sa, sb, sc between consecutive a, b, c (0: shared).
int sgemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
                  int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc,
                  int64_t batch);
// Deterministic sum of x[0..n) in double into *out (device), fixed tree order; x float.
int sum_squares_f32(double* out, const float* x, int64_t n);

#define FWCUDA_DECLARE(ID, name, P, last, writes) int run_##name(const P* p);
FW_KERNEL_LIST(FWCUDA_DECLARE)
#undef FWCUDA_DECLARE

}  // namespace fwcuda
