// bench/bench_gemm_shapes.cpp: single-threaded OpenBLAS sgemm GFLOP/s at the GEMM shapes PixelCNN h=64 runs per
// 28x28 image (forward NN, backward-data TN, backward-weight NT), next to the 512x1024x1024 shape that
// `pixelrnn bench --profile` uses for its sgemm rate. Shows whether small shapes cost the GEMM itself anything
// (docs/performance.md, "Results (issue 9), 2026-12-02"). A program, not a test.
//   build/bench/bench_gemm_shapes          (best of 3 runs of about 2 GFLOP per shape)
#include <cblas.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {
struct Shape {
  int M, N, K;
  bool ta, tb;  // op(A) = A^T, op(B) = B^T
  const char* what;
};
}  // namespace

int main() {
  openblas_set_num_threads(1);
  const Shape shapes[] = {
      {64, 784, 128, false, false, "forward, 1x1 2h -> h"},
      {64, 784, 320, false, false, "forward, 3x3 mask B (5 live taps x 64)"},
      {128, 784, 64, false, false, "forward, 1x1 h -> 2h"},
      {320, 784, 64, true, false, "backward-data, 3x3 mask B"},
      {64, 320, 784, false, true, "backward-weight, 3x3 mask B"},
      {64, 128, 784, false, true, "backward-weight, 1x1 2h -> h"},
      {512, 1024, 1024, false, false, "the profile's sgemm rate shape"},
  };
  for (const Shape& s : shapes) {
    // A: op(A) (M, K), B: op(B) (K, N), C: (M, N)
    std::vector<float> A(static_cast<size_t>(s.M) * s.K, 0.5f), B(static_cast<size_t>(s.K) * s.N, 0.5f),
        C(static_cast<size_t>(s.M) * s.N, 0.0f);
    const double flop = 2.0 * s.M * s.N * s.K;
    const int reps = static_cast<int>(2e9 / flop) + 1;
    double best = 1e30;
    for (int t = 0; t < 3; ++t) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r)
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K,
                    1.0f, A.data(), s.ta ? s.M : s.K, B.data(), s.tb ? s.K : s.N, 1.0f, C.data(), s.N);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("M %4d N %4d K %4d %s%s  %6.1f GFLOP/s  (%s)\n", s.M, s.N, s.K, s.ta ? "A^T" : "A  ",
                s.tb ? " B^T" : " B  ", flop * reps / best / 1e9, s.what);
  }
  return 0;
}
