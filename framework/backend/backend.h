// framework/backend/backend.h: the C++ side of the backend boundary (see backend_abi.h).
//
// Requires: kernels are launched with buffers that live on the launching device.
// Ensures:  launch() runs the kernel on the device's backend when it supports it; otherwise, for a non-CPU
//           device, copies every buffer to the host, runs the CPU reference, and copies them back (slow but
//           correct); throws fw::BackendError naming the kernel when no backend can run it.
#pragma once
#include <string>
#include <stdexcept>
#include "framework/backend/backend_abi.h"

namespace fw {

struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The table of the CPU reference backend (always present).
const fw_backend_v1* cpu_backend();
// The table for a device: the CPU's, or a loaded plugin's; nullptr when none is loaded.
const fw_backend_v1* backend_for(fw_device device);
// Loads a plugin shared library (dlopen + fw_backend_register_v1) and registers it for its device.
// Throws BackendError naming the path and the problem (missing file, missing symbol, ABI mismatch).
void load_backend_plugin(const std::string& path);
// Registers a table directly (used by tests to check the fallback path with a table that supports little).
void register_backend(const fw_backend_v1* table);
void unregister_backend(fw_device device);

const char* kernel_name(int32_t kernel_id);
void launch(fw_device device, fw_kernel_id id, const fw_kernel_args& args);

// CPU kernel registration: each op family's file registers its CPU kernels at static-init time.
using CpuKernelFn = int (*)(const fw_kernel_args*);
bool register_cpu_kernel(fw_kernel_id id, CpuKernelFn fn);

}  // namespace fw
