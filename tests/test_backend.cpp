// tests/test_backend.cpp: the backend boundary (framework/backend/backend.h, ABI v2): plugin loading and its
// errors, the kernel list, the CPU fallback (each written buffer copied back once, aliased buffers shared), and
// whole training steps of every model on a fake device (tests/fake_backend_plugin.cpp) with every kernel on the
// plugin, with none (everything falls back), and with each kernel alone: bit-identical to the CPU every time.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/loss.h"
#include "framework/ops/matmul.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"

using namespace fw;

namespace {
std::string env_path(const char* var) {
  const char* p = std::getenv(var);
  REQUIRE_MESSAGE(p != nullptr, var << " is not set (run through meson test)");
  return p;
}
template <class F> F plugin_fn(const char* name) {
  void* h = dlopen(env_path("FW_FAKE_PLUGIN").c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(h != nullptr);
  auto fn = reinterpret_cast<F>(dlsym(h, name));
  REQUIRE(static_cast<bool>(fn));
  return fn;
}
enum FakeMode { kAll = 0, kNone = 1, kOnly = 2 };
// Loads the fake plugin (once) and sets what it supports.
void use_fake(FakeMode mode, int only = -1) {
  if (!backend_for(FW_CUDA)) load_backend_plugin(env_path("FW_FAKE_PLUGIN"));
  plugin_fn<void (*)(int, int, const fw_backend_v2*)>("fake_backend_configure")(mode, only, cpu_backend());
}
const long* fake_counts() { return plugin_fn<const long* (*)()>("fake_backend_counts")(); }  // run, supports, to, from
const long* fake_runs() { return plugin_fn<const long* (*)()>("fake_backend_runs")(); }

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}
}  // namespace

TEST_CASE("the kernel list: ids, names, buffers and write masks") {
  for (int32_t id = 0; id < FW_K_COUNT; ++id) {
    const KernelInfo* k = kernel_info(id);
    REQUIRE(k != nullptr);
    INFO("kernel " << k->name);
    CHECK(std::string(kernel_name(id)) == k->name);
    CHECK(k->num_buffers >= 1);
    CHECK(k->params_size >= k->num_buffers * sizeof(fw_buffer));
    CHECK(k->writes != 0u);                               // every kernel writes something
    CHECK((k->writes >> k->num_buffers) == 0u);           // and only buffer fields
    CHECK(cpu_backend()->supports(id, FW_F32, k) == 1);   // (any non-null params pointer will do for the CPU)
    CHECK(cpu_backend()->supports(id, FW_F64, k) == 1);
  }
  CHECK(kernel_info(FW_K_COUNT) == nullptr);
  CHECK(std::string(kernel_name(-1)) == "unknown");
  CHECK(kernel_of<fw_gemm_params>::id == FW_K_GEMM);
  CHECK(kernel_info(FW_K_CONV2D_BACKWARD_WEIGHT)->writes ==
        (FW_WRITES(fw_conv2d_backward_weight_params, dw) | FW_WRITES(fw_conv2d_backward_weight_params, dbias)));
}

TEST_CASE("backend errors name the plugin, the symbol or both ABI versions") {
  try {
    load_backend_plugin("/nonexistent/libnothing.so");
    FAIL("no throw");
  } catch (const BackendError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/libnothing.so") != std::string::npos);
  }
  try {  // a plugin built for ABI v1 exports fw_backend_register_v1 only
    load_backend_plugin(env_path("FW_V1_PLUGIN"));
    FAIL("no throw");
  } catch (const BackendError& e) {
    const std::string m = e.what();
    CHECK(m.find("version 1") != std::string::npos);
    CHECK(m.find("version " + std::to_string(FW_BACKEND_ABI_VERSION)) != std::string::npos);
  }
  fw_backend_v2 bad = *cpu_backend();
  bad.abi_version = FW_BACKEND_ABI_VERSION + 1;
  bad.device = FW_CUDA;
  bad.name = "future";
  try {
    register_backend(&bad);
    FAIL("no throw");
  } catch (const BackendError& e) {
    const std::string m = e.what();
    CHECK(m.find("future") != std::string::npos);
    CHECK(m.find("version " + std::to_string(FW_BACKEND_ABI_VERSION + 1)) != std::string::npos);
    CHECK(m.find("version " + std::to_string(FW_BACKEND_ABI_VERSION)) != std::string::npos);
  }
  // No backend for the device: allocating there fails with a clear error instead of crashing.
  unregister_backend(FW_CUDA);
  CHECK_THROWS_AS(Tensor::empty({2}, DType::F32, Device::CUDA), BackendError);
}

