// framework/core/parallel.h: the thread-count policy and the fixed-chunk parallel loop the kernels share.
//
// The framework parallelises with oneTBB and keeps OpenBLAS single-threaded, so the two thread pools never
// fight (OpenBLAS calls run inside TBB tasks). set_num_threads(n) caps TBB at n workers for the process.
// Determinism: every kernel splits work into fixed chunks independent of the thread count and reduces them in a
// fixed order, so results are bit-identical run to run, and across thread counts too (see docs/architecture.md).
#pragma once

#include <algorithm>
#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace fw {
// n <= 0 means "all hardware threads". Calls openblas_set_num_threads(1). Safe to call more than once.
void set_num_threads(int n);
int num_threads();
// Applies the default policy once (OpenBLAS single-threaded) without touching the TBB cap. Every BLAS-calling
// kernel calls it before its first BLAS call, so the policy holds even if set_num_threads is never called.
void init_thread_policy();

// Runs body(lo, hi) over [0, n) cut into fixed chunks of `chunk` items: [0, chunk), [chunk, 2 chunk), ...
// The chunk bounds depend only on n and chunk, never on the thread count, so a body whose result per chunk
// depends only on its bounds gives bit-identical results at any thread count. One chunk (n <= chunk) runs
// inline on the caller's thread, with no TBB overhead; more run with tbb::parallel_for, one chunk per task.
template <class F> void parallel_chunks(int64_t n, int64_t chunk, F&& body) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  if (n <= chunk) {
    body(int64_t(0), n);
    return;
  }
  const int64_t chunks = (n + chunk - 1) / chunk;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t c = r.begin(); c < r.end(); ++c) body(c * chunk, std::min(n, (c + 1) * chunk));
  });
}

// Elements per chunk of the elementwise kernels: large enough that a task outweighs TBB's scheduling cost
// (a few microseconds), small enough that a 16 x 16 x 28 x 28 activation splits into a dozen tasks.
constexpr int64_t kElementwiseChunk = 16384;
}  // namespace fw
