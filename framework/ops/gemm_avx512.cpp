// framework/ops/gemm_avx512.cpp: the AVX-512 GEMM of framework/ops/gemm_avx512.h. A micro-kernel keeps an 8 x 48
// tile of c in 24 zmm registers (8 rows of a, three 16-float vectors of b); per k it loads the three b vectors of
// row k and broadcasts the 8 packed a values (24 FMAs). The loops run a panel of 8 rows at a time over all
// columns of b, so the panel (8 x K) stays in L1 and b streams from L2. The last tile of a row is masked.
// Compiled for AVX-512F with function attributes (the rest of the build stays baseline x86-64); only called
// after available() says the CPU has it.
#include "framework/ops/gemm_avx512.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "framework/core/profile.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FW_HAVE_AVX512_KERNEL 1
#endif

namespace fw::avx512 {

int64_t packed_size(int64_t M, int64_t K) { return (M + 7) / 8 * 8 * K; }

void pack_a(const float* a, int64_t lda, bool trans, int64_t M, int64_t K, float* ap) {
  for (int64_t p0 = 0; p0 < M; p0 += 8) {
    float* panel = ap + p0 * K;  // panel: (K, 8)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < 8; ++r) {
        const int64_t i = p0 + r;
        panel[k * 8 + r] = i < M ? (trans ? a[k * lda + i] : a[i * lda + k]) : 0.0f;
      }
  }
}

#ifdef FW_HAVE_AVX512_KERNEL

namespace {
std::atomic<bool> g_disabled{[] {
  const char* v = std::getenv("PIXELRNN_AVX512");
  return v != nullptr && std::string(v) == "0";
}()};
}  // namespace

bool available() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes && !g_disabled.load(std::memory_order_relaxed);
}
void set_disabled(bool off) { g_disabled.store(off, std::memory_order_relaxed); }

namespace {

// c (rows <= 8, NV vectors of 16, the last masked by `last`) = epilogue(panel (K, 8) b (K, 16 NV)).
// Implicit: b is ImplicitRows (row k at rows->src + rows->off[k], masked by rows->mask[k]), starting at column j0;
// else b points at column j0 of a row-major matrix with leading dimension ldb.
template <int NV, bool Implicit>
__attribute__((target("avx512f"))) inline void micro(int64_t K, const float* __restrict panel,
                                                       const float* __restrict b, int64_t ldb,
                                                       const ImplicitRows* rows_b, __mmask16 last, float* c,
                                                       int64_t ldc, int rows, const Epilogue& e, int64_t i0,
                                                       int64_t j0) {
  __m512 acc[8][NV];
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 bv[NV];
    if constexpr (Implicit) {
      const float* bk = rows_b->src + rows_b->off[k] + j0;
      const uint16_t* mk = rows_b->mask[k] + j0 / 16;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = _mm512_maskz_loadu_ps(static_cast<__mmask16>(v == NV - 1 ? (mk[v] & last) : mk[v]), bk + 16 * v);
    } else {
      const float* bk = b + k * ldb;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * v) : _mm512_loadu_ps(bk + 16 * v);
    }
    const float* ak = panel + k * 8;
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      const __m512 ar = _mm512_set1_ps(ak[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) {
    if (r >= rows) break;
    const int64_t i = i0 + r;
    const __m512 bias = _mm512_set1_ps(e.bias ? e.bias[i] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? last : __mmask16(0xFFFF);
      const int64_t j = j0 + 16 * v;
      __m512 x = acc[r][v];
      if (e.bias) x = _mm512_add_ps(x, bias);
      if (e.relu) x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), x);  // x > 0 ? x : 0
      if (e.gate) {
        const __m512 g = _mm512_maskz_loadu_ps(m, e.gate + i * e.ld_gate + j);
        x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, zero, _CMP_GT_OQ), x);
      }
      if (e.add) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, e.add + i * e.ld_add + j));
      _mm512_mask_storeu_ps(c + r * ldc + 16 * v, m, x);
    }
  }
}

template <bool Implicit>
__attribute__((target("avx512f"))) void run(int64_t M, int64_t N, int64_t K, const float* ap, const float* b,
                                             int64_t ldb, const ImplicitRows* rows_b, float* c, int64_t ldc,
                                             const Epilogue& e) {
  for (int64_t i0 = 0; i0 < M; i0 += 8) {
    const int rows = static_cast<int>(std::min<int64_t>(8, M - i0));
    const float* panel = ap + i0 * K;
    for (int64_t j0 = 0; j0 < N; j0 += 48) {
      const int64_t w = std::min<int64_t>(48, N - j0);
      const int nv = static_cast<int>((w + 15) / 16);
      const __mmask16 last = static_cast<__mmask16>((1u << (w - 16 * (nv - 1))) - 1u);
      float* ct = c + i0 * ldc + j0;
      const float* bt = Implicit ? nullptr : b + j0;
      if (nv == 3) micro<3, Implicit>(K, panel, bt, ldb, rows_b, last, ct, ldc, rows, e, i0, j0);
      else if (nv == 2) micro<2, Implicit>(K, panel, bt, ldb, rows_b, last, ct, ldc, rows, e, i0, j0);
      else micro<1, Implicit>(K, panel, bt, ldb, rows_b, last, ct, ldc, rows, e, i0, j0);
    }
  }
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* ap, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& e) {
  profile::count_flops(2.0 * double(M) * double(N) * double(K));  // `bench --profile`'s GEMM count, as blas::gemm
  run<false>(M, N, K, ap, b, ldb, nullptr, c, ldc, e);
}
void gemm_implicit(int64_t M, int64_t N, int64_t K, const float* ap, const ImplicitRows& rows, float* c,
                   int64_t ldc, const Epilogue& e) {
  profile::count_flops(2.0 * double(M) * double(N) * double(K));
  run<true>(M, N, K, ap, nullptr, 0, &rows, c, ldc, e);
}

#else

bool available() { return false; }
void set_disabled(bool) {}
void gemm(int64_t, int64_t, int64_t, const float*, const float*, int64_t, float*, int64_t, const Epilogue&) {}
void gemm_implicit(int64_t, int64_t, int64_t, const float*, const ImplicitRows&, float*, int64_t, const Epilogue&) {}

#endif

}  // namespace fw::avx512
