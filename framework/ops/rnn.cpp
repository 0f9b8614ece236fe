// framework/ops/rnn.cpp: the fused LSTM scan (framework/ops/rnn.h): the CPU kernels (forward, then the
// backward through time), then the op and its gradient.
//
// Work split: the batch is cut into min(N, kChunks) fixed chunks of images; each chunk's whole recurrence is one
// TBB task (images never interact), so every per-image value is computed the same way at any thread count. Per
// step, a chunk's state-to-state convolution is one GEMM over all its images: w (4h, h k) x cols (h k, n L),
// with cols the im2col of the previous step's hidden state (n = images in the chunk). The weight gradient is
// accumulated per chunk and the chunk partials are added in chunk order.
#include "framework/ops/rnn.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/blas.h"
#include "framework/ops/vec_math.h"

namespace fw {
namespace {

constexpr int64_t kChunks = 4;

struct Scan {
  int64_t N, h, S, L, k, pb;
  int64_t chunks() const { return std::min(N, kChunks); }
  int64_t begin(int64_t c) const { return c * N / chunks(); }
  // Element offsets. h, dh: (N, h, S, L); gates, dgates: (N, 4h, S, L); acts: (S, N, 6h, L).
  int64_t hid(int64_t n, int64_t u, int64_t t) const { return ((n * h + u) * S + t) * L; }
  int64_t gate(int64_t n, int64_t q, int64_t t) const { return ((n * 4 * h + q) * S + t) * L; }
  int64_t act(int64_t t, int64_t n, int64_t q) const { return ((t * N + n) * 6 * h + q) * L; }
};

// cols (h k, n L): cols[(u k + a), j L + l] = h_{t-1}[n0 + j, u, l + a - pb], 0 outside [0, L).
template <class T> void im2col_prev(const Scan& s, const T* hs, int64_t n0, int64_t n, int64_t t, T* cols) {
  const int64_t width = n * s.L;
  for (int64_t u = 0; u < s.h; ++u)
    for (int64_t a = 0; a < s.k; ++a) {
      T* row = cols + (u * s.k + a) * width;
      for (int64_t j = 0; j < n; ++j) {
        const T* src = hs + s.hid(n0 + j, u, t - 1);  // src: (L)
        T* dst = row + j * s.L;
        for (int64_t l = 0; l < s.L; ++l) {
          const int64_t li = l + a - s.pb;
          dst[l] = (li >= 0 && li < s.L) ? src[li] : T(0);
        }
      }
    }
}

// The cell's activations: in float the branch-free framework/ops/vec_math.h (they vectorise), in double libm's.
inline float sigmoid_of(float x) { return vec_math::sigmoid(x); }
inline float tanh_of(float x) { return vec_math::tanh(x); }
inline double sigmoid_of(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
inline double tanh_of(double x) { return std::tanh(x); }

// One row of L positions of one unit: the gate activations, the cell, and h (vectorisable: vec_math, restrict).
// z*: the state-to-state contributions (zeros at step 0); cp: c_{t-1} (zeros at step 0).
template <class T>
[[gnu::always_inline]] inline void cell_row_body(int64_t L, const T* __restrict gi, const T* __restrict gf,
                                                 const T* __restrict go, const T* __restrict gg,
                                                 const T* __restrict zi, const T* __restrict zf,
                                                 const T* __restrict zo, const T* __restrict zg,
                                                 const T* __restrict cp, T* __restrict ai, T* __restrict af,
                                                 T* __restrict ao, T* __restrict ag, T* __restrict ac,
                                                 T* __restrict at, T* __restrict hout) {
  for (int64_t l = 0; l < L; ++l) {
    const T i = sigmoid_of(gi[l] + zi[l]), f = sigmoid_of(gf[l] + zf[l]), o = sigmoid_of(go[l] + zo[l]);
    const T g = tanh_of(gg[l] + zg[l]);
    const T c = f * cp[l] + i * g;
    const T tc = tanh_of(c);
    ai[l] = i;
    af[l] = f;
    ao[l] = o;
    ag[l] = g;
    ac[l] = c;
    at[l] = tc;
    hout[l] = o * tc;
  }
}
// The float version is also compiled for x86-64-v3 (AVX2, FMA) and picked at load time on CPUs that have it
// (GCC target_clones). That clone may fuse a * b + c into one FMA (one rounding instead of two), so float results
// can differ in the last bit between CPUs with and without AVX2; on one machine they are the same at any thread
// count, run to run.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void cell_row(int64_t L, const float* gi, const float* gf, const float* go, const float* gg, const float* zi,
              const float* zf, const float* zo, const float* zg, const float* cp, float* ai, float* af, float* ao,
              float* ag, float* ac, float* at, float* hout) {
  cell_row_body(L, gi, gf, go, gg, zi, zf, zo, zg, cp, ai, af, ao, ag, ac, at, hout);
}
void cell_row(int64_t L, const double* gi, const double* gf, const double* go, const double* gg, const double* zi,
              const double* zf, const double* zo, const double* zg, const double* cp, double* ai, double* af,
              double* ao, double* ag, double* ac, double* at, double* hout) {
  cell_row_body(L, gi, gf, go, gg, zi, zf, zo, zg, cp, ai, af, ao, ag, ac, at, hout);
}

// The backward of cell_row for one row: from dh (the output's gradient) + dh_carry (from step t+1's
// state-to-state path) and dc_carry (c_t's gradient from step t+1), the gate pre-activation gradients dz*, and
// dc_carry <- c_{t-1}'s gradient (dc f).  All rows: (L).
template <class T>
[[gnu::always_inline]] inline void cell_row_backward_body(
    int64_t L, const T* __restrict ai, const T* __restrict af, const T* __restrict ao, const T* __restrict ag,
    const T* __restrict at, const T* __restrict cp, const T* __restrict dh, const T* __restrict dh_carry,
    T* __restrict dc_carry, T* __restrict dzi, T* __restrict dzf, T* __restrict dzo, T* __restrict dzg) {
  for (int64_t l = 0; l < L; ++l) {
    const T i = ai[l], f = af[l], o = ao[l], g = ag[l], tc = at[l];
    const T dhv = dh[l] + dh_carry[l];
    const T dc = dc_carry[l] + dhv * o * (T(1) - tc * tc);
    dzi[l] = dc * g * (i * (T(1) - i));
    dzf[l] = dc * cp[l] * (f * (T(1) - f));
    dzo[l] = dhv * tc * (o * (T(1) - o));
    dzg[l] = dc * i * (T(1) - g * g);
    dc_carry[l] = dc * f;
  }
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void cell_row_backward(int64_t L, const float* ai, const float* af, const float* ao, const float* ag,
                       const float* at, const float* cp, const float* dh, const float* dh_carry, float* dc_carry,
                       float* dzi, float* dzf, float* dzo, float* dzg) {
  cell_row_backward_body(L, ai, af, ao, ag, at, cp, dh, dh_carry, dc_carry, dzi, dzf, dzo, dzg);
}
void cell_row_backward(int64_t L, const double* ai, const double* af, const double* ao, const double* ag,
                       const double* at, const double* cp, const double* dh, const double* dh_carry,
                       double* dc_carry, double* dzi, double* dzf, double* dzo, double* dzg) {
  cell_row_backward_body(L, ai, af, ao, ag, at, cp, dh, dh_carry, dc_carry, dzi, dzf, dzo, dzg);
}

// One chunk's forward recurrence. z: (4h, n L) scratch, cols: (h k, n L) scratch.
template <class T>
void scan_forward_chunk(const Scan& s, T* hs, T* acts, const T* gates, const T* w, int64_t n0, int64_t n) {
  const int64_t width = n * s.L, h = s.h, L = s.L;
  // z: (4h, n L) the state-to-state contributions (zero at step 0); cols: (h k, n L); zero: c_{-1} = 0 (L)
  std::vector<T> z(static_cast<size_t>(4 * h * width), T(0)), cols(static_cast<size_t>(h * s.k * width)),
      zero(static_cast<size_t>(L), T(0));
  for (int64_t t = 0; t < s.S; ++t) {
    if (t > 0) {  // z = w (4h, h k) cols (h k, n L)
      im2col_prev(s, hs, n0, n, t, cols.data());
      blas::gemm(false, false, 4 * h, width, h * s.k, T(1), w, h * s.k, cols.data(), width, T(0), z.data(), width);
    }
    for (int64_t j = 0; j < n; ++j) {
      const int64_t img = n0 + j;
      T* a = acts + s.act(t, img, 0);  // a: (6h, L) = i | f | o | g | c | tanh(c)
      for (int64_t u = 0; u < h; ++u) {
        const T* zu = z.data() + u * width + j * L;  // this image's row of unit u's i gate in z
        const T* cp = t > 0 ? acts + s.act(t - 1, img, 4 * h) + u * L : zero.data();  // c_{t-1}: (L)
        cell_row(L, gates + s.gate(img, u, t), gates + s.gate(img, h + u, t), gates + s.gate(img, 2 * h + u, t),
                 gates + s.gate(img, 3 * h + u, t), zu, zu + h * width, zu + 2 * h * width, zu + 3 * h * width, cp,
                 a + u * L, a + (h + u) * L, a + (2 * h + u) * L, a + (3 * h + u) * L, a + (4 * h + u) * L,
                 a + (5 * h + u) * L, hs + s.hid(img, u, t));
      }
    }
  }
}

// One chunk's backward through time. dw_part: (4h, h k), this chunk's weight gradient (written).
template <class T>
void scan_backward_chunk(const Scan& s, T* dgates, T* dw_part, const T* dh, const T* hs, const T* acts, const T* w,
                         int64_t n0, int64_t n) {
  const int64_t width = n * s.L, h = s.h, L = s.L, hk = h * s.k;
  std::vector<T> dz(static_cast<size_t>(4 * h * width)), cols(static_cast<size_t>(hk * width)),
      dcols(static_cast<size_t>(hk * width));
  std::vector<T> dh_carry(static_cast<size_t>(h * width), T(0)), dc_carry(static_cast<size_t>(h * width), T(0));
  std::fill(dw_part, dw_part + 4 * h * hk, T(0));
  std::vector<T> zero(static_cast<size_t>(L), T(0));  // c_{-1} = 0
  for (int64_t t = s.S - 1; t >= 0; --t) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t img = n0 + j;
      const T* a = acts + s.act(t, img, 0);  // a: (6h, L) = i | f | o | g | c | tanh(c)
      for (int64_t u = 0; u < h; ++u) {
        const T* cp = t > 0 ? acts + s.act(t - 1, img, 4 * h) + u * L : zero.data();  // c_{t-1}: (L)
        T* dzu = dz.data() + u * width + j * L;  // this image's row of unit u's i gate in dz
        cell_row_backward(L, a + u * L, a + (h + u) * L, a + (2 * h + u) * L, a + (3 * h + u) * L,
                          a + (5 * h + u) * L, cp, dh + s.hid(img, u, t), dh_carry.data() + u * width + j * L,
                          dc_carry.data() + u * width + j * L, dzu, dzu + h * width, dzu + 2 * h * width,
                          dzu + 3 * h * width);
        for (int64_t q = 0; q < 4; ++q)  // dgates at step t = dz (the gates enter z with weight 1)
          std::copy(dzu + q * h * width, dzu + q * h * width + L, dgates + s.gate(img, q * h + u, t));
      }
    }
    if (t == 0) break;
    // dw += dz (4h, n L) cols^T (n L, h k); dcols = w^T (h k, 4h) dz (4h, n L); dh_{t-1} = col2im(dcols)
    im2col_prev(s, hs, n0, n, t, cols.data());
    blas::gemm(false, true, 4 * h, hk, width, T(1), dz.data(), width, cols.data(), width, T(1), dw_part, hk);
    blas::gemm(true, false, hk, width, 4 * h, T(1), w, hk, dz.data(), width, T(0), dcols.data(), width);
    std::fill(dh_carry.begin(), dh_carry.end(), T(0));
    for (int64_t u = 0; u < h; ++u)
      for (int64_t a = 0; a < s.k; ++a) {
        const T* row = dcols.data() + (u * s.k + a) * width;
        T* dst = dh_carry.data() + u * width;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t l = 0; l < L; ++l) {
            const int64_t li = l + a - s.pb;
            if (li >= 0 && li < L) dst[j * L + li] += row[j * L + l];
          }
      }
  }
}

