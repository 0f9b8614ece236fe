// tools/pixelrnn/data_select.cpp: picking the images of eval and complete (see data_select.h).
#include "tools/pixelrnn/data_select.h"

#include <stdexcept>

#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/data_lookup.h"

namespace pixelrnn::tool {

void add_data_flags(Flags& f, const std::string& n_help) {
  f.value("data", "DATA", "dataset name, folder or file (as for train)", "the data the checkpoint was trained on");
  add_data_dir_flag(f);
  f.value("split", "SPLIT", "train | test (a single file is its own split)", "test");
  f.value("count", "N", n_help, "", "n");
  f.value("binarize", "MODE", "stochastic | threshold (levels 2)", "as in training");
}

std::string binarize_mode(const Flags& f, const Checkpoint& ck) {
  auto it = ck.metadata.find("train.binarize");
  if (f.has("binarize") && ck.config.levels != 2)
    throw UsageError(f.shown("binarize") + " " + f.str("binarize") + ": " + ck.path + " is a model of " +
                     std::to_string(ck.config.levels) + "-level pixels; binarization applies to levels 2 only");
  return f.choice("binarize", it == ck.metadata.end() ? "stochastic" : it->second, {"stochastic", "threshold"});
}

fw::io::Dataset select_images(const Flags& f, const Checkpoint& ck, int64_t default_n, Pick pick) {
  const std::string split = f.choice("split", "test", {"train", "test"});
  PixelSpace space{ck.config.levels, binarize_mode(f, ck)};
  if (auto it = ck.metadata.find("train.binarize_seed"); it != ck.metadata.end())
    space.seed = uint64_t(parse_int(ck.path + ": metadata 'train.binarize_seed'", it->second));
  const std::string dir = f.str("data-dir");
  const std::string path = f.has("data") ? resolve_data(f.str("data"), dir) : checkpoint_data(ck.metadata, ck.path, dir);
  fw::io::Dataset d = load_data(path, split, space);
  check_data_matches(d, ck.config, ck.path);
  int64_t n = f.integer("count", default_n < 0 ? d.n : default_n, 1);
  if (n > d.n) {
    if (f.has("count"))
      throw std::runtime_error(f.shown("count") + " " + std::to_string(n) + ": " + d.source + " (" + split +
                               ") holds only " + std::to_string(d.n) + " images");
    n = d.n;
  }
  if (pick == Pick::kFirst || n == d.n) return d.slice(0, n);
  fw::io::Dataset out = d.slice(0, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = (i + 1) * d.n / n - 1;
    out.pixels.insert(out.pixels.end(), d.image(k), d.image(k) + d.image_size());
    if (d.has_labels()) out.labels.push_back(d.label(k));
    ++out.n;
  }
  return out;
}

}  // namespace pixelrnn::tool
