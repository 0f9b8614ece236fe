// framework/io/npy.h: NumPy .npy files, format version 1.0, C order, little-endian
// float32 ('<f4') or uint8 ('|u1'); header padded with spaces so that the data
// starts at a multiple of 64 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/io/dataset.h"

namespace fw::io {

struct NpyArray {
  std::string descr;             // "<f4" or "|u1"
  std::vector<int64_t> shape;    // empty for a 0-d array
  std::vector<uint8_t> data;     // raw little-endian element bytes, C order
  // ensures: the number of elements (product of shape; 1 for 0-d).
  int64_t numel() const;
  // requires: descr == "<f4". ensures: the elements as floats.
  std::vector<float> as_f32() const;
};

// ensures: the .npy bytes (header + data) for the given dtype and shape.
// requires: data holds product(shape) elements of the dtype; shape entries >= 0.
// throws: DataError naming `name` on a bad descr or shape.
std::vector<uint8_t> encode_npy(const std::string& descr, const std::vector<int64_t>& shape,
                                const void* data, const std::string& name = "<memory>");

// Writes uint8 / float32 arrays of any shape. throws: DataError naming `path`.
void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape);
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

// Parses .npy bytes.
// ensures: NpyArray whose data size equals numel * itemsize.
// throws: DataError "<name>: ..." on bad magic, unsupported version, malformed
//   header, unsupported dtype, fortran_order True, truncated or trailing data.
NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name);
// File version. throws: DataError naming `path`.
NpyArray read_npy(const std::string& path);

}  // namespace fw::io
