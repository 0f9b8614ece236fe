// fuzz/fuzz_npy.cpp: libFuzzer target for the .npy reader.
#include <cstddef>
#include <cstdint>

#include "framework/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fw::io::NpyArray a = fw::io::parse_npy(data, size, "fuzz");
    const size_t isz = a.descr == "<f4" ? 4 : 1;
    if (a.data.size() != size_t(a.numel()) * isz) __builtin_trap();
  } catch (const fw::io::DataError&) {
  }
  return 0;
}