TEST_CASE("kernels run on the plugin when it supports them, else on host copies") {
  use_fake(kOnly, FW_K_FILL);
  const long runs0 = fake_counts()[0], to0 = fake_counts()[2];
  Tensor a = Tensor::full({2, 3}, 1.5, DType::F32, Device::CUDA);  // fill: the plugin's
  CHECK(fake_counts()[0] == runs0 + 1);
  CHECK(fake_counts()[2] == to0);
  Tensor b = Tensor::full({3}, 2.0, DType::F32, Device::CUDA);
  Tensor y = mul(a, b);  // binary: not supported, so the CPU runs it on host copies
  CHECK(y.device() == Device::CUDA);
  CHECK(fake_counts()[2] > to0);
  for (double v : y.to_vector()) CHECK(v == 3.0);
}

TEST_CASE("the fallback copies back each written buffer once, and shares aliased buffers") {
  use_fake(kNone);
  // add_into passes the destination as both y and a: the old fallback copied the stale `a` back over the result.
  Tensor acc = Tensor::full({4}, 1.0, DType::F32, Device::CUDA);
  Tensor g = Tensor::from_vector({4}, std::vector<float>{1, 2, 3, 4}).to_device(Device::CUDA);
  const long to0 = fake_counts()[2], from0 = fake_counts()[3];
  add_into(acc, g);
  CHECK(fake_counts()[2] - to0 == 2);    // acc (once, though given twice) and g
  CHECK(fake_counts()[3] - from0 == 1);  // acc only
  CHECK(acc.to_vector() == std::vector<double>{2, 3, 4, 5});
  // A parameter used three times accumulates all three gradients on the device.
  Tensor w = Tensor::full({3}, 2.0, DType::F32, Device::CUDA);
  w.requires_grad_();
  Tensor s = sum(mul(add(w, w), w));  // d/dw (2 w^2) = 4 w = 8
  s.backward();
  CHECK(w.grad().device() == Device::CUDA);
  CHECK(w.grad().to_vector() == std::vector<double>{8, 8, 8});
}

