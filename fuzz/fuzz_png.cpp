// fuzz/fuzz_png.cpp: libFuzzer target for the PNG decoder (stb_image, PNG only),
// as greyscale and as RGB, with and without an expected size.
#include <cstddef>
#include <cstdint>

#include "framework/io/png.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int ch : {1, 3}) {
    try {
      fw::io::Image im = fw::io::decode_png(data, size, "fuzz", ch);
      if (im.pixels.size() != size_t(im.c * im.h * im.w)) __builtin_trap();
    } catch (const fw::io::DataError&) {
    }
  }
  try {
    fw::io::decode_png(data, size, "fuzz", 1, 28, 28);
  } catch (const fw::io::DataError&) {
  }
  return 0;
}
