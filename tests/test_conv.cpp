// tests/test_conv.cpp: the compute-heavy ops. conv2d (im2col of the live taps + one GEMM per group of images)
// against the naive six-loop reference, forward and backward, in f32 and f64 over a table of geometries (masks:
// random, PixelCNN mask A and B with dead taps, whole dead columns, all zero; asymmetric pads, 1x1 direct and
// grouped, (2,1), (1,3), 7x7, taps that only read padding, batches that split into groups with a remainder);
// masked weight gradients exactly zero; bitwise determinism across thread counts for every kernel path; the
// errors conv2d throws; matmul forward with transposed views; the thread policy.
#include <doctest/doctest.h>

#include <cblas.h>

#include <cmath>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/rng.h"
#include "framework/ops/conv.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/matmul.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace fw;
using namespace test_util;

namespace {

// Mask kinds: none; random 0/1 (about a third zeros); PixelCNN mask B / mask A over all channels (taps after,
// or from, the centre dead); random with every third tap zero for all output channels; all zero.
enum MaskKind { kNoMask = 0, kRandomMask = 1, kMaskB, kMaskA, kDeadColumns, kZeroMask };
struct Case {
  const char* name;
  int64_t N, Ci, H, W, Co, KH, KW;
  Padding2d pad;
  int mask;  // MaskKind
  bool bias;
};
const Case kCases[] = {
    {"3x3 same, bias, batch 5", 5, 3, 6, 7, 4, 3, 3, {1, 1, 1, 1}, false, true},
    {"3x3 masked, Ci == Co", 2, 6, 5, 5, 6, 3, 3, {1, 1, 1, 1}, true, true},
    {"1x1 direct, batch 5", 5, 4, 3, 5, 6, 1, 1, {0, 0, 0, 0}, false, true},
    {"1x1 padded (not direct)", 2, 3, 3, 4, 2, 1, 1, {1, 0, 0, 2}, false, false},
    {"(2,1) top 1 bottom 0, column", 1, 2, 5, 1, 3, 2, 1, {1, 0, 0, 0}, false, true},
    {"(1,3) left/right 1, row", 3, 4, 1, 8, 5, 1, 3, {0, 0, 1, 1}, true, true},
    {"7x7 pad 3, masked, batch 1", 1, 3, 8, 9, 5, 7, 7, {3, 3, 3, 3}, true, true},
    {"2x3 asymmetric pad, no bias", 2, 2, 4, 5, 3, 2, 3, {2, 0, 1, 3}, false, false},
    {"3x3 valid, output 1x1", 2, 2, 3, 3, 3, 3, 3, {0, 0, 0, 0}, true, true},
    {"3x3 window larger than padded input side", 1, 1, 1, 2, 2, 3, 3, {1, 1, 1, 0}, false, true},
    // The group GEMM (group_size: G*P >= kGroupCols = 512 columns, G <= ceil(N / 2)) and the live taps.
    {"3x3 mask B (5 live taps), 16x16, batch 5: groups of 2 + 2 + 1", 5, 2, 16, 16, 3, 3, 3, {1, 1, 1, 1}, kMaskB, true},
    {"7x7 mask A (24 live taps), 12x12, batch 9: groups of 4 + 4 + 1", 9, 1, 12, 12, 4, 7, 7, {3, 3, 3, 3}, kMaskA, true},
    {"(1,3) state conv of 1-row images, batch 7: groups of 4 + 3", 7, 4, 1, 6, 8, 1, 3, {0, 0, 1, 1}, false, false},
    {"(2,1) top pad 1 on a column, batch 6: groups of 3 + 3", 6, 3, 5, 1, 8, 2, 1, {1, 0, 0, 0}, false, false},
    {"3x3 same on 1-row images: rows a = 0, 2 only read padding", 4, 2, 1, 7, 3, 3, 3, {1, 1, 1, 1}, false, true},
    {"1x1 direct, 32x40, batch 3: groups of one image, no im2col", 3, 3, 32, 40, 4, 1, 1, {0, 0, 0, 0}, false, true},
    {"1x1 direct, masked with dead columns, batch 6: groups of 3 + 3", 6, 6, 5, 5, 4, 1, 1, {0, 0, 0, 0}, kDeadColumns, true},
    {"3x3 mask with dead columns, batch 3", 3, 3, 6, 6, 5, 3, 3, {1, 1, 1, 1}, kDeadColumns, true},
    {"3x3 mask all zero: y = bias, no weight gradient", 2, 2, 4, 4, 3, 3, 3, {1, 1, 1, 1}, kZeroMask, true},
};

Tensor rand_tensor(const Shape& s, uint64_t seed, DType dt) {
  Tensor t = gradcheck::random(s, seed);
  if (dt == DType::F64) return t;
  NoGradGuard ng;
  return t.to(DType::F32).detach();
}
// A 0/1 mask of a kind (MaskKind); random kinds about a third zeros, never all zero.  s: (Co, Ci, KH, KW)
Tensor rand_mask(const Shape& s, uint64_t seed, DType dt, int kind = kRandomMask) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (double& m : v) m = rng.uniform(0, 1) < 0.35 ? 0.0 : 1.0;
  v[0] = 1.0;
  const int64_t K = s[1] * s[2] * s[3], KH = s[2], KW = s[3];
  for (int64_t e = 0; e < shape_numel(s); ++e) {
    const int64_t k = e % K, a = (k / KW) % KH, b = k % KW;
    const bool before = a < KH / 2 || (a == KH / 2 && b < KW / 2);  // strictly before the centre
    if (kind == kMaskB) v[e] = before || (a == KH / 2 && b == KW / 2) ? 1.0 : 0.0;
    if (kind == kMaskA) v[e] = before ? 1.0 : 0.0;
    if (kind == kDeadColumns && k % 3 == 1) v[e] = 0.0;
    if (kind == kZeroMask) v[e] = 0.0;
  }
  Tensor t = Tensor::from_vector(s, v);
  NoGradGuard ng;
  return dt == DType::F64 ? t : t.to(DType::F32).detach();
}

