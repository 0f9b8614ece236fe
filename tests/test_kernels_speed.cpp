// tests/test_kernels_speed.cpp: the fast CPU kernels outside conv2d (op switch outside the loop, coalesced
// broadcast and strided index spaces, fixed-chunk TBB parallelism): binary ops over every broadcast pattern
// the fast paths distinguish, unary ops and their gradients, sum over each dim, the softmax and BCE losses and
// the copy kernels (permute, concat, shift, skew, flip, upsample), each against plain loops over to_vector()
// values at sizes spanning many chunks, and each bit-identical at 1, 2 and 3 threads; the vectorisable float
// exp / sigmoid / tanh of framework/ops/vec_math.h against double precision, in ulps, and at special values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/loss.h"
#include "framework/ops/reduce.h"
#include "framework/ops/spatial.h"
#include "framework/ops/vec_math.h"
#include "framework/ops/view.h"
#include "tests/gradcheck.h"

using namespace fw;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dt, double lo = -2.0, double hi = 2.0) {
  Tensor t = gradcheck::random(s, seed, lo, hi);
  NoGradGuard ng;
  return dt == DType::F64 ? t : t.to(DType::F32).detach();
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel()) * dtype_size(x.dtype())) == 0;
}

// Runs f at 1, 2 and 3 threads (then back to the default) and checks every output bit-identical to 1 thread's.
void check_same_at_thread_counts(const std::function<std::vector<Tensor>()>& f) {
  std::vector<std::vector<Tensor>> runs;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    REQUIRE(num_threads() == threads);
    runs.push_back(f());
  }
  set_num_threads(0);
  for (size_t r = 1; r < runs.size(); ++r) {
    REQUIRE(runs[r].size() == runs[0].size());
    for (size_t i = 0; i < runs[0].size(); ++i) {
      INFO("output " << i << " at " << r + 1 << " threads");
      CHECK(bitwise_equal(runs[0][i], runs[r][i]));
    }
  }
}

// Flat index of out (shape `out`) -> flat index into an operand of shape s broadcast to out.
int64_t broadcast_index(int64_t flat, const Shape& out, const Shape& s) {
  int64_t idx = 0, stride = 1;
  for (size_t k = out.size(); k-- > 0;) {
    const int64_t i = flat % out[k];
    flat /= out[k];
    const int64_t sd = static_cast<int64_t>(k) - static_cast<int64_t>(out.size() - s.size());
    if (sd >= 0) {
      if (s[sd] != 1) idx += i * stride;
      stride *= s[sd];
    }
  }
  return idx;
}

template <class T> T apply(int op, T a, T b) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
  }
}
Tensor run_binary(int op, const Tensor& a, const Tensor& b) {
  switch (op) {
    case 0: return add(a, b);
    case 1: return sub(a, b);
    case 2: return mul(a, b);
    default: return div(a, b);
  }
}

// y = a (op) b against the loop, element by element exactly (one IEEE operation in T either way).
template <class T> void check_binary_values(int op, const Tensor& a, const Tensor& b) {
  Tensor y = run_binary(op, a, b);
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "test");
  REQUIRE(y.shape() == out);
  std::vector<double> av = a.to_vector(), bv = b.to_vector(), yv = y.to_vector();
  int64_t bad = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const T e = apply(op, static_cast<T>(av[broadcast_index(i, out, a.shape())]),
                      static_cast<T>(bv[broadcast_index(i, out, b.shape())]));
    if (static_cast<T>(yv[i]) != e) ++bad;
  }
  CHECK(bad == 0);
}

double max_rel_diff(const std::vector<double>& x, const std::vector<double>& y) {
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]) / std::max(1.0, std::fabs(y[i])));
  return m;
}

}  // namespace

