// tools/pixelrnn/bench.cpp: `pixelrnn bench`: training (and sampling) speed of a freshly initialised model on
// random inputs, measured the way ../shared/bench/torch_twin.py measures its PyTorch twin (docs/performance.md).
//
// 1. Reference check: one step's loss and every parameter gradient, computed with the fast kernels and with the
//    reference ones (fw::set_reference_kernels, framework/core/profile.h) from the same weights and images (the
//    first --check-images of the batch, 4 by default: the reference kernels are direct loops), must agree (loss: relative 1e-4; gradients: kGradTolerance, see below), or the command fails (status 1) without
//    printing any figure.
// 2. Training: a step is what tools/pixelrnn/trainer.cpp does minus data loading: zero_grad, nll, loss = sum /
//    batch, item, backward, RMSProp step (lr 1e-3, rho 0.99 = PyTorch's default alpha, eps 1e-8, as the twin).
//    3 warm-up steps, then steps until --seconds is spent (at least 5, at most 200); train_images_per_s = batch /
//    median step time. With --profile the measured steps run under the profiler (kernel time per op kind and
//    phase, allocations, the peak tensor memory of a step, the GEMM floating-point operations), which adds a
//    little time to each launch; it then also times single-threaded sgemms of 512 x 1024 x 1024, one per thread,
//    run at once (best of 3), as the machine's sgemm rate against which the step's GEMM rate is given.
// 3. --sample: 16 images on an empty canvas with the naive sampler (one full forward pass per drawn element, as
//    the twin) and with the default (fast) sampler.
// peak_rss_mb is getrusage's ru_maxrss at the end; rss_growth_mb is that minus ru_maxrss before the model is built
// (the twin's definition). The reference check runs in a child process (this program, with the same flags), so
// its memory is not in these figures. Inputs: random, seeded like the twin (not the same stream): levels 2: P(1) = 0.3;
// levels 256: uniform 0..255.
//
// Test-only hidden flags (tests/test_bench.cpp): --test-perturb-gradient X scales the fast path's gradient of the
// first parameter by (1 + X) and --test-perturb-loss X its loss by (1 + X) before the comparison, so the test can
// see the check refuse. They change nothing else.
#include <cblas.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <tbb/parallel_for.h>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/profile.h"
#include "framework/core/rng.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;
namespace prof = fw::profile;

// Loss: relative difference allowed between the fast and the reference path (the figure).
constexpr double kLossTolerance = 1e-4;
// Gradients, per parameter: ||g_fast - g_ref||_2 <= kGradTolerance * max(||g_ref||_2, 1e-6 * the largest
// ||g_ref||_2 of all parameters). The two paths sum the same float32 products in different orders (GEMM blocks
// of up to K = Ci*KH*KW and N*Ho*Wo terms vs double accumulation), each sum off by about sqrt(terms) * 6e-8
// relative (~1e-5 for 1e4-1e5 terms), and the differences compound through the layers and the recurrences.
// Measured at h 16, L 7, 28x28, batch 16: 1.5e-7 to 1.8e-7 for pixelcnn, row_lstm and diagonal_bilstm
// (docs/performance.md). 1e-3 leaves room for fused kernels that reorder sums further, while a wrong kernel (a
// missed tap, a wrong mask, a bad index) moves a gradient by far more. The floor keeps parameters with a
// near-zero gradient from failing on rounding alone.
constexpr double kGradTolerance = 1e-3;
constexpr int kWarmupSteps = 3, kMinSteps = 5, kMaxSteps = 200;
constexpr int64_t kSampleImages = 16;

double rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// batch images (batch, C, H, W) of random pixel values of the model's space, from a seeded rng, flat.
std::vector<float> random_images(const ModelConfig& cfg, int64_t batch, uint64_t seed) {
  fw::Rng rng(seed);
  std::vector<float> v(size_t(batch * cfg.channels * cfg.height * cfg.width));
  for (float& e : v) e = cfg.levels == 2 ? (rng.uniform() < 0.3 ? 1.0f : 0.0f) : float(rng.below(256));
  return v;
}

