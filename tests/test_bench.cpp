// tests/test_bench.cpp: the measuring tools of issue 9: the kernel/allocation profiler and the reference-kernels
// switch (framework/core/profile.h, framework/ops/conv_reference.h), and `pixelrnn bench` run as a subprocess
// ($PIXELRNN_BIN, set by tests/meson.build) on tiny configurations: its JSON keys and values, the reference check
// refusing when the paths disagree (through its test-only perturbation flags), and bad flags.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/profile.h"
#include "framework/ops/matmul.h"
#include "framework/core/rng.h"
#include "framework/ops/conv.h"
#include "framework/ops/conv_reference.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "models/pixel_model.h"
#include "tests/gradcheck.h"
#include "tests/tool_harness.h"

namespace prof = fw::profile;

namespace {

// A random F32 tensor, values uniform in [-1, 1).
fw::Tensor random_tensor(const fw::Shape& s, fw::Rng& rng) {
  std::vector<float> v(size_t(fw::shape_numel(s)));
  for (float& e : v) e = float(rng.uniform(-1, 1));
  return fw::Tensor::from_vector(s, v);
}

const prof::KernelStat* find(const prof::Snapshot& s, const std::string& name, prof::Phase p) {
  for (const prof::KernelStat& k : s.kernels)
    if (k.name == name && k.phase == p) return &k;
  return nullptr;
}

// Runs the profiler around f and returns what it counted (the profiler is left off and the phase as it was).
template <class F> prof::Snapshot profiled(F&& f) {
  prof::reset();
  prof::set_enabled(true);
  f();
  prof::set_enabled(false);
  return prof::snapshot();
}

}  // namespace

TEST_CASE("profiler: off by default, counts nothing while off") {
  CHECK_FALSE(prof::enabled());
  prof::reset();
  fw::Rng rng(1);
  const fw::Tensor x = random_tensor({4, 5}, rng);
  (void)fw::relu(x);
  const prof::Snapshot s = prof::snapshot();
  CHECK(s.kernels.empty());
  CHECK(s.total_allocations() == 0);
}

TEST_CASE("profiler: counts each allocation and its bytes in the current phase") {
  const prof::Snapshot s = profiled([] {
    (void)fw::Tensor::empty({3, 4});                     // 48 bytes
    (void)fw::Tensor::empty({10}, fw::DType::F64);       // 80 bytes
    const prof::PhaseScope opt(prof::Phase::Optimizer);  // nests and restores
    (void)fw::Tensor::empty({2});                        // 8 bytes
  });
  CHECK(prof::current_phase() == prof::Phase::Forward);
  CHECK(s.allocations[int(prof::Phase::Forward)] == 2);
  CHECK(s.allocated_bytes[int(prof::Phase::Forward)] == 48 + 80);
  CHECK(s.allocations[int(prof::Phase::Optimizer)] == 1);
  CHECK(s.allocated_bytes[int(prof::Phase::Optimizer)] == 8);
  CHECK(s.allocations[int(prof::Phase::Backward)] == 0);
  CHECK(s.kernels.empty());  // empty() launches nothing
}

TEST_CASE("profiler: peak tensor memory above the start, and GEMM operations") {
  fw::Tensor kept;
  const prof::Snapshot s = profiled([&] {
    { const fw::Tensor a = fw::Tensor::empty({1000}); }  // 4,000 bytes, freed at once
    kept = fw::Tensor::empty({500});                     // 2,000 bytes, still alive
    const fw::Tensor b = fw::Tensor::empty({250});       // 1,000 bytes: peak 3,000 above the start
  });
  CHECK(s.peak_live_bytes == 4000);
  const fw::Tensor a = fw::Tensor::full({3, 5}, 1.0), b = fw::Tensor::full({5, 7}, 1.0);
  const prof::Snapshot g = profiled([&] { (void)fw::matmul(a, b); });
  CHECK(g.gemm_flops == doctest::Approx(2.0 * 3 * 5 * 7));
}

