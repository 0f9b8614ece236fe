/* framework/ops/families.h: THE list. Every op family, and from it every kernel and every differentiable op.
 *
 * Each family's header (framework/ops/<family>.h; the optimizers' framework/optim/optimizer.h) declares, in a
 * plain-C section, its kernels' parameter structs and a list FW_<FAMILY>_KERNELS(X) with one entry per kernel:
 *     X(ID, name, params struct, last buffer field, write mask)
 * and, in its C++ section, its ops FW_<FAMILY>_OPS(X) with one entry per differentiable op:
 *     X(name, "family", "what it computes")
 * This file joins them. From FW_KERNEL_LIST come the kernel ids (fw_kernel_id, below), the kernel names, the CPU
 * backend's table (framework/backend/backend.cpp: every kernel must have its CPU function
 * fw::cpu_<name>(int32_t dtype, const params*) or the program does not link) and the CPU fallback's copies (the
 * buffers and the write mask). From FW_OP_TABLE come the checks of tests/test_ops.cpp: every op has a float64
 * gradient check (tests/grad_<family>.cpp) and a row in docs/ops.md. Adding an op: docs/adding-an-op.md.
 *
 * Plain C in C mode, so a backend plugin includes this file to get the kernel ids and parameter structs.
 * Kernel ids are positions in the list: append new families at the end (after residual); inserting one
 * elsewhere renumbers the ones after it and bumps FW_BACKEND_ABI_VERSION. */
#ifndef FW_OPS_FAMILIES_H
#define FW_OPS_FAMILIES_H
#include "framework/backend/backend_abi.h"
#include "framework/ops/conv.h"
#include "framework/ops/copy.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/gate.h"
#include "framework/ops/loss.h"
#include "framework/ops/matmul.h"
#include "framework/ops/reduce.h"
#include "framework/ops/residual.h"
#include "framework/ops/rnn.h"
#include "framework/ops/spatial.h"
#include "framework/ops/view.h"
#include "framework/optim/optimizer.h"

#define FW_KERNEL_LIST(X)                                                                                   \
  FW_COPY_KERNELS(X) FW_ELEMENTWISE_KERNELS(X) FW_REDUCE_KERNELS(X) FW_MATMUL_KERNELS(X) FW_CONV_KERNELS(X) \
  FW_SPATIAL_KERNELS(X) FW_VIEW_KERNELS(X) FW_LOSS_KERNELS(X) FW_OPTIM_KERNELS(X) FW_RNN_KERNELS(X) \
  FW_GATE_KERNELS(X) FW_RESIDUAL_KERNELS(X)

#ifdef __cplusplus
extern "C" {
#endif
typedef enum fw_kernel_id {
#define FW_KERNEL_ENUM(ID, name, params, last, writes) FW_K_##ID,
  FW_KERNEL_LIST(FW_KERNEL_ENUM)
#undef FW_KERNEL_ENUM
  FW_K_COUNT
} fw_kernel_id;
#ifdef __cplusplus
}

#define FW_OP_TABLE(X)                                                                                  \
  FW_ELEMENTWISE_OPS(X) FW_COPY_OPS(X) FW_REDUCE_OPS(X) FW_VIEW_OPS(X) FW_MATMUL_OPS(X) FW_CONV_OPS(X) \
  FW_SPATIAL_OPS(X) FW_LOSS_OPS(X) FW_RNN_OPS(X) FW_GATE_OPS(X) FW_RESIDUAL_OPS(X)
#endif
#endif
