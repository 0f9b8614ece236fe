// framework/core/parallel.cpp: the thread-count policy (see parallel.h).
//
// One process-wide tbb::global_control caps TBB's worker count; OpenBLAS is pinned to one thread so its own
// pthread pool never competes with TBB (every BLAS call runs inside a TBB task or on the caller's thread).
#include "framework/core/parallel.h"

#include <cblas.h>

#include <memory>
#include <mutex>
#include <thread>

#include <tbb/global_control.h>

namespace fw {
namespace {
std::mutex g_mu;
std::unique_ptr<tbb::global_control> g_control;  // the active cap; null until set_num_threads
}  // namespace

void init_thread_policy() {
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
}

void set_num_threads(int n) {
  init_thread_policy();
  if (n <= 0) {
    unsigned hw = std::thread::hardware_concurrency();
    n = hw ? static_cast<int>(hw) : 1;
  }
  std::lock_guard<std::mutex> lk(g_mu);
  // Two live controls of one kind cap at their minimum, so the old one goes before the new one is made.
  g_control.reset();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(n));
  openblas_set_num_threads(1);
}

int num_threads() {
  return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace fw
