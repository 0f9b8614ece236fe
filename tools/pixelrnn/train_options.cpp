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
  };
}

bool must_match_on_resume(const std::string& key) {
  for (const char* free : {"steps", "epochs", "minutes", "threads", "save_every_steps", "save_every_minutes",
                           "log_every", "grid"})
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
}

std::string describe_options(const TrainOptions& o) {
  std::ostringstream s;
  const ModelConfig& c = o.cfg;
  auto limit = [](double v) { return v < 0 ? std::string("none") : fmt_double(v); };
  s << "configuration:\n"
    << "  model: " << c.model << "  (" << c.describe() << ")\n"
    << "  images: " << c.channels << "x" << c.height << "x" << c.width << ", levels " << c.levels << "\n"
    << "  hidden: " << c.hidden << "  layers: " << c.layers << "  out_hidden: " << c.out_hidden << "\n"
    << "  data: " << o.data << "  (train split; " << o.val << " images held out for validation)\n"
    << "  binarize: " << (c.levels == 2 ? o.binarize : std::string("no (levels 256)")) << "\n"
    << "  batch: " << o.batch << "  optimizer: " << o.optimizer << "  lr: " << fmt_double(o.lr)
    << "  clip: " << (o.clip > 0 ? fmt_double(o.clip) : std::string("off")) << "\n"
    << "  seed: " << o.seed << "  threads: " << (o.threads > 0 ? std::to_string(o.threads) : std::string("all")) << "\n"
    << "  stop after: steps " << limit(double(o.steps)) << ", epochs " << limit(double(o.epochs)) << ", minutes "
    << limit(o.minutes) << "\n"
    << "  checkpoints: every epoch, every " << fmt_double(o.save_every_minutes) << " minutes"
    << (o.save_every_steps > 0 ? ", every " + std::to_string(o.save_every_steps) + " steps" : std::string())
    << ", at the end\n"
    << "  out: " << o.out << (o.resume ? "  (resuming)" : "") << "\n";
  return s.str();
}

}  // namespace pixelrnn::tool