TEST_CASE("binary ops: every broadcast pattern against loops, across chunks, bit-identical at 1-3 threads") {
  // Chosen so that each row path of the kernel runs, over more than one chunk of kElementwiseChunk elements.
  struct Pair {
    const char* name;
    Shape a, b;
  };
  const Pair pairs[] = {
      {"same shape", {4, 8, 30, 30}, {4, 8, 30, 30}},
      {"bias (1, C, 1, 1)", {4, 8, 30, 30}, {1, 8, 1, 1}},
      {"a broadcast (1, C, 1, 1)", {1, 8, 1, 1}, {4, 8, 30, 30}},
      {"row (W,)", {4, 8, 30, 30}, {30}},
      {"middle dim broadcast", {4, 1, 900}, {4, 8, 900}},
      {"outer product (300, 1) x (1, 200)", {300, 1}, {1, 200}},
      {"scalar () and vector", {}, {50000}},
      {"leading size-1 dims", {1, 1, 20000}, {20000}},
      {"last dim broadcast (N, C, 1)", {40, 30, 1}, {40, 30, 50}},
      // rows longer than a chunk are cut into pieces: the piece's offset in a, b and y, per row
      {"long rows (3, 40000) with a per-row scalar (3, 1)", {3, 40000}, {3, 1}},
      {"a long row (1, 40000) broadcast over rows (3, 40000)", {1, 40000}, {3, 40000}},
  };
  for (DType dt : {DType::F32, DType::F64})
    for (const Pair& p : pairs)
      for (int op = 0; op < 4; ++op) {
        INFO(p.name << ", op " << op << ", " << dtype_name(dt));
        Tensor a = rnd(p.a, 1, dt), b = op == 3 ? rnd(p.b, 2, dt, 0.5, 2.0) : rnd(p.b, 2, dt);
        if (dt == DType::F32) check_binary_values<float>(op, a, b);
        else check_binary_values<double>(op, a, b);
        check_same_at_thread_counts([&] { return std::vector<Tensor>{run_binary(op, a, b)}; });
      }
}

TEST_CASE("binary ops: gradients through broadcasting equal the summed loops, bit-identical at 1-3 threads") {
  Tensor a0 = rnd({6, 8, 20, 20}, 3, DType::F32), b0 = rnd({1, 8, 1, 1}, 4, DType::F32, 0.5, 2.0);
  Tensor g = rnd({6, 8, 20, 20}, 5, DType::F32);
  auto run = [&] {
    Tensor a = a0.clone().detach(), b = b0.clone().detach();
    a.requires_grad_();
    b.requires_grad_();
    Tensor y = add(mul(a, b), div(a, b));
    y.backward(g);
    return std::vector<Tensor>{y.detach(), a.grad(), b.grad()};
  };
  std::vector<Tensor> r = run();
  // da = g (b + 1/b); db[c] = sum over (n, h, w) of g (a - a / b^2)
  std::vector<double> av = a0.to_vector(), bv = b0.to_vector(), gv = g.to_vector();
  std::vector<double> da(av.size()), db(8, 0.0);
  for (size_t i = 0; i < av.size(); ++i) {
    const size_t c = (i / 400) % 8;
    da[i] = gv[i] * (bv[c] + 1.0 / bv[c]);
    db[c] += gv[i] * (av[i] - av[i] / (bv[c] * bv[c]));
  }
  CHECK(max_rel_diff(r[1].to_vector(), da) <= 1e-5);
  CHECK(max_rel_diff(r[2].to_vector(), db) <= 1e-4);
  check_same_at_thread_counts(run);
}

