// framework/io/png.h: PNG input (stb_image, PNG only, never flipped) and output
// (stb_image_write): single images and image grids. Pixels are planar (C, H, W).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/io/dataset.h"

namespace fw::io {

struct Image {
  int64_t c = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;  // (C, H, W) row-major
};

// Decodes a PNG held in memory, converting to `channels` (1 = greyscale, 3 = RGB;
// alpha is dropped). The header is read first (stbi_info_from_memory) and images
// with a side above kMaxSide are refused before decoding.
// requires: channels is 1 or 3.
// ensures: Image with c == channels; when expect_h/expect_w > 0, h/w equal them.
// throws: DataError "<name>: ..." for a corrupt/non-PNG file, over-cap dimensions,
//   and, when an expected size is given (expect_h > 0 or expect_w > 0), a size that
//   differs or a colour channel count (grey/grey+alpha = 1, RGB/RGBA = 3) that
//   differs from `channels`.
Image decode_png(const uint8_t* data, size_t size, const std::string& name, int channels,
                 int64_t expect_h = 0, int64_t expect_w = 0);

// File version of decode_png. throws: DataError naming `path`.
Image read_png(const std::string& path, int channels, int64_t expect_h = 0, int64_t expect_w = 0);

// Encodes planar pixels as PNG bytes.
// requires: c in {1, 3}, 0 < h, w <= 32768, pixels has c*h*w bytes.
// throws: DataError naming `name` on bad arguments or encoder failure.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t c, int64_t h, int64_t w,
                                const std::string& name = "<memory>");

// Writes one image (C, H, W), upscaled by the integer `scale` (>= 1; nearest
// neighbour) and with values mapped v -> v * 255 / max_value (use max_value = 1 for
// binarized {0,1} data). throws: DataError naming `path`.
void write_png(const std::string& path, const uint8_t* pixels, int64_t c, int64_t h, int64_t w,
               int scale = 1, int max_value = 255);

// Writes n images (N, C, H, W) as a grid with `per_row` images per row, `pad`
// pixels of grey (128) around and between them. scale = 0 picks the integer
// upscale automatically: max(1, min(8, 64 / max(h, w))) (28x28 -> 2, 8x8 -> 8).
// requires: n > 0, c in {1, 3}, per_row > 0, pad >= 0, max_value > 0.
// throws: DataError naming `path` on bad arguments, an over-large grid
//   (side > 32768) or an I/O failure.
void write_png_grid(const std::string& path, const uint8_t* pixels, int64_t n, int64_t c,
                    int64_t h, int64_t w, int per_row = 8, int pad = 2, int scale = 0,
                    int max_value = 255);

}  // namespace fw::io
