// framework/ops/spatial.cpp: data movement (concat, split, shift, skew/unskew, flip, nearest upsampling).
//
// Every op here is one call (or one per piece) of a single general kernel, FW_K_COPY_BLOCK: "copy a strided
// block of x into a strided block of y". Each op only differs in the shape and strides it hands the kernel:
//   concat / split backward / shift / slice backward: (outer, len, inner) blocks at an offset along a dim;
//   skew:    destination row stride W2 + 1 instead of W2, so row r lands r columns further right;
//   unskew:  the same strides on the source side;
//   flip:    a negative source stride along the flipped dim;
//   upsample_nearest: (N, C, H, f, W, f) destination, source strides 0 on the two f dims (broadcast read).
// The gradient of each op is another op of the family (the adjoint map), so a backend only needs one kernel.
#include "framework/ops/spatial.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "framework/backend/backend.h"
#include "framework/backend/cpu_kernels.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/reduce.h"
#include "framework/ops/view.h"

namespace fw {
namespace {

// ---- copy_block: y[yoff + sum idx*ys] = x[xoff + sum idx*xs] over idx in shape (odometer over outer dims).
// Size-1 dims are dropped and dims that both sides step over as one block are merged, so a copy of whole
// rows becomes one long row; rows of unit stride on both sides are memcpy'd, a source stride 0 is a fill.
// Rows are cut into fixed chunks run in parallel; each element is written once, so chunking changes nothing.
template <class T>
void copy_block_forward(T* y, const T* x, int nd, const int64_t* shape, const int64_t* ys, const int64_t* xs,
                        int64_t yoff, int64_t xoff) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  int64_t sh[8], sy[8], sx[8];
  int m = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (m > 0 && sy[m - 1] == ys[d] * shape[d] && sx[m - 1] == xs[d] * shape[d]) {
      sh[m - 1] *= shape[d];
      sy[m - 1] = ys[d];
      sx[m - 1] = xs[d];
      continue;
    }
    sh[m] = shape[d];
    sy[m] = ys[d];
    sx[m] = xs[d];
    ++m;
  }
  if (m == 0) {
    y[yoff] = x[xoff];
    return;
  }
  const int64_t inner = sh[m - 1], iy = sy[m - 1], ix = sx[m - 1], rows = n / inner;
  bool y_overlaps = false;  // a destination stride 0 writes one element from several rows: keep them serial
  for (int d = 0; d < m; ++d) y_overlaps = y_overlaps || sy[d] == 0;
  const int64_t chunk = y_overlaps ? rows : std::max<int64_t>(1, kElementwiseChunk / inner);
  parallel_chunks(rows, chunk, [&](int64_t r0, int64_t r1) {
    int64_t idx[8] = {0};  // the row r0 as an index over the outer dims
    for (int64_t d = m - 2, r = r0; d >= 0; --d) {
      idx[d] = r % sh[d];
      r /= sh[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oy = yoff, ox = xoff;
      for (int d = 0; d < m - 1; ++d) {
        oy += idx[d] * sy[d];
        ox += idx[d] * sx[d];
      }
      T* yr = y + oy;
      const T* xr = x + ox;
      if (iy == 1 && ix == 1) std::memmove(yr, xr, static_cast<size_t>(inner) * sizeof(T));
      else if (iy == 1 && ix == 0) std::fill(yr, yr + inner, xr[0]);
      else for (int64_t j = 0; j < inner; ++j) yr[j * iy] = xr[j * ix];
      for (int d = m - 2; d >= 0; --d) {
        if (++idx[d] < sh[d]) break;
        idx[d] = 0;
      }
    }
  });
}
int k_copy_block(const fw_kernel_args* a) {
  int nd = static_cast<int>(a->i[0]);
  if (nd < 0 || nd > 8) return FW_ERR_INVALID;
  if (a->dtype == FW_F32)
    copy_block_forward(static_cast<float*>(a->b[0]), static_cast<const float*>(a->b[1]), nd, a->i + 1, a->i + 9,
                       a->i + 17, a->i[25], a->i[26]);
  else
    copy_block_forward(static_cast<double*>(a->b[0]), static_cast<const double*>(a->b[1]), nd, a->i + 1,
                       a->i + 9, a->i + 17, a->i[25], a->i[26]);
  return FW_OK;
}
}  // namespace

