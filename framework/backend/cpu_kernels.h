// framework/backend/cpu_kernels.h: every op family's CPU kernel registration, in one list.
//
// Each framework/ops/<family>.cpp defines register_<family>_cpu_kernels(), which registers its kernels by id
// (register_cpu_kernel). The CPU backend calls them all once, on first use, so every kernel is present even in a
// program that links the framework statically and never calls the op itself (a plugin's CPU fallback may need
// any kernel). A new family adds its line here.
#pragma once

#define FW_CPU_KERNEL_FAMILIES(X) X(copy) X(elementwise) X(reduce) X(matmul) X(conv) X(spatial) X(loss)

namespace fw {
#define FW_DECLARE_REGISTER(family) void register_##family##_cpu_kernels();
FW_CPU_KERNEL_FAMILIES(FW_DECLARE_REGISTER)
#undef FW_DECLARE_REGISTER
// Runs every family's registration exactly once (thread-safe).
void ensure_cpu_kernels();
}  // namespace fw
