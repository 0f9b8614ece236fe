// framework/ops/view.cpp: reshape, permute and slice as views over shared storage.
#include "framework/ops/view.h"

#include "framework/core/autograd.h"
#include "framework/ops/copy.h"
#include "framework/ops/spatial.h"

namespace fw {

Tensor reshape(const Tensor& x, const Shape& shape0) {
  Shape shape = shape0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape_str(shape0));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw ShapeError("reshape: negative size in " + shape_str(shape0));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known) throw ShapeError("reshape: cannot infer -1 in " + shape_str(shape0) +
                                                          " for " + x.str());
    shape[infer] = x.numel() / known;
  }
  if (shape_numel(shape) != x.numel())
    throw ShapeError("reshape: " + x.str() + " into " + shape_str(shape0) + ": element counts differ");
  Tensor c = x.contiguous();
  Tensor y = Tensor::view_of(c, shape, contiguous_strides(shape), c.offset());
  Shape xs = x.shape();
  return record(y, "reshape", {c}, [xs](const Tensor& g) { return std::vector<Tensor>{reshape(g, xs)}; });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  int64_t r = x.dim();
  if (static_cast<int64_t>(perm.size()) != r) throw ShapeError("permute: permutation size differs from " + x.str());
  std::vector<bool> seen(r, false);
  Shape s(r), st(r);
  for (int64_t i = 0; i < r; ++i) {
    int64_t p = perm[i];
    if (p < 0 || p >= r || seen[p]) throw ShapeError("permute: invalid permutation for " + x.str());
    seen[p] = true;
    s[i] = x.shape()[p];
    st[i] = x.strides()[p];
  }
  Tensor y = Tensor::view_of(x, s, st, x.offset());
  std::vector<int64_t> inv(r);
  for (int64_t i = 0; i < r; ++i) inv[perm[i]] = i;
  return record(y, "permute", {x}, [inv](const Tensor& g) { return std::vector<Tensor>{permute(g, inv)}; });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  int64_t r = x.dim();
  int64_t d = dim < 0 ? dim + r : dim;
  if (d < 0 || d >= r) throw ShapeError("slice: dim " + std::to_string(dim) + " out of range for " + x.str());
  int64_t n = x.shape()[d];
  if (start < 0 || end < start || end > n)
    throw ShapeError("slice: range [" + std::to_string(start) + ", " + std::to_string(end) + ") of dim " +
                     std::to_string(d) + " of " + x.str());
  Shape s = x.shape();
  s[d] = end - start;
  Tensor y = Tensor::view_of(x, s, x.strides(), x.offset() + start * x.strides()[d]);
  Shape xs = x.shape();
  DType dt = x.dtype();
  return record(y, "slice", {x}, [xs, d, start, dt](const Tensor& g) {
    // Scatter the gradient into zeros of the input's shape (one FW_K_COPY_BLOCK launch, any device).
    Tensor gx = Tensor::empty(xs, dt, g.device());  // gx: x's shape
    gx.fill_(0.0);
    copy_into_block(gx, g, d, start);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace fw
