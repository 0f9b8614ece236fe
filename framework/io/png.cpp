// framework/io/png.cpp: PNG decode/encode on top of stb (see stb_impl.cpp).
#include "framework/io/png.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include "framework/io/stb_config.h"

namespace fw::io {
namespace {

const char* channel_word(int c) { return c == 1 ? "greyscale" : "RGB"; }

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& name, int channels,
                 int64_t expect_h, int64_t expect_w) {
  if (channels != 1 && channels != 3)
    throw DataError(name + ": PNG channels must be 1 or 3, got " + std::to_string(channels));
  if (size < 8 || size > size_t(INT_MAX) ||
      !(data[0] == 0x89 && data[1] == 'P' && data[2] == 'N' && data[3] == 'G'))
    throw DataError(name + ": corrupt PNG (missing PNG signature)");
  // Walk the chunk list first: every chunk must lie inside the input. stb grows
  // its IDAT buffer to a chunk's declared length before reading it, so this keeps
  // a tiny file from making it allocate up to 2 GiB.
  size_t pos = 8;
  bool first = true;
  for (;;) {
    if (pos + 12 > size)
      throw DataError(name + ": corrupt PNG (truncated: no IEND chunk)");
    const uint32_t len = uint32_t(data[pos]) << 24 | uint32_t(data[pos + 1]) << 16 |
                         uint32_t(data[pos + 2]) << 8 | uint32_t(data[pos + 3]);
    if (len > size - pos - 12)
      throw DataError(name + ": corrupt PNG (chunk of " + std::to_string(len) +
                      " bytes at offset " + std::to_string(pos) + " runs past the end of the file)");
    const bool ihdr = std::memcmp(data + pos + 4, "IHDR", 4) == 0;
    if (first && !ihdr) throw DataError(name + ": corrupt PNG (first chunk is not IHDR)");
    first = false;
    if (std::memcmp(data + pos + 4, "IEND", 4) == 0) break;
    pos += 12 + size_t(len);
  }
  // The size from IHDR, checked against the cap before stb sees it (stb refuses sides above its own cap with
  // "too large", which would hide the size from the message).
  {
    const uint32_t ihdr_len = uint32_t(data[8]) << 24 | uint32_t(data[9]) << 16 | uint32_t(data[10]) << 8 | data[11];
    if (ihdr_len < 13) throw DataError(name + ": corrupt PNG (IHDR chunk of " + std::to_string(ihdr_len) + " bytes)");
    auto be32 = [&](size_t at) {
      return uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 | data[at + 3];
    };
    const uint64_t iw = be32(16), ih = be32(20);
    if (iw > uint64_t(kMaxSide) || ih > uint64_t(kMaxSide))
      throw DataError(name + ": PNG size " + std::to_string(iw) + "x" + std::to_string(ih) +
                      " (WxH) exceeds the cap of " + std::to_string(kMaxSide) + "x" + std::to_string(kMaxSide));
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, int(size), &w, &h, &comp)) {
    const char* why = stbi_failure_reason();
    throw DataError(name + ": corrupt PNG (" + (why ? why : "unreadable header") + ")");
  }
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide)
    throw DataError(name + ": PNG size " + std::to_string(w) + "x" + std::to_string(h) +
                    " exceeds the cap of " + std::to_string(kMaxSide) + "x" +
                    std::to_string(kMaxSide));
  const int native = (comp == 1 || comp == 2) ? 1 : 3;
  if (expect_h > 0 || expect_w > 0) {
    if ((expect_h > 0 && h != expect_h) || (expect_w > 0 && w != expect_w))
      throw DataError(name + ": PNG is " + std::to_string(w) + "x" + std::to_string(h) +
                      " (WxH), expected " + std::to_string(expect_w > 0 ? expect_w : w) + "x" +
                      std::to_string(expect_h > 0 ? expect_h : h) + " (wrong size)");
    if (native != channels)
      throw DataError(name + ": PNG has " + std::to_string(native) + " colour channel(s) (" +
                      channel_word(native) + "), expected " + std::to_string(channels) + " (" +
                      channel_word(channels) + ") (wrong channel count)");
  }
  int w2 = 0, h2 = 0, comp2 = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(data, int(size), &w2, &h2, &comp2, channels), stbi_image_free);
  if (!px) {
    const char* why = stbi_failure_reason();
    throw DataError(name + ": corrupt PNG (" + (why ? why : "decode failed") + ")");
  }
  if (w2 != w || h2 != h) throw DataError(name + ": corrupt PNG (inconsistent size)");
  Image img;
  img.c = channels;
  img.h = h;
  img.w = w;
  img.pixels.resize(size_t(channels) * h * w);
  // stb gives interleaved (H, W, C); store planar (C, H, W).
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < channels; ++ch)
        img.pixels[size_t((ch * h + y) * w + x)] = px.get()[(y * w + x) * channels + ch];
  return img;
}

