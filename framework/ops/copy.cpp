// framework/ops/copy.cpp: the fill and copy_block CPU kernels, then the ops on them: copy_into (a strided view
// into a contiguous tensor), the checked block copy every data-movement op uses, clone and dtype conversion.
#include "framework/ops/copy.h"

#include <algorithm>
#include <cstring>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"

namespace fw {
namespace {

// fill: y[i] = value.  y: (n,), fixed chunks in parallel.
template <class T> void fill_forward(T* y, int64_t n, T v) {
  parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) { std::fill(y + i0, y + i1, v); });
}
// copy_block: y[yoff + sum idx*ys] = x[xoff + sum idx*xs] over idx in shape (odometer over outer dims).
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
}  // namespace

int cpu_fill(int32_t dtype, const fw_fill_params* p) {
  if (p->n < 0 || (p->n > 0 && !p->y.ptr)) return FW_ERR_INVALID;
  if (dtype == FW_F32) fill_forward(static_cast<float*>(p->y.ptr), p->n, static_cast<float>(p->value));
  else fill_forward(static_cast<double*>(p->y.ptr), p->n, p->value);
  return FW_OK;
}

int cpu_copy_block(int32_t dtype, const fw_copy_block_params* p) {
  const int nd = static_cast<int>(p->ndim);
  if (nd < 0 || nd > FW_MAX_DIMS) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    copy_block_forward(static_cast<float*>(p->y.ptr), static_cast<const float*>(p->x.ptr), nd, p->shape,
                       p->y_strides, p->x_strides, p->y_offset, p->x_offset);
  else
    copy_block_forward(static_cast<double*>(p->y.ptr), static_cast<const double*>(p->x.ptr), nd, p->shape,
                       p->y_strides, p->x_strides, p->y_offset, p->x_offset);
  return FW_OK;
}

namespace {
// Lowest and highest element addressed by (shape, strides, off); shape must be non-empty.
void extent(const Shape& shape, const Shape& st, int64_t off, int64_t& lo, int64_t& hi) {
  lo = hi = off;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t e = (shape[d] - 1) * st[d];
    (e >= 0 ? hi : lo) += e;
  }
}
}  // namespace

void copy_block(const Tensor& y, const Tensor& x, const Shape& shape, const Shape& ys, int64_t yoff,
                const Shape& xs, int64_t xoff, const char* op) {
  if (shape.size() > FW_MAX_DIMS) throw ShapeError(std::string(op) + ": more than 8 dimensions");
  if (shape.size() != ys.size() || shape.size() != xs.size())
    throw ShapeError(std::string(op) + ": block shape and strides differ in rank");
  if (y.dtype() != x.dtype() || y.device() != x.device())
    throw ShapeError(std::string(op) + ": " + y.str() + " and " + x.str() + " differ in dtype or device");
  if (shape_numel(shape) == 0) return;
  // Bounds against the storage each buffer may touch, so a wrong stride is an error, not a memory corruption.
  const int64_t ycap = static_cast<int64_t>(buffer_of(y).bytes / dtype_size(y.dtype()));
  const int64_t xcap = static_cast<int64_t>(buffer_of(x).bytes / dtype_size(x.dtype()));
  int64_t lo, hi;
  extent(shape, ys, yoff, lo, hi);
  if (lo < 0 || hi >= ycap) throw ShapeError(std::string(op) + ": block outside destination " + y.str());
  extent(shape, xs, xoff, lo, hi);
  if (lo < 0 || hi >= xcap) throw ShapeError(std::string(op) + ": block outside source " + x.str());
  fw_copy_block_params p{};
  p.y = buffer_of(y);
  p.x = buffer_of(x);
  p.ndim = static_cast<int64_t>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    p.shape[d] = shape[d];
    p.y_strides[d] = ys[d];
    p.x_strides[d] = xs[d];
  }
  p.y_offset = yoff;
  p.x_offset = xoff;
  launch(y.device(), y.dtype(), p);
}

void copy_into(Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape() || dst.dtype() != src.dtype())
    throw ShapeError("copy: " + src.str() + " into " + dst.str());
  if (!dst.is_contiguous()) throw ShapeError("copy: destination " + dst.str() + " is not contiguous");
  // src's strides address its storage from its element 0 (buffer_of gives the rest of the storage).
  copy_block(dst, src, src.shape(), contiguous_strides(src.shape()), 0, src.strides(), 0, "copy");
}

Tensor copy_op(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_into(y, x);
  return record(y, "copy", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor convert_op(const Tensor& x, DType d) {
  if (x.dtype() == d) return copy_op(x);
  if (x.device() != Device::CPU) throw ShapeError("to: dtype conversion runs on the CPU only, got " + x.str());
  Tensor y = d == DType::F32 ? Tensor::from_vector(x.shape(), x.to_float_vector())
                             : Tensor::from_vector(x.shape(), x.to_vector());
  DType from = x.dtype();
  return record(y, "convert", {x}, [from](const Tensor& g) { return std::vector<Tensor>{convert_op(g, from)}; });
}

}  // namespace fw
