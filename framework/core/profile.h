// framework/core/profile.h: two process-wide switches used to measure and check the framework's speed work
// (`pixelrnn bench`, docs/performance.md):
//
// 1. Reference kernels. set_reference_kernels(true) makes every op that has a fast and a reference
//    implementation run the reference one (today: conv2d's direct loops instead of im2col + GEMM; fused ops
//    consult the same flag). Used to check one training step's loss and gradients before timing anything.
//
// 2. A cheap profiler. While enabled, fw::launch() times each kernel launch and adds it to (kernel, phase), and
//    every Storage allocation is counted (with its bytes) in the current phase, and the tensor memory live
//    since reset() (bytes allocated minus bytes freed while profiling) is tracked with its peak. The GEMM
//    wrapper (framework/ops/blas.h) adds each call's 2 M N K operations to a FLOP count. The phase is Forward unless a
//    PhaseScope says otherwise; run_backward() sets Backward for its duration, `pixelrnn bench` sets Optimizer
//    around the optimizer step. Launches are attributed by the kernel's name (fw::kernel_name).
//    Disabled (the default), a hook costs one relaxed atomic load and one branch.
//
// Both are global (not per thread): set them from the thread that drives the computation, not while ops run.
// The profiler's counters are atomics, so kernels launched from several threads are all counted.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fw {

// ---- reference kernels

namespace detail {
extern std::atomic<bool> g_reference_kernels;
extern std::atomic<bool> g_profiling;
}  // namespace detail

void set_reference_kernels(bool on);
inline bool reference_kernels() { return detail::g_reference_kernels.load(std::memory_order_relaxed); }

// Sets reference_kernels() for a scope and restores the previous value.
class ReferenceKernelsScope {
 public:
  explicit ReferenceKernelsScope(bool on) : prev_(reference_kernels()) { set_reference_kernels(on); }
  ~ReferenceKernelsScope() { set_reference_kernels(prev_); }
  ReferenceKernelsScope(const ReferenceKernelsScope&) = delete;
  ReferenceKernelsScope& operator=(const ReferenceKernelsScope&) = delete;

 private:
  bool prev_;
};

// ---- profiler

namespace profile {

enum class Phase : int { Forward = 0, Backward = 1, Optimizer = 2 };
constexpr int kPhases = 3;
const char* phase_name(Phase p);  // "forward", "backward", "optimizer"

inline bool enabled() { return detail::g_profiling.load(std::memory_order_relaxed); }
void set_enabled(bool on);
// Clears every counter (not the enabled state nor the phase).
void reset();

Phase current_phase();
// Sets the phase for a scope and restores the previous one (nests).
class PhaseScope {
 public:
  explicit PhaseScope(Phase p);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase prev_;
};

// Slow paths of the hooks below (only called while enabled).
void record_kernel(int32_t kernel_id, int64_t nanoseconds);
void record_allocation(size_t bytes);
void record_release(size_t bytes);
void record_flops(double flops);

// The hook in fw::launch(): times the launch from construction to destruction when the profiler is on.
class KernelScope {
 public:
  explicit KernelScope(int32_t kernel_id) : id_(kernel_id), on_(enabled()) {
    if (on_) t0_ = std::chrono::steady_clock::now();
  }
  ~KernelScope() {
    if (on_)
      record_kernel(id_, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_)
                             .count());
  }
  KernelScope(const KernelScope&) = delete;
  KernelScope& operator=(const KernelScope&) = delete;

 private:
  int32_t id_;
  bool on_;
  std::chrono::steady_clock::time_point t0_{};
};

// The hook in the Storage constructor.
inline void count_allocation(size_t bytes) {
  if (enabled()) record_allocation(bytes);
}
// The hook in the GEMM wrapper.
inline void count_flops(double flops) {
  if (enabled()) record_flops(flops);
}
// The hook in the Storage destructor.
inline void count_release(size_t bytes) {
  if (enabled()) record_release(bytes);
}

// What the profiler counted since the last reset().
struct KernelStat {
  std::string name;  // fw::kernel_name
  Phase phase = Phase::Forward;
  int64_t calls = 0;
  double seconds = 0;
};
struct Snapshot {
  std::vector<KernelStat> kernels;  // every (kernel, phase) with calls > 0, slowest first
  int64_t allocations[kPhases] = {0, 0, 0};
  int64_t allocated_bytes[kPhases] = {0, 0, 0};
  // The largest excess of tensor memory over what was live at reset(): with reset() at the start of a step,
  // the step's peak of activations, gradients and temporaries (tensors freed while profiling that were
  // allocated before it count negatively).
  int64_t peak_live_bytes = 0;
  double gemm_flops = 0;  // floating-point operations in GEMM calls (2 M N K each)
  int64_t total_allocations() const { return allocations[0] + allocations[1] + allocations[2]; }
  double kernel_seconds(Phase p) const;  // sum over the kernels of one phase
};
Snapshot snapshot();

}  // namespace profile
}  // namespace fw