// The training loss of x as the trainer computes it: mean over the batch of the per-image NLL in nats.
fw::Tensor batch_loss(PixelModel& model, const fw::Tensor& x) {
  return fw::mul_scalar(fw::sum(model.nll(x)), 1.0 / double(x.size(0)));
}

struct Gradients {
  double loss = 0;
  std::vector<std::vector<double>> grads;  // per parameter, in named_parameters() order (empty: no gradient)
};

Gradients loss_and_gradients(PixelModel& model, fw::optim::Optimizer& opt, const fw::Tensor& x) {
  opt.zero_grad();
  const fw::Tensor loss = batch_loss(model, x);
  Gradients r;
  r.loss = loss.item();
  loss.backward();
  for (const fw::Tensor& p : model.parameters()) {
    const fw::Tensor g = p.grad();
    std::vector<double> v;
    if (g.defined())
      for (float e : g.to_float_vector()) v.push_back(e);
    r.grads.push_back(std::move(v));
  }
  opt.zero_grad();
  return r;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e * e;
  return std::sqrt(s);
}

struct CheckResult {
  double loss = 0, loss_reference = 0, loss_rel_diff = 0;
  double grad_rel_diff = 0;  // the largest over the parameters
  std::string worst;         // the parameter with the largest difference
  double seconds = 0;
  std::string failure;  // empty when the paths agree
};

CheckResult reference_check(PixelModel& model, fw::optim::Optimizer& opt, const fw::Tensor& x,
                            double perturb_grad, double perturb_loss) {
  const auto t0 = Clock::now();
  Gradients fast = loss_and_gradients(model, opt, x);
  Gradients ref;
  {
    const fw::ReferenceKernelsScope reference(true);
    ref = loss_and_gradients(model, opt, x);
  }
  fast.loss *= 1.0 + perturb_loss;
  if (!fast.grads.empty())
    for (double& e : fast.grads[0]) e *= 1.0 + perturb_grad;

  CheckResult c;
  c.seconds = seconds_since(t0);
  c.loss = fast.loss;
  c.loss_reference = ref.loss;
  c.loss_rel_diff = std::abs(fast.loss - ref.loss) / std::max(std::abs(ref.loss), 1e-30);
  if (!(c.loss_rel_diff <= kLossTolerance)) {  // also catches NaN
    char buf[200];
    std::snprintf(buf, sizeof buf, "the loss differs: %.9g (fast kernels) vs %.9g (reference), relative %.3g > %g",
                  fast.loss, ref.loss, c.loss_rel_diff, kLossTolerance);
    c.failure = buf;
  }
  const fw::nn::NamedTensors named = model.named_parameters();
  double largest = 0;
  for (const auto& g : ref.grads) largest = std::max(largest, norm(g));
  const double floor = std::max(1e-6 * largest, 1e-30);
  for (size_t k = 0; k < named.size(); ++k) {
    const std::vector<double>&gf = fast.grads[k], &gr = ref.grads[k];
    if (gf.size() != gr.size()) {
      if (c.failure.empty()) c.failure = named[k].first + ": a gradient in one path only";
      continue;
    }
    double d = 0;
    for (size_t i = 0; i < gf.size(); ++i) d += (gf[i] - gr[i]) * (gf[i] - gr[i]);
    const double rel = std::sqrt(d) / std::max(norm(gr), floor);
    if (!(rel <= c.grad_rel_diff)) {  // NaN counts as the worst
      c.grad_rel_diff = std::isnan(rel) ? INFINITY : rel;
      c.worst = named[k].first;
    }
  }
  if (c.failure.empty() && !(c.grad_rel_diff <= kGradTolerance)) {
    char buf[240];
    std::snprintf(buf, sizeof buf, "the gradient of '%s' differs: relative L2 difference %.3g > %g",
                  c.worst.c_str(), c.grad_rel_diff, kGradTolerance);
    c.failure = buf;
  }
  return c;
}