TEST_CASE("unary ops and their gradients against the formulas, across chunks, bit-identical at 1-3 threads") {
  struct U {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    std::function<double(double)> ref, dref;  // f(x), f'(x)
    double lo, hi;
  };
  const U ops[] = {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, [](double) { return -1.0; }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); },
       [](double x) { return 1.0 / x; }, 0.5, 3},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
       [](double x) { double s = 1.0 / (1.0 + std::exp(-x)); return s * (1 - s); }, -6, 6},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); },
       [](double x) { return 1.0 - std::tanh(x) * std::tanh(x); }, -3, 3},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; },
       [](double x) { return x > 0 ? 1.0 : 0.0; }, -2, 2},
      {"add_scalar", [](const Tensor& x) { return add_scalar(x, 0.75); }, [](double x) { return x + 0.75; },
       [](double) { return 1.0; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return mul_scalar(x, -1.5); }, [](double x) { return -1.5 * x; },
       [](double) { return -1.5; }, -2, 2},
  };
  for (DType dt : {DType::F32, DType::F64})
    for (const U& u : ops) {
      INFO(u.name << " in " << dtype_name(dt));
      const double tol = dt == DType::F64 ? 1e-12 : 2e-6;
      Tensor x0 = rnd({5, 7, 31, 29}, 6, dt, u.lo, u.hi), g = rnd({5, 7, 31, 29}, 7, dt);  // 31465 elements
      auto run = [&] {
        Tensor x = x0.clone().detach();
        x.requires_grad_();
        Tensor y = u.f(x);
        y.backward(g);
        return std::vector<Tensor>{y.detach(), x.grad()};
      };
      std::vector<Tensor> r = run();
      std::vector<double> xv = x0.to_vector(), gv = g.to_vector(), yref(xv.size()), dref(xv.size());
      for (size_t i = 0; i < xv.size(); ++i) {
        yref[i] = u.ref(xv[i]);
        dref[i] = gv[i] * u.dref(xv[i]);
      }
      CHECK(max_rel_diff(r[0].to_vector(), yref) <= tol);
      CHECK(max_rel_diff(r[1].to_vector(), dref) <= tol);
      check_same_at_thread_counts(run);
    }
}

