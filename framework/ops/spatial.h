// framework/ops/spatial.h: moving data around: concat/split, shift with zero fill, skew/unskew, flip,
// nearest-neighbour upsampling. All are differentiable; dims may be negative (counted from the end). Every one
// runs on the copy_block kernel (framework/ops/copy.h), so the family has no kernels of its own.
#pragma once
#include "framework/backend/backend_abi.h"

#define FW_SPATIAL_KERNELS(X)

#ifdef __cplusplus
#include <vector>

#include "framework/core/tensor.h"

#define FW_SPATIAL_OPS(X)                                                          \
  X(concat, "spatial", "join along a dim")                                         \
  X(split, "spatial", "pieces along a dim")                                        \
  X(shift, "spatial", "shift along a dim with zero fill")                          \
  X(skew, "spatial", "row r moved right by r: (N,C,H,W) -> (N,C,H,W+H-1)")         \
  X(unskew, "spatial", "inverse of skew")                                          \
  X(flip, "spatial", "reverse along a dim")                                        \
  X(upsample_nearest, "spatial", "nearest-neighbour upsampling by an integer factor")

namespace fw {

// Joins tensors along dim; all other dims must match.
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
// Splits along dim into pieces of the given sizes (they must add up to x.size(dim)).
std::vector<Tensor> split(const Tensor& x, int64_t dim, const std::vector<int64_t>& sizes);
// y[..., i, ...] = x[..., i - amount, ...] along dim, zero where i - amount is outside; same shape as x.
// amount > 0 moves content towards higher indices (down for rows, right for columns).
Tensor shift(const Tensor& x, int64_t dim, int64_t amount);
// x: (N, C, H, W) -> y: (N, C, H, W + H - 1), y[n,c,r,r+j] = x[n,c,r,j], zeros elsewhere (row r moved right by r).
Tensor skew(const Tensor& x);
// The inverse of skew: x: (N, C, H, W + H - 1) -> y: (N, C, H, W), y[n,c,r,j] = x[n,c,r,r+j].
Tensor unskew(const Tensor& x, int64_t width);
// Reverses the order of elements along dim.
Tensor flip(const Tensor& x, int64_t dim);
// x: (N, C, H, W) -> y: (N, C, H*f, W*f), y[n,c,i,j] = x[n,c,i/f,j/f].
Tensor upsample_nearest(const Tensor& x, int64_t factor);

// Low level, no graph: writes src into dst[..., start : start + src.size(dim), ...] along dim. dst must be
// contiguous and agree with src (dtype, device, every other dim). Used by concat and by the backward of split
// and slice.
void copy_into_block(Tensor& dst, const Tensor& src, int64_t dim, int64_t start);

}  // namespace fw
#endif
