// tests/grad_residual.cpp: the fused bottleneck residual block (framework/ops/residual.cpp): float64 gradient
// checks (with and without biases and masks, a dead tap, an uneven kernel), values and gradients against the
// composed relu_conv2d / relu / conv2d / add, float32 at several chunk counts, bit-identical results at 1, 2 and 3
// threads, zero gradients under a mask, and its errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/profile.h"
#include "framework/core/rng.h"
#include "framework/ops/gemm_avx512.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/ops/residual.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"

using namespace fw;
using gradcheck::check_gradients;
using gradcheck::leaf_of;
using gradcheck::random;
using gradcheck::worst_diff;
using V = std::vector<Tensor>;

namespace {
// A 0/1 mask of shape s, about `keep` of it ones, seeded.
Tensor mask_of(Shape s, uint64_t seed, double keep = 0.7) {
  std::vector<double> u = random(s, seed, 0.0, 1.0).to_vector();
  for (double& v : u) v = v < keep ? 1.0 : 0.0;
  return Tensor::from_vector(s, u);
}
double largest(const Tensor& a) {
  double w = 0;
  for (double v : a.to_vector()) w = std::max(w, std::fabs(v));
  return w;
}

// A block's parameters: C channels, F hidden, middle kernel KH x KW; masks and biases optional.
struct Block {
  Tensor wa, ba, ma, wb, bb, mb, wc, bc, mc;
  Padding2d pad;
  std::vector<Tensor> leaves() const {
    std::vector<Tensor> v{wa, wb, wc};
    for (const Tensor& t : {ba, bb, bc})
      if (t.defined()) v.push_back(t);
    return v;
  }
};
Block make_block(int64_t C, int64_t F, int64_t KH, int64_t KW, bool biases, bool masks, uint64_t seed) {
  Block b;
  b.wa = leaf_of({F, C, 1, 1}, seed + 1, 0.8);
  b.wb = leaf_of({F, F, KH, KW}, seed + 2, 0.6);
  b.wc = leaf_of({C, F, 1, 1}, seed + 3, 0.8);
  if (biases) {
    b.ba = leaf_of({F}, seed + 4, 0.3);
    b.bb = leaf_of({F}, seed + 5, 0.3);
    b.bc = leaf_of({C}, seed + 6, 0.3);
  }
  if (masks) {
    b.ma = mask_of({F, C, 1, 1}, seed + 7);
    b.mb = mask_of({F, F, KH, KW}, seed + 8);
    b.mc = mask_of({C, F, 1, 1}, seed + 9);
  }
  b.pad = Padding2d::same(KH, KW);
  return b;
}
// The block as a function of (x, then its leaves in Block::leaves() order), fused or composed.
Tensor run_block(const Block& b, const V& v, bool fused) {
  size_t i = 1;
  Block c = b;
  c.wa = v[i++], c.wb = v[i++], c.wc = v[i++];
  if (b.ba.defined()) c.ba = v[i++], c.bb = v[i++], c.bc = v[i++];
  const ConvParams pa{c.wa, c.ba, c.ma}, pb{c.wb, c.bb, c.mb}, pc{c.wc, c.bc, c.mc};
  return fused ? bottleneck_residual(v[0], pa, pb, c.pad, pc) : bottleneck_residual_composed(v[0], pa, pb, c.pad, pc);
}
V inputs_of(const Tensor& x, const Block& b) {
  V v{x};
  for (const Tensor& t : b.leaves()) v.push_back(t);
  return v;
}
}  // namespace

