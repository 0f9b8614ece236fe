// framework/io/idx.h: MNIST-style IDX files (images: magic 0x00000803, labels:
// magic 0x00000801), raw or gzipped, with size checks before any allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/io/dataset.h"

namespace fw::io {

constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

// Parses an IDX image file held in memory (gzip detected by its 1f 8b magic).
// requires: `name` names the source for error messages.
// ensures: Dataset with c == 1, h = rows, w = cols, n > 0, empty labels, source = name.
// throws: DataError "<name>: ..." for: bad magic, truncated header or data,
//   trailing bytes, zero or over-cap dimensions (n > kMaxImages, side > kMaxSide),
//   corrupt gzip. Sizes are checked against the caps and the input length before
//   any buffer of the declared size is allocated.
Dataset parse_idx_images(const uint8_t* data, size_t size, const std::string& name);

// Parses an IDX label file held in memory (raw or gzipped).
// ensures: n labels (each 0..255 as stored). throws: DataError as above.
std::vector<int32_t> parse_idx_labels(const uint8_t* data, size_t size, const std::string& name);

// File versions of the two parsers. throws: DataError naming `path`.
Dataset read_idx_images(const std::string& path);
std::vector<int32_t> read_idx_labels(const std::string& path);

// Loads an image file and its label file.
// ensures: Dataset with labels. throws: DataError naming the files when the counts
//   differ, or naming the label file and the index when a label is > max_label.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      int32_t max_label = 9);

// Writes IDX files. requires: pixels.size() == n*h*w, 0 < n, h, w within the caps.
// ensures: the file at `path`, gzipped when `gzip` is true.
// throws: DataError naming `path` on a bad argument or an I/O failure.
void write_idx_images(const std::string& path, const uint8_t* pixels, int64_t n,
                      int64_t h, int64_t w, bool gzip);
// requires: each label in 0..255. ensures/throws: as write_idx_images.
void write_idx_labels(const std::string& path, const std::vector<int32_t>& labels, bool gzip);

}  // namespace fw::io
