// bench/bench_residual.cpp: the PixelCNN residual block at h=64 (x: (16, 128, 28, 28), 1x1 128->64, 3x3 mask B
// 64->64, 1x1 64->128, biases), forward + backward, as the fused op fw::bottleneck_residual and as the
// composition fw::bottleneck_residual_composed (relu_conv2d, relu, conv2d, add), interleaved in one run; with
// GFLOP/s over the GEMM work of the block (the 3x3 counted at its 5 live taps). A program, not a test.
//   build/bench/bench_residual [--threads N] [--reps R] [--hidden H]     (docs/performance.md)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/rng.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/gemm_avx512.h"
#include "framework/ops/reduce.h"
#include "framework/ops/residual.h"

using namespace fw;

namespace {

Tensor random_f32(const Shape& s, uint64_t seed, double scale) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (float& x : v) x = static_cast<float>(rng.uniform(-scale, scale));
  return Tensor::from_vector(s, v);
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 21;
  int64_t h = 64;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    if (s == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
    else if (s == "--reps" && a + 1 < argc) reps = std::max(1, std::atoi(argv[++a]));
    else if (s == "--hidden" && a + 1 < argc) h = std::max(1, std::atoi(argv[++a]));
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--reps R] [--hidden H]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  const int64_t N = 16, C = 2 * h, F = h, H = 28, W = 28;
  // mask B of one colour channel for the 3x3: rows above, and the centre row up to the centre (5 live taps)
  std::vector<float> mb(static_cast<size_t>(F * F * 9), 1.0f);
  for (int64_t i = 0; i < F * F; ++i)
    for (int t : {5, 6, 7, 8}) mb[static_cast<size_t>(i * 9 + t)] = 0.0f;
  ConvParams a{random_f32({F, C, 1, 1}, 1, 0.1), random_f32({F}, 2, 0.1), Tensor()};
  ConvParams b{random_f32({F, F, 3, 3}, 3, 0.05), random_f32({F}, 4, 0.1), Tensor::from_vector({F, F, 3, 3}, mb)};
  ConvParams c{random_f32({C, F, 1, 1}, 5, 0.1), random_f32({C}, 6, 0.1), Tensor()};
  for (Tensor* t : {&a.w, &a.bias, &b.w, &b.bias, &c.w, &c.bias}) t->requires_grad_();
  const Tensor x0 = random_f32({N, C, H, W}, 7, 1.0), r = random_f32({N, C, H, W}, 8, 1.0);
  const double gflop = 3 * 2.0 * N * H * W * (F * C + F * 5 * F + C * F) / 1e9;  // forward + 2 backward GEMMs
  auto step = [&](bool fused) {
    Tensor x = x0.detach();
    x.requires_grad_();
    for (Tensor* t : {&a.w, &a.bias, &b.w, &b.bias, &c.w, &c.bias}) t->zero_grad();
    const auto t0 = std::chrono::steady_clock::now();
    Tensor y = fused ? bottleneck_residual(x, a, b, Padding2d::same(3, 3), c)
                     : bottleneck_residual_composed(x, a, b, Padding2d::same(3, 3), c);
    Tensor loss = sum(mul(y, r));
    const auto t1 = std::chrono::steady_clock::now();
    loss.backward();
    const auto t2 = std::chrono::steady_clock::now();
    return std::pair<double, double>{std::chrono::duration<double>(t1 - t0).count(),
                                     std::chrono::duration<double>(t2 - t1).count()};
  };
  std::vector<double> ff, fb, cf, cb;  // fused / composed, forward / backward
  for (int i = 0; i < 3; ++i) step(true), step(false);  // warm-up (scratch buffers, allocator cache)
  for (int i = 0; i < reps; ++i) {
    auto [f1, f2] = step(true);
    auto [c1, c2] = step(false);
    ff.push_back(f1), fb.push_back(f2), cf.push_back(c1), cb.push_back(c2);
  }
  const double mf = median(ff) + median(fb), mc = median(cf) + median(cb);
  std::printf("residual block h=%lld, batch 16, 28x28, %d threads (float32 GEMMs of the fused block: %s), median "
              "of %d:\n  fused    forward %7.3f ms  backward %7.3f ms  both %7.3f ms  %6.1f GFLOP/s\n"
              "  composed forward %7.3f ms  backward %7.3f ms  both %7.3f ms  %6.1f GFLOP/s\n"
              "  fused / composed speed %.2fx\n",
              static_cast<long long>(h), num_threads(), avx512::available() ? "AVX-512 kernel" : "OpenBLAS", reps,
              median(ff) * 1e3, median(fb) * 1e3, mf * 1e3, gflop / mf, median(cf) * 1e3, median(cb) * 1e3,
              mc * 1e3, gflop / mc, mc / mf);
  return 0;
}
