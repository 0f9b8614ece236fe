// tests/test_device.cpp: the pixelrnn program's --device flag (tools/pixelrnn/common.h, select_device) and the
// promise that the program never links CUDA (docs/cuda.md).
//
// Without a GPU the device path is exercised through the fake plugin (tests/fake_backend_plugin.cpp, passed as
// $PIXELRNN_CUDA_PLUGIN): it registers as the CUDA device with host memory of its own and supports no kernel, so
// every kernel falls back to the CPU kernels on copies; results must therefore be bit-identical to --device cpu,
// which checks that the model, the batches, the optimizer state and the checkpoints move across the boundary
// correctly. The real plugin (when built) must refuse cleanly on a machine without a GPU.
#include <dlfcn.h>
#include <stdio.h>

#include <nlohmann/json.hpp>

#include "framework/backend/backend_abi.h"
#include "tests/tool_harness.h"

using namespace tool_harness;

namespace {

std::string env_or_empty(const char* var) {
  const char* p = std::getenv(var);
  return p ? p : "";
}
std::string fake_plugin() {
  const std::string p = env_or_empty("FW_FAKE_PLUGIN");
  REQUIRE_MESSAGE(!p.empty(), "FW_FAKE_PLUGIN is not set (run through meson test)");
  return p;
}
std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}
// The first n comma-separated fields of a CSV row.
std::string first_fields(const std::string& row, int n) {
  size_t pos = 0;
  for (int i = 0; i < n && pos != std::string::npos; ++i) pos = row.find(',', pos == 0 && i == 0 ? 0 : pos + 1);
  return row.substr(0, pos);
}
std::map<std::string, std::string> with_plugin(const std::string& path) { return {{"PIXELRNN_CUDA_PLUGIN", path}}; }

}  // namespace

TEST_CASE("the pixelrnn program links no CUDA library") {
  const std::string out = shell_output("ldd '" + bin() + "' 2>&1");
  INFO(out);
  REQUIRE(contains(out, "libc.so"));  // ldd did list the program's libraries
  CHECK(!contains(out, "libcuda"));
  CHECK(!contains(out, "libcudart"));
  CHECK(!contains(out, "libcublas"));
}

TEST_CASE("--device cuda without a plugin is one clear error; auto falls back to the CPU and says so") {
  Fixture f;
  const std::string missing = f.t / "no-such-plugin.so";
  Result r = run(f.t, plus(tiny_train(f, f.t / "run1"), {"--steps", "1", "--device", "cuda"}), "", with_plugin(missing));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "--device cuda"));
  CHECK(contains(r.err, missing));
  r = run(f.t, plus(tiny_train(f, f.t / "run2"), {"--steps", "1", "--device", "auto", "--quiet"}), "",
          with_plugin(missing));
  CHECK(r.rc == 0);
  CHECK(contains(r.err, "--device auto: running on the CPU"));
  r = run(f.t, plus(tiny_train(f, f.t / "run3"), {"--steps", "1", "--device", "gpu"}));
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--device"));
}

TEST_CASE("the real CUDA plugin, when built, refuses cleanly without a GPU") {
  const std::string plugin = env_or_empty("PIXELRNN_CUDA_PLUGIN_BUILT");
  if (plugin.empty()) {
    MESSAGE("the CUDA plugin is not built in this configuration: nothing to check");
    return;
  }
  void* h = ::dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(h != nullptr, ::dlerror());
  auto reg = reinterpret_cast<fw_backend_register_v2_fn>(::dlsym(h, "fw_backend_register_v2"));
  REQUIRE((reg != nullptr));
  const fw_backend_v2* table = reg();
  if (table) {  // a GPU is present: the table must be the CUDA one (the parity suite tests its kernels)
    CHECK(table->abi_version == FW_BACKEND_ABI_VERSION);
    CHECK(std::string(table->name) == "cuda");
    CHECK(table->device == FW_CUDA);
    return;
  }
  Fixture f;
  Result r = run(f.t, plus(tiny_train(f, f.t / "run"), {"--steps", "1", "--device", "cuda"}), "", with_plugin(plugin));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "no usable CUDA GPU"));
}

TEST_CASE("training, eval and bench on a device give the CPU's results, and checkpoints are device-independent") {
  Fixture f;
  const auto env = with_plugin(fake_plugin());
  for (const std::string model : {"pixelcnn", "row_lstm", "diagonal_bilstm", "multiscale"}) {
    CAPTURE(model);
    const std::string cpu_dir = f.t / ("cpu-" + model), dev_dir = f.t / ("dev-" + model);
    Result r = run(f.t, plus(tiny_train(f, cpu_dir, model), {"--steps", "4", "--clip", "1", "--device", "cpu",
                                                              "--quiet"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    r = run(f.t, plus(tiny_train(f, dev_dir, model), {"--steps", "4", "--clip", "1", "--device", "cuda", "--quiet"}),
            "", env);
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    // The same weights and optimizer state, saved from the device.
    CHECK(same_tensors(load(cpu_dir + "/last.safetensors"), load(dev_dir + "/last.safetensors")));
    // step, epoch, loss, bits/dim, validation NLL and bits/dim: identical (the fake device runs the CPU kernels).
    const Strings a = csv_rows(cpu_dir + "/metrics.csv"), b = csv_rows(dev_dir + "/metrics.csv");
    REQUIRE(a.size() == b.size());
    REQUIRE(a.size() >= 2);
    for (size_t i = 1; i < a.size(); ++i) CHECK(first_fields(a[i], 6) == first_fields(b[i], 6));
    // The device-trained checkpoint evaluates to the same NLL on the CPU and on the device.
    const Strings ev = {"eval", "--checkpoint", dev_dir + "/last.safetensors", "--data", f.data, "--json",
                        "--threads", "2"};
    const Result on_cpu = run(f.t, plus(ev, {"--device", "cpu"}));
    const Result on_dev = run(f.t, plus(ev, {"--device", "auto"}), "", env);
    REQUIRE_MESSAGE(on_cpu.rc == 0, on_cpu.err);
    REQUIRE_MESSAGE(on_dev.rc == 0, on_dev.err);
    CHECK(contains(on_dev.err, "--device auto: running on cuda"));
    const auto jc = nlohmann::json::parse(on_cpu.out), jd = nlohmann::json::parse(on_dev.out);
    CHECK(jc["nll_nats"].get<double>() == jd["nll_nats"].get<double>());
    // Sampling accepts --device and runs on the CPU.
    const Result s = run(f.t, {"sample", "--checkpoint", dev_dir + "/last.safetensors", "-n", "2", "-o",
                               f.t / ("s-" + model + ".png"), "--device", "cuda", "--threads", "2"}, "", env);
    CHECK_MESSAGE(s.rc == 0, s.err);
    CHECK(contains(s.err, "sampling runs on the CPU"));
  }
  const Result b = run(f.t, {"bench", "--model", "pixelcnn", "--hidden", "2", "--layers", "1", "--height", "4",
                             "--width", "4", "--batch", "2", "--seconds", "0", "--threads", "1", "--json",
                             "--device", "cuda"}, "", env);
  REQUIRE_MESSAGE(b.rc == 0, b.err);
  const auto j = nlohmann::json::parse(b.out);
  CHECK(j["device"] == "cuda");
  CHECK(j["train_images_per_s"].get<double>() > 0);
}
