// framework/io/cifar.cpp: CIFAR-10 binary batch reader/writer.
#include "framework/io/cifar.h"

#include <cstring>

namespace fw::io {

Dataset parse_cifar_batch(const uint8_t* data, size_t size, const std::string& name) {
  if (size > 0 && data[0] == 0x80)
    throw DataError(name + ": this is a Python pickle file, not a CIFAR-10 binary batch; "
                           "download the \"CIFAR-10 binary version\" (cifar-10-binary.tar.gz) "
                           "and use its data_batch_*.bin / test_batch.bin files");
  if (size == 0) throw DataError(name + ": empty dataset (CIFAR-10 batch file has 0 bytes)");
  if (size % kCifarRecord != 0)
    throw DataError(name + ": size " + std::to_string(size) +
                    " bytes is not a multiple of the CIFAR-10 record size 3073 "
                    "(1 label byte + 3072 pixel bytes)");
  const uint64_t n = size / kCifarRecord;
  if (n > uint64_t(kMaxImages))
    throw DataError(name + ": " + std::to_string(n) + " CIFAR-10 records exceed the cap of " +
                    std::to_string(kMaxImages));
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t lab = data[i * kCifarRecord];
    if (lab > 9)
      throw DataError(name + ": label " + std::to_string(lab) + " of record " + std::to_string(i) +
                      " is out of range 0..9");
  }
  Dataset d;
  d.n = int64_t(n);
  d.c = 3;
  d.h = d.w = kCifarSide;
  d.source = name;
  d.pixels.resize(n * (kCifarRecord - 1));
  d.labels.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t* rec = data + i * kCifarRecord;
    d.labels[i] = rec[0];
    std::memcpy(d.pixels.data() + i * (kCifarRecord - 1), rec + 1, kCifarRecord - 1);
  }
  return d;
}

Dataset read_cifar_batch(const std::string& path) {
  // Cap the read at the largest valid batch.
  const auto bytes = read_file_bytes(path, uint64_t(kMaxImages) * kCifarRecord);
  return parse_cifar_batch(bytes.data(), bytes.size(), path);
}

Dataset read_cifar_batches(const std::vector<std::string>& paths) {
  if (paths.empty()) throw DataError("<cifar>: no CIFAR-10 batch files given (empty dataset)");
  Dataset all;
  for (const auto& p : paths) {
    Dataset d = read_cifar_batch(p);
    if (all.n == 0) {
      all = std::move(d);
      continue;
    }
    if (all.n + d.n > kMaxImages)
      throw DataError(p + ": CIFAR-10 batches together exceed the cap of " +
                      std::to_string(kMaxImages) + " images");
    all.n += d.n;
    all.pixels.insert(all.pixels.end(), d.pixels.begin(), d.pixels.end());
    all.labels.insert(all.labels.end(), d.labels.begin(), d.labels.end());
    all.source += "," + p;
  }
  return all;
}

void write_cifar_batch(const std::string& path, const Dataset& d) {
  if (d.c != 3 || d.h != kCifarSide || d.w != kCifarSide || d.n <= 0 ||
      int64_t(d.labels.size()) != d.n || int64_t(d.pixels.size()) != d.n * 3072)
    throw DataError(path + ": dataset is not (N, 3, 32, 32) with N labels; cannot write CIFAR-10");
  std::vector<uint8_t> out;
  out.reserve(size_t(d.n * kCifarRecord));
  for (int64_t i = 0; i < d.n; ++i) {
    if (d.labels[i] < 0 || d.labels[i] > 255)
      throw DataError(path + ": label " + std::to_string(d.labels[i]) + " does not fit in a byte");
    out.push_back(uint8_t(d.labels[i]));
    out.insert(out.end(), d.image(i), d.image(i) + 3072);
  }
  write_file_bytes(path, out.data(), out.size());
}

}  // namespace fw::io