GRADCHECK(bottleneck_residual) {
  // With biases and masks (3x3); without either; an uneven 2x3 kernel (padding top 0, bottom 1); a middle mask
  // that kills a whole tap for every channel (the dead-tap path); and x feeding the block twice (its gradient
  // accumulates across two nodes).
  struct Case {
    const char* name;
    int64_t N, C, F, KH, KW;
    bool biases, masks;
  };
  for (const Case& k : {Case{"(2, 4, 5, 6), F 3, 3x3, biases, masks", 2, 4, 3, 3, 3, true, true},
                        Case{"(3, 2, 3, 4), F 2, 3x3, plain", 3, 2, 2, 3, 3, false, false},
                        Case{"(2, 3, 4, 5), F 2, 2x3, biases", 2, 3, 2, 2, 3, true, false}}) {
    Block b = make_block(k.C, k.F, k.KH, k.KW, k.biases, k.masks, 100 + k.N * 10 + k.KH);
    Tensor x = leaf_of({k.N, k.C, k.KH == 2 ? 4 : 5, k.KH == 2 ? 5 : 6}, 7);
    REQUIRE_GRAD_OK(check_gradients(std::string("bottleneck_residual ") + k.name,
                                    [&](const V& v) { return run_block(b, v, true); }, inputs_of(x, b)));
  }
  Block dead = make_block(3, 2, 3, 3, true, true, 300);
  {  // tap (1, 1) (the centre) dead for every (o, c) of the middle convolution, and channel 0 of conv_a's input
    std::vector<double> m = dead.mb.to_vector(), ma = dead.ma.to_vector();
    for (size_t i = 4; i < m.size(); i += 9) m[i] = 0;
    for (size_t i = 0; i < ma.size(); i += 3) ma[i] = 0;
    dead.mb = Tensor::from_vector(dead.mb.shape(), m);
    dead.ma = Tensor::from_vector(dead.ma.shape(), ma);
  }
  REQUIRE_GRAD_OK(check_gradients("bottleneck_residual, dead taps",
                                  [&](const V& v) { return run_block(dead, v, true); },
                                  inputs_of(leaf_of({2, 3, 4, 4}, 8), dead)));
  Block twice = make_block(2, 3, 3, 3, true, false, 400);
  REQUIRE_GRAD_OK(check_gradients("bottleneck_residual, input used twice",
                                  [&](const V& v) { return mul(run_block(twice, v, true), v[0]); },
                                  inputs_of(leaf_of({2, 2, 3, 4}, 9), twice)));
}

TEST_CASE("bottleneck_residual equals the composition, values and gradients, float64 and float32") {
  // N = 11 makes 8 uneven chunks of the backward; masks B-like; biases.
  Block b = make_block(6, 4, 3, 3, true, true, 500);
  Tensor x = leaf_of({11, 6, 7, 9}, 10, 2.0);
  V fused_in = inputs_of(x, b), comp_in;
  for (const Tensor& t : fused_in) {
    Tensor c = t.detach();
    c.requires_grad_();
    comp_in.push_back(c);
  }
  Tensor r = random({11, 6, 7, 9}, 11);
  Tensor yf = run_block(b, fused_in, true), yc = run_block(b, comp_in, false);
  sum(mul(yf, r)).backward();
  sum(mul(yc, r)).backward();
  CHECK(largest(yf) > 0.5);
  CHECK(worst_diff(yf, yc) < 1e-12);
  for (size_t i = 0; i < fused_in.size(); ++i) {
    INFO("input " << i << " " << fused_in[i].str());
    CHECK(largest(fused_in[i].grad()) > 1e-3);
    CHECK(worst_diff(fused_in[i].grad(), comp_in[i].grad()) < 1e-11);
  }
  // Masked weights get exactly zero gradient (the kernel writes every element).
  for (auto [w, m] : {std::pair<Tensor, Tensor>{fused_in[1], b.ma}, {fused_in[2], b.mb}, {fused_in[3], b.mc}}) {
    std::vector<double> g = w.grad().to_vector(), mv = m.to_vector();
    for (size_t i = 0; i < g.size(); ++i)
      if (mv[i] == 0) CHECK(g[i] == 0);
  }
  // float32: within float rounding of float64, at N = 1 (one chunk) and N = 11.
  for (int64_t n : {int64_t(1), int64_t(11)}) {
    NoGradGuard ng;
    Tensor x64 = slice(x.detach(), 0, 0, n);
    auto f32 = [](const Tensor& t) { return t.defined() ? t.detach().to(DType::F32) : t; };
    Tensor y32 = bottleneck_residual(f32(x64), {f32(b.wa), f32(b.ba), f32(b.ma)}, {f32(b.wb), f32(b.bb), f32(b.mb)},
                                     b.pad, {f32(b.wc), f32(b.bc), f32(b.mc)});
    CHECK(worst_diff(y32, slice(yf.detach(), 0, 0, n)) < 1e-4);
  }
}