// Called once by the CPU backend (framework/backend/cpu_kernels.h).
void register_spatial_cpu_kernels() {
  register_cpu_kernel(FW_K_COPY_BLOCK, k_copy_block);
}

namespace {

// Lowest and highest element addressed by (shape, strides, off); shape must be non-empty.
void extent(const Shape& shape, const Shape& st, int64_t off, int64_t& lo, int64_t& hi) {
  lo = hi = off;
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t e = (shape[d] - 1) * st[d];
    (e >= 0 ? hi : lo) += e;
  }
}

// Launches copy_block with y and x as bases (both contiguous, same dtype and device). Checks that every
// addressed element lies inside y and x, so a wrong stride in an op is an error, not a memory corruption.
void launch_copy_block(const Tensor& y, const Tensor& x, const Shape& shape, const Shape& ys, int64_t yoff,
                       const Shape& xs, int64_t xoff, const char* op) {
  if (shape.size() > 8) throw ShapeError(std::string(op) + ": more than 8 dimensions");
  if (shape_numel(shape) == 0) return;
  int64_t lo, hi;
  extent(shape, ys, yoff, lo, hi);
  if (lo < 0 || hi >= y.numel()) throw ShapeError(std::string(op) + ": block outside destination " + y.str());
  extent(shape, xs, xoff, lo, hi);
  if (lo < 0 || hi >= x.numel()) throw ShapeError(std::string(op) + ": block outside source " + x.str());
  fw_kernel_args a = kernel_args(y.dtype());
  set_buffer(a, 0, y);
  set_buffer(a, 1, x);
  int nd = static_cast<int>(shape.size());
  a.i[0] = nd;
  for (int d = 0; d < nd; ++d) {
    a.i[1 + d] = shape[d];
    a.i[9 + d] = ys[d];
    a.i[17 + d] = xs[d];
  }
  a.i[25] = yoff;
  a.i[26] = xoff;
  launch(device_of(y), FW_K_COPY_BLOCK, a);
}

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// dst[..., dst_start + k, ...] = src[..., src_start + k, ...] for k in [0, len) along dim d. dst and src are
// contiguous and agree on every dim but d. No graph.
void copy_range(const Tensor& dst, int64_t dst_start, const Tensor& src, int64_t src_start, int64_t len, size_t d,
                const char* op) {
  int64_t outer = prod(dst.shape(), 0, d), inner = prod(dst.shape(), d + 1, dst.shape().size());
  int64_t nd = dst.shape()[d], ns = src.shape()[d];
  // the block: (outer, len, inner)
  launch_copy_block(dst, src, {outer, len, inner}, {nd * inner, inner, 1}, dst_start * inner, {ns * inner, inner, 1},
                    src_start * inner, op);
}

Tensor zeros_like_on(const Shape& s, DType dt, Device dev) {
  Tensor z = Tensor::empty(s, dt, dev);
  z.fill_(0.0);
  return z;
}

int64_t norm_dim(int64_t dim, const Tensor& x, const char* op) {
  int64_t d = dim < 0 ? dim + x.dim() : dim;
  if (d < 0 || d >= x.dim())
    throw ShapeError(std::string(op) + ": dim " + std::to_string(dim) + " out of range for " + x.str());
  return d;
}

void require_defined(const Tensor& x, const char* op) {
  if (!x.defined()) throw ShapeError(std::string(op) + ": undefined input");
}

void require_4d(const Tensor& x, const char* op) {
  require_defined(x, op);
  if (x.dim() != 4) throw ShapeError(std::string(op) + ": expects (N, C, H, W), got " + x.str());
}

// The gradient of one piece of split: zeros of the input's shape with g at [start, start + len) along d.
Tensor scatter_piece(const Tensor& g, const Shape& xs, DType dt, int64_t d, int64_t start) {
  Tensor gx = zeros_like_on(xs, dt, g.device());
  copy_into_block(gx, g, d, start);
  return gx;
}

}  // namespace

