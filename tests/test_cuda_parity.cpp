// tests/test_cuda_parity.cpp: the CUDA plugin (plugins/cuda/) against the CPU reference, in the manner of ggml's
// test-backend-ops: every kernel of the v2 list on random inputs, odd shapes included, forward and backward
// kernels alike, float32 within rtol 1e-4 / atol 1e-5 (sum_squares, a float64 result, within 1e-9 relative);
// each plugin kernel run twice must give the same bits (fixed reduction orders); then 50 training steps of every
// model on cuda and on cpu from the same seed, losses within 1e-4 relative at every step, and the GPU-trained
// weights give the same NLL on the CPU within 1e-4 nats per image.
//
// Needs the plugin ($PIXELRNN_CUDA_PLUGIN_BUILT, set by tests/meson.build) and a GPU. Without either it prints
// "test_cuda_parity: SKIPPED: <why>" and exits 77, which meson reports as SKIP: it never passes without running.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/rng.h"
#include "framework/ops/families.h"
#include "framework/ops/reduce.h"
#include "framework/ops/elementwise.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"

using namespace fw;

namespace {

constexpr double kRtol = 1e-4, kAtol = 1e-5;

const fw_backend_v2* gpu() { return backend_for(FW_CUDA); }

// Host buffers of one kernel call, one per buffer field (fields sharing a vector alias on purpose).
struct Call {
  int32_t kernel;
  std::vector<unsigned char> params;            // the parameter struct, buffer ptrs pointing at host vectors
  std::vector<std::vector<float>*> fields;       // per buffer field: its host data or nullptr (absent)
  bool f64_out = false;                          // field 0 is one float64 (sum_squares)
};

template <class P> Call make_call(const P& p, std::vector<std::vector<float>*> fields) {
  Call c;
  c.kernel = kernel_of<P>::id;
  c.params.resize(sizeof(P));
  std::memcpy(c.params.data(), &p, sizeof(P));
  c.fields = std::move(fields);
  REQUIRE(c.fields.size() == kernel_info(c.kernel)->num_buffers);
  return c;
}

fw_buffer* field(std::vector<unsigned char>& params, size_t i) {
  return reinterpret_cast<fw_buffer*>(params.data() + i * sizeof(fw_buffer));
}

// Runs the call on the CPU (on copies) and returns each buffer's contents after it.
std::vector<std::vector<float>> run_cpu(const Call& c, int* rc) {
  std::map<const std::vector<float>*, std::vector<float>> copies;
  for (auto* v : c.fields)
    if (v) copies.emplace(v, *v);
  std::vector<unsigned char> params = c.params;
  for (size_t i = 0; i < c.fields.size(); ++i) {
    fw_buffer* b = field(params, i);
    if (!c.fields[i]) *b = {nullptr, 0};
    else *b = {copies[c.fields[i]].data(), copies[c.fields[i]].size() * sizeof(float)};
  }
  *rc = cpu_backend()->run(c.kernel, FW_F32, params.data());
  std::vector<std::vector<float>> out;
  for (auto* v : c.fields) out.push_back(v ? copies[v] : std::vector<float>());
  return out;
}

// The same on the plugin: device copies, run, synchronize, copy back.
std::vector<std::vector<float>> run_gpu(const Call& c, int* rc) {
  const fw_backend_v2* g = gpu();
  std::map<const std::vector<float>*, void*> dev;
  for (auto* v : c.fields)
    if (v && !dev.count(v)) {
      void* p = g->alloc(v->size() * sizeof(float));
      REQUIRE(p != nullptr);
      REQUIRE(g->copy_from_host(p, v->data(), v->size() * sizeof(float)) == FW_OK);
      dev[v] = p;
    }
  std::vector<unsigned char> params = c.params;
  for (size_t i = 0; i < c.fields.size(); ++i) {
    fw_buffer* b = field(params, i);
    if (!c.fields[i]) *b = {nullptr, 0};
    else *b = {dev[c.fields[i]], c.fields[i]->size() * sizeof(float)};
  }
  REQUIRE(g->supports(c.kernel, FW_F32, params.data()) == 1);
  *rc = g->run(c.kernel, FW_F32, params.data());
  REQUIRE(g->synchronize() == FW_OK);
  std::vector<std::vector<float>> out;
  for (auto* v : c.fields) {
    std::vector<float> h(v ? v->size() : 0);
    if (v) REQUIRE(g->copy_to_host(h.data(), dev[v], h.size() * sizeof(float)) == FW_OK);
    out.push_back(h);
  }
  for (auto& [v, p] : dev) g->free(p);
  return out;
}

// Compares the written buffers of the CPU and plugin runs; runs the plugin twice to check it is deterministic.
void check_call(const Call& c, const std::string& what) {
  INFO(kernel_name(c.kernel) << ": " << what);
  int rc_cpu = -1, rc_gpu = -1, rc_gpu2 = -1;
  const auto cpu = run_cpu(c, &rc_cpu);
  const auto dev = run_gpu(c, &rc_gpu);
  const auto dev2 = run_gpu(c, &rc_gpu2);
  REQUIRE(rc_cpu == FW_OK);
  REQUIRE(rc_gpu == FW_OK);
  REQUIRE(rc_gpu2 == FW_OK);
  const uint32_t writes = kernel_info(c.kernel)->writes;
  for (size_t i = 0; i < c.fields.size(); ++i) {
    if (!(writes & (1u << i)) || !c.fields[i]) continue;
    INFO("buffer field " << i);
    CHECK(std::memcmp(dev[i].data(), dev2[i].data(), dev[i].size() * sizeof(float)) == 0);
    if (c.f64_out && i == 0) {
      double a, b;
      std::memcpy(&a, cpu[0].data(), sizeof a);
      std::memcpy(&b, dev[0].data(), sizeof b);
      CHECK(std::fabs(a - b) <= 1e-9 * std::fabs(a));
      continue;
    }
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t e = 0; e < cpu[i].size(); ++e) {
      const double d = std::fabs(double(cpu[i][e]) - double(dev[i][e]));
      if (!(d <= kAtol + kRtol * std::fabs(double(cpu[i][e])))) {
        if (bad++ == 0) first = e;
        worst = std::max(worst, d);
      }
    }
    INFO(bad << " of " << cpu[i].size() << " elements out of tolerance; first at " << first << ": cpu "
              << (bad ? cpu[i][first] : 0.f) << " vs cuda " << (bad ? dev[i][first] : 0.f) << "; worst |diff| " << worst);
    CHECK(bad == 0);
  }
}