// The machine's sgemm rate as the framework's kernels can use it (GFLOP/s): with T = fw::num_threads(), T tasks
// run at once (oneTBB), each a single-threaded OpenBLAS sgemm of a 512 x 1024 row block of A times B (1024 x
// 1024), as the convolution and LSTM kernels run theirs; the best of 3 after one warm-up.
double sgemm_gflops() {
  fw::init_thread_policy();  // OpenBLAS single-threaded inside tasks, as in the kernels
  const int64_t T = std::max(1, fw::num_threads()), rows = 512, n = 1024;
  std::vector<float> a(size_t(T * rows * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(T * rows * n));
  double best = 1e300;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = Clock::now();
    tbb::parallel_for(int64_t(0), T, [&](int64_t i) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n), int(n), 1.0f, a.data() + i * rows * n,
                  int(n), b.data(), int(n), 0.0f, c.data() + i * rows * n, int(n));
    });
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (rep > 0) best = std::min(best, t);
  }
  return 2.0 * double(T * rows) * double(n) * double(n) / best * 1e-9;
}

// The profile of the measured steps: per phase, wall time, the kernels, the time outside kernels, allocations.
Json profile_json(const prof::Snapshot& s, int64_t steps, const double phase_wall[prof::kPhases], double step_total,
                  double sgemm_rate) {
  Json phases = Json::object();
  int64_t allocations = 0;
  for (int p = 0; p < prof::kPhases; ++p) {
    const prof::Phase ph = static_cast<prof::Phase>(p);
    Json kernels = Json::array();
    for (const prof::KernelStat& k : s.kernels) {
      if (k.phase != ph) continue;
      kernels.push_back({{"kernel", k.name},
                         {"calls_per_step", double(k.calls) / double(steps)},
                         {"ms_per_step", 1e3 * k.seconds / double(steps)},
                         {"share_of_step", k.seconds / step_total}});
    }
    const double outside = phase_wall[p] - s.kernel_seconds(ph);
    allocations += s.allocations[p];
    phases[prof::phase_name(ph)] = {
        {"ms_per_step", 1e3 * phase_wall[p] / double(steps)},
        {"share_of_step", phase_wall[p] / step_total},
        {"outside_kernels_ms_per_step", 1e3 * outside / double(steps)},
        {"outside_kernels_share_of_step", outside / step_total},
        {"allocations_per_step", double(s.allocations[p]) / double(steps)},
        {"allocated_mb_per_step", double(s.allocated_bytes[p]) / double(steps) / (1024.0 * 1024.0)},
        {"kernels", kernels}};
  }
  return {{"steps", steps},
          {"step_ms", 1e3 * step_total / double(steps)},
          {"allocations_per_step", double(allocations) / double(steps)},
          {"peak_step_tensor_mb", double(s.peak_live_bytes) / (1024.0 * 1024.0)},
          {"gemm_gflop_per_step", s.gemm_flops / double(steps) * 1e-9},
          {"gemm_gflops", s.gemm_flops / step_total * 1e-9},
          {"sgemm_gflops", sgemm_rate},
          {"phases", phases}};
}

void print_profile_text(const Json& p) {
  std::printf("\nprofile over %lld measured steps (mean step %.3f ms; allocations per step %.1f; peak tensor memory "
              "of a step %.2f MB above what lives between steps):\n",
              (long long)p["steps"].get<int64_t>(), p["step_ms"].get<double>(),
              p["allocations_per_step"].get<double>(), p["peak_step_tensor_mb"].get<double>());
  std::printf("  GEMM: %.3f GFLOP per step, %.1f GFLOP/s over the whole step = %.0f%% of this machine's sgemm rate "
              "(%.1f GFLOP/s: one 512x1024x1024 sgemm per thread, at once)\n",
              p["gemm_gflop_per_step"].get<double>(), p["gemm_gflops"].get<double>(),
              100 * p["gemm_gflops"].get<double>() / p["sgemm_gflops"].get<double>(), p["sgemm_gflops"].get<double>());
  for (const auto& [name, ph] : p["phases"].items()) {
    std::printf("  %s: %.3f ms per step (%.1f%%), %.1f allocations (%.2f MB) per step\n", name.c_str(),
                ph["ms_per_step"].get<double>(), 100 * ph["share_of_step"].get<double>(),
                ph["allocations_per_step"].get<double>(), ph["allocated_mb_per_step"].get<double>());
    std::printf("    %-26s %10s %12s %8s\n", "kernel", "calls/step", "ms/step", "share");
    for (const Json& k : ph["kernels"])
      std::printf("    %-26s %10.1f %12.3f %7.1f%%\n", k["kernel"].get<std::string>().c_str(),
                  k["calls_per_step"].get<double>(), k["ms_per_step"].get<double>(),
                  100 * k["share_of_step"].get<double>());
    std::printf("    %-26s %10s %12.3f %7.1f%%\n", "(outside kernels)", "", ph["outside_kernels_ms_per_step"].get<double>(),
                100 * ph["outside_kernels_share_of_step"].get<double>());
  }
}

}  // namespace

