// framework/core/parallel.h: the thread-count policy.
//
// The framework parallelises with oneTBB and keeps OpenBLAS single-threaded, so the two thread pools never
// fight (OpenBLAS calls run inside TBB tasks). set_num_threads(n) caps TBB at n workers for the process.
// Determinism: every kernel splits work into fixed chunks independent of the thread count and reduces them in a
// fixed order, so results are bit-identical run to run, and across thread counts too (see docs/architecture.md).
#pragma once

namespace fw {
// n <= 0 means "all hardware threads". Calls openblas_set_num_threads(1). Safe to call more than once.
void set_num_threads(int n);
int num_threads();
// Applies the default policy once (OpenBLAS single-threaded) without touching the TBB cap. Every BLAS-calling
// kernel calls it before its first BLAS call, so the policy holds even if set_num_threads is never called.
void init_thread_policy();
}  // namespace fw
