// bench/bench_conv.cpp: GFLOP/s of the conv2d kernels (forward, backward-data, backward-weight) for a 3x3,
// 64 -> 64 channel convolution on a batch of 16 28x28 images, next to raw cblas_sgemm of the same per-image
// GEMM (M=64, K=576, N=784) measured in the same run.
//
// Like with like: the conv kernels run over the batch with TBB (T threads, OpenBLAS single-threaded inside each
// task). The raw sgemm is measured twice: the 16 per-image GEMMs with tbb::parallel_for over images at the same
// T ("sgemm_gflops", the reference for the ratios), and serially on one thread ("sgemm_1t_gflops").
// Each figure is the median over --reps repetitions (one repetition = the whole batch), the four measurements
// interleaved so machine load drifts hit all of them alike.
//
// usage: bench_conv [--threads N] [--reps R] [--json]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/rng.h"
#include "framework/ops/conv.h"

using namespace fw;

namespace {

constexpr int64_t N = 16, C = 64, H = 28, W = 28, KS = 3;
constexpr int64_t M_ = C, K_ = C * KS * KS, P_ = H * W;  // per-image GEMM: (64, 576) x (576, 784)

Tensor random_f32(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
  return Tensor::from_vector(s, v);
}

double seconds(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, reps = 21;
  bool json = false;
  for (int a = 1; a < argc; ++a) {
    std::string s = argv[a];
    if (s == "--json") json = true;
    else if (s == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
    else if (s == "--reps" && a + 1 < argc) reps = std::max(1, std::atoi(argv[++a]));
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--reps R] [--json]\n", argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  const int T = num_threads();

  const Padding2d pad = Padding2d::same(KS, KS);
  Tensor x = random_f32({N, C, H, W}, 1);     // x: (16, 64, 28, 28)
  Tensor w = random_f32({C, C, KS, KS}, 2);   // w: (64, 64, 3, 3)
  Tensor dy = random_f32({N, C, H, W}, 3);    // dy: (16, 64, 28, 28)
  Tensor y = conv2d(x, w, Tensor(), pad);     // y: (16, 64, 28, 28); also links and checks the op
  Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape());

  const fw_conv2d_geometry geo{N, C, H, W, C, KS, KS, pad.top, pad.bottom, pad.left, pad.right, 0};
  const fw_conv2d_forward_params kf{buffer_of(y), buffer_of(x), buffer_of(w), {}, {}, geo};
  const fw_conv2d_backward_data_params kd{buffer_of(dx), buffer_of(dy), buffer_of(w), {}, {}, geo};
  const fw_conv2d_backward_weight_params kw{buffer_of(dw), {}, buffer_of(dy), buffer_of(x), {}, geo};

  // Raw sgemm operands: per image A (64, 576), B (576, 784), C (64, 784), distinct B and C per image.
  std::vector<float> A(M_ * K_), B(N * K_ * P_), Cm(N * M_ * P_);
  {
    Rng rng(4);
    for (float& v : A) v = static_cast<float>(rng.uniform(-1, 1));
    for (float& v : B) v = static_cast<float>(rng.uniform(-1, 1));
  }
  auto sgemm_image = [&](int64_t n) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M_, P_, K_, 1.0f, A.data(), K_, B.data() + n * K_ * P_,
                P_, 0.0f, Cm.data() + n * M_ * P_, P_);
  };
  auto sgemm_serial = [&] { for (int64_t n = 0; n < N; ++n) sgemm_image(n); };
  auto sgemm_tbb = [&] { tbb::parallel_for(int64_t(0), N, [&](int64_t n) { sgemm_image(n); }); };

  struct Item {
    const char* key;
    std::function<void()> run;
    std::vector<double> t;
  };
  std::vector<Item> items = {
      {"sgemm_gflops", sgemm_tbb, {}},
      {"sgemm_1t_gflops", sgemm_serial, {}},
      {"conv_forward_gflops", [&] { launch(Device::CPU, DType::F32, kf); }, {}},
      {"conv_backward_data_gflops", [&] { launch(Device::CPU, DType::F32, kd); }, {}},
      {"conv_backward_weight_gflops", [&] { launch(Device::CPU, DType::F32, kw); }, {}},
  };
  for (int warm = 0; warm < 2; ++warm)
    for (Item& it : items) it.run();
  for (int r = 0; r < reps; ++r)
    for (Item& it : items) it.t.push_back(seconds(it.run));

  // Small calls, as the recurrent models make them: per-call latency of the conv2d op (forward, and forward +
  // backward through autograd), median over many calls. Row LSTM input-to-state: (16, 64, 1, 32) with a (1, 3)
  // kernel to 256 channels; Diagonal BiLSTM column: (16, 64, 32, 1) with a (2, 1) kernel, top pad 1.
  struct Small {
    const char* key;
    Shape xs, ws;
    Padding2d p;
    double fwd_us = 0, fwdbwd_us = 0, fwd_best_us = 0, fwdbwd_best_us = 0;
  };
  std::vector<Small> smalls = {{"row_1x3", {16, 64, 1, 32}, {256, 64, 1, 3}, {0, 0, 1, 1}},
                               {"column_2x1", {16, 64, 32, 1}, {256, 64, 2, 1}, {1, 0, 0, 0}}};
  for (Small& s : smalls) {
    Tensor sx = random_f32(s.xs, 5), sw = random_f32(s.ws, 6), sb = random_f32({s.ws[0]}, 7);
    std::vector<double> tf, tb;
    for (int r = 0; r < 10 * reps; ++r) tf.push_back(seconds([&] { conv2d(sx, sw, sb, s.p); }));
    sx.requires_grad_();
    sw.requires_grad_();
    sb.requires_grad_();
    for (int r = 0; r < 10 * reps; ++r)
      tb.push_back(seconds([&] {
        Tensor sy = conv2d(sx, sw, sb, s.p);
        sy.backward(sy.detach());
      }));
    s.fwd_us = median(tf) * 1e6;
    s.fwdbwd_us = median(tb) * 1e6;
    s.fwd_best_us = *std::min_element(tf.begin(), tf.end()) * 1e6;
    s.fwdbwd_best_us = *std::min_element(tb.begin(), tb.end()) * 1e6;
  }

  const double flops = 2.0 * N * M_ * K_ * P_;  // the same for all five: 16 x (64 x 576 x 784) MACs
  std::vector<double> g, best;  // GFLOP/s from the median and from the fastest repetition
  for (Item& it : items) {
    g.push_back(flops / median(it.t) / 1e9);
    best.push_back(flops / *std::min_element(it.t.begin(), it.t.end()) / 1e9);
  }
  const double ref = g[0];
  if (json) {
    std::printf("{\"threads\": %d, \"reps\": %d, \"conv_threading\": \"tbb over images, openblas 1 thread\", "
                "\"sgemm_threading\": \"tbb over images, openblas 1 thread\"",
                T, reps);
    for (size_t i = 0; i < items.size(); ++i) std::printf(", \"%s\": %.2f", items[i].key, g[i]);
    std::printf(", \"best\": {");
    for (size_t i = 0; i < items.size(); ++i) std::printf("%s\"%s\": %.2f", i ? ", " : "", items[i].key, best[i]);
    std::printf("}");
    for (const Small& s : smalls)
      std::printf(", \"%s_forward_us\": %.1f, \"%s_forward_backward_us\": %.1f, \"%s_best_us\": [%.1f, %.1f]", s.key,
                  s.fwd_us, s.key, s.fwdbwd_us, s.key, s.fwd_best_us, s.fwdbwd_best_us);
    std::printf(", \"ratios\": {\"forward\": %.3f, \"backward_data\": %.3f, \"backward_weight\": %.3f}}\n",
                g[2] / ref, g[3] / ref, g[4] / ref);
    return 0;
  }
  std::printf("bench_conv: 3x3 conv, 64 -> 64 channels, 28x28, batch 16, float32; median (and best) of %d reps\n",
              reps);
  std::printf("threads: %d (TBB over the 16 images; OpenBLAS single-threaded in every task)\n", T);
  std::printf("per-image GEMM M=%lld K=%lld N=%lld; %.1f MFLOP per batch\n", (long long)M_, (long long)K_,
              (long long)P_, flops / 1e6);
  std::printf("  %-30s %8.2f GFLOP/s (best %6.2f)  reference: same %d thread(s), TBB over images\n", "raw sgemm",
              g[0], best[0], T);
  std::printf("  %-30s %8.2f GFLOP/s (best %6.2f)  1 thread, serial\n", "raw sgemm", g[1], best[1]);
  const char* names[3] = {"conv forward", "conv backward-data", "conv backward-weight"};
  for (int i = 0; i < 3; ++i)
    std::printf("  %-30s %8.2f GFLOP/s (best %6.2f)  %5.1f%% of raw sgemm at %d thread(s)\n", names[i],
                g[2 + i], best[2 + i], 100.0 * g[2 + i] / ref, T);
  std::printf("small calls (conv2d op with bias; median (best) of %d calls):\n", 10 * reps);
  for (const Small& s : smalls)
    std::printf("  %-10s x %-16s w %-17s forward %7.1f (%7.1f) us, forward+backward %7.1f (%7.1f) us\n", s.key,
                shape_str(s.xs).c_str(), shape_str(s.ws).c_str(), s.fwd_us, s.fwd_best_us, s.fwdbwd_us,
                s.fwdbwd_best_us);
  return 0;
}
