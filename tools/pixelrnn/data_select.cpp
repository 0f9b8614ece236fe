// tools/pixelrnn/data_select.cpp: picking the images of eval and complete (see data_select.h).
#include "tools/pixelrnn/data_select.h"

#include <stdexcept>

#include "tools/pixelrnn/common.h"

namespace pixelrnn::tool {

void add_data_flags(Flags& f, const std::string& n_help) {
  f.value("data", "DATA", "dataset name, folder or file (as for train)", "the data the checkpoint was trained on");
  f.value("split", "SPLIT", "train | test (a single file is its own split)", "test");
  f.value("count", "N", n_help, "", "n");
  f.value("binarize", "MODE", "stochastic | threshold (levels 2)", "as in training");
}

std::string binarize_mode(const Flags& f, const Checkpoint& ck) {
  auto it = ck.metadata.find("train.binarize");
  return f.choice("binarize", it == ck.metadata.end() ? "stochastic" : it->second, {"stochastic", "threshold"});
}

fw::io::Dataset select_images(const Flags& f, const Checkpoint& ck, int64_t default_n) {
  std::string data = f.str("data");
  if (data.empty()) {
    auto it = ck.metadata.find("train.data");
    if (it == ck.metadata.end())
      throw UsageError("--data is required: " + ck.path + " does not say what it was trained on");
    data = it->second;
  }
  const std::string split = f.choice("split", "test", {"train", "test"});
  const PixelSpace space{ck.config.levels, binarize_mode(f, ck)};
  fw::io::Dataset d = load_data(data, split, space);
  check_data_matches(d, ck.config, ck.path);
  int64_t n = f.integer("count", default_n < 0 ? d.n : default_n, 1);
  if (n > d.n) {
    if (f.has("count"))
      throw std::runtime_error("-n " + std::to_string(n) + ": " + d.source + " (" + split + ") holds only " +
                               std::to_string(d.n) + " images");
    n = d.n;
  }
  return d.slice(0, n);
}

}  // namespace pixelrnn::tool
