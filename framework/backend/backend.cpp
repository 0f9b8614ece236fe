// framework/backend/backend.cpp: the backend registry, the CPU reference table built from the kernel list,
// the CPU fallback, and plugin loading.
#include "framework/backend/backend.h"
#include "framework/backend/host_memory.h"
#include "framework/core/profile.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace fw {
namespace {

#define FW_KERNEL_INFO(ID, name, P, last, writes) \
  {#name, sizeof(P), FW_NUM_BUFFERS(P, last), static_cast<uint32_t>(writes)},
const KernelInfo kKernels[FW_K_COUNT] = {FW_KERNEL_LIST(FW_KERNEL_INFO)};
#undef FW_KERNEL_INFO

int cpu_supports(int32_t id, int32_t dtype, const void* params) {
  return id >= 0 && id < FW_K_COUNT && (dtype == FW_F32 || dtype == FW_F64) && params != nullptr;
}
int cpu_run(int32_t id, int32_t dtype, const void* params) {
  if (!cpu_supports(id, dtype, params)) return FW_ERR_UNSUPPORTED;
  switch (id) {
#define FW_CPU_CASE(ID, name, P, last, writes) \
  case FW_K_##ID: return cpu_##name(dtype, static_cast<const P*>(params));
    FW_KERNEL_LIST(FW_CPU_CASE)
#undef FW_CPU_CASE
    default: return FW_ERR_UNSUPPORTED;
  }
}
// Tensor memory: the caching allocator of framework/backend/host_memory.h (64-byte aligned for vector loads, at
// least one cache line so that a zero-size tensor still has a pointer). The ABI's alloc returns null on failure.
void* cpu_alloc(size_t bytes) {
  try {
    return host_memory::allocate(bytes);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void cpu_free(void* p) { host_memory::release(p); }
int cpu_copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
  return FW_OK;
}
int cpu_sync() { return FW_OK; }

const fw_backend_v2 kCpu = {FW_BACKEND_ABI_VERSION, "cpu", FW_CPU, cpu_supports, cpu_run, cpu_alloc,
                            cpu_free, cpu_copy, cpu_copy, cpu_sync};

std::mutex g_mu;
const fw_backend_v2* g_plugins[2] = {nullptr, nullptr};

[[noreturn]] void fail(const std::string& what) { throw BackendError(what); }

// The CPU fallback: the kernel's parameters with each buffer replaced by a host copy. Buffers given twice (same
// pointer) share one host copy; each written buffer is copied back exactly once.
void run_on_host_copies(const fw_backend_v2* be, fw_kernel_id id, DType dtype, const void* params) {
  const KernelInfo& k = kKernels[id];
  std::vector<unsigned char> host_params(k.params_size);
  std::memcpy(host_params.data(), params, k.params_size);
  auto* dev_bufs = static_cast<const fw_buffer*>(params);                      // the leading buffer fields
  auto* host_bufs = reinterpret_cast<fw_buffer*>(host_params.data());          // the same fields, host side
  struct Copy {
    void* dev;
    size_t bytes;
    std::vector<unsigned char> host;
    bool written;
  };
  std::vector<Copy> copies;
  std::vector<int> copy_of(k.num_buffers, -1);
  for (size_t i = 0; i < k.num_buffers; ++i) {
    if (!dev_bufs[i].ptr) continue;
    int c = -1;
    for (size_t j = 0; j < copies.size(); ++j)
      if (copies[j].dev == dev_bufs[i].ptr) c = static_cast<int>(j);
    if (c < 0) {
      copies.push_back({dev_bufs[i].ptr, 0, {}, false});
      c = static_cast<int>(copies.size()) - 1;
    }
    copies[c].bytes = std::max(copies[c].bytes, dev_bufs[i].bytes);
    copies[c].written = copies[c].written || ((k.writes >> i) & 1u);
    copy_of[i] = c;
  }
  for (Copy& c : copies) {
    c.host.resize(c.bytes ? c.bytes : 1);
    if (be->copy_to_host(c.host.data(), c.dev, c.bytes) != FW_OK)
      fail(std::string("kernel ") + k.name + ": copy to the host failed on backend " + be->name);
  }
  for (size_t i = 0; i < k.num_buffers; ++i)
    if (copy_of[i] >= 0) host_bufs[i].ptr = copies[copy_of[i]].host.data();
  const int rc = cpu_run(id, static_cast<int32_t>(dtype), host_params.data());
  if (rc != FW_OK)
    fail(std::string("kernel ") + k.name + " failed in the CPU fallback for backend " + be->name + " (code " +
         std::to_string(rc) + ")");
  for (Copy& c : copies)
    if (c.written && be->copy_from_host(c.dev, c.host.data(), c.bytes) != FW_OK)
      fail(std::string("kernel ") + k.name + ": copy from the host failed on backend " + be->name);
}

}  // namespace

const fw_backend_v2* cpu_backend() { return &kCpu; }

const fw_backend_v2* backend_for(fw_device device) {
  if (device == FW_CPU) return &kCpu;
  std::lock_guard<std::mutex> lk(g_mu);
  return (device >= 0 && device < 2) ? g_plugins[device] : nullptr;
}

void register_backend(const fw_backend_v2* t) {
  if (!t) fail("register_backend: null table");
  const std::string name = t->name ? t->name : "?";
  if (t->abi_version != FW_BACKEND_ABI_VERSION)
    fail("register_backend: backend '" + name + "' was built for backend ABI version " +
         std::to_string(t->abi_version) + "; this framework has version " + std::to_string(FW_BACKEND_ABI_VERSION));
  if (t->device == FW_CPU) fail("register_backend: backend '" + name + "': the CPU backend is built in");
  if (t->device < 0 || t->device >= 2) fail("register_backend: backend '" + name + "': unknown device id");
  if (!t->supports || !t->run || !t->alloc || !t->free || !t->copy_to_host || !t->copy_from_host ||
      !t->synchronize)
    fail("register_backend: backend '" + name + "' leaves a function of its table null");
  std::lock_guard<std::mutex> lk(g_mu);
  g_plugins[t->device] = t;
}

void unregister_backend(fw_device device) {
  std::lock_guard<std::mutex> lk(g_mu);
  if (device > 0 && device < 2) g_plugins[device] = nullptr;
}

void load_backend_plugin(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) fail("load_backend_plugin: cannot open '" + path + "': " + dlerror());
  auto fn = reinterpret_cast<fw_backend_register_v2_fn>(dlsym(h, "fw_backend_register_v2"));
  if (!fn) {
    const bool v1 = dlsym(h, "fw_backend_register_v1") != nullptr;
    dlclose(h);
    if (v1)
      fail("load_backend_plugin: '" + path + "' was built for backend ABI version 1; this framework has version " +
           std::to_string(FW_BACKEND_ABI_VERSION) + " (rebuild the plugin against framework/backend/backend_abi.h)");
    fail("load_backend_plugin: '" + path + "' does not export fw_backend_register_v2");
  }
  const fw_backend_v2* t = fn();
  if (!t) fail("load_backend_plugin: '" + path + "' returned no backend (no device?)");
  register_backend(t);
}

const KernelInfo* kernel_info(int32_t id) { return id >= 0 && id < FW_K_COUNT ? &kKernels[id] : nullptr; }
const char* kernel_name(int32_t id) { return id >= 0 && id < FW_K_COUNT ? kKernels[id].name : "unknown"; }

void launch_kernel(fw_device device, fw_kernel_id id, DType dtype, const void* params) {
  const profile::KernelScope prof(id);  // times the launch while the profiler is on (framework/core/profile.h)
  const int32_t dt = static_cast<int32_t>(dtype);
  const fw_backend_v2* be = backend_for(device);
  if (be && be->supports(id, dt, params)) {
    const int rc = be->run(id, dt, params);
    if (rc == FW_OK) return;
    fail(std::string("kernel ") + kernel_name(id) + " failed on backend " + be->name + " (code " +
         std::to_string(rc) + (rc == FW_ERR_INVALID ? ": invalid arguments)" : ")"));
  }
  if (device == FW_CPU) fail(std::string("kernel ") + kernel_name(id) + ": the CPU backend cannot run it");
  if (!be) fail(std::string("kernel ") + kernel_name(id) + ": no backend loaded for device " + std::to_string(device));
  run_on_host_copies(be, id, dtype, params);
}

fw_buffer buffer_of(const Tensor& t) {
  if (!t.defined()) return {nullptr, 0};
  const size_t bytes = t.is_contiguous() ? static_cast<size_t>(t.numel()) * dtype_size(t.dtype())
                                         : t.storage_bytes_from_offset();
  return {t.raw_data(), bytes};
}

}  // namespace fw