TEST_CASE("profiler: attributes kernel launches to forward and to backward") {
  fw::Rng rng(2);
  fw::Tensor x = random_tensor({2, 3, 6, 6}, rng), w = random_tensor({4, 3, 3, 3}, rng), b = random_tensor({4}, rng);
  for (fw::Tensor* t : {&x, &w, &b}) t->requires_grad_();
  fw::Tensor loss;
  const prof::Snapshot fwd = profiled([&] {
    loss = fw::sum(fw::relu(fw::conv2d(x, w, b, fw::Padding2d::same(3, 3))));
  });
  const prof::Snapshot bwd = profiled([&] { loss.backward(); });

  // Forward: one conv launch, one relu launch; nothing counted as backward.
  const prof::KernelStat* conv = find(fwd, "conv2d_forward", prof::Phase::Forward);
  const prof::KernelStat* relu = find(fwd, "unary", prof::Phase::Forward);
  REQUIRE(conv != nullptr);
  REQUIRE(relu != nullptr);
  CHECK(conv->calls == 1);
  CHECK(relu->calls == 1);
  CHECK(conv->seconds > 0);
  CHECK(fwd.kernel_seconds(prof::Phase::Backward) == 0);
  CHECK(fwd.allocations[int(prof::Phase::Forward)] >= 3);  // conv output, relu output, sum output
  // Snapshot order: slowest first.
  for (size_t i = 1; i < fwd.kernels.size(); ++i) CHECK(fwd.kernels[i - 1].seconds >= fwd.kernels[i].seconds);

  // Backward: run_backward sets the phase; the conv's two gradient kernels and relu's backward are there.
  CHECK(prof::current_phase() == prof::Phase::Forward);  // restored after backward()
  const prof::KernelStat* bd = find(bwd, "conv2d_backward_data", prof::Phase::Backward);
  const prof::KernelStat* bw = find(bwd, "conv2d_backward_weight", prof::Phase::Backward);
  const prof::KernelStat* rb = find(bwd, "unary_backward", prof::Phase::Backward);
  REQUIRE(bd != nullptr);
  REQUIRE(bw != nullptr);
  REQUIRE(rb != nullptr);
  CHECK(bd->calls == 1);
  CHECK(bw->calls == 1);
  CHECK(rb->calls == 1);
  CHECK(bwd.kernel_seconds(prof::Phase::Forward) == 0);
  CHECK(bwd.kernel_seconds(prof::Phase::Backward) > 0);
  CHECK(bwd.allocations[int(prof::Phase::Backward)] >= 3);  // dx, dw, db at least
  CHECK(bwd.allocations[int(prof::Phase::Forward)] == 0);
}

TEST_CASE("reference kernels: conv2d switches to the direct loops and back") {
  fw::Rng rng(3);
  const fw::Tensor x = random_tensor({2, 3, 7, 5}, rng), w = random_tensor({4, 3, 3, 2}, rng);
  const fw::Tensor b = random_tensor({4}, rng);
  fw::Tensor mask = fw::Tensor::ones({4, 3, 3, 2});
  mask.data<float>()[5] = 0;
  mask.data<float>()[17] = 0;
  const fw::Padding2d pad{1, 2, 0, 1};
  CHECK_FALSE(fw::reference_kernels());
  fw::Tensor fast, ref;
  const prof::Snapshot sf = profiled([&] { fast = fw::conv2d(x, w, b, pad, mask); });
  prof::Snapshot sr;
  {
    const fw::ReferenceKernelsScope on(true);
    CHECK(fw::reference_kernels());
    sr = profiled([&] { ref = fw::conv2d(x, w, b, pad, mask); });
  }
  CHECK_FALSE(fw::reference_kernels());
  CHECK(find(sf, "conv2d_forward", prof::Phase::Forward) != nullptr);
  CHECK(find(sr, "conv2d_forward", prof::Phase::Forward) == nullptr);  // no GEMM kernel in reference mode
  // The reference forward is the naive convolution, summed in the same order: bitwise equal.
  CHECK(ref.to_float_vector() == fw::conv2d_naive(x, w, b, pad, mask).to_float_vector());
  const std::vector<float> a = fast.to_float_vector(), r = ref.to_float_vector();
  REQUIRE(a.size() == r.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(r[i]).epsilon(1e-5));
}