namespace {

struct StepResult {
  std::vector<Tensor> values;  // loss, then every parameter and its gradient after one optimizer step
};

pixelrnn::ModelConfig small_config(const std::string& model, int64_t channels, int64_t levels) {
  pixelrnn::ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = 4;
  c.layers = 1;
  c.hidden = channels == 3 ? 3 : 2;
  c.out_hidden = channels == 3 ? 6 : 4;
  if (model == "multiscale") c.small = 2;
  return c;
}

// One training step (forward, backward, clip, optimizer step) of a fresh model on `device`, from fixed seeds.
StepResult train_step(const pixelrnn::ModelConfig& cfg, Device device, const std::string& optimizer) {
  Rng rng(7);
  auto model = pixelrnn::make_model(cfg, rng);
  model->to_device(device);
  std::vector<float> px(static_cast<size_t>(2 * cfg.channels * cfg.height * cfg.width));
  for (auto& v : px) v = static_cast<float>(rng.below(static_cast<uint64_t>(cfg.levels)));
  Tensor x = Tensor::from_vector({2, cfg.channels, cfg.height, cfg.width}, px).to_device(device);
  optim::OptimizerOptions oo;
  oo.name = optimizer;
  auto opt = optim::make_optimizer(model->named_parameters(), oo);
  Tensor loss = mul_scalar(sum(model->nll(x)), 0.5);
  loss.backward();
  optim::clip_grad_norm(model->parameters(), 0.5);
  StepResult r;
  r.values.push_back(loss.detach());
  for (auto& [name, p] : model->named_parameters()) r.values.push_back(p.grad());
  opt->step();
  for (auto& [name, p] : model->named_parameters()) r.values.push_back(p.detach().clone());
  // Ops the models do not use in a training step: GEMM and log_softmax, forward and backward.
  Tensor a = Tensor::from_vector({2, 3}, std::vector<float>{1, -2, 3, 0.5f, 4, -1}).to_device(device);
  Tensor b = Tensor::from_vector({3, 2}, std::vector<float>{0.5f, 1, -1, 2, 0.25f, -3}).to_device(device);
  a.requires_grad_();
  Tensor y = log_softmax(matmul(a, b), 1);  // y: (2, 2)
  sum(mul(y, y)).backward();
  r.values.push_back(y.detach());
  r.values.push_back(a.grad());
  return r;
}

void check_same(const StepResult& cpu, const StepResult& dev, const std::string& what) {
  REQUIRE(cpu.values.size() == dev.values.size());
  for (size_t i = 0; i < cpu.values.size(); ++i) {
    INFO(what << ": value " << i << " of " << cpu.values.size() << " (0: loss, then grads, then parameters)");
    CHECK(same_bits(cpu.values[i], dev.values[i]));
  }
}

struct Case {
  std::string model;
  int64_t channels, levels;
  std::string optimizer;
};
const std::vector<Case> kCases = {
    {"pixelcnn", 1, 2, "rmsprop"},        {"pixelcnn", 1, 256, "adam"},         {"pixelcnn", 3, 256, "sgd"},
    {"row_lstm", 1, 2, "adam"},           {"row_lstm", 1, 256, "sgd"},          {"row_lstm", 3, 256, "rmsprop"},
    {"diagonal_bilstm", 1, 2, "sgd"},     {"diagonal_bilstm", 1, 256, "rmsprop"}, {"diagonal_bilstm", 3, 256, "adam"},
    {"multiscale", 1, 2, "rmsprop"},      {"multiscale", 1, 256, "adam"},       {"multiscale", 3, 256, "sgd"},
    {"gated_pixelcnn", 1, 2, "adam"},     {"gated_pixelcnn", 3, 256, "rmsprop"},
};

}  // namespace

TEST_CASE("whole training steps on the fake device are bit-identical to the CPU's") {
  for (const Case& c : kCases) {
    const std::string what = c.model + " channels " + std::to_string(c.channels) + " levels " +
                             std::to_string(c.levels) + " " + c.optimizer;
    const auto cfg = small_config(c.model, c.channels, c.levels);
    const StepResult cpu = train_step(cfg, Device::CPU, c.optimizer);
    use_fake(kAll);
    const long run0 = fake_counts()[0], to0 = fake_counts()[2];
    check_same(cpu, train_step(cfg, Device::CUDA, c.optimizer), what + ", every kernel on the plugin");
    CHECK(fake_counts()[0] > run0);
    use_fake(kNone);
    const long run1 = fake_counts()[0];
    check_same(cpu, train_step(cfg, Device::CUDA, c.optimizer), what + ", every kernel falling back");
    CHECK(fake_counts()[0] == run1);  // nothing ran on the plugin
    CHECK(fake_counts()[2] > to0);
  }
}

TEST_CASE("each kernel alone on the plugin (the rest falling back) gives the CPU's bits") {
  // The cases together use every kernel; each kernel must be run by the plugin in at least one of them.
  std::vector<StepResult> cpu;
  for (const Case& c : kCases) cpu.push_back(train_step(small_config(c.model, c.channels, c.levels), Device::CPU,
                                                        c.optimizer));
  for (int32_t id = 0; id < FW_K_COUNT; ++id) {
    use_fake(kOnly, id);
    const long runs0 = fake_runs()[id];
    for (size_t i = 0; i < kCases.size(); ++i) {
      const Case& c = kCases[i];
      check_same(cpu[i], train_step(small_config(c.model, c.channels, c.levels), Device::CUDA, c.optimizer),
                 std::string("kernel ") + kernel_name(id) + " alone, " + c.model);
    }
    INFO("kernel " << kernel_name(id) << " was never run by the plugin: no case exercises it");
    CHECK(fake_runs()[id] > runs0);
  }
}