Json check_to_json(const CheckResult& c) {
  return {{"loss", c.loss},         {"loss_reference", c.loss_reference}, {"loss_rel_diff", c.loss_rel_diff},
          {"grad_rel_diff", c.grad_rel_diff}, {"worst", c.worst},            {"seconds", c.seconds},
          {"failure", c.failure}};
}

// Runs `pixelrnn bench ARGS --internal-check-only 1` and reads its CheckResult (one JSON line on its stdout).
CheckResult reference_check_in_child(const Args& args) {
  std::vector<std::string> argv_s{"/proc/self/exe", "bench"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  argv_s.push_back("--internal-check-only");
  argv_s.push_back("1");
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("bench: cannot create a pipe for the reference check");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("bench: cannot start the reference check process: " + std::string(std::strerror(rc)));
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("bench: the reference check process failed (status " + std::to_string(status) +
                             "); see its message above");
  try {
    const Json j = Json::parse(out);
    CheckResult c;
    c.loss = j.at("loss");
    c.loss_reference = j.at("loss_reference");
    c.loss_rel_diff = j.at("loss_rel_diff");
    c.grad_rel_diff = j.at("grad_rel_diff");
    c.worst = j.at("worst");
    c.seconds = j.at("seconds");
    c.failure = j.at("failure");
    return c;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("bench: cannot read the reference check's result: ") + e.what());
  }
}

