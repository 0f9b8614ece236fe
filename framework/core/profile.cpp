// framework/core/profile.cpp: the reference-kernels switch and the kernel/allocation profiler (see profile.h).
//
// Counters are fixed arrays of relaxed atomics indexed by (phase, kernel id): no lock, no allocation on the hot
// path. Kernel ids at or above kMaxKernels share the last slot (named "unknown").
#include "framework/core/profile.h"

#include <algorithm>

#include "framework/backend/backend.h"

namespace fw {

namespace detail {
std::atomic<bool> g_reference_kernels{false};
std::atomic<bool> g_profiling{false};
}  // namespace detail

void set_reference_kernels(bool on) { detail::g_reference_kernels.store(on, std::memory_order_relaxed); }

namespace profile {
namespace {

constexpr int kMaxKernels = 256;

struct Counters {
  std::atomic<int64_t> calls[kPhases][kMaxKernels];
  std::atomic<int64_t> nanoseconds[kPhases][kMaxKernels];
  std::atomic<int64_t> allocations[kPhases];
  std::atomic<int64_t> bytes[kPhases];
  std::atomic<int64_t> live, peak;
  std::atomic<double> flops;  // bytes allocated minus bytes released since reset(), and its maximum
};

Counters& counters() {
  static Counters c{};  // zero-initialised
  return c;
}

std::atomic<int> g_phase{static_cast<int>(Phase::Forward)};

int slot(int32_t id) { return (id >= 0 && id < kMaxKernels - 1) ? id : kMaxKernels - 1; }

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Forward: return "forward";
    case Phase::Backward: return "backward";
    case Phase::Optimizer: return "optimizer";
  }
  return "unknown";
}

void set_enabled(bool on) { detail::g_profiling.store(on, std::memory_order_relaxed); }

void reset() {
  Counters& c = counters();
  for (int p = 0; p < kPhases; ++p) {
    for (int k = 0; k < kMaxKernels; ++k) {
      c.calls[p][k].store(0, std::memory_order_relaxed);
      c.nanoseconds[p][k].store(0, std::memory_order_relaxed);
    }
    c.allocations[p].store(0, std::memory_order_relaxed);
    c.bytes[p].store(0, std::memory_order_relaxed);
  }
  c.live.store(0, std::memory_order_relaxed);
  c.peak.store(0, std::memory_order_relaxed);
  c.flops.store(0, std::memory_order_relaxed);
}

Phase current_phase() { return static_cast<Phase>(g_phase.load(std::memory_order_relaxed)); }

PhaseScope::PhaseScope(Phase p)
    : prev_(static_cast<Phase>(g_phase.exchange(static_cast<int>(p), std::memory_order_relaxed))) {}
PhaseScope::~PhaseScope() { g_phase.store(static_cast<int>(prev_), std::memory_order_relaxed); }

void record_kernel(int32_t kernel_id, int64_t nanoseconds) {
  Counters& c = counters();
  const int p = g_phase.load(std::memory_order_relaxed), k = slot(kernel_id);
  c.calls[p][k].fetch_add(1, std::memory_order_relaxed);
  c.nanoseconds[p][k].fetch_add(nanoseconds, std::memory_order_relaxed);
}

void record_allocation(size_t bytes) {
  Counters& c = counters();
  const int p = g_phase.load(std::memory_order_relaxed);
  c.allocations[p].fetch_add(1, std::memory_order_relaxed);
  c.bytes[p].fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  const int64_t live = c.live.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) +
                       static_cast<int64_t>(bytes);
  int64_t peak = c.peak.load(std::memory_order_relaxed);
  while (live > peak && !c.peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

void record_flops(double flops) {
  std::atomic<double>& f = counters().flops;
  double v = f.load(std::memory_order_relaxed);
  while (!f.compare_exchange_weak(v, v + flops, std::memory_order_relaxed)) {
  }
}

void record_release(size_t bytes) {
  counters().live.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

double Snapshot::kernel_seconds(Phase p) const {
  double s = 0;
  for (const KernelStat& k : kernels)
    if (k.phase == p) s += k.seconds;
  return s;
}

Snapshot snapshot() {
  Counters& c = counters();
  Snapshot s;
  for (int p = 0; p < kPhases; ++p) {
    for (int k = 0; k < kMaxKernels; ++k) {
      const int64_t n = c.calls[p][k].load(std::memory_order_relaxed);
      if (n == 0) continue;
      KernelStat st;
      st.name = k == kMaxKernels - 1 ? "unknown" : kernel_name(k);
      st.phase = static_cast<Phase>(p);
      st.calls = n;
      st.seconds = 1e-9 * double(c.nanoseconds[p][k].load(std::memory_order_relaxed));
      s.kernels.push_back(st);
    }
    s.allocations[p] = c.allocations[p].load(std::memory_order_relaxed);
    s.allocated_bytes[p] = c.bytes[p].load(std::memory_order_relaxed);
  }
  s.peak_live_bytes = c.peak.load(std::memory_order_relaxed);
  s.gemm_flops = c.flops.load(std::memory_order_relaxed);
  std::stable_sort(s.kernels.begin(), s.kernels.end(),
                   [](const KernelStat& a, const KernelStat& b) { return a.seconds > b.seconds; });
  return s;
}

}  // namespace profile
}  // namespace fw