Rng g_rng(12345);
std::vector<float> rnd(size_t n, double lo = -1, double hi = 1) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(g_rng.uniform(lo, hi));
  return v;
}
fw_buffer B(std::vector<float>& v) { return {v.data(), v.size() * sizeof(float)}; }

}  // namespace

TEST_CASE("the plugin declines float64 and takes float32 for every kernel") {
  for (int32_t id = 0; id < FW_K_COUNT; ++id) {
    INFO(kernel_name(id));
    std::vector<unsigned char> params(kernel_info(id)->params_size, 0);  // zero: op 0, ndim 0
    CHECK(gpu()->supports(id, FW_F64, params.data()) == 0);
    CHECK(gpu()->supports(id, FW_F32, params.data()) == 1);
  }
  CHECK(std::string(gpu()->name) == "cuda");
  CHECK(gpu()->abi_version == FW_BACKEND_ABI_VERSION);
}

TEST_CASE("fill, copy_block, unary, unary_backward, binary") {
  for (int64_t n : {1, 7, 1001, 100003}) {
    std::vector<float> y = rnd(size_t(n));
    check_call(make_call(fw_fill_params{B(y), n, 0.37}, {&y}), "n " + std::to_string(n));
  }
  {  // a transposed, flipped block into an offset window of a larger y
    std::vector<float> x = rnd(3 * 5 * 7), y = rnd(200);
    fw_copy_block_params p{};
    p.y = B(y);
    p.x = B(x);
    p.ndim = 3;
    const int64_t shape[3] = {7, 5, 3}, ys[3] = {15, 3, 1}, xs[3] = {1, 7, -35};
    for (int d = 0; d < 3; ++d) p.shape[d] = shape[d], p.y_strides[d] = ys[d], p.x_strides[d] = xs[d];
    p.y_offset = 11;
    p.x_offset = 70;  // x's last slice along the flipped dim
    check_call(make_call(p, {&y, &x}), "transpose + flip");
    p.ndim = 2;  // broadcast: x stride 0
    p.shape[0] = 9, p.shape[1] = 4, p.y_strides[0] = 4, p.y_strides[1] = 1, p.x_strides[0] = 0, p.x_strides[1] = 2;
    p.y_offset = 3, p.x_offset = 1;
    check_call(make_call(p, {&y, &x}), "broadcast");
  }
  for (int op = 0; op < FW_U_COUNT; ++op) {
    const int64_t n = 1001;
    std::vector<float> x = op == FW_U_LOG ? rnd(n, 0.05, 4) : rnd(n, -6, 6), y = rnd(n);
    check_call(make_call(fw_unary_params{B(y), B(x), n, op, -0.75}, {&y, &x}), "op " + std::to_string(op));
    check_call(make_call(fw_unary_params{B(x), B(x), n, op, 1.5}, {&x, &x}), "in place, op " + std::to_string(op));
    // y consistent with x for the derivative
    std::vector<float> yy(n), dy = rnd(n), dx = rnd(n);
    int rc = 0;
    yy = run_cpu(make_call(fw_unary_params{B(yy), B(x), n, op, -0.75}, {&yy, &x}), &rc)[0];
    check_call(make_call(fw_unary_backward_params{B(dx), B(dy), B(x), B(yy), n, op, -0.75}, {&dx, &dy, &x, &yy}),
               "backward, op " + std::to_string(op));
  }
  for (int op = 0; op < FW_B_COUNT; ++op) {
    // a (3, 1, 5), b (1, 4, 5) -> y (3, 4, 5)
    std::vector<float> a = rnd(15), b = op == FW_B_DIV ? rnd(20, 0.5, 2) : rnd(20), y = rnd(60);
    fw_binary_params p{};
    p.y = B(y), p.a = B(a), p.b = B(b), p.ndim = 3, p.op = op;
    const int64_t shape[3] = {3, 4, 5}, as[3] = {5, 0, 1}, bs[3] = {0, 5, 1};
    for (int d = 0; d < 3; ++d) p.shape[d] = shape[d], p.a_strides[d] = as[d], p.b_strides[d] = bs[d];
    check_call(make_call(p, {&y, &a, &b}), "broadcast, op " + std::to_string(op));
    std::vector<float> acc = rnd(60), c = op == FW_B_DIV ? rnd(60, 0.5, 2) : rnd(60);
    p.y = B(acc), p.a = B(acc), p.b = B(c);
    for (int d = 0; d < 3; ++d) p.a_strides[d] = p.b_strides[d] = d == 0 ? 20 : d == 1 ? 5 : 1;
    check_call(make_call(p, {&acc, &acc, &c}), "in place, op " + std::to_string(op));
  }
}

