// framework/io/preprocess.cpp: binarization and splitting.
#include "framework/io/preprocess.h"

namespace fw::io {

uint64_t SplitMix64::below(uint64_t bound) {
  // Reject the 2^64 mod bound smallest values so that r % bound is unbiased.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

Dataset binarize_stochastic(const Dataset& d, uint64_t seed) {
  d.validate();
  Dataset out = d;
  SplitMix64 rng(seed);
  for (auto& v : out.pixels) {
    const uint64_t r = rng.next() >> 32;
    v = (r * 255u < (uint64_t(v) << 32)) ? 1 : 0;
  }
  return out;
}

Dataset binarize_threshold(const Dataset& d) {
  d.validate();
  Dataset out = d;
  for (auto& v : out.pixels) v = v >= 128 ? 1 : 0;
  return out;
}

std::pair<Dataset, Dataset> split_train_val(const Dataset& d, int64_t n_val) {
  d.validate();
  if (n_val < 0 || n_val >= d.n)
    throw DataError(d.source + ": validation size " + std::to_string(n_val) +
                    " must be in [0, " + std::to_string(d.n) + ")");
  return {d.slice(0, d.n - n_val), d.slice(d.n - n_val, d.n)};
}

}  // namespace fw::io