// Naive backward (loops, double): the adjoints of the naive forward.
// g: (N, Co, Ho, Wo) -> dx (N, Ci, H, W), dw (Co, Ci, KH, KW) masked, db (Co)
struct NaiveGrads {
  std::vector<double> dx, dw, db;
};
NaiveGrads naive_backward(const Case& c, const Tensor& x, const Tensor& w, const Tensor& mask, const Tensor& g) {
  const int64_t Ho = g.size(2), Wo = g.size(3);
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), gv = g.to_vector();
  std::vector<double> mv = mask.defined() ? mask.to_vector() : std::vector<double>(wv.size(), 1.0);
  NaiveGrads r{std::vector<double>(xv.size()), std::vector<double>(wv.size()), std::vector<double>(c.Co)};
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.Co; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          const double gy = gv[((n * c.Co + o) * Ho + i) * Wo + j];
          r.db[o] += gy;
          for (int64_t ch = 0; ch < c.Ci; ++ch)
            for (int64_t a = 0; a < c.KH; ++a)
              for (int64_t b = 0; b < c.KW; ++b) {
                const int64_t hi = i + a - c.pad.top, wi = j + b - c.pad.left;
                if (hi < 0 || hi >= c.H || wi < 0 || wi >= c.W) continue;
                const int64_t e = ((o * c.Ci + ch) * c.KH + a) * c.KW + b;
                const int64_t xi = ((n * c.Ci + ch) * c.H + hi) * c.W + wi;
                r.dx[xi] += gy * wv[e] * mv[e];
                r.dw[e] += gy * xv[xi] * mv[e];
              }
        }
  return r;
}
using test_util::max_abs_diff;  // and an overload against loop results:
double max_abs_diff(const Tensor& a, const std::vector<double>& b) {
  std::vector<double> x = a.to_vector();
  REQUIRE(x.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - b[i]));
  return m;
}

