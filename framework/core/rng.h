// framework/core/rng.h: the framework's seeded random number generator (xoshiro256**, seeded by SplitMix64).
// The same seed gives the same stream on every platform; the state can be saved and restored exactly
// (checkpoints do this so a resumed run draws the same numbers).
#pragma once
#include <array>
#include <cstdint>

namespace fw {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  double uniform();                 // [0, 1), 53 random bits
  double uniform(double lo, double hi);
  double normal();                  // standard normal (Box-Muller, no cached value: state is just s_)
  uint64_t below(uint64_t n);       // uniform integer in [0, n), unbiased; requires n > 0
  // Exact state, for checkpoints.
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace fw