TEST_CASE("sum over each dim against loops, with inner blocks and long rows, bit-identical at 1-3 threads") {
  struct S {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const S cases[] = {
      {{6, 50, 70}, {0}}, {{6, 50, 70}, {1}}, {{6, 50, 70}, {2}}, {{6, 50, 70}, {0, 2}},
      {{6, 50, 70}, {0, 1, 2}}, {{3, 4, 20000}, {1}},  // inner 20000: two blocks of i per row
      {{40000, 3}, {0}}, {{3, 40000}, {1}},
  };
  for (DType dt : {DType::F32, DType::F64})
    for (const S& c : cases) {
      INFO(shape_str(c.shape) << " dims " << c.dims.size() << " in " << dtype_name(dt));
      Tensor x = rnd(c.shape, 8, dt);
      Tensor y = sum_dims(x, c.dims, /*keepdim=*/true);
      // reference: accumulate every element into its kept index, in double
      std::vector<double> xv = x.to_vector(), ref(static_cast<size_t>(y.numel()), 0.0);
      for (int64_t i = 0; i < x.numel(); ++i) ref[broadcast_index(i, c.shape, y.shape())] += xv[i];
      CHECK(max_rel_diff(y.to_vector(), ref) <= (dt == DType::F64 ? 1e-11 : 1e-3));
      check_same_at_thread_counts([&] { return std::vector<Tensor>{sum_dims(x, c.dims, false)}; });
    }
}

TEST_CASE("softmax cross-entropy, log_softmax and BCE over many rows: values, gradients, 1-3 threads") {
  for (DType dt : {DType::F32, DType::F64}) {
    INFO(dtype_name(dt));
    const double tol = dt == DType::F64 ? 1e-10 : 1e-5;
    // logits: (8, 5, 40, 40), class dim 1: 8 rows of 5 x 1600, cut into chunks of rows
    Tensor logits = rnd({8, 5, 40, 40}, 9, dt, -4, 4);
    std::vector<double> tv(8 * 40 * 40);
    for (size_t i = 0; i < tv.size(); ++i) tv[i] = static_cast<double>((i * 7 + i / 3) % 5);
    Tensor targets = Tensor::from_vector({8, 40, 40}, tv);
    if (dt == DType::F32) targets = targets.to(DType::F32).detach();
    auto run_xent = [&] {
      Tensor x = logits.clone().detach();
      x.requires_grad_();
      Tensor l = softmax_cross_entropy(x, targets, 1, Reduction::None);
      l.backward(Tensor::ones(l.shape(), dt));
      Tensor x2 = logits.clone().detach();
      x2.requires_grad_();
      Tensor ls = log_softmax(x2, 1);
      ls.backward(rnd(ls.shape(), 10, dt));
      return std::vector<Tensor>{l.detach(), x.grad(), ls.detach(), x2.grad()};
    };
    std::vector<Tensor> r = run_xent();
    std::vector<double> xv = logits.to_vector(), lref(tv.size()), gref(xv.size()), lsref(xv.size());
    for (int64_t n = 0; n < 8; ++n)
      for (int64_t p = 0; p < 1600; ++p) {
        double m = -1e300, s = 0;
        for (int64_t k = 0; k < 5; ++k) m = std::max(m, xv[(n * 5 + k) * 1600 + p]);
        for (int64_t k = 0; k < 5; ++k) s += std::exp(xv[(n * 5 + k) * 1600 + p] - m);
        const double lse = m + std::log(s);
        const int64_t t = static_cast<int64_t>(tv[n * 1600 + p]);
        lref[n * 1600 + p] = lse - xv[(n * 5 + t) * 1600 + p];
        for (int64_t k = 0; k < 5; ++k) {
          const size_t j = (n * 5 + k) * 1600 + p;
          lsref[j] = xv[j] - lse;
          gref[j] = std::exp(xv[j] - lse) - (k == t ? 1.0 : 0.0);
        }
      }
    CHECK(max_rel_diff(r[0].to_vector(), lref) <= tol);
    CHECK(max_rel_diff(r[1].to_vector(), gref) <= tol);
    CHECK(max_rel_diff(r[2].to_vector(), lsref) <= tol);
    check_same_at_thread_counts(run_xent);

    // BCE: (4, 3, 64, 64) = 49152 elements, three chunks
    Tensor bx = rnd({4, 3, 64, 64}, 11, dt, -6, 6), bt = rnd({4, 3, 64, 64}, 12, dt, 0, 1);
    auto run_bce = [&] {
      Tensor x = bx.clone().detach();
      x.requires_grad_();
      Tensor l = bce_with_logits(x, bt, Reduction::None);
      l.backward(Tensor::ones(l.shape(), dt));
      return std::vector<Tensor>{l.detach(), x.grad()};
    };
    std::vector<Tensor> rb = run_bce();
    std::vector<double> bxv = bx.to_vector(), btv = bt.to_vector(), bl(bxv.size()), bg(bxv.size());
    for (size_t i = 0; i < bxv.size(); ++i) {
      const double x = bxv[i], t = btv[i], s = 1.0 / (1.0 + std::exp(-x));
      bl[i] = -(t * std::log(s) + (1 - t) * std::log(1 - s));
      bg[i] = s - t;
    }
    CHECK(max_rel_diff(rb[0].to_vector(), bl) <= tol);
    CHECK(max_rel_diff(rb[1].to_vector(), bg) <= tol);
    check_same_at_thread_counts(run_bce);
  }
}

TEST_CASE("copy kernels: permute, concat, shift, skew, flip, upsample against loops, bit-identical at 1-3 threads") {
  Tensor x = rnd({4, 6, 30, 40}, 13, DType::F32);  // 28800 elements: two chunks
  std::vector<double> xv = x.to_vector();
  auto at = [&](int64_t n, int64_t c, int64_t h, int64_t w) { return xv[((n * 6 + c) * 30 + h) * 40 + w]; };
  // permute (0, 2, 3, 1): the strided copy kernel
  Tensor p = permute(x, {0, 2, 3, 1}).contiguous();
  // skew: row h moves h columns right in a (W + H - 1)-wide zero canvas
  Tensor s = skew(x);
  // flip along W
  Tensor f = flip(x, 3);
  std::vector<double> pv = p.to_vector(), sv = s.to_vector(), fv = f.to_vector();
  REQUIRE(s.shape() == Shape{4, 6, 30, 69});
  int64_t bad = 0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 6; ++c)
      for (int64_t h = 0; h < 30; ++h)
        for (int64_t w = 0; w < 40; ++w) {
          if (pv[((n * 30 + h) * 40 + w) * 6 + c] != at(n, c, h, w)) ++bad;
          if (sv[((n * 6 + c) * 30 + h) * 69 + w + h] != at(n, c, h, w)) ++bad;
          if (fv[((n * 6 + c) * 30 + h) * 40 + (39 - w)] != at(n, c, h, w)) ++bad;
        }
  CHECK(bad == 0);
  CHECK(bitwise_equal(unskew(s, 40), x));
  check_same_at_thread_counts([&] {
    std::vector<Tensor> pieces = split(x, 1, {2, 3, 1});
    return std::vector<Tensor>{permute(x, {0, 2, 3, 1}).contiguous(), skew(x), unskew(skew(x), 40), flip(x, 2),
                               shift(x, 2, 3), concat({x, x}, 1), pieces[1].contiguous(), upsample_nearest(x, 2)};
  });
}

