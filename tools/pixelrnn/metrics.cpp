// tools/pixelrnn/metrics.cpp: DIR/metrics.csv (see metrics.h).
#include "tools/pixelrnn/metrics.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "framework/io/atomic_file.h"
#include "tools/pixelrnn/common.h"

namespace pixelrnn::tool {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_until) : path_(path) {
  std::string kept = std::string(kHeader) + "\n";
  if (keep_until >= 0 && file_exists(path)) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
    std::string line;
    std::getline(in, line);
    const bool old = line == kOldHeader;
    if (line != kHeader && !old)
      throw std::runtime_error(path + ": not a pixelrnn metrics file (unexpected header)");
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const long long step = std::strtoll(line.c_str(), nullptr, 10);
      if (step <= keep_until) kept += line + (old ? ",," : "") + "\n";
    }
  }
  fw::io::write_file_atomic(path, kept);
  f_ = std::fopen(path.c_str(), "a");
  if (!f_) throw std::runtime_error(path + ": cannot open for appending: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::add(const MetricsRow& r) {
  std::string val = ",";
  if (r.has_val) val = fmt_double(r.val_nll_nats) + "," + fmt_double(r.val_bits_per_dim);
  std::ostringstream s;
  s << r.step << "," << r.epoch << "," << fmt_double(r.loss_nats) << "," << fmt_double(r.bits_per_dim) << "," << val
    << "," << fmt_short(r.images_per_s, 2) << "," << fmt_short(r.elapsed_s, 3) << ","
    << (r.val_s >= 0 ? fmt_short(r.val_s, 3) : "") << "," << (r.grid_s >= 0 ? fmt_short(r.grid_s, 3) : "") << "\n";
  const std::string line = s.str();
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    throw std::runtime_error(path_ + ": cannot write: " + std::strerror(errno));
}

}  // namespace pixelrnn::tool
