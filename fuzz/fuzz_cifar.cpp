// fuzz/fuzz_cifar.cpp: libFuzzer target for the CIFAR-10 binary batch parser.
#include <cstddef>
#include <cstdint>

#include "framework/io/cifar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fw::io::Dataset d = fw::io::parse_cifar_batch(data, size, "fuzz");
    if (d.pixels.size() != size_t(d.n) * 3072 || d.labels.size() != size_t(d.n)) __builtin_trap();
    for (int32_t l : d.labels)
      if (l < 0 || l > 9) __builtin_trap();
  } catch (const fw::io::DataError&) {
  }
  return 0;
}