Image read_png(const std::string& path, int channels, int64_t expect_h, int64_t expect_w) {
  const auto bytes = read_file_bytes(path, uint64_t(1) << 30);
  return decode_png(bytes.data(), bytes.size(), path, channels, expect_h, expect_w);
}

std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t c, int64_t h, int64_t w,
                                const std::string& name) {
  if ((c != 1 && c != 3) || h <= 0 || w <= 0 || h > 32768 || w > 32768)
    throw DataError(name + ": cannot encode PNG of shape (" + std::to_string(c) + ", " +
                    std::to_string(h) + ", " + std::to_string(w) + ")");
  std::vector<uint8_t> inter(size_t(c * h * w));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        inter[size_t((y * w + x) * c + ch)] = pixels[(ch * h + y) * w + x];
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, int(w), int(h), int(c), inter.data(),
                              int(w * c)))
    throw DataError(name + ": PNG encoding failed");
  return out;
}

void write_png(const std::string& path, const uint8_t* pixels, int64_t c, int64_t h, int64_t w,
               int scale, int max_value) {
  write_png_grid(path, pixels, 1, c, h, w, 1, 0, scale < 1 ? 1 : scale, max_value);
}

void write_png_grid(const std::string& path, const uint8_t* pixels, int64_t n, int64_t c,
                    int64_t h, int64_t w, int per_row, int pad, int scale, int max_value) {
  if (n <= 0 || (c != 1 && c != 3) || h <= 0 || w <= 0 || h > kMaxSide || w > kMaxSide ||
      per_row <= 0 || pad < 0 || scale < 0 || max_value <= 0)
    throw DataError(path + ": bad arguments for a PNG grid (n=" + std::to_string(n) +
                    ", c=" + std::to_string(c) + ", h=" + std::to_string(h) +
                    ", w=" + std::to_string(w) + ")");
  if (scale == 0) scale = int(std::max<int64_t>(1, std::min<int64_t>(8, 64 / std::max(h, w))));
  const int64_t cols = std::min<int64_t>(n, per_row);
  const int64_t rows = (n + per_row - 1) / per_row;
  const int64_t cw = w * scale, chh = h * scale;
  const int64_t W = cols * cw + (cols + 1) * pad;
  const int64_t H = rows * chh + (rows + 1) * pad;
  if (W > 32768 || H > 32768)
    throw DataError(path + ": PNG grid of " + std::to_string(W) + "x" + std::to_string(H) +
                    " pixels is too large (cap 32768)");
  std::vector<uint8_t> canvas(size_t(c * H * W), 128);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t oy = pad + (i / per_row) * (chh + pad);
    const int64_t ox = pad + (i % per_row) * (cw + pad);
    const uint8_t* img = pixels + i * c * h * w;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < chh; ++y)
        for (int64_t x = 0; x < cw; ++x) {
          const int v = img[(ch * h + y / scale) * w + x / scale];
          const int out = std::min(255, v * 255 / max_value);
          canvas[size_t((ch * H + oy + y) * W + ox + x)] = uint8_t(out);
        }
  }
  const auto bytes = encode_png(canvas.data(), c, H, W, path);
  write_file_bytes(path, bytes.data(), bytes.size());
}

}  // namespace fw::io
