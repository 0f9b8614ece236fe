// fuzz/fuzz_png.cpp: libFuzzer target for the PNG decoder (stb_image, PNG only),
// as greyscale and as RGB, with and without an expected size.
// Inputs whose IHDR claims more than 2^16 pixels (but within the 4096x4096 cap)
// only go through the expected-size path, which stops after the header: a full
// decode of such images allocates tens of MB under ASan and slows fuzzing a lot.
#include <cstddef>
#include <cstdint>

#include "framework/io/png.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fw::io::decode_png(data, size, "fuzz", 1, 28, 28);
  } catch (const fw::io::DataError&) {
  }
  if (size >= 24) {
    auto be32 = [&](size_t o) {
      return uint64_t(data[o]) << 24 | uint64_t(data[o + 1]) << 16 | uint64_t(data[o + 2]) << 8 | data[o + 3];
    };
    if (be32(16) * be32(20) > (uint64_t(1) << 16)) return 0;
  }
  for (int ch : {1, 3}) {
    try {
      fw::io::Image im = fw::io::decode_png(data, size, "fuzz", ch);
      if (im.pixels.size() != size_t(im.c * im.h * im.w)) __builtin_trap();
    } catch (const fw::io::DataError&) {
    }
  }
  return 0;
}