TEST_CASE("sum_dim and sum_squares") {
  for (auto [o, r, i] : std::vector<std::array<int64_t, 3>>{{3, 17, 5}, {1, 10007, 1}, {7, 1, 13}, {2, 0, 3}}) {
    std::vector<float> x = rnd(size_t(std::max<int64_t>(1, o * r * i))), y = rnd(size_t(o * i));
    check_call(make_call(fw_sum_dim_params{B(y), B(x), o, r, i}, {&y, &x}),
               std::to_string(o) + "x" + std::to_string(r) + "x" + std::to_string(i));
  }
  for (int64_t n : {1, 255, 100003}) {
    std::vector<float> out(2, 0.f), x = rnd(size_t(n));  // out: one float64
    Call c = make_call(fw_sum_squares_params{B(out), B(x), n}, {&out, &x});
    c.f64_out = true;
    check_call(c, "n " + std::to_string(n));
  }
}

TEST_CASE("gemm: every transpose, odd sizes, beta 0 and not") {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (double beta : {0.0, 1.3}) {
        const int64_t M = 7, N = 13, K = 29;
        std::vector<float> a = rnd(M * K), b = rnd(K * N), c = rnd(M * N);
        check_call(make_call(fw_gemm_params{B(c), B(a), B(b), ta, tb, M, N, K, 0.7, beta}, {&c, &a, &b}),
                   "ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " beta " + std::to_string(beta));
      }
  std::vector<float> a = rnd(64 * 300), b = rnd(300 * 129), c = rnd(64 * 129);
  check_call(make_call(fw_gemm_params{B(c), B(a), B(b), 0, 0, 64, 129, 300, 1.0, 0.0}, {&c, &a, &b}), "64x129x300");
}

TEST_CASE("conv2d forward, backward_data, backward_weight: paddings, masks, bias, odd sizes, input ReLU") {
  struct G {
    fw_conv2d_geometry g;
    bool mask, bias;
  };
  const std::vector<G> cases = {
      {{3, 2, 5, 7, 4, 3, 3, 1, 1, 1, 1, 0}, false, true},    {{2, 3, 6, 5, 5, 3, 2, 2, 0, 1, 0, 0}, true, true},
      {{1, 1, 4, 4, 3, 1, 1, 0, 0, 0, 0, 0}, false, false},   {{4, 5, 9, 11, 7, 7, 7, 3, 3, 3, 3, 0}, true, true},
      {{2, 16, 8, 8, 32, 3, 3, 1, 1, 1, 1, 0}, true, false},  {{1, 2, 3, 3, 2, 1, 3, 0, 0, 2, 0, 0}, false, true},
  };
  for (const G& c0 : cases)
    for (int64_t relu : {0, 1}) {
      G c = c0;
      c.g.input_relu = relu;
      const fw_conv2d_geometry& g = c.g;
      const int64_t Ho = g.H + g.pad_top + g.pad_bottom - g.KH + 1, Wo = g.W + g.pad_left + g.pad_right - g.KW + 1;
      const int64_t wn = g.Co * g.Ci * g.KH * g.KW;
      std::vector<float> x = rnd(g.N * g.Ci * g.H * g.W), w = rnd(wn), bias = rnd(g.Co), mask(wn);
      for (auto& m : mask) m = g_rng.uniform() < 0.6 ? 1.f : 0.f;
      std::vector<float> y = rnd(g.N * g.Co * Ho * Wo), dy = rnd(g.N * g.Co * Ho * Wo), dx = rnd(x.size()),
                         dw = rnd(wn), dbias = rnd(g.Co);
      const std::string what = "N" + std::to_string(g.N) + " Ci" + std::to_string(g.Ci) + " " + std::to_string(g.H) +
                               "x" + std::to_string(g.W) + " Co" + std::to_string(g.Co) + " k" +
                               std::to_string(g.KH) + "x" + std::to_string(g.KW) + (c.mask ? " mask" : "") +
                               (c.bias ? " bias" : "") + (relu ? " input_relu" : "");
      std::vector<float>* mk = c.mask ? &mask : nullptr;
      std::vector<float>* bs = c.bias ? &bias : nullptr;
      fw_conv2d_forward_params f{B(y), B(x), B(w), bs ? B(bias) : fw_buffer{}, mk ? B(mask) : fw_buffer{}, g};
      check_call(make_call(f, {&y, &x, &w, bs, mk}), "forward " + what);
      fw_conv2d_backward_data_params bd{B(dx), B(dy), B(w), mk ? B(mask) : fw_buffer{}, relu ? B(x) : fw_buffer{}, g};
      check_call(make_call(bd, {&dx, &dy, &w, mk, relu ? &x : nullptr}), "backward_data " + what);
      fw_conv2d_backward_weight_params bw{B(dw), bs ? B(dbias) : fw_buffer{}, B(dy), B(x),
                                          mk ? B(mask) : fw_buffer{}, g};
      check_call(make_call(bw, {&dw, c.bias ? &dbias : nullptr, &dy, &x, mk}), "backward_weight " + what);
    }
}

TEST_CASE("log_softmax, softmax cross-entropy and BCE, forward and backward") {
  for (auto [o, k, i] : std::vector<std::array<int64_t, 3>>{{3, 11, 7}, {2, 256, 13}, {5, 2, 1}, {1, 1, 9}}) {
    const std::string what = std::to_string(o) + "x" + std::to_string(k) + "x" + std::to_string(i);
    std::vector<float> x = rnd(o * k * i, -8, 8), y = rnd(x.size()), dy = rnd(x.size()), dx = rnd(x.size());
    check_call(make_call(fw_log_softmax_params{B(y), B(x), o, k, i}, {&y, &x}), what);
    int rc = 0;
    std::vector<float> ly = run_cpu(make_call(fw_log_softmax_params{B(y), B(x), o, k, i}, {&y, &x}), &rc)[0];
    check_call(make_call(fw_log_softmax_backward_params{B(dx), B(dy), B(ly), o, k, i}, {&dx, &dy, &ly}), what);
    std::vector<float> t(o * i), loss = rnd(o * i), dl = rnd(o * i);
    for (auto& v : t) v = float(g_rng.below(uint64_t(k)));
    check_call(make_call(fw_softmax_xent_params{B(loss), B(x), B(t), o, k, i}, {&loss, &x, &t}), what);
    check_call(make_call(fw_softmax_xent_backward_params{B(dx), B(dl), B(x), B(t), o, k, i}, {&dx, &dl, &x, &t}),
               what);
    // A target outside 0..k-1 is refused, as on the CPU.
    t[t.size() - 1] = float(k);
    int rc_gpu = 0;
    run_gpu(make_call(fw_softmax_xent_params{B(loss), B(x), B(t), o, k, i}, {&loss, &x, &t}), &rc_gpu);
    CHECK(rc_gpu == FW_ERR_INVALID);
  }
  for (int64_t n : {1, 1001}) {
    std::vector<float> x = rnd(n, -20, 20), t = rnd(n, 0, 1), l = rnd(n), dl = rnd(n), dx = rnd(n);
    check_call(make_call(fw_bce_logits_params{B(l), B(x), B(t), n}, {&l, &x, &t}), "n " + std::to_string(n));
    check_call(make_call(fw_bce_logits_backward_params{B(dx), B(dl), B(x), B(t), n}, {&dx, &dl, &x, &t}),
               "n " + std::to_string(n));
  }
}

TEST_CASE("optimizer updates: sgd, rmsprop, adam") {
  const int64_t n = 1001;
  std::vector<float> p = rnd(n), g = rnd(n), m = rnd(n), v = rnd(n, 0, 1);
  check_call(make_call(fw_sgd_update_params{B(p), B(g), B(m), n, 0.01, 0.9}, {&p, &g, &m}), "sgd");
  check_call(make_call(fw_rmsprop_update_params{B(p), B(g), B(v), n, 0.001, 0.95, 1e-8}, {&p, &g, &v}), "rmsprop");
  check_call(make_call(fw_adam_update_params{B(p), B(g), B(m), B(v), n, 0.001, 0.9, 0.999, 1e-8, 1 - std::pow(0.9, 3),
                                             1 - std::pow(0.999, 3)},
                       {&p, &g, &m, &v}),
             "adam");
}

TEST_CASE("lstm_scan forward and backward") {
  struct S {
    int64_t N, h, S, L, k, pb;
  };
  for (const S& s : std::vector<S>{{3, 4, 5, 7, 3, 1}, {2, 3, 6, 5, 2, 0}, {1, 1, 1, 1, 1, 0}, {5, 16, 9, 11, 2, 1}}) {
    const std::string what = "N" + std::to_string(s.N) + " h" + std::to_string(s.h) + " S" + std::to_string(s.S) +
                             " L" + std::to_string(s.L) + " k" + std::to_string(s.k) + " pb" + std::to_string(s.pb);
    std::vector<float> gates = rnd(s.N * 4 * s.h * s.S * s.L, -2, 2), w = rnd(4 * s.h * s.h * s.k, -0.5, 0.5),
                       h = rnd(s.N * s.h * s.S * s.L), acts = rnd(s.S * s.N * 6 * s.h * s.L);
    const fw_lstm_scan_forward_params f{B(h), B(acts), B(gates), B(w), s.N, s.h, s.S, s.L, s.k, s.pb};
    check_call(make_call(f, {&h, &acts, &gates, &w}), "forward " + what);
    int rc = 0;
    const auto fw_out = run_cpu(make_call(f, {&h, &acts, &gates, &w}), &rc);
    std::vector<float> hh = fw_out[0], aa = fw_out[1], dh = rnd(hh.size()), dgates = rnd(gates.size()),
                       dw = rnd(w.size());
    check_call(make_call(fw_lstm_scan_backward_params{B(dgates), B(dw), B(dh), B(hh), B(aa), B(w), s.N, s.h, s.S, s.L,
                                                      s.k, s.pb},
                         {&dgates, &dw, &dh, &hh, &aa, &w}),
               "backward " + what);
  }
}

TEST_CASE("gate forward and backward") {
  for (int64_t N : {1, 3})
    for (int64_t c : {1, 5})
      for (int64_t inner : {1, 17}) {
        const std::string what = "N" + std::to_string(N) + " c" + std::to_string(c) + " inner" + std::to_string(inner);
        std::vector<float> x = rnd(size_t(N * 2 * c * inner), -3, 3), y = rnd(size_t(N * c * inner)),
                           dy = rnd(size_t(N * c * inner)), dx = rnd(size_t(N * 2 * c * inner));
        check_call(make_call(fw_gate_forward_params{B(y), B(x), N, c, inner}, {&y, &x}), "forward " + what);
        check_call(make_call(fw_gate_backward_params{B(dx), B(dy), B(x), N, c, inner}, {&dx, &dy, &x}),
                   "backward " + what);
      }
}

TEST_CASE("bottleneck forward and backward: masks, biases or none, 3x3 and 2x3, dx absent") {
  struct Shape6 {
    int64_t N, C, F, H, W, KH, KW;
  };
  for (const Shape6 z : {Shape6{1, 4, 3, 5, 6, 3, 3}, Shape6{3, 2, 5, 4, 7, 2, 3}})
    for (bool extras : {true, false}) {
      const std::string what = "N" + std::to_string(z.N) + " C" + std::to_string(z.C) + " F" + std::to_string(z.F) +
                               " " + std::to_string(z.KH) + "x" + std::to_string(z.KW) +
                               (extras ? " biases, masks" : " plain");
      const fw_bottleneck_geometry g{z.N, z.C, z.F, z.H, z.W, z.KH, z.KW, (z.KH - 1) / 2, z.KH / 2, (z.KW - 1) / 2,
                                     z.KW / 2};
      const size_t nx = size_t(z.N * z.C * z.H * z.W), nh = size_t(z.N * z.F * z.H * z.W);
      std::vector<float> x = rnd(nx, -2, 2), y = rnd(nx), ra = rnd(nh), rb = rnd(nh), dy = rnd(nx), dx = rnd(nx);
      std::vector<float> wa = rnd(size_t(z.F * z.C)), wb = rnd(size_t(z.F * z.F * z.KH * z.KW)),
                         wc = rnd(size_t(z.C * z.F));
      std::vector<float> ba = rnd(size_t(z.F)), bb = rnd(size_t(z.F)), bc = rnd(size_t(z.C));
      std::vector<float> ma = rnd(wa.size(), 0, 1), mb = rnd(wb.size(), 0, 1), mc = rnd(wc.size(), 0, 1);
      for (auto* m : {&ma, &mb, &mc})
        for (auto& v : *m) v = v < 0.7f ? 1.0f : 0.0f;
      std::vector<float> dwa = rnd(wa.size()), dba = rnd(ba.size()), dwb = rnd(wb.size()), dbb = rnd(bb.size()),
                         dwc = rnd(wc.size()), dbc = rnd(bc.size());
      auto opt = [&](std::vector<float>& v) { return extras ? &v : nullptr; };
      auto ob = [&](std::vector<float>& v) { return extras ? B(v) : fw_buffer{nullptr, 0}; };
      check_call(make_call(fw_bottleneck_forward_params{B(y), B(ra), B(rb), B(x), B(wa), ob(ba), ob(ma), B(wb), ob(bb),
                                                        ob(mb), B(wc), ob(bc), ob(mc), g},
                           {&y, &ra, &rb, &x, &wa, opt(ba), opt(ma), &wb, opt(bb), opt(mb), &wc, opt(bc), opt(mc)}),
                 "forward " + what);
      // The backward from the forward's own ra, rb (computed on the CPU), so the ReLU masks agree.
      int rc = -1;
      const auto fwd = run_cpu(make_call(fw_bottleneck_forward_params{B(y), B(ra), B(rb), B(x), B(wa), ob(ba), ob(ma),
                                                                      B(wb), ob(bb), ob(mb), B(wc), ob(bc), ob(mc), g},
                                         {&y, &ra, &rb, &x, &wa, opt(ba), opt(ma), &wb, opt(bb), opt(mb), &wc, opt(bc),
                                          opt(mc)}),
                               &rc);
      REQUIRE(rc == FW_OK);
      ra = fwd[1], rb = fwd[2];
      for (bool with_dx : {true, false})
        check_call(make_call(fw_bottleneck_backward_params{with_dx ? B(dx) : fw_buffer{nullptr, 0}, B(dwa), ob(dba),
                                                           B(dwb), ob(dbb), B(dwc), ob(dbc), B(dy), B(x), B(ra), B(rb),
                                                           B(wa), ob(ma), B(wb), ob(mb), B(wc), ob(mc), g},
                             {with_dx ? &dx : nullptr, &dwa, opt(dba), &dwb, opt(dbb), &dwc, opt(dbc), &dy, &x, &ra,
                              &rb, &wa, opt(ma), &wb, opt(mb), &wc, opt(mc)}),
                   "backward " + what + (with_dx ? "" : ", dx absent"));
    }
}

namespace {

pixelrnn::ModelConfig parity_config(const std::string& model, int64_t channels, int64_t levels) {
  pixelrnn::ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = 8;
  c.layers = 2;
  c.hidden = channels == 3 ? 6 : 8;
  c.out_hidden = channels == 3 ? 12 : 16;
  if (model == "multiscale") c.small = 4;
  return c.resolved();
}

// The losses of `steps` training steps (batch 4 of fixed random images, clipping, RMSProp) from seed 3.
// After the steps, *nll_here and *nll_cpu (when given): the NLL per image of x with the trained weights on `device`
// and after moving them to the CPU (what a checkpoint saved from the device holds).
std::vector<double> train_losses(const pixelrnn::ModelConfig& cfg, Device device, int steps,
                                 double* nll_here = nullptr, double* nll_cpu = nullptr) {
  Rng rng(3);
  auto model = pixelrnn::make_model(cfg, rng);
  model->to_device(device);
  std::vector<float> px(size_t(4 * cfg.channels * cfg.height * cfg.width));
  for (auto& v : px) v = float(rng.below(uint64_t(cfg.levels)));
  const Tensor x = Tensor::from_vector({4, cfg.channels, cfg.height, cfg.width}, px).to_device(device);
  optim::OptimizerOptions oo;
  oo.name = "rmsprop";
  oo.lr = 1e-3;
  auto opt = optim::make_optimizer(model->named_parameters(), oo);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    const Tensor loss = mul_scalar(sum(model->nll(x)), 0.25);
    losses.push_back(loss.item());
    loss.backward();
    optim::clip_grad_norm(model->parameters(), 1.0);
    opt->step();
  }
  if (nll_here) {
    NoGradGuard no_grad;
    *nll_here = sum(model->nll(x)).item() / 4.0;
    model->to_device(Device::CPU);
    *nll_cpu = sum(model->nll(x.to_device(Device::CPU))).item() / 4.0;
  }
  return losses;
}

}  // namespace