void check_case(const Case& c, DType dt) {
  INFO(c.name << " in " << dtype_name(dt));
  const double tol = dt == DType::F64 ? 1e-12 : 2e-5;
  // The weight and bias gradients sum N*Ho*Wo terms in T: rounding grows with that count, so cases with more
  // than 512 terms get a proportionally larger tolerance (every case up to 512 terms keeps tol).
  const int64_t Ho = c.H + c.pad.top + c.pad.bottom - c.KH + 1, Wo = c.W + c.pad.left + c.pad.right - c.KW + 1;
  const double tol_sum = tol * std::max(1.0, double(c.N * Ho * Wo) / 512.0);
  Tensor x = rand_tensor({c.N, c.Ci, c.H, c.W}, 1, dt);
  Tensor w = rand_tensor({c.Co, c.Ci, c.KH, c.KW}, 2, dt);
  Tensor b = c.bias ? rand_tensor({c.Co}, 3, dt) : Tensor();
  Tensor m = c.mask != kNoMask ? rand_mask(w.shape(), 4, dt, c.mask) : Tensor();
  x.requires_grad_();
  w.requires_grad_();
  if (b.defined()) b.requires_grad_();

  Tensor y = conv2d(x, w, b, c.pad, m);
  Tensor ref = conv2d_naive(x, w, b, c.pad, m);
  REQUIRE(y.shape() == Shape{c.N, c.Co, c.H + c.pad.top + c.pad.bottom - c.KH + 1,
                             c.W + c.pad.left + c.pad.right - c.KW + 1});
  CHECK(max_abs_diff(y, ref) <= tol);

  Tensor g = rand_tensor(y.shape(), 5, dt);
  y.backward(g);
  NaiveGrads r = naive_backward(c, x, w, m, g);
  CHECK(max_abs_diff(x.grad(), r.dx) <= tol);
  CHECK(max_abs_diff(w.grad(), r.dw) <= tol_sum);
  if (c.bias) CHECK(max_abs_diff(b.grad(), r.db) <= tol_sum);
  if (c.mask != kNoMask) {  // the masked weight gradient is exactly zero, not merely small
    std::vector<double> gw = w.grad().to_vector(), mv = m.to_vector();
    int zeros = 0;
    for (size_t e = 0; e < gw.size(); ++e)
      if (mv[e] == 0) {
        CHECK(gw[e] == 0.0);
        ++zeros;
      }
    CHECK(zeros > 0);
  }
}

}  // namespace

TEST_CASE("conv2d matches the naive reference, forward and backward, f32 and f64") {
  for (const Case& c : kCases) {
    check_case(c, DType::F64);
    check_case(c, DType::F32);
  }
}

TEST_CASE("conv2d on a non-contiguous input equals conv2d on its contiguous copy") {
  Tensor nhwc = rand_tensor({2, 5, 6, 3}, 7, DType::F64);
  Tensor x = permute(nhwc, {0, 3, 1, 2});  // (2, 3, 5, 6), strided
  REQUIRE_FALSE(x.is_contiguous());
  Tensor w = rand_tensor({4, 3, 3, 3}, 8, DType::F64);
  Padding2d p = Padding2d::same(3, 3);
  CHECK(max_abs_diff(conv2d(x, w, Tensor(), p), conv2d_naive(x.contiguous(), w, Tensor(), p)) <= 1e-12);
}