void copy_into_block(Tensor& dst, const Tensor& src, int64_t dim, int64_t start) {
  require_defined(dst, "copy_into_block");
  require_defined(src, "copy_into_block");
  int64_t d = norm_dim(dim, dst, "copy_into_block");
  bool ok = dst.is_contiguous() && src.dim() == dst.dim() && src.dtype() == dst.dtype() &&
            src.device() == dst.device() && start >= 0 && start + src.shape()[d] <= dst.shape()[d];
  for (int64_t i = 0; ok && i < dst.dim(); ++i) ok = i == d || src.shape()[i] == dst.shape()[i];
  if (!ok)
    throw ShapeError("copy_into_block: " + src.str() + " at " + std::to_string(start) + " along dim " +
                     std::to_string(d) + " of " + dst.str() + (dst.is_contiguous() ? "" : " (not contiguous)"));
  copy_range(dst, start, src.contiguous(), 0, src.shape()[d], static_cast<size_t>(d), "copy_into_block");
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ShapeError("concat: no tensors");
  for (const Tensor& x : xs) require_defined(x, "concat");
  const Tensor& x0 = xs[0];
  int64_t d = norm_dim(dim, x0, "concat");
  Shape out = x0.shape();
  out[d] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    bool ok = x.dim() == x0.dim() && x.dtype() == x0.dtype() && x.device() == x0.device();
    for (int64_t i = 0; ok && i < x.dim(); ++i) ok = i == d || x.shape()[i] == x0.shape()[i];
    if (!ok)
      throw ShapeError("concat: tensor " + std::to_string(k) + " " + x.str() + " does not match tensor 0 " +
                       x0.str() + " outside dim " + std::to_string(d));
    out[d] += x.shape()[d];
  }
  Tensor y = Tensor::empty(out, x0.dtype(), x0.device());  // y: out, every element written below
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    copy_into_block(y, x, d, at);
    at += x.shape()[d];
  }
  return record(y, "concat", xs, [d, starts](const Tensor& g) {
    std::vector<Tensor> gs;
    for (size_t k = 0; k < starts.size(); ++k) {
      int64_t end = k + 1 < starts.size() ? starts[k + 1] : g.shape()[d];
      gs.push_back(slice(g, d, starts[k], end));
    }
    return gs;
  });
}

std::vector<Tensor> split(const Tensor& x, int64_t dim, const std::vector<int64_t>& sizes) {
  require_defined(x, "split");
  int64_t d = norm_dim(dim, x, "split");
  int64_t total = 0;
  std::string list;
  for (int64_t s : sizes) {
    list += (list.empty() ? "" : ", ") + std::to_string(s);
    if (s < 0) total = -1;
    if (total >= 0) total += s;
  }
  if (total != x.shape()[d])
    throw ShapeError("split: sizes [" + list + "] do not add up to " + std::to_string(x.shape()[d]) + " (dim " +
                     std::to_string(d) + " of " + x.str() + ")");
  std::vector<Tensor> out;
  Shape xs = x.shape();
  DType dt = x.dtype();
  int64_t start = 0;
  for (int64_t len : sizes) {
    Shape s = xs;
    s[d] = len;
    // Each piece is a view of x (shared storage), like slice.
    Tensor y = Tensor::view_of(x, s, x.strides(), x.offset() + start * x.strides()[d]);
    out.push_back(record(y, "split", {x}, [xs, dt, d, start](const Tensor& g) {
      return std::vector<Tensor>{scatter_piece(g, xs, dt, d, start)};
    }));
    start += len;
  }
  return out;
}

Tensor shift(const Tensor& x0, int64_t dim, int64_t amount) {
  require_defined(x0, "shift");
  int64_t d = norm_dim(dim, x0, "shift");
  Tensor x = x0.contiguous();
  Tensor y = zeros_like_on(x.shape(), x.dtype(), x.device());  // y: x's shape
  int64_t n = x.shape()[d];
  // |amount| >= n leaves y all zeros; written without negating amount (INT64_MIN safe).
  if (amount > -n && amount < n) {
    int64_t len = amount >= 0 ? n - amount : n + amount;
    int64_t src = amount >= 0 ? 0 : -amount, dst = amount >= 0 ? amount : 0;
    copy_range(y, dst, x, src, len, static_cast<size_t>(d), "shift");
  }
  return record(y, "shift", {x0}, [d, amount](const Tensor& g) {
    // The adjoint of a shift by k is a shift by -k (the dropped elements get no gradient).
    int64_t back = amount == INT64_MIN ? INT64_MAX : -amount;
    return std::vector<Tensor>{shift(g, d, back)};
  });
}

