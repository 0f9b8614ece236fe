// framework/backend/backend.h: the C++ side of the backend boundary (see backend_abi.h and
// framework/ops/families.h).
//
// Requires: a kernel's buffers live on the launching device; two buffer fields of one call either are the same
//           buffer (same pointer: e.g. add_into's y and a) or do not overlap.
// Ensures:  launch() runs the kernel on the device's backend when its supports(kernel, dtype, params) says yes.
//           Otherwise, for a non-CPU device, it copies each distinct buffer of the call to the host once, runs the
//           CPU kernel there, and copies back once each buffer the kernel's list entry says it writes (slow but
//           correct: whole training steps run this way on a backend with no kernels at all). It throws
//           fw::BackendError naming the kernel and the backend when no backend can run it or a kernel fails.
#pragma once
#include <stdexcept>
#include <string>

#include "framework/backend/backend_abi.h"
#include "framework/core/tensor.h"
#include "framework/ops/families.h"

namespace fw {

struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The table of the CPU reference backend (always present).
const fw_backend_v2* cpu_backend();
// The table for a device: the CPU's, or a loaded plugin's; nullptr when none is loaded.
const fw_backend_v2* backend_for(fw_device device);
// Loads a plugin shared library (dlopen + fw_backend_register_v2) and registers it for its device.
// Throws BackendError naming the path and the problem (missing file, missing symbol, a plugin built for another
// ABI version: both versions named).
void load_backend_plugin(const std::string& path);
// Registers a table directly (tests use tables that support little, to exercise the fallback).
void register_backend(const fw_backend_v2* table);
void unregister_backend(fw_device device);

// What the kernel list says about a kernel (framework/ops/families.h).
struct KernelInfo {
  const char* name;    // "conv2d_forward"
  size_t params_size;  // sizeof its parameter struct
  size_t num_buffers;  // its leading fw_buffer fields
  uint32_t writes;     // bit i: it writes buffer field i
};
const KernelInfo* kernel_info(int32_t kernel);  // nullptr for an unknown id
const char* kernel_name(int32_t kernel);        // "unknown" for an unknown id

// The kernel id of a parameter struct type (each kernel has its own struct): kernel_of<fw_gemm_params>::id.
template <class P> struct kernel_of;
#define FW_KERNEL_OF(ID, name, P, last, writes) \
  template <> struct kernel_of<P> { static constexpr fw_kernel_id id = FW_K_##ID; };
FW_KERNEL_LIST(FW_KERNEL_OF)
#undef FW_KERNEL_OF

// Runs kernel `id` with `params` (a pointer to its parameter struct) on `device`'s backend, as described above.
void launch_kernel(fw_device device, fw_kernel_id id, DType dtype, const void* params);
// The typed form every op uses: the kernel is the one that takes P.
template <class P> void launch(Device device, DType dtype, const P& params) {
  launch_kernel(static_cast<fw_device>(device), kernel_of<P>::id, dtype, &params);
}

// A tensor as a kernel buffer argument: its element 0 and the bytes a kernel may touch from there (undefined:
// absent). A non-contiguous view gives the rest of its storage (block copies address it through strides).
fw_buffer buffer_of(const Tensor& t);

// The CPU kernels, one per list entry, defined in their family's .cpp (int fw::cpu_fill(int32_t dtype,
// const fw_fill_params* p), ...). They return FW_OK, or FW_ERR_INVALID on arguments they cannot run.
#define FW_DECLARE_CPU_KERNEL(ID, name, P, last, writes) int cpu_##name(int32_t dtype, const P* params);
FW_KERNEL_LIST(FW_DECLARE_CPU_KERNEL)
#undef FW_DECLARE_CPU_KERNEL

}  // namespace fw