bool scan_from(int64_t N, int64_t h, int64_t S, int64_t L, int64_t k, int64_t pb, Scan& s) {
  s = {N, h, S, L, k, pb};
  return N >= 0 && h >= 1 && S >= 0 && L >= 1 && k >= 1 && pb >= 0 && pb < k;
}

template <class T> void scan_forward(const Scan& s, const fw_lstm_scan_forward_params* p) {
  T* hs = static_cast<T*>(p->h.ptr);
  T* acts = static_cast<T*>(p->acts.ptr);
  const T* gates = static_cast<const T*>(p->gates.ptr);
  const T* w = static_cast<const T*>(p->w.ptr);
  tbb::parallel_for(int64_t(0), s.chunks(), [&](int64_t c) {
    scan_forward_chunk(s, hs, acts, gates, w, s.begin(c), s.begin(c + 1) - s.begin(c));
  });
}

template <class T> void scan_backward(const Scan& s, const fw_lstm_scan_backward_params* p) {
  const int64_t wn = 4 * s.h * s.h * s.k;
  std::vector<T> parts(static_cast<size_t>(std::max<int64_t>(1, s.chunks()) * wn));
  tbb::parallel_for(int64_t(0), s.chunks(), [&](int64_t c) {
    scan_backward_chunk(s, static_cast<T*>(p->dgates.ptr), parts.data() + c * wn, static_cast<const T*>(p->dh.ptr),
                        static_cast<const T*>(p->h.ptr), static_cast<const T*>(p->acts.ptr),
                        static_cast<const T*>(p->w.ptr), s.begin(c), s.begin(c + 1) - s.begin(c));
  });
  T* dw = static_cast<T*>(p->dw.ptr);
  if (!dw) return;
  for (int64_t c = 0; c < s.chunks(); ++c)  // chunk order: the same sum at any thread count
    for (int64_t e = 0; e < wn; ++e) dw[e] += parts[c * wn + e];
}

}  // namespace