TEST_CASE("reference kernels: conv2d_reference's gradient passes a float64 gradcheck and matches the fast one") {
  const fw::Tensor x = gradcheck::random({2, 2, 5, 4}, 41), w = gradcheck::random({3, 2, 3, 3}, 42);
  const fw::Tensor b = gradcheck::random({3}, 43);
  fw::Tensor mask = fw::Tensor::ones({3, 2, 3, 3}, fw::DType::F64);
  for (int e : {4, 5, 7, 8, 13, 22, 40}) mask.data<double>()[e] = 0;
  const fw::Padding2d pad{1, 1, 2, 0};
  auto leaf = [](const fw::Tensor& t) {
    fw::Tensor l = t.clone();
    l.requires_grad_();
    return l;
  };
  const gradcheck::Result gc = gradcheck::check_gradients(
      "conv2d_reference (masked, asymmetric padding)",
      [&](const std::vector<fw::Tensor>& v) { return fw::conv2d_reference(v[0], v[1], v[2], pad, mask); },
      {leaf(x), leaf(w), leaf(b)});
  CHECK_MESSAGE(gc.ok, gc.message);
  const gradcheck::Result gc2 = gradcheck::check_gradients(
      "conv2d_reference (no bias)",
      [&](const std::vector<fw::Tensor>& v) { return fw::conv2d_reference(v[0], v[1], fw::Tensor(), pad); },
      {leaf(x), leaf(w)});
  CHECK_MESSAGE(gc2.ok, gc2.message);

  // The same gradients through conv2d in both modes (float32).
  auto grads = [&](bool reference) {
    const fw::ReferenceKernelsScope mode(reference);
    fw::Tensor xs = x.to(fw::DType::F32), ws = w.to(fw::DType::F32), bs = b.to(fw::DType::F32);
    for (fw::Tensor* t : {&xs, &ws, &bs}) t->requires_grad_();
    fw::sum(fw::mul(fw::conv2d(xs, ws, bs, pad, mask.to(fw::DType::F32)),
                    fw::conv2d(xs, ws, bs, pad, mask.to(fw::DType::F32))))
        .backward();
    return std::vector<std::vector<float>>{xs.grad().to_float_vector(), ws.grad().to_float_vector(),
                                           bs.grad().to_float_vector()};
  };
  const auto gf = grads(false), gr = grads(true);
  for (size_t t = 0; t < gf.size(); ++t) {
    REQUIRE(gf[t].size() == gr[t].size());
    for (size_t i = 0; i < gf[t].size(); ++i) CHECK(gf[t][i] == doctest::Approx(gr[t][i]).epsilon(1e-4));
  }
  // Masked weights get exactly zero gradient in the reference path too.
  const std::vector<float>& dw = gr[1];
  for (int e : {4, 5, 7, 8, 13, 22, 40}) CHECK(dw[size_t(e)] == 0.0f);
}

TEST_CASE("reference kernels: conv2d_reference is bit-identical at 1, 2 and 3 threads") {
  fw::Rng rng(5);
  const fw::Tensor x0 = random_tensor({5, 3, 9, 7}, rng), w0 = random_tensor({6, 3, 3, 3}, rng);
  const fw::Tensor b0 = random_tensor({6}, rng), g = random_tensor({5, 6, 9, 7}, rng);
  auto run = [&](int threads) {
    fw::set_num_threads(threads);
    fw::Tensor x = x0.clone().detach(), w = w0.clone().detach(), b = b0.clone().detach();
    for (fw::Tensor* t : {&x, &w, &b}) t->requires_grad_();
    const fw::Tensor y = fw::conv2d_reference(x, w, b, fw::Padding2d::same(3, 3));
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_float_vector(), x.grad().to_float_vector(),
                                           w.grad().to_float_vector(), b.grad().to_float_vector()};
  };
  const auto a = run(1), b = run(2), c = run(3);
  fw::set_num_threads(0);
  CHECK(a == b);  // float == float: bitwise for these finite values
  CHECK(a == c);
}