TEST_CASE("bottleneck_residual is bit-identical across thread counts, and reference_kernels runs the composition") {
  auto f32 = [](const Tensor& t) { return t.defined() ? t.detach().to(DType::F32) : t; };
  Block b64 = make_block(8, 4, 3, 3, true, true, 600);
  Block b;  // float32 leaves
  b.wa = f32(b64.wa), b.ba = f32(b64.ba), b.ma = f32(b64.ma), b.wb = f32(b64.wb), b.bb = f32(b64.bb);
  b.mb = f32(b64.mb), b.wc = f32(b64.wc), b.bc = f32(b64.bc), b.mc = f32(b64.mc), b.pad = b64.pad;
  for (Tensor* t : {&b.wa, &b.ba, &b.wb, &b.bb, &b.wc, &b.bc}) t->requires_grad_();
  Tensor x0 = f32(random({13, 8, 6, 7}, 12, -2, 2)), r = f32(random({13, 8, 6, 7}, 13));
  auto run = [&](int threads) {
    set_num_threads(threads);
    REQUIRE(num_threads() == threads);
    Tensor x = x0.detach();
    x.requires_grad_();
    V in = inputs_of(x, b);
    for (Tensor& t : in) t.zero_grad();
    Tensor y = run_block(b, in, true);
    sum(mul(y, r)).backward();
    std::vector<std::vector<double>> out{y.to_vector()};
    for (const Tensor& t : in) out.push_back(t.grad().to_vector());
    return out;
  };
  for (bool own : {true, false}) {  // the AVX-512 kernel (where the CPU has it), then OpenBLAS
    avx512::set_disabled(!own);
    INFO((own ? "AVX-512 kernel if the CPU has it" : "OpenBLAS"));
    const auto one_path = run(1);
    for (int t : {2, 3, 2}) CHECK(run(t) == one_path);
  }
  avx512::set_disabled(false);
  const auto one = run(1);
  set_num_threads(0);
  {  // with fw::reference_kernels() set the op is the composition: a node per op, the same values
    ReferenceKernelsScope ref(true);
    Tensor x = x0.detach();
    x.requires_grad_();
    Tensor y = run_block(b, inputs_of(x, b), true);
    CHECK(std::string(y.grad_fn()->op) == "add");
    CHECK(worst_diff(y, Tensor::from_vector(y.shape(), one[0])) < 1e-4);
  }
}

TEST_CASE("bottleneck_residual errors name the op and the shapes") {
  Block b = make_block(4, 2, 3, 3, true, false, 700);
  const ConvParams pa{b.wa, b.ba, {}}, pb{b.wb, b.bb, {}}, pc{b.wc, b.bc, {}};
  Tensor x = random({2, 4, 5, 5}, 1);
  CHECK_THROWS_WITH_AS(bottleneck_residual(random({2, 3, 5, 5}, 1), pa, pb, b.pad, pc),
                       doctest::Contains("bottleneck_residual: a weight f64(2, 4, 1, 1) should be (2, 3, 1, 1)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(bottleneck_residual(x, pa, pb, Padding2d{}, pc),
                       doctest::Contains("must keep the size for weight b f64(2, 2, 3, 3)"), ShapeError);
  CHECK_THROWS_WITH_AS(bottleneck_residual(x, pa, pb, b.pad, {b.wc, random({3}, 2), {}}),
                       doctest::Contains("bottleneck_residual: c bias f64(3,) should be (4,)"), ShapeError);
  CHECK_THROWS_WITH_AS(bottleneck_residual(x, pa, {b.wb, b.bb, random({2, 2, 1, 3}, 3)}, b.pad, pc),
                       doctest::Contains("b mask f64(2, 2, 1, 3) should be (2, 2, 3, 3)"), ShapeError);
  CHECK_THROWS_WITH_AS(bottleneck_residual(random({4, 5, 5}, 1), pa, pb, b.pad, pc),
                       doctest::Contains("bottleneck_residual: input f64(4, 5, 5) must be (N, C, H, W)"), ShapeError);
  CHECK_THROWS_WITH_AS(bottleneck_residual(x.to(DType::F32), pa, pb, b.pad, pc),
                       doctest::Contains("dtype or device differs"), ShapeError);
}

TEST_CASE("the AVX-512 GEMM of the fused block equals a float64 reference: odd shapes, transposed a, each epilogue") {
  if (!avx512::available()) {
    MESSAGE("this CPU has no AVX-512F: the fused block runs OpenBLAS here, and this kernel is not used");
    return;
  }
  Rng rng(31);
  auto vec = [&](int64_t n, double lo, double hi) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
    return v;
  };
  struct Case {
    int64_t M, N, K;
    bool trans;
  };
  // Rows not a multiple of 8, columns ending in a partial vector (1, 17, 47, 49, 784), K of 1 and odd.
  for (const Case& c : {Case{1, 1, 1, false}, Case{8, 48, 16, false}, Case{13, 17, 5, true}, Case{9, 49, 33, false},
                        Case{64, 784, 45, true}, Case{20, 47, 7, false}}) {
    for (int mode = 0; mode < 4; ++mode) {  // 0 plain, 1 bias + relu, 2 gate + add, 3 bias + relu + gate + add
      INFO("M " << c.M << " N " << c.N << " K " << c.K << " trans " << c.trans << " mode " << mode);
      const int64_t ldb = c.N + 3, ldc = c.N + 5, ldg = c.N + 1;
      std::vector<float> a = vec(c.M * c.K, -1, 1), b = vec(c.K * ldb, -1, 1), bias = vec(c.M, -0.5, 0.5);
      std::vector<float> gate = vec(c.M * ldg, -1, 1), add = vec(c.M * ldg, -1, 1);
      std::vector<float> out(static_cast<size_t>(c.M * ldc), 7.0f), ap(static_cast<size_t>(avx512::packed_size(c.M, c.K)));
      // a as given: row-major (M, K), or with trans the row-major (K, M) matrix whose transpose is a
      std::vector<float> given = a;
      if (c.trans)
        for (int64_t i = 0; i < c.M; ++i)
          for (int64_t k = 0; k < c.K; ++k) given[static_cast<size_t>(k * c.M + i)] = a[static_cast<size_t>(i * c.K + k)];
      avx512::pack_a(given.data(), c.trans ? c.M : c.K, c.trans, c.M, c.K, ap.data());
      avx512::Epilogue e;
      if (mode & 1) e.bias = bias.data(), e.relu = true;
      if (mode & 2) e.gate = gate.data(), e.ld_gate = ldg, e.add = add.data(), e.ld_add = ldg;
      avx512::gemm(c.M, c.N, c.K, ap.data(), b.data(), ldb, out.data(), ldc, e);
      double worst = 0;
      bool untouched = true, zeros_right = true;
      for (int64_t i = 0; i < c.M; ++i) {
        for (int64_t j = 0; j < c.N; ++j) {
          double v = 0;
          for (int64_t k = 0; k < c.K; ++k) v += double(a[size_t(i * c.K + k)]) * double(b[size_t(k * ldb + j)]);
          if (mode & 1) v = std::max(v + bias[size_t(i)], 0.0);
          if (mode & 2) {
            if (!(gate[size_t(i * ldg + j)] > 0)) {
              zeros_right = zeros_right && (out[size_t(i * ldc + j)] == add[size_t(i * ldg + j)]);
              v = 0;
            }
            v += add[size_t(i * ldg + j)];
          }
          worst = std::max(worst, std::fabs(v - out[size_t(i * ldc + j)]));
        }
        for (int64_t j = c.N; j < ldc; ++j) untouched = untouched && out[size_t(i * ldc + j)] == 7.0f;
      }
      CHECK(worst < 1e-5 * (1 + c.K));
      CHECK(untouched);    // nothing written past column N
      CHECK(zeros_right);  // where the gate is <= 0: exactly the added value
    }
  }
}