namespace {
// conv2d forward and backward at 1, 2, 2 and 3 threads: every output bit-identical, and right.
void check_deterministic(const Shape& xs, const Shape& ws, const Padding2d& pad, int mask_kind,
                         bool input_relu = false) {
  Tensor x0 = rand_tensor(xs, 11, DType::F32);
  Tensor w0 = rand_tensor(ws, 12, DType::F32);
  Tensor b0 = rand_tensor({ws[0]}, 13, DType::F32);
  Tensor m = mask_kind != kNoMask ? rand_mask(w0.shape(), 14, DType::F32, mask_kind) : Tensor();
  struct Out {
    Tensor y, dx, dw, db;
  };
  auto run = [&](int threads) {
    set_num_threads(threads);
    REQUIRE(num_threads() == threads);
    Tensor x = x0.clone().detach(), w = w0.clone().detach(), b = b0.clone().detach();
    x.requires_grad_();
    w.requires_grad_();
    b.requires_grad_();
    Tensor y = input_relu ? relu_conv2d(x, w, b, pad, m) : conv2d(x, w, b, pad, m);
    y.backward(rand_tensor(y.shape(), 15, DType::F32));
    return Out{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  Out a = run(1), b = run(2), c = run(2), d = run(3);
  set_num_threads(0);
  for (const Out* o : {&b, &c, &d}) {
    CHECK(bitwise_equal(a.y, o->y));
    CHECK(bitwise_equal(a.dx, o->dx));
    CHECK(bitwise_equal(a.dw, o->dw));
    CHECK(bitwise_equal(a.db, o->db));
  }
  // and it is the right answer
  CHECK(max_abs_diff(a.y, conv2d_naive(input_relu ? relu(x0) : x0, w0, b0, pad, m)) <= 2e-5);
}
}  // namespace

TEST_CASE("conv2d is bit-identical run to run and across thread counts") {
  SUBCASE("3x4 random mask, 11x12 output, batch 16: 4 groups of 4 images, 4 weight chunks") {
    check_deterministic({16, 8, 12, 12}, {8, 8, 3, 4}, {1, 0, 2, 1}, kRandomMask);
  }
  SUBCASE("3x3 mask B, 28x28, batch 16: groups of one image, 8 weight chunks of 2") {
    check_deterministic({16, 8, 28, 28}, {8, 8, 3, 3}, {1, 1, 1, 1}, kMaskB);
  }
  SUBCASE("7x7 mask A, 28x28, batch 11: 11 groups in 8 uneven weight chunks") {
    check_deterministic({11, 1, 28, 28}, {8, 1, 7, 7}, {3, 3, 3, 3}, kMaskA);
  }
  SUBCASE("3x3 mask with dead columns, 10x10, batch 23: groups of 6 + 6 + 6 + 5") {
    check_deterministic({23, 4, 10, 10}, {6, 4, 3, 3}, {1, 1, 1, 1}, kDeadColumns);
  }
  SUBCASE("(1,3) state conv of 1-row images, batch 16: two groups of 8") {
    check_deterministic({16, 8, 1, 28}, {32, 8, 1, 3}, {0, 0, 1, 1}, kNoMask);
  }
  SUBCASE("(1,3) state conv of 1-row images, batch 1: one group of one image") {
    check_deterministic({1, 8, 1, 28}, {32, 8, 1, 3}, {0, 0, 1, 1}, kNoMask);
  }
  SUBCASE("1x1 direct, 40x40, batch 5: groups of one image, no im2col") {
    check_deterministic({5, 8, 40, 40}, {8, 8, 1, 1}, {0, 0, 0, 0}, kNoMask);
  }
  SUBCASE("relu_conv2d: 3x3 mask B, 28x28, batch 16") {
    check_deterministic({16, 8, 28, 28}, {8, 8, 3, 3}, {1, 1, 1, 1}, kMaskB, true);
  }
  SUBCASE("relu_conv2d: 1x1 direct (copied through the ReLU), 28x28, batch 16") {
    check_deterministic({16, 8, 28, 28}, {16, 8, 1, 1}, {0, 0, 0, 0}, kNoMask, true);
  }
  SUBCASE("relu_conv2d: 3x4 random mask, 12x12, batch 16: groups of 4") {
    check_deterministic({16, 8, 12, 12}, {8, 8, 3, 4}, {1, 0, 2, 1}, kRandomMask, true);
  }
}

TEST_CASE("relu_conv2d equals conv2d(relu(x)): values and every gradient, every case, f32 and f64") {
  for (DType dt : {DType::F32, DType::F64})
    for (const Case& c : kCases) {
      INFO(c.name << ", " << dtype_name(dt));
      const Tensor x0 = rand_tensor({c.N, c.Ci, c.H, c.W}, 41, dt), w0 = rand_tensor({c.Co, c.Ci, c.KH, c.KW}, 42, dt);
      const Tensor b0 = c.bias ? rand_tensor({c.Co}, 43, dt) : Tensor();
      const Tensor m = c.mask != kNoMask ? rand_mask(w0.shape(), 44, dt, c.mask) : Tensor();
      struct Out {
        Tensor y, dx, dw, db;
      };
      auto run = [&](bool fused) {
        Tensor x = x0.clone().detach(), w = w0.clone().detach(), b = c.bias ? b0.clone().detach() : Tensor();
        x.requires_grad_();
        w.requires_grad_();
        if (c.bias) b.requires_grad_();
        Tensor y = fused ? relu_conv2d(x, w, b, c.pad, m) : conv2d(relu(x), w, b, c.pad, m);
        y.backward(rand_tensor(y.shape(), 45, dt));
        return Out{y.detach(), x.grad(), w.grad(), c.bias ? b.grad() : Tensor()};
      };
      const Out f = run(true), u = run(false);
      // The same sums in the same order: equal, not merely close (the ReLU's zeros are exact either way).
      CHECK(f.y.to_vector() == u.y.to_vector());
      CHECK(f.dx.to_vector() == u.dx.to_vector());
      CHECK(f.dw.to_vector() == u.dw.to_vector());
      if (c.bias) CHECK(f.db.to_vector() == u.db.to_vector());
      // The input gradient is zero exactly where x <= 0.
      const std::vector<double> xv = x0.to_vector(), dxv = f.dx.to_vector();
      int64_t bad = 0;
      for (size_t i = 0; i < xv.size(); ++i)
        if (xv[i] <= 0 && dxv[i] != 0) ++bad;
      CHECK(bad == 0);
    }
}

TEST_CASE("conv2d errors name conv2d and the shapes") {
  Tensor x = Tensor::zeros({2, 3, 5, 5});
  Tensor w = Tensor::zeros({4, 3, 3, 3});
  Padding2d p{1, 1, 1, 1};
  std::string e;
  e = error_of<ShapeError>([&] { conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), p); });
  CHECK(e.find("conv2d") != std::string::npos);
  CHECK(e.find("(2, 3, 5, 5)") != std::string::npos);
  CHECK(e.find("(4, 2, 3, 3)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d(x, w, Tensor(), p, Tensor::ones({4, 3, 3, 2})); });
  CHECK(e.find("conv2d") != std::string::npos);
  CHECK(e.find("mask f32(4, 3, 3, 2)") != std::string::npos);
  CHECK(e.find("(4, 3, 3, 3)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d(x, w, Tensor(), Padding2d{1, -1, 1, 1}); });
  CHECK(e.find("conv2d") != std::string::npos);
  CHECK(e.find("negative") != std::string::npos);
  CHECK(e.find("bottom -1") != std::string::npos);
  CHECK(e.find("(2, 3, 5, 5)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d(Tensor::zeros({1, 3, 2, 2}), w, Tensor(), Padding2d{}); });
  CHECK(e.find("conv2d") != std::string::npos);
  CHECK(e.find("output size (0, 0) < 1") != std::string::npos);
  CHECK(e.find("(1, 3, 2, 2)") != std::string::npos);
  CHECK(e.find("(4, 3, 3, 3)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::F64), Tensor(), p); });
  CHECK(e.find("conv2d") != std::string::npos);
  CHECK(e.find("f32(2, 3, 5, 5)") != std::string::npos);
  CHECK(e.find("f64(4, 3, 3, 3)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d(x, w, Tensor::zeros({3}), p); });
  CHECK(e.find("bias f32(3,)") != std::string::npos);
  e = error_of<ShapeError>([&] { conv2d_naive(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), p); });
  CHECK(e.find("conv2d_naive") != std::string::npos);
}

TEST_CASE("matmul matches loops, with transposed views passed to BLAS as-is") {
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor a = rand_tensor({5, 7}, 21, dt), bt = rand_tensor({4, 7}, 22, dt);  // b = bt^T: (7, 4)
    Tensor b = permute(bt, {1, 0});
    Tensor y = matmul(a, b);
    REQUIRE(y.shape() == Shape{5, 4});
    double worst = 0;
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        double s = 0;
        for (int64_t k = 0; k < 7; ++k) s += a.at({i, k}) * bt.at({j, k});
        worst = std::max(worst, std::fabs(s - y.at({i, j})));
      }
    CHECK(worst <= (dt == DType::F64 ? 1e-13 : 1e-5));
  }
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})), ShapeError);
  Tensor c = Tensor::zeros({2, 2});
  CHECK_THROWS_AS(gemm(false, false, 2, 2, 3, 1.0, Tensor::zeros({2, 2}), Tensor::zeros({3, 2}), 0.0, c),
                  ShapeError);
}

TEST_CASE("thread policy: TBB cap set and read back, OpenBLAS single-threaded") {
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(2);
  CHECK(num_threads() == 2);
  CHECK(openblas_get_num_threads() == 1);
  set_num_threads(0);
  CHECK(num_threads() >= 1);
  CHECK(openblas_get_num_threads() == 1);
}

TEST_CASE("conv2d_backward_data writes every element of dx: what dx held before never matters") {
  // 3x3 same (im2col path), 1x1 direct, with and without the input ReLU, and a mask with every tap dead.
  struct G {
    Shape x, w;
    Padding2d pad;
    int mask;
  };
  for (const G& c : {G{{3, 4, 6, 5}, {5, 4, 3, 3}, {1, 1, 1, 1}, kMaskB}, G{{2, 6, 4, 4}, {3, 6, 1, 1}, {}, kNoMask},
                     G{{2, 2, 4, 4}, {3, 2, 3, 3}, {1, 1, 1, 1}, kZeroMask}})
    for (int64_t relu : {0, 1}) {
      INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " relu " << relu);
      const Tensor x = rand_tensor(c.x, 61, DType::F32), w = rand_tensor(c.w, 62, DType::F32);
      const Tensor m = c.mask != kNoMask ? rand_mask(w.shape(), 63, DType::F32, c.mask) : Tensor();
      const int64_t Ho = c.x[2] + c.pad.top + c.pad.bottom - c.w[2] + 1, Wo = c.x[3] + c.pad.left + c.pad.right - c.w[3] + 1;
      const Tensor dy = rand_tensor({c.x[0], c.w[0], Ho, Wo}, 64, DType::F32);
      const fw_conv2d_geometry g{c.x[0], c.x[1], c.x[2], c.x[3], c.w[0], c.w[2], c.w[3], c.pad.top, c.pad.bottom,
                                 c.pad.left, c.pad.right, relu};
      std::vector<double> results[2];
      for (double fill : {0.0, std::nan("")}) {
        Tensor dx = Tensor::full(x.shape(), fill, DType::F32);
        launch(Device::CPU, DType::F32,
               fw_conv2d_backward_data_params{buffer_of(dx), buffer_of(dy), buffer_of(w), buffer_of(m),
                                              relu ? buffer_of(x) : fw_buffer{}, g});
        results[std::isnan(fill) ? 1 : 0] = dx.to_vector();
      }
      CHECK(results[0] == results[1]);  // no NaN survived from the old contents, the same values
      // and they are the op's input gradient
      Tensor xl = x.clone().detach();
      xl.requires_grad_();
      (relu ? relu_conv2d(xl, w, Tensor(), c.pad, m) : conv2d(xl, w, Tensor(), c.pad, m)).backward(dy);
      CHECK(xl.grad().to_vector() == results[0]);
    }
}
