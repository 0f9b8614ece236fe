// framework/io/cifar.h: CIFAR-10 "binary version" batches (cifar-10-binary.tar.gz):
// records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32, row-major).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/io/dataset.h"

namespace fw::io {

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarRecord = 1 + 3 * 32 * 32;  // 3073 bytes

// Parses one CIFAR-10 binary batch held in memory.
// ensures: Dataset (n, 3, 32, 32) with n labels in 0..9, source = name.
// throws: DataError "<name>: ..." when the data is a Python pickle (first byte
//   0x80; the message says to download the CIFAR-10 binary version), when the size
//   is zero or not a multiple of 3073, when there are more than kMaxImages
//   records, or when a label is > 9 (naming the record).
Dataset parse_cifar_batch(const uint8_t* data, size_t size, const std::string& name);

// File version. throws: DataError naming `path`.
Dataset read_cifar_batch(const std::string& path);

// Loads several batches into one dataset (in the given order).
// requires: paths non-empty. ensures: concatenation, source = paths joined by ','.
// throws: DataError from any batch, or when paths is empty or the total exceeds kMaxImages.
Dataset read_cifar_batches(const std::vector<std::string>& paths);

// Writes a CIFAR-10 binary batch. requires: d.c == 3, d.h == d.w == 32, labels in 0..255.
// throws: DataError naming `path`.
void write_cifar_batch(const std::string& path, const Dataset& d);

}  // namespace fw::io