TEST_CASE("bottleneck_residual in float32 follows float64, on the AVX-512 kernel and on OpenBLAS: 3x3 and 2x3 "
          "kernels, masks with dead taps, values and every gradient") {
  auto f32 = [](const Tensor& t) { return t.defined() ? t.detach().to(DType::F32) : t; };
  struct Case {
    int64_t N, C, F, H, W, KH, KW;
    bool masks;
  };
  for (bool own : {true, false})  // the AVX-512 kernel (where the CPU has it), then OpenBLAS
  for (const Case& k : {Case{3, 8, 8, 7, 9, 3, 3, true}, Case{2, 6, 5, 5, 33, 2, 3, true},
                        Case{2, 16, 8, 28, 28, 3, 3, false}, Case{1, 4, 3, 1, 1, 3, 3, true}}) {
    avx512::set_disabled(!own);
    INFO((own ? "AVX-512 kernel if the CPU has it" : "OpenBLAS") << ", N " << k.N << " C " << k.C << " F " << k.F << " " << k.H << "x" << k.W << " kernel " << k.KH << "x" << k.KW);
    Block b = make_block(k.C, k.F, k.KH, k.KW, true, k.masks, 800 + k.KW);
    if (k.masks) {  // a tap position dead for every channel pair, besides the random zeros
      std::vector<double> m = b.mb.to_vector();
      for (size_t i = 0; i < m.size(); i += static_cast<size_t>(k.KH * k.KW)) m[i] = 0;
      b.mb = Tensor::from_vector(b.mb.shape(), m);
    }
    Tensor x = leaf_of({k.N, k.C, k.H, k.W}, 9, 2.0), r = random({k.N, k.C, k.H, k.W}, 10);
    V in = inputs_of(x, b);
    Tensor y = run_block(b, in, false);  // float64 composed: the reference
    sum(mul(y, r)).backward();
    V in32;
    for (const Tensor& t : in) {
      Tensor c = f32(t);
      c.requires_grad_();
      in32.push_back(c);
    }
    Block b32 = b;
    b32.ma = f32(b.ma), b32.mb = f32(b.mb), b32.mc = f32(b.mc);
    Tensor y32 = run_block(b32, in32, true);
    sum(mul(y32, f32(r))).backward();
    CHECK(worst_diff(y32, y) < 1e-4 * (1 + largest(y)));
    for (size_t i = 0; i < in.size(); ++i) {
      INFO("gradient of input " << i);
      CHECK(worst_diff(in32[i].grad(), in[i].grad()) < 2e-4 * (1 + largest(in[i].grad())));
    }
  }
  avx512::set_disabled(false);
}