// ---- `pixelrnn bench` as a subprocess

namespace {

// `pixelrnn bench ARGS` as a subprocess (tests/tool_harness.h).
tool_harness::Result run_bench(const Strings& args) {
  tool_harness::TempDir t;
  Strings all{"bench"};
  all.insert(all.end(), args.begin(), args.end());
  return tool_harness::run(t, all);
}
using tool_harness::Result;
using tool_harness::contains;

const Strings kTiny = {"--hidden", "4", "--layers", "1", "--height", "8", "--width", "8", "--batch", "2",
                       "--seconds", "0.2", "--threads", "1"};

Strings tiny(Strings extra) {
  Strings a = kTiny;
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

double positive_finite(const nlohmann::json& j, const std::string& key) {
  REQUIRE_MESSAGE(j.contains(key), key);
  REQUIRE_MESSAGE(j[key].is_number(), key);
  const double v = j[key].get<double>();
  CHECK_MESSAGE(std::isfinite(v), key);
  CHECK_MESSAGE(v > 0, key);
  return v;
}

}  // namespace

TEST_CASE("pixelrnn bench --json: keys and sane values for every model") {
  for (const std::string model : {"pixelcnn", "row_lstm", "diagonal_bilstm", "gated_pixelcnn"}) {
    CAPTURE(model);
    const Result r = run_bench(tiny({"--model", model, "--sample", "--profile", "--json"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["model"] == model);
    CHECK(j["hidden"] == 4);
    CHECK(j["height"] == 8);
    CHECK(j["levels"] == 2);
    CHECK(j["threads"] == 1);
    // parameters: the same model built here.
    pixelrnn::ModelConfig cfg;
    cfg.model = model;
    cfg.hidden = 4;
    cfg.layers = 1;
    cfg.height = cfg.width = 8;
    fw::Rng rng(0);
    CHECK(j["parameters"] == pixelrnn::make_model(cfg, rng)->num_parameters());
    const double ips = positive_finite(j, "train_images_per_s");
    const double step_ms = positive_finite(j, "step_ms");
    CHECK(ips == doctest::Approx(2.0 / (step_ms / 1e3)).epsilon(1e-9));  // batch / median step
    CHECK(j["steps_timed"].get<int>() >= 5);
    CHECK(j["steps_timed"].get<int>() <= 200);
    positive_finite(j, "naive_sample_images_per_s");
    positive_finite(j, "sample_images_per_s");
    const double peak = positive_finite(j, "peak_rss_mb");
    REQUIRE(j["rss_growth_mb"].is_number());
    CHECK(j["rss_growth_mb"].get<double>() >= 0);
    CHECK(j["rss_growth_mb"].get<double>() <= peak);
    CHECK(j["reference_check"]["grad_rel_diff"].get<double>() <= j["reference_check"]["grad_tolerance"].get<double>());
    CHECK(j["reference_check"]["loss"].get<double>() > 0);  // an NLL in nats
    CHECK(j["reference_check"]["images"] == 2);             // --check-images 4, capped at --batch 2

    // The profile: both phases have kernels, the conv kernels sit in their phases, shares add up.
    const nlohmann::json& p = j["profile"];
    REQUIRE(p.is_object());
    CHECK(p["steps"] == j["steps_timed"]);
    CHECK(p["allocations_per_step"].get<double>() > 0);
    CHECK(p["peak_step_tensor_mb"].get<double>() > 0);
    CHECK(p["gemm_gflop_per_step"].get<double>() > 0);  // every model runs convolutions or LSTM GEMMs
    CHECK(p["sgemm_gflops"].get<double>() > 0);
    CHECK(p["gemm_gflops"].get<double>() ==
          doctest::Approx(p["gemm_gflop_per_step"].get<double>() / (p["step_ms"].get<double>() * 1e-3)).epsilon(1e-6));
    for (const char* phase : {"forward", "backward", "optimizer"}) {
      CAPTURE(phase);
      REQUIRE(p["phases"].contains(phase));
    }
    auto kernels_of = [&](const char* phase) {
      std::vector<std::string> names;
      double share = 0;
      for (const auto& k : p["phases"][phase]["kernels"]) {
        names.push_back(k["kernel"]);
        CHECK(k["share_of_step"].get<double>() > 0);
        CHECK(k["calls_per_step"].get<double>() > 0);
        share += k["share_of_step"].get<double>();
      }
      const nlohmann::json& ph = p["phases"][phase];
      CHECK(share + ph["outside_kernels_share_of_step"].get<double>() ==
            doctest::Approx(ph["share_of_step"].get<double>()).epsilon(1e-9));
      CHECK(ph["outside_kernels_ms_per_step"].get<double>() >= 0);
      return names;
    };
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    const auto fwd = kernels_of("forward"), bwd = kernels_of("backward");
    CHECK(has(fwd, "conv2d_forward"));
    CHECK_FALSE(has(fwd, "conv2d_backward_weight"));
    CHECK(has(bwd, "conv2d_backward_weight"));
    CHECK(has(bwd, "conv2d_backward_data"));
    CHECK(p["phases"]["backward"]["allocations_per_step"].get<double>() > 0);
    double phases = 0;
    for (const char* phase : {"forward", "backward", "optimizer"}) phases += p["phases"][phase]["share_of_step"].get<double>();
    CHECK(phases == doctest::Approx(1.0).epsilon(1e-9));
  }
}

TEST_CASE("pixelrnn bench: 8-bit RGB images and text output") {
  const Result r = run_bench(tiny({"--model", "pixelcnn", "--channels", "3", "--hidden", "6", "--out-hidden", "6"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.out, "levels: 256\n"));
  CHECK(contains(r.out, "channels: 3\n"));
  CHECK(contains(r.out, "train_images_per_s: "));
  CHECK(contains(r.out, "reference check (2 images): "));
  CHECK_FALSE(contains(r.out, "sample_images_per_s"));  // only with --sample
}

TEST_CASE("pixelrnn bench: refuses to print figures when the fast and reference paths disagree") {
  SUBCASE("a gradient") {
    const Result r = run_bench(tiny({"--json", "--test-perturb-gradient", "0.01"}));
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "reference check failed"));
    CHECK(contains(r.err, "the gradient of '"));
    CHECK(r.out.empty());
  }
  SUBCASE("the loss") {
    const Result r = run_bench(tiny({"--model", "row_lstm", "--test-perturb-loss", "0.001"}));
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "reference check failed: the loss differs"));
    CHECK(r.out.empty());
  }
  SUBCASE("a difference within the tolerance passes") {
    const Result r = run_bench(tiny({"--json", "--test-perturb-gradient", "1e-6", "--test-perturb-loss", "1e-6"}));
    CHECK_MESSAGE(r.rc == 0, r.err);
  }
}

TEST_CASE("pixelrnn bench: bad flags are usage errors naming the flag") {
  const std::vector<std::pair<Strings, std::string>> cases = {
      {{"--levels", "3"}, "--levels"},
      {{"--channels", "2"}, "--channels"},
      {{"--hidden", "0"}, "--hidden"},
      {{"--batch", "-1"}, "--batch"},
      {{"--seconds", "fast"}, "--seconds"},
      {{"--threads", "x"}, "--threads"},
      {{"--model", "resnet"}, "--model"},
      {{"--height"}, "--height"},
      {{"--bogus"}, "--bogus"},
      {{"--check-images", "0"}, "--check-images"},
      {{"--out-hidden", "1.5"}, "--out-hidden"},
      {{"--channels", "3", "--levels", "2"}, "levels"},
  };
  for (const auto& [args, flag] : cases) {
    CAPTURE(flag);
    const Result r = run_bench(args);
    CHECK(r.rc == 2);
    CHECK(contains(r.err, flag));
    CHECK(r.out.empty());
  }
}
