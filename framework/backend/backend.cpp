// framework/backend/backend.cpp: the backend registry, the CPU reference table and plugin loading.
#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/profile.h"

#include <dlfcn.h>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace fw {
namespace {

CpuKernelFn& cpu_slot(int32_t id) {
  static CpuKernelFn table[FW_K_COUNT] = {};
  return table[id];
}

int cpu_supports(int32_t id, int32_t dtype) {
  ensure_cpu_kernels();
  if (id < 0 || id >= FW_K_COUNT) return 0;
  if (dtype != FW_F32 && dtype != FW_F64) return 0;
  return cpu_slot(id) != nullptr;
}
int cpu_run(int32_t id, const fw_kernel_args* a) {
  if (!cpu_supports(id, a->dtype)) return FW_ERR_UNSUPPORTED;
  return cpu_slot(id)(a);
}
void* cpu_alloc(size_t bytes) {
  // 64-byte alignment for vector loads; at least one cache line so a zero-size tensor still has a pointer.
  size_t n = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, n ? n : 64);
}
void cpu_free(void* p) { std::free(p); }
int cpu_copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return FW_OK;
}
int cpu_sync() { return FW_OK; }

const fw_backend_v1 kCpu = {FW_BACKEND_ABI_VERSION, "cpu", FW_CPU, cpu_supports, cpu_run, cpu_alloc,
                            cpu_free, cpu_copy, cpu_copy, cpu_sync};

std::mutex g_mu;
const fw_backend_v1* g_plugins[2] = {nullptr, nullptr};

}  // namespace

void ensure_cpu_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
#define FW_CALL_REGISTER(family) register_##family##_cpu_kernels();
    FW_CPU_KERNEL_FAMILIES(FW_CALL_REGISTER)
#undef FW_CALL_REGISTER
  });
}

bool register_cpu_kernel(fw_kernel_id id, CpuKernelFn fn) {
  cpu_slot(id) = fn;
  return true;
}

const fw_backend_v1* cpu_backend() { return &kCpu; }

const fw_backend_v1* backend_for(fw_device device) {
  if (device == FW_CPU) return &kCpu;
  std::lock_guard<std::mutex> lk(g_mu);
  return (device >= 0 && device < 2) ? g_plugins[device] : nullptr;
}

void register_backend(const fw_backend_v1* t) {
  if (!t) throw BackendError("register_backend: null table");
  if (t->abi_version != FW_BACKEND_ABI_VERSION)
    throw BackendError(std::string("register_backend: backend '") + (t->name ? t->name : "?") +
                       "' has ABI version " + std::to_string(t->abi_version) + ", expected " +
                       std::to_string(FW_BACKEND_ABI_VERSION));
  if (t->device == FW_CPU) throw BackendError("register_backend: the CPU backend is built in");
  if (t->device < 0 || t->device >= 2) throw BackendError("register_backend: unknown device id");
  std::lock_guard<std::mutex> lk(g_mu);
  g_plugins[t->device] = t;
}

void unregister_backend(fw_device device) {
  std::lock_guard<std::mutex> lk(g_mu);
  if (device > 0 && device < 2) g_plugins[device] = nullptr;
}

void load_backend_plugin(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) throw BackendError("load_backend_plugin: cannot open '" + path + "': " + dlerror());
  auto fn = reinterpret_cast<fw_backend_register_v1_fn>(dlsym(h, "fw_backend_register_v1"));
  if (!fn) {
    dlclose(h);
    throw BackendError("load_backend_plugin: '" + path + "' does not export fw_backend_register_v1");
  }
  const fw_backend_v1* t = fn();
  if (!t) throw BackendError("load_backend_plugin: '" + path + "' returned no backend (no device?)");
  register_backend(t);
}

const char* kernel_name(int32_t id) {
  static const char* names[FW_K_COUNT] = {"fill",   "copy_strided",    "unary",
                                          "unary_backward", "binary", "gemm",
                                          "conv2d_forward", "conv2d_backward_data",
                                          "conv2d_backward_weight", "sum_dim",
                                          "copy_block", "softmax", "bce_logits"};
  return (id >= 0 && id < FW_K_COUNT && names[id]) ? names[id] : "unknown";
}

void launch(fw_device device, fw_kernel_id id, const fw_kernel_args& args) {
  const profile::KernelScope prof(id);  // times the launch while the profiler is on (framework/core/profile.h)
  const fw_backend_v1* be = backend_for(device);
  if (be && be->supports(id, args.dtype)) {
    int rc = be->run(id, &args);
    if (rc == FW_OK) return;
    throw BackendError(std::string("kernel ") + kernel_name(id) + " failed on backend " + be->name +
                       " (code " + std::to_string(rc) + ")");
  }
  if (device == FW_CPU) throw BackendError(std::string("kernel ") + kernel_name(id) + " has no CPU implementation");
  if (!be) throw BackendError(std::string("kernel ") + kernel_name(id) + ": no backend loaded for the device");
  // Fallback: run the CPU reference on host copies of every buffer, then copy them all back.
  fw_kernel_args host = args;
  std::vector<std::vector<unsigned char>> tmp(FW_KERNEL_MAX_BUFFERS);
  for (int k = 0; k < FW_KERNEL_MAX_BUFFERS; ++k) {
    if (!args.b[k]) continue;
    tmp[k].resize(args.bytes[k]);
    be->copy_to_host(tmp[k].data(), args.b[k], args.bytes[k]);
    host.b[k] = tmp[k].data();
  }
  int rc = cpu_run(id, &host);
  if (rc != FW_OK) throw BackendError(std::string("kernel ") + kernel_name(id) + " failed in CPU fallback");
  for (int k = 0; k < FW_KERNEL_MAX_BUFFERS; ++k)
    if (args.b[k]) be->copy_from_host(args.b[k], tmp[k].data(), args.bytes[k]);
}

}  // namespace fw
