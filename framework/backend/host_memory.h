// framework/backend/host_memory.h: the CPU backend's tensor memory, a caching allocator.
//
// Why: a training step allocates the same tensors, with the same sizes, every step (activations in the
// forward pass, gradients in the backward pass). Through malloc alone the freed blocks fragment the heap, and
// the process's resident memory ends up 2-2.5x the tensors actually alive at the peak of a step (measured:
// PixelCNN h=16, 77 MB resident for a 31 MB peak; docs/performance.md). Returning every block to the system
// instead (mmap/munmap) pays a page fault per 4 KiB on every step.
//
// Contract:
// - allocate(bytes) returns memory aligned to 64 bytes (4096 for large blocks), never null (throws
//   std::bad_alloc); release(p) takes back what allocate returned (null is ignored). Thread-safe.
// - Blocks of at least kMinCachedBytes are rounded up to whole 4 KiB pages and, when released, kept for the
//   next request of the same rounded size (exact size: a training step asks for the same sizes every step).
// - The cache never lets live + cached bytes exceed the high-water mark of live bytes: a request that finds no
//   block of its size first frees cached blocks (largest first) until the new block fits under that mark, or
//   the cache is empty. So the memory held is at most the largest the program ever had in use at once (plus
//   the new request when it exceeds that), not that plus stale sizes.
// - Smaller blocks go to aligned_alloc/free directly (malloc's bins already recycle them well).
// - Disabled (every block straight to aligned_alloc/free) in AddressSanitizer builds, so that use-after-free of
//   tensor memory is still caught, and when the environment has PIXELRNN_HOST_CACHE=0 (e.g. under valgrind).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fw::host_memory {

constexpr size_t kMinCachedBytes = size_t(64) << 10;  // 64 KiB: the smallest block the cache keeps

void* allocate(size_t bytes);
void release(void* p);

struct Stats {
  size_t live_bytes = 0;        // handed out and not yet released (cached sizes: rounded)
  size_t cached_bytes = 0;      // released, kept for reuse
  size_t high_water_bytes = 0;  // the largest live_bytes so far
  int64_t hits = 0, misses = 0, evictions = 0;
  bool enabled = true;
};
Stats stats();
// Frees every cached block (the memory in use is untouched).
void trim();
// Turns caching on or off for the allocations that follow (tests; the default comes from the build and the
// environment, see above). Turning it off trims.
void set_enabled(bool on);

}  // namespace fw::host_memory