int cpu_lstm_scan_forward(int32_t dtype, const fw_lstm_scan_forward_params* p) {
  Scan s;
  if (!scan_from(p->N, p->hidden, p->S, p->L, p->k, p->pad_before, s)) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32) scan_forward<float>(s, p);
  else scan_forward<double>(s, p);
  return FW_OK;
}

int cpu_lstm_scan_backward(int32_t dtype, const fw_lstm_scan_backward_params* p) {
  Scan s;
  if (!scan_from(p->N, p->hidden, p->S, p->L, p->k, p->pad_before, s) || !p->dgates.ptr) return FW_ERR_INVALID;
  init_thread_policy();
  if (dtype == FW_F32) scan_backward<float>(s, p);
  else scan_backward<double>(s, p);
  return FW_OK;
}

Tensor lstm_scan(const Tensor& gates0, const Tensor& w0, int64_t pad_before) {
  if (!gates0.defined() || !w0.defined()) throw ShapeError("lstm_scan: undefined input");
  if (gates0.dim() != 4 || w0.dim() != 3 || w0.size(0) != gates0.size(1) || w0.size(0) != 4 * w0.size(1) ||
      w0.size(1) < 1)
    throw ShapeError("lstm_scan: gates " + gates0.str() + " and state-to-state kernel " + w0.str() +
                     " should be (N, 4h, S, L) and (4h, h, k)");
  if (gates0.dtype() != w0.dtype() || gates0.device() != w0.device())
    throw ShapeError("lstm_scan: gates " + gates0.str() + " and kernel " + w0.str() + " differ in dtype or device");
  const int64_t N = gates0.size(0), h = w0.size(1), S = gates0.size(2), L = gates0.size(3), k = w0.size(2);
  if (pad_before < 0 || pad_before >= k || L < 1)
    throw ShapeError("lstm_scan: pad_before " + std::to_string(pad_before) + " must be in [0, " +
                     std::to_string(k - 1) + "] and L >= 1 for kernel " + w0.str() + ", gates " + gates0.str());
  Tensor gates = gates0.contiguous().detach(), w = w0.contiguous().detach();
  const DType dt = gates.dtype();
  const Device dev = gates.device();
  Tensor hs = Tensor::empty({N, h, S, L}, dt, dev);        // hs: (N, h, S, L)
  Tensor acts = Tensor::empty({S, N, 6 * h, L}, dt, dev);  // acts: (S, N, 6h, L)
  launch(dev, dt, fw_lstm_scan_forward_params{buffer_of(hs), buffer_of(acts), buffer_of(gates), buffer_of(w), N, h, S,
                                              L, k, pad_before});
  Tensor hd = hs.detach();
  const bool gw = w0.requires_grad();
  return record(hs, "lstm_scan", {gates0, w0}, [hd, acts, w, N, h, S, L, k, pad_before, gw](const Tensor& g0) {
    Tensor g = g0.contiguous();  // g: (N, h, S, L)
    Tensor dgates = Tensor::empty({N, 4 * h, S, L}, g.dtype(), g.device());
    Tensor dw = gw ? Tensor::zeros(w.shape(), w.dtype(), w.device()) : Tensor();
    launch(g.device(), g.dtype(),
           fw_lstm_scan_backward_params{buffer_of(dgates), buffer_of(dw), buffer_of(g), buffer_of(hd),
                                        buffer_of(acts), buffer_of(w), N, h, S, L, k, pad_before});
    return std::vector<Tensor>{dgates, dw};
  });
}

}  // namespace fw
