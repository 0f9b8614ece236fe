// tests/test_backend.cpp: the backend boundary (framework/backend/backend.h): loading a plugin with dlopen,
// dispatch to the plugin's kernels, the CPU fallback for kernels it does not support, and the errors.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"

using namespace fw;

namespace {
std::string plugin_path() {
  const char* p = std::getenv("FW_FAKE_PLUGIN");
  REQUIRE_MESSAGE(p != nullptr, "FW_FAKE_PLUGIN is not set (run through meson test)");
  return p;
}
const int* plugin_counts() {
  void* h = dlopen(plugin_path().c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(h != nullptr);
  auto fn = reinterpret_cast<const int* (*)()>(dlsym(h, "fake_backend_counts"));
  REQUIRE(static_cast<bool>(fn));
  return fn();
}
}  // namespace

TEST_CASE("a plugin's kernels run on its device; unsupported kernels fall back to the CPU reference") {
  load_backend_plugin(plugin_path());
  REQUIRE(backend_for(FW_CUDA) != nullptr);
  CHECK(std::string(backend_for(FW_CUDA)->name) == "fake");
  const int* counts = plugin_counts();
  const int fills0 = counts[0], to_host0 = counts[2], from_host0 = counts[3];

  Tensor a = Tensor::empty({2, 3}, DType::F32, Device::CUDA);
  a.fill_(1.5);  // FW_K_FILL: the plugin's own kernel
  CHECK(counts[0] == fills0 + 1);
  Tensor b = Tensor::empty({3}, DType::F32, Device::CUDA);
  b.fill_(2.0);
  Tensor y = mul(a, b);  // FW_K_BINARY: not supported by the plugin, so the CPU runs it on host copies
  CHECK(y.device() == Device::CUDA);
  CHECK(counts[2] > to_host0);
  CHECK(counts[3] > from_host0);
  // The fake keeps memory on the host, so the result can be read directly.
  const float* p = y.data<float>();
  for (int i = 0; i < 6; ++i) CHECK(p[i] == 3.0f);
  unregister_backend(FW_CUDA);
  CHECK(backend_for(FW_CUDA) == nullptr);
}

TEST_CASE("backend errors name the plugin, the symbol or the version") {
  try {
    load_backend_plugin("/nonexistent/libnothing.so");
    FAIL("no throw");
  } catch (const BackendError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/libnothing.so") != std::string::npos);
  }
  fw_backend_v1 bad = *cpu_backend();
  bad.abi_version = FW_BACKEND_ABI_VERSION + 1;
  bad.device = FW_CUDA;
  bad.name = "future";
  try {
    register_backend(&bad);
    FAIL("no throw");
  } catch (const BackendError& e) {
    std::string m = e.what();
    CHECK(m.find("future") != std::string::npos);
    CHECK(m.find("ABI version") != std::string::npos);
  }
  // No backend for the device: allocating there fails with a clear error instead of crashing.
  unregister_backend(FW_CUDA);
  CHECK_THROWS_AS(Tensor::empty({2}, DType::F32, Device::CUDA), BackendError);
}

TEST_CASE("every kernel id has a name and a CPU implementation") {
  for (int32_t id = 0; id < FW_K_COUNT; ++id) {
    INFO("kernel id " << id);
    CHECK(std::string(kernel_name(id)) != "unknown");
    CHECK(cpu_backend()->supports(id, FW_F32) == 1);
    CHECK(cpu_backend()->supports(id, FW_F64) == 1);
  }
  CHECK(cpu_backend()->supports(FW_K_COUNT, FW_F32) == 0);
}
