// tools/pixelrnn/train_options.cpp: storing, restoring and describing the options of a training run.
#include "tools/pixelrnn/train_options.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "tools/pixelrnn/common.h"

namespace pixelrnn::tool {

std::map<std::string, std::string> stored_options(const TrainOptions& o) {
  return {
      {"data", o.data},
      {"data_path", o.data_path},
      {"binarize", o.binarize},
      {"binarize_seed", std::to_string(kBinarizeSeed)},
      {"val", std::to_string(o.val)},
      {"batch", std::to_string(o.batch)},
      {"optimizer", o.optimizer},
      {"lr", fmt_double(o.lr)},
      {"clip", fmt_double(o.clip)},
      {"seed", std::to_string(o.seed)},
      {"steps", std::to_string(o.steps)},
      {"epochs", std::to_string(o.epochs)},
      {"minutes", fmt_double(o.minutes)},
      {"threads", std::to_string(o.threads)},
      {"save_every_steps", std::to_string(o.save_every_steps)},
      {"save_every_minutes", fmt_double(o.save_every_minutes)},
      {"log_every", std::to_string(o.log_every)},
      {"grid", std::to_string(o.grid)},
      {"grid_auto", o.grid_auto ? "1" : "0"},
  };
}

bool must_match_on_resume(const std::string& key) {
  for (const char* free : {"steps", "epochs", "minutes", "threads", "save_every_steps", "save_every_minutes",
                           "log_every", "grid", "grid_auto", "data", "data_path"})
    if (key == free) return false;
  return true;
}

namespace {
struct Reader {
  const std::map<std::string, std::string>& m;
  const std::string& file;
  const std::string& get(const std::string& k) const {
    auto it = m.find(k);
    if (it == m.end()) throw std::runtime_error(file + ": metadata lacks 'train." + k + "'");
    return it->second;
  }
  [[noreturn]] void bad(const std::string& k) const {
    throw std::runtime_error(file + ": metadata 'train." + k + "' is malformed: '" + get(k) + "'");
  }
  int64_t i64(const std::string& k) const {
    const std::string& s = get(k);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno) bad(k);
    return v;
  }
  uint64_t u64(const std::string& k) const {
    const std::string& s = get(k);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || end != s.c_str() + s.size() || errno) bad(k);
    return v;
  }
  double real(const std::string& k) const {
    const std::string& s = get(k);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) bad(k);
    return v;
  }
};
}  // namespace

void apply_stored_options(TrainOptions& o, const std::map<std::string, std::string>& stored, const std::string& file) {
  const Reader r{stored, file};
  o.data = r.get("data");
  o.binarize = r.get("binarize");
  o.val = r.i64("val");
  o.batch = r.i64("batch");
  o.optimizer = r.get("optimizer");
  o.lr = r.real("lr");
  o.clip = r.real("clip");
  o.seed = r.u64("seed");
  o.steps = r.i64("steps");
  o.epochs = r.i64("epochs");
  o.minutes = r.real("minutes");
  o.threads = int(r.i64("threads"));
  o.save_every_steps = r.i64("save_every_steps");
  o.save_every_minutes = r.real("save_every_minutes");
  o.log_every = r.i64("log_every");
  o.grid = r.i64("grid");
  // Keys added after the first checkpoints: optional.
  o.data_path = stored.count("data_path") ? stored.at("data_path") : "";
  o.grid_auto = stored.count("grid_auto") ? r.i64("grid_auto") != 0 : false;
}

nlohmann::json options_json(const TrainOptions& o) {
  using nlohmann::json;
  auto none_if_negative = [](double v) { return v < 0 ? json(nullptr) : json(v); };
  auto none_if_negative_i = [](int64_t v) { return v < 0 ? json(nullptr) : json(v); };
  json j;
  j["data"] = o.data;
  j["data_path"] = o.data_path;
  j["binarize"] = o.cfg.levels == 2 ? json(o.binarize) : json(nullptr);
  j["binarize_seed"] = o.cfg.levels == 2 ? json(kBinarizeSeed) : json(nullptr);
  j["val"] = o.val;
  j["batch"] = o.batch;
  j["optimizer"] = o.optimizer;
  j["lr"] = o.lr;
  j["clip"] = o.clip > 0 ? json(o.clip) : json(nullptr);
  j["seed"] = o.seed;
  j["steps"] = none_if_negative_i(o.steps);
  j["epochs"] = none_if_negative_i(o.epochs);
  j["minutes"] = none_if_negative(o.minutes);
  j["threads"] = o.threads;
  j["save_every_steps"] = o.save_every_steps > 0 ? json(o.save_every_steps) : json(nullptr);
  j["save_every_minutes"] = o.save_every_minutes > 0 ? json(o.save_every_minutes) : json(nullptr);
  j["log_every"] = o.log_every;
  j["grid"] = o.grid;
  j["grid_auto"] = o.grid_auto;
  return j;
}

std::string describe_options(const TrainOptions& o) {
  std::ostringstream s;
  const ModelConfig& c = o.cfg;
  auto limit = [](double v) { return v < 0 ? std::string("none") : fmt_double(v); };
  s << "configuration:\n"
    << "  model: " << c.model << "  (" << c.describe() << ")\n"
    << "  images: " << c.channels << "x" << c.height << "x" << c.width << ", levels " << c.levels << "\n"
    << "  hidden: " << c.hidden << "  layers: " << c.layers << "  out_hidden: " << c.out_hidden << "\n"
    << "  data: " << o.data << (o.data_path != o.data ? " = " + o.data_path : std::string()) << "  (train split; " << o.val << " images, evenly spaced, held out for validation)\n"
    << "  binarize: " << (c.levels == 2 ? o.binarize : std::string("no (levels 256)")) << "\n"
    << "  batch: " << o.batch << "  optimizer: " << o.optimizer << "  lr: " << fmt_double(o.lr)
    << "  clip: " << (o.clip > 0 ? fmt_double(o.clip) : std::string("off")) << "\n"
    << "  seed: " << o.seed << "  threads: " << (o.threads > 0 ? std::to_string(o.threads) : std::string("all")) << "\n"
    << "  stop after: steps " << limit(double(o.steps)) << ", epochs " << limit(double(o.epochs)) << ", minutes "
    << limit(o.minutes) << "\n"
    << "  checkpoints: every epoch, every " << fmt_double(o.save_every_minutes) << " minutes"
    << (o.save_every_steps > 0 ? ", every " + std::to_string(o.save_every_steps) + " steps" : std::string())
    << ", at the end\n"
    << "  grid: " << (o.grid > 0 ? std::to_string(o.grid) + " samples after each epoch" : std::string("none"))
    << (o.grid > 0 && o.grid_auto ? " (shrunk or skipped when slower than a tenth of the epoch)" : "") << "\n"
    << "  out: " << o.out << (o.resume ? "  (resuming)" : "") << "\n";
  return s.str();
}

}  // namespace pixelrnn::tool
