// framework/ops/copy.h: fill, the strided block copy every data-movement op runs on, contiguous clone (with
// gradient), dtype conversion and device transfer.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

/* fill: y[i] = value for i < n.  y: (n,) */
typedef struct fw_fill_params {
  fw_buffer y;
  int64_t n;
  double value;
} fw_fill_params;

/* copy_block: y[y_offset + sum_d idx[d] y_strides[d]] = x[x_offset + sum_d idx[d] x_strides[d]] for every idx in
 * shape (ndim <= FW_MAX_DIMS; strides in elements, may be negative; x's may be 0 to broadcast). y and x point at
 * their bases; elements of y outside the block are untouched. Distinct idx must address distinct y elements.
 * A contiguous copy of a strided view is the block with y's contiguous strides; concat, split, shift, skew,
 * flip and upsampling are other strides (framework/ops/spatial.cpp). */
typedef struct fw_copy_block_params {
  fw_buffer y, x;
  int64_t ndim;
  int64_t shape[FW_MAX_DIMS];
  int64_t y_strides[FW_MAX_DIMS];
  int64_t x_strides[FW_MAX_DIMS];
  int64_t y_offset, x_offset;
} fw_copy_block_params;

#define FW_COPY_KERNELS(X)                                                          \
  X(FILL, fill, fw_fill_params, y, FW_WRITES(fw_fill_params, y))                    \
  X(COPY_BLOCK, copy_block, fw_copy_block_params, x, FW_WRITES(fw_copy_block_params, y))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_COPY_OPS(X)                     \
  X(copy, "copy", "contiguous copy")       \
  X(convert, "copy", "dtype conversion")

namespace fw {
// y = x laid out contiguously. Gradient: dy passes through.
Tensor copy_op(const Tensor& x);
// y = x converted to dtype. Gradient: dy converted back. Runs on the CPU (dtype conversion is for gradient
// checks and data loading, never inside a device step).
Tensor convert_op(const Tensor& x, DType dtype);
// dst[...] = src[...] for tensors of the same shape, dtype and device, any strides in src; dst contiguous. No
// graph.
void copy_into(Tensor& dst, const Tensor& src);
// The block copy (fw_copy_block_params) with bounds checked against y and x (both contiguous bases); throws
// ShapeError naming `op` when the block reaches outside either. No graph.
void copy_block(const Tensor& y, const Tensor& x, const Shape& shape, const Shape& y_strides, int64_t y_offset,
                const Shape& x_strides, int64_t x_offset, const char* op);
}  // namespace fw
#endif
