// framework/io/npy.cpp: .npy v1.0 writer and validating reader.
#include "framework/io/npy.h"

#include <cstring>

namespace fw::io {
namespace {

size_t itemsize(const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "|u1") return 1;
  return 0;
}

bool host_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

uint64_t checked_numel(const std::vector<int64_t>& shape, const std::string& name) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw DataError(name + ": negative .npy dimension");
    if (__builtin_mul_overflow(n, uint64_t(d), &n) || n > (uint64_t(1) << 40))
      throw DataError(name + ": .npy shape is too large");
  }
  return n;
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> NpyArray::as_f32() const {
  if (descr != "<f4") throw DataError("npy array has dtype " + descr + ", not <f4");
  std::vector<float> out(data.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t u = uint32_t(data[4 * i]) | uint32_t(data[4 * i + 1]) << 8 |
                 uint32_t(data[4 * i + 2]) << 16 | uint32_t(data[4 * i + 3]) << 24;
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

std::vector<uint8_t> encode_npy(const std::string& descr, const std::vector<int64_t>& shape,
                                const void* data, const std::string& name) {
  const size_t isz = itemsize(descr);
  if (isz == 0) throw DataError(name + ": unsupported .npy dtype '" + descr + "'");
  const uint64_t n = checked_numel(shape, name);
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // magic(6) + version(2) + header_len(2) + dict + padding + '\n' ≡ 0 (mod 64)
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(uint8_t(dict.size() & 0xff));
  out.push_back(uint8_t(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  const auto* p = static_cast<const uint8_t*>(data);
  const size_t bytes = size_t(n) * isz;
  if (isz == 4 && !host_little_endian()) {
    for (size_t i = 0; i < bytes; i += 4)
      for (int k = 3; k >= 0; --k) out.push_back(p[i + size_t(k)]);
  } else {
    out.insert(out.end(), p, p + bytes);
  }
  return out;
}

void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  const auto b = encode_npy("|u1", shape, data, path);
  write_file_bytes(path, b.data(), b.size());
}

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  const auto b = encode_npy("<f4", shape, data, path);
  write_file_bytes(path, b.data(), b.size());
}

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(data, kMagic, 6) != 0)
    throw DataError(name + ": bad .npy magic (not a NumPy .npy file)");
  if (data[6] != 1 || data[7] != 0)
    throw DataError(name + ": unsupported .npy version " + std::to_string(data[6]) + "." +
                    std::to_string(data[7]) + " (only 1.0)");
  const size_t hlen = size_t(data[8]) | size_t(data[9]) << 8;
  if (10 + hlen > size) throw DataError(name + ": truncated .npy header");
  const std::string h(reinterpret_cast<const char*>(data + 10), hlen);
  if (hlen == 0 || h.back() != '\n' || h.front() != '{')
    throw DataError(name + ": malformed .npy header");
  auto value_of = [&](const std::string& key) -> std::string {
    const auto k = h.find("'" + key + "':");
    if (k == std::string::npos) throw DataError(name + ": .npy header lacks '" + key + "'");
    size_t p = k + key.size() + 3;
    while (p < h.size() && h[p] == ' ') ++p;
    return h.substr(p);
  };
  NpyArray a;
  std::string d = value_of("descr");
  if (d.size() < 5 || d[0] != '\'' || d[4] != '\'')
    throw DataError(name + ": malformed .npy descr");
  a.descr = d.substr(1, 3);
  const size_t isz = itemsize(a.descr);
  if (isz == 0) throw DataError(name + ": unsupported .npy dtype '" + a.descr + "' (want <f4 or |u1)");
  std::string fo = value_of("fortran_order");
  if (fo.compare(0, 5, "False") != 0)
    throw DataError(name + ": .npy fortran_order must be False (C order only)");
  std::string s = value_of("shape");
  if (s.empty() || s[0] != '(') throw DataError(name + ": malformed .npy shape");
  size_t p = 1;
  for (;;) {
    while (p < s.size() && (s[p] == ' ' || s[p] == ',')) ++p;
    if (p >= s.size()) throw DataError(name + ": malformed .npy shape");
    if (s[p] == ')') break;
    if (s[p] < '0' || s[p] > '9') throw DataError(name + ": malformed .npy shape");
    int64_t v = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (v > (int64_t(1) << 40)) throw DataError(name + ": .npy shape is too large");
      v = v * 10 + (s[p++] - '0');
    }
    a.shape.push_back(v);
    if (a.shape.size() > 32) throw DataError(name + ": .npy has too many dimensions");
  }
  const uint64_t n = checked_numel(a.shape, name);
  const uint64_t need = n * isz;
  const uint64_t have = size - 10 - hlen;
  if (have < need)
    throw DataError(name + ": truncated .npy data (" + std::to_string(have) + " of " +
                    std::to_string(need) + " bytes)");
  if (have > need)
    throw DataError(name + ": " + std::to_string(have - need) + " trailing bytes after .npy data");
  a.data.assign(data + 10 + hlen, data + size);
  return a;
}

NpyArray read_npy(const std::string& path) {
  const auto b = read_file_bytes(path);
  return parse_npy(b.data(), b.size(), path);
}

}  // namespace fw::io
