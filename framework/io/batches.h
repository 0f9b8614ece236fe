// framework/io/batches.h: resumable, deterministic shuffled mini-batches.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/io/dataset.h"

namespace fw::io {

// The complete state of a BatchIterator: enough to resume a run exactly.
struct BatchState {
  uint64_t seed = 0;
  int64_t epoch = 0;     // epochs started so far count from 0
  int64_t position = 0;  // index into the epoch's permutation of the next image
  bool operator==(const BatchState& o) const {
    return seed == o.seed && epoch == o.epoch && position == o.position;
  }
};

struct Batch {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<float> x;            // (n, c, h, w): the uint8 values as floats
                                   // ({0,1} for a binarized dataset, else 0..255)
  std::vector<int32_t> labels;     // n entries, or empty when the dataset has none
  std::vector<int64_t> indices;    // dataset index of each image
  int64_t epoch = 0;               // epoch the batch was drawn from
};

// Epoch e visits the images in the order of a Fisher-Yates permutation drawn from
// SplitMix64(seed ^ (0xD1B54A32D192ED03 * (e + 1))): for i = n-1 down to 1,
// j = below(i + 1), swap(p[i], p[j]). Without shuffle the order is 0..n-1.
// An epoch's last batch is smaller when n is not a multiple of the batch size,
// unless drop_last, which skips it.
class BatchIterator {
 public:
  // requires: d outlives the iterator, d.n > 0, batch_size > 0 (and
  //   batch_size <= d.n when drop_last).
  // throws: DataError naming d.source when these do not hold.
  BatchIterator(const Dataset& d, int64_t batch_size, uint64_t seed, bool shuffle = true,
                bool drop_last = false);

  // ensures: the next batch; moves to the next epoch when the current one is
  // exhausted (so it never runs dry).
  Batch next();
  // ensures: the state after the last batch returned.
  BatchState state() const { return state_; }
  // requires: s.position in [0, d.n]. ensures: the next next() returns what the
  // iterator that produced s would have returned. throws: DataError on a bad state.
  void restore(const BatchState& s);
  // ensures: batches in one epoch.
  int64_t batches_per_epoch() const;

 private:
  void make_permutation();
  const Dataset* d_;
  int64_t batch_size_;
  bool shuffle_, drop_last_;
  BatchState state_;
  int64_t perm_epoch_ = -1;
  std::vector<int64_t> perm_;
};

}  // namespace fw::io