int cmd_bench(const Args& args) {
  Flags f("pixelrnn bench", "[--model M --hidden H --layers L --batch B --levels 2|256 --channels 1|3 --height H "
          "--width W --threads T --seconds S] [--sample] [--profile] [--json]",
          "Measures training speed (images per second: forward + backward + RMSProp step, median step after\n"
          "warm-up), peak memory and memory growth of a freshly initialised model on random inputs, and with\n"
          "--sample the sampling speed. The defaults and the measurements match ../shared/bench/torch_twin.py,\n"
          "so both can be run with the same flags (docs/performance.md). Before timing anything it checks one\n"
          "step's loss and gradients against the reference kernels and fails (status 1) if they disagree.");
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  f.value("model", "NAME", "model: " + names, "pixelcnn");
  f.value("hidden", "H", "hidden feature maps h", "16");
  f.value("layers", "N", "layers (residual blocks)", "7");
  f.value("out-hidden", "N", "maps in the output stack (the twin always uses 32)", "the model's default: 32 "
          "for levels 2, 1024 for levels 256");
  f.value("batch", "N", "images per training step", "16");
  f.value("levels", "L", "2 (binary, Bernoulli output) or 256 (8-bit, softmax)", "2 for 1 channel, 256 for 3");
  f.value("channels", "C", "image channels: 1 or 3", "1");
  f.value("height", "H", "image height", "28");
  f.value("width", "W", "image width", "28");
  f.value("threads", "N", "worker threads (0: all cores)", "2");
  add_device_flag(f);
  f.value("seconds", "S", "time budget of the measured training steps (at least 5 and at most 200 steps)", "10");
  f.value("check-images", "N", "images of the batch used by the reference check (at most --batch)", "4");
  f.flag("sample", "also time drawing 16 images with the naive and with the default (fast) sampler");
  f.flag("profile", "time every kernel launch of the measured steps by op kind, forward and backward apart, and "
         "count allocations");
  f.flag("json", "print one JSON object instead of text");
  f.hidden_value("test-perturb-gradient");
  f.hidden_value("test-perturb-loss");
  f.hidden_value("internal-check-only");  // set by bench itself for the child process that runs the check
  f.parse(args);
  if (f.help_requested()) {
    std::cout << f.help();
    return kExitOk;
  }

  ModelConfig cfg;
  cfg.model = f.choice("model", "pixelcnn", model_names());
  cfg.hidden = f.integer("hidden", 16, 1, 1 << 16);
  cfg.layers = f.integer("layers", 7, 1, 1 << 12);
  cfg.out_hidden = f.integer("out-hidden", 0, 1, 1 << 16);
  cfg.channels = std::stoll(f.choice("channels", "1", {"1", "3"}));
  cfg.levels = std::stoll(f.choice("levels", std::to_string(cfg.channels == 1 ? 2 : 256), {"2", "256"}));
  cfg.height = f.integer("height", 28, 1, 4096);
  cfg.width = f.integer("width", 28, 1, 4096);
  const int64_t batch = f.integer("batch", 16, 1, 1 << 20);
  const int threads = int(f.integer("threads", 2, 0, 4096));
  const double budget = f.real("seconds", 10.0, 0.0, 1e6);
  const int64_t check_images = std::min(batch, f.integer("check-images", 4, 1, 1 << 20));
  const bool do_sample = f.on("sample"), do_profile = f.on("profile"), json = f.on("json");
  const double perturb_grad = f.real("test-perturb-gradient", 0.0, -1e6, 1e6);
  const double perturb_loss = f.real("test-perturb-loss", 0.0, -1e6, 1e6);
  try {
    cfg = cfg.resolved();
  } catch (const std::invalid_argument& e) {
    // A combination of flags the models do not support (e.g. --channels 3 with --levels 2).
    throw UsageError(std::string("unsupported configuration: ") + e.what());
  }

  fw::set_num_threads(threads);
  const double rss_base = rss_mb();
  fw::Rng init_rng(0);
  std::unique_ptr<PixelModel> model = make_model(cfg, init_rng);
  fw::optim::OptimizerOptions oo;
  oo.name = "rmsprop";
  oo.lr = 1e-3;
  oo.rho = 0.99;  // torch.optim.RMSprop's default alpha
  oo.eps = 1e-8;
  std::unique_ptr<fw::optim::Optimizer> opt = fw::optim::make_optimizer(model->named_parameters(), oo);
  const std::vector<float> pixels = random_images(cfg, batch, 0);
  const int64_t image_size = cfg.channels * cfg.height * cfg.width;
  const fw::Tensor x = fw::Tensor::from_vector({batch, cfg.channels, cfg.height, cfg.width}, pixels);
  // x_check: the first check_images images of x (the reference kernels are slow).
  const fw::Tensor x_check = fw::Tensor::from_vector(
      {check_images, cfg.channels, cfg.height, cfg.width},
      std::vector<float>(pixels.begin(), pixels.begin() + check_images * image_size));

  // 1. The reference check, before anything is timed, in a child process (this program again, with the same
  // flags and --internal-check-only 1: the same seeds, so the same weights and images), so that its memory (the
  // reference kernels are direct loops and composed recurrences) does not count in this process's peak RSS.
  if (f.has("internal-check-only")) {
    const CheckResult c = reference_check(*model, *opt, x_check, perturb_grad, perturb_loss);
    std::cout << check_to_json(c).dump() << std::endl;
    return kExitOk;
  }
  // --device: the reference check above stays on the CPU (the CUDA kernels have their own parity suite,
  // tests/test_cuda_parity.cpp); the timed steps run on the device, sampling on the CPU (docs/cuda.md).
  const fw::Device device = select_device(f.choice("device", "cpu", {"cpu", "cuda", "auto"}), "pixelrnn bench");
  const CheckResult check = reference_check_in_child(args);
  if (!check.failure.empty())
    throw std::runtime_error("reference check failed: " + check.failure +
                             "; the fast kernels do not compute what the reference kernels compute, so no figure "
                             "is printed");

  model->to_device(device);
  const fw::Tensor x_dev = x.to_device(device);

  // 2. Training steps.
  std::vector<double> times, t_fwd, t_bwd, t_opt;
  auto step = [&](bool record) {
    const auto t0 = Clock::now();
    opt->zero_grad();
    const fw::Tensor loss = batch_loss(*model, x_dev);
    (void)loss.item();
    const auto t1 = Clock::now();
    loss.backward();
    const auto t2 = Clock::now();
    {
      const prof::PhaseScope phase(prof::Phase::Optimizer);
      opt->step();
    }
    const auto t3 = Clock::now();
    if (record) {
      t_fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
      t_bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
      t_opt.push_back(std::chrono::duration<double>(t3 - t2).count());
      times.push_back(std::chrono::duration<double>(t3 - t0).count());
    }
  };
  for (int i = 0; i < kWarmupSteps; ++i) step(false);
  if (do_profile) {
    prof::reset();
    prof::set_enabled(true);
  }
  const auto t_start = Clock::now();
  while (times.size() < size_t(kMinSteps) || (seconds_since(t_start) < budget && times.size() < size_t(kMaxSteps)))
    step(true);
  prof::set_enabled(false);
  const prof::Snapshot snap = prof::snapshot();
  const double step_s = median(times);

  // 3. Sampling.
  double naive_ips = NAN, fast_ips = NAN;
  if (do_sample) {
    model->to_device(fw::Device::CPU);
    const fw::Tensor canvas = fw::Tensor::zeros({kSampleImages, cfg.channels, cfg.height, cfg.width});
    SampleOptions naive;
    naive.naive = true;
    fw::Rng r1(1);
    auto t0 = Clock::now();
    (void)model->sample(canvas, fw::Tensor(), r1, naive);
    naive_ips = double(kSampleImages) / seconds_since(t0);
    fw::Rng r2(1);
    t0 = Clock::now();
    (void)model->sample(canvas, fw::Tensor(), r2, SampleOptions{});
    fast_ips = double(kSampleImages) / seconds_since(t0);
  }
  const double peak = rss_mb();

  Json j;
  j["model"] = cfg.model;
  j["channels"] = cfg.channels;
  j["height"] = cfg.height;
  j["width"] = cfg.width;
  j["levels"] = cfg.levels;
  j["hidden"] = cfg.hidden;
  j["layers"] = cfg.layers;
  j["out_hidden"] = cfg.out_hidden;
  j["batch"] = batch;
  j["threads"] = fw::num_threads();
  j["device"] = device_name(device);
  j["parameters"] = model->num_parameters();
  j["reference_check"] = {{"loss", check.loss},
                          {"loss_reference", check.loss_reference},
                          {"loss_rel_diff", check.loss_rel_diff},
                          {"grad_rel_diff", check.grad_rel_diff},
                          {"grad_worst_parameter", check.worst},
                          {"loss_tolerance", kLossTolerance},
                          {"grad_tolerance", kGradTolerance},
                          {"images", check_images},
                          {"seconds", check.seconds}};
  j["steps_timed"] = times.size();
  j["step_ms"] = 1e3 * step_s;
  j["forward_ms"] = 1e3 * median(t_fwd);
  j["backward_ms"] = 1e3 * median(t_bwd);
  j["optimizer_ms"] = 1e3 * median(t_opt);
  j["train_images_per_s"] = double(batch) / step_s;
  j["naive_sample_images_per_s"] = do_sample ? Json(naive_ips) : Json(nullptr);
  j["sample_images_per_s"] = do_sample ? Json(fast_ips) : Json(nullptr);
  j["peak_rss_mb"] = peak;
  j["rss_growth_mb"] = peak - rss_base;
  if (do_profile) {
    const double wall[prof::kPhases] = {sum(t_fwd), sum(t_bwd), sum(t_opt)};
    j["profile"] = profile_json(snap, int64_t(times.size()), wall, sum(times), sgemm_gflops());
  }

  if (json) {
    std::cout << j.dump() << std::endl;
    return kExitOk;
  }
  for (const auto& [k, v] : j.items()) {
    if (k == "profile" || k == "reference_check" || v.is_null()) continue;
    if (v.is_number_float()) std::printf("%s: %.4g\n", k.c_str(), v.get<double>());
    else std::printf("%s: %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
  std::printf("reference check (%lld images): loss %.9g vs %.9g (relative %.2g), largest gradient difference %.2g "
              "(%s), %.1f s\n",
              (long long)check_images, check.loss, check.loss_reference, check.loss_rel_diff, check.grad_rel_diff,
              check.worst.c_str(), check.seconds);
  if (do_profile) print_profile_text(j["profile"]);
  return kExitOk;
}

}  // namespace pixelrnn::tool
