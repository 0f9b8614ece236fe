/* framework/backend/backend_abi.h: the backend boundary, a small versioned C ABI (version 3).
 *
 * A backend is a table of function pointers (fw_backend_v2). Kernels are called by id with a pointer to that
 * kernel's own parameter struct: plain C, one named field per argument (fw_conv2d_forward_params has N, Ci, H,
 * W, ..., and the buffers y, x, w, bias, mask). Every parameter struct starts with its buffers (fw_buffer: a
 * device pointer and its size in bytes), then its sizes and scalars. The kernel list (framework/backend/
 * kernels.h, built from each op family's header) gives each kernel its id, name, parameter struct, last buffer
 * field and the buffers it writes; the kernel enum, the names, the CPU table and the fallback all come from it.
 *
 * Kernels: framework/backend/kernels.h lists them; each family's header (framework/ops/<family>.h,
 * framework/optim/optimizer.h) defines their parameter structs in a plain-C section that a plugin includes.
 * The CPU backend (framework/backend/backend.cpp, kernels in framework/ops/<family>.cpp) is the reference.
 * A plugin (for example a CUDA backend) is a shared library exporting `fw_backend_register_v2`, loaded with
 * dlopen by framework/backend/backend.h. Its `supports` sees the kernel's parameters (a backend may take a GEMM
 * but not a float64 one, a unary kernel but not every fw_unary_op); for what it declines, the framework runs
 * the CPU kernel on host copies (docs/writing-a-backend.md states the rule).
 *
 * Versioning: a change that alters fw_backend_v2, fw_buffer, an existing parameter struct or an existing kernel
 * id bumps FW_BACKEND_ABI_VERSION. New kernels are appended to the end of the list without a bump. A plugin
 * built for version 1 (which exports fw_backend_register_v1) is refused with an error naming both versions; so
 * is a table whose abi_version differs. History: 2 = the typed parameter structs and this table (fw_backend_v2,
 * whose layout is unchanged since); 3 = fw_conv2d_geometry.input_relu, the x buffer of
 * fw_conv2d_backward_data_params (fw::relu_conv2d), and conv2d_backward_data writing dx instead of adding. */
#ifndef FW_BACKEND_ABI_H
#define FW_BACKEND_ABI_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FW_BACKEND_ABI_VERSION 3u

typedef enum fw_dtype { FW_F32 = 0, FW_F64 = 1 } fw_dtype;
typedef enum fw_device { FW_CPU = 0, FW_CUDA = 1 } fw_device;

/* A buffer argument: a pointer to device memory (the element the kernel calls index 0) and the number of bytes
 * the kernel may touch from there, so the framework can copy it for a CPU fallback. ptr == NULL: absent. */
typedef struct fw_buffer {
  void* ptr;
  size_t bytes;
} fw_buffer;

/* Bit of a buffer field in a kernel's write mask: FW_WRITES(fw_fill_params, y). */
#define FW_WRITES(params, field) (1u << (offsetof(params, field) / sizeof(fw_buffer)))
/* Number of leading buffer fields, from the name of the last one. */
#define FW_NUM_BUFFERS(params, last) (offsetof(params, last) / sizeof(fw_buffer) + 1)
#define FW_MAX_DIMS 8

/* Return codes of run(). */
#define FW_OK 0
#define FW_ERR_UNSUPPORTED 1
#define FW_ERR_INVALID 2

typedef struct fw_backend_v2 {
  uint32_t abi_version; /* must equal FW_BACKEND_ABI_VERSION */
  const char* name;     /* "cpu", "cuda", ... */
  int32_t device;       /* fw_device */
  /* 1 if run(kernel, dtype, params) would succeed for these parameters, else 0. Must not write anything. */
  int (*supports)(int32_t kernel, int32_t dtype, const void* params);
  /* Runs the kernel: params points to the kernel's parameter struct (framework/backend/kernels.h). */
  int (*run)(int32_t kernel, int32_t dtype, const void* params);
  void* (*alloc)(size_t bytes);
  void (*free)(void* ptr);
  int (*copy_to_host)(void* host_dst, const void* dev_src, size_t bytes);
  int (*copy_from_host)(void* dev_dst, const void* host_src, size_t bytes);
  int (*synchronize)(void);
} fw_backend_v2;

/* A plugin exports this symbol; it returns its table (owned by the plugin) or NULL (no device). */
typedef const fw_backend_v2* (*fw_backend_register_v2_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