TEST_CASE("50 training steps of every model: cuda and cpu losses within 1e-4 relative; the result evaluates alike on both") {
  struct M {
    std::string model;
    int64_t channels, levels;
  };
  for (const M& m : std::vector<M>{{"pixelcnn", 1, 2}, {"pixelcnn", 3, 256}, {"row_lstm", 1, 2}, {"row_lstm", 3, 256},
                                   {"diagonal_bilstm", 1, 2}, {"diagonal_bilstm", 3, 256}, {"multiscale", 1, 2},
                                   {"multiscale", 3, 256}}) {
    const auto cfg = parity_config(m.model, m.channels, m.levels);
    double nll_gpu = 0, nll_on_cpu = 0;
    const auto cpu = train_losses(cfg, Device::CPU, 50), dev = train_losses(cfg, Device::CUDA, 50, &nll_gpu, &nll_on_cpu);
    // The GPU-trained weights evaluate on the CPU to the same NLL within 1e-4 nats per image.
    INFO(m.model << ": NLL per image of the GPU-trained weights: " << nll_gpu << " on cuda, " << nll_on_cpu << " on cpu");
    CHECK(std::fabs(nll_gpu - nll_on_cpu) <= 1e-4);
    for (size_t s = 0; s < cpu.size(); ++s) {
      INFO(m.model << " channels " << m.channels << " levels " << m.levels << ", step " << s << ": cpu " << cpu[s]
                   << " cuda " << dev[s]);
      CHECK(std::fabs(cpu[s] - dev[s]) <= 1e-4 * std::fabs(cpu[s]));
    }
    std::printf("parity: %s channels %lld levels %lld: 50 steps, loss %.6f -> %.6f (cpu) vs %.6f -> %.6f (cuda)\n",
                m.model.c_str(), (long long)m.channels, (long long)m.levels, cpu.front(), cpu.back(), dev.front(),
                dev.back());
  }
}

int main(int argc, char** argv) {
  const char* plugin = std::getenv("PIXELRNN_CUDA_PLUGIN_BUILT");
  if (!plugin || !*plugin) {
    std::printf("test_cuda_parity: SKIPPED: the CUDA plugin is not built (nvcc not found or -Dcuda=disabled)\n");
    return 77;
  }
  try {
    load_backend_plugin(plugin);
  } catch (const std::exception& e) {
    std::printf("test_cuda_parity: SKIPPED: no CUDA device: %s\n", e.what());
    return 77;
  }
  if (!gpu() || gpu()->device != FW_CUDA) {
    std::printf("test_cuda_parity: SKIPPED: %s registered no CUDA backend\n", plugin);
    return 77;
  }
  std::printf("test_cuda_parity: running on the plugin %s\n", plugin);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
