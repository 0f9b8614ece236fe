// fuzz/fuzz_idx.cpp: libFuzzer target for the IDX image and label parsers
// (raw and gzipped). Any DataError is an expected outcome; crashes are not.
#include <cstddef>
#include <cstdint>

#include "framework/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fw::io::Dataset d = fw::io::parse_idx_images(data, size, "fuzz");
    if (d.pixels.size() != size_t(d.n * d.c * d.h * d.w)) __builtin_trap();
  } catch (const fw::io::DataError&) {
  }
  try {
    auto labels = fw::io::parse_idx_labels(data, size, "fuzz");
    if (labels.empty()) __builtin_trap();
  } catch (const fw::io::DataError&) {
  }
  return 0;
}