namespace {
// |a - r| in units of the float ulp at r (r exact, in double); 0 when both are the same infinity or NaN.
double ulp_error(float a, double r) {
  if (std::isnan(r)) return std::isnan(a) ? 0.0 : 1e9;
  const float rf = static_cast<float>(r);
  if (std::isinf(rf)) return a == rf ? 0.0 : 1e9;
  const double ulp = std::fabs(rf) == std::numeric_limits<float>::max()
                         ? std::ldexp(1.0, 104)
                         : double(std::nextafter(std::fabs(rf), std::numeric_limits<float>::infinity())) - std::fabs(rf);
  return std::fabs(double(a) - r) / ulp;
}
}  // namespace

TEST_CASE("vec_math: float exp, sigmoid and tanh within 1, 3 and 2 ulp of the exact value; special values") {
  double we = 0, ws = 0, wt = 0;
  float xe = 0, xs = 0, xt = 0;
  auto visit = [&](float x) {
    const double xd = x;
    const double e = ulp_error(vec_math::exp(x), std::exp(xd));
    const double s = ulp_error(vec_math::sigmoid(x), 1.0 / (1.0 + std::exp(-xd)));
    const double t = ulp_error(vec_math::tanh(x), std::tanh(xd));
    if (e > we) we = e, xe = x;
    if (s > ws) ws = s, xs = x;
    if (t > wt) wt = t, xt = x;
  };
  for (double x = -110; x <= 95; x += 1e-3) visit(static_cast<float>(x));  // overflow, subnormals, underflow
  for (double x = -1; x <= 1; x += 1e-5) visit(static_cast<float>(x));     // the tanh polynomial's range
  for (int k = -149; k <= -1; ++k) visit(std::ldexp(1.0f, k)), visit(-std::ldexp(1.0f, k));  // tiny arguments
  INFO("worst exp " << we << " ulp at " << xe << ", sigmoid " << ws << " at " << xs << ", tanh " << wt << " at "
                    << xt);
  CHECK(we <= 1.0);
  CHECK(ws <= 3.0);
  CHECK(wt <= 2.0);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(vec_math::exp(-inf) == 0.0f);
  CHECK(vec_math::exp(inf) == inf);
  CHECK(vec_math::exp(89.0f) == inf);       // overflows, as expf
  CHECK(vec_math::exp(-104.0f) == 0.0f);    // underflows, as expf
  CHECK(vec_math::exp(-100.0f) > 0.0f);     // a subnormal, as expf
  CHECK(std::isnan(vec_math::exp(nan)));
  CHECK(vec_math::sigmoid(inf) == 1.0f);
  CHECK(vec_math::sigmoid(-inf) == 0.0f);
  CHECK(vec_math::sigmoid(0.0f) == 0.5f);
  CHECK(std::isnan(vec_math::sigmoid(nan)));
  CHECK(vec_math::tanh(inf) == 1.0f);
  CHECK(vec_math::tanh(-inf) == -1.0f);
  CHECK(std::signbit(vec_math::tanh(-0.0f)));
  CHECK(vec_math::tanh(-0.0f) == 0.0f);
  CHECK(std::isnan(vec_math::tanh(nan)));
  // the float ops use them (elementwise.cpp), bit for bit
  Tensor x = rnd({3, 50000}, 14, DType::F32, -30, 30);
  std::vector<double> xv = x.to_vector(), sv = sigmoid(x).to_vector(), tv = tanh(x).to_vector(),
                      ev = exp(x).to_vector();
  int64_t bad = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const float xi = static_cast<float>(xv[i]);
    if (float(sv[i]) != vec_math::sigmoid(xi) || float(tv[i]) != vec_math::tanh(xi) ||
        float(ev[i]) != vec_math::exp(xi))
      ++bad;
  }
  CHECK(bad == 0);
}