Tensor skew(const Tensor& x0) {
  require_4d(x0, "skew");
  Tensor x = x0.contiguous();
  int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  if (H < 1 || W < 1) throw ShapeError("skew: needs H >= 1 and W >= 1, got " + x.str());
  int64_t W2 = W + H - 1;
  Tensor y = zeros_like_on({N, C, H, W2}, x.dtype(), x.device());  // y: (N, C, H, W + H - 1)
  // Destination row stride W2 + 1: element (r, j) goes to (r, r + j).
  launch_copy_block(y, x, {N, C, H, W}, {C * H * W2, H * W2, W2 + 1, 1}, 0, contiguous_strides(x.shape()), 0,
                    "skew");
  return record(y, "skew", {x0}, [W](const Tensor& g) { return std::vector<Tensor>{unskew(g, W)}; });
}

Tensor unskew(const Tensor& x0, int64_t width) {
  require_4d(x0, "unskew");
  Tensor x = x0.contiguous();
  int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W2 = x.shape()[3];
  if (H < 1 || width < 1 || W2 != width + H - 1)
    throw ShapeError("unskew: " + x.str() + " is not a skewed (N, C, H, width + H - 1) tensor for width " +
                     std::to_string(width));
  Tensor y = Tensor::empty({N, C, H, width}, x.dtype(), x.device());  // y: (N, C, H, width)
  // Source row stride W2 + 1: element (r, j) is read from (r, r + j).
  launch_copy_block(y, x, y.shape(), contiguous_strides(y.shape()), 0, {C * H * W2, H * W2, W2 + 1, 1}, 0,
                    "unskew");
  return record(y, "unskew", {x0}, [](const Tensor& g) { return std::vector<Tensor>{skew(g)}; });
}

Tensor flip(const Tensor& x0, int64_t dim) {
  require_defined(x0, "flip");
  int64_t d = norm_dim(dim, x0, "flip");
  Tensor x = x0.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());  // y: x's shape
  Shape xs = contiguous_strides(x.shape());
  int64_t n = x.shape()[d];
  int64_t xoff = n > 0 ? (n - 1) * xs[d] : 0;  // index 0 reads the last element along d
  xs[d] = -xs[d];
  launch_copy_block(y, x, x.shape(), contiguous_strides(x.shape()), 0, xs, xoff, "flip");
  return record(y, "flip", {x0}, [d](const Tensor& g) { return std::vector<Tensor>{flip(g, d)}; });
}

Tensor upsample_nearest(const Tensor& x0, int64_t f) {
  require_4d(x0, "upsample_nearest");
  if (f < 1) throw ShapeError("upsample_nearest: factor " + std::to_string(f) + " < 1 for " + x0.str());
  Tensor x = x0.contiguous();
  int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  int64_t Hf = H * f, Wf = W * f;
  Tensor y = Tensor::empty({N, C, Hf, Wf}, x.dtype(), x.device());  // y: (N, C, H*f, W*f)
  // y viewed as (N, C, H, f, W, f); x read with stride 0 on both f dims.
  launch_copy_block(y, x, {N, C, H, f, W, f}, {C * Hf * Wf, Hf * Wf, f * Wf, Wf, f, 1}, 0,
                    {C * H * W, H * W, W, 0, 1, 0}, 0, "upsample_nearest");
  return record(y, "upsample_nearest", {x0}, [N, C, H, W, f](const Tensor& g) {
    // dx[n,c,i,j] = sum over the f x f block of g: g as (N, C, H, f, W, f), summed over dims 3 and 5.
    return std::vector<Tensor>{sum_dims(reshape(g, {N, C, H, f, W, f}), {3, 5}, /*keepdim=*/false)};
  });
}

}  // namespace fw
