// tools/pixelrnn/metrics.h: DIR/metrics.csv, one row per training step.
//
// Columns: step, epoch (1-based epoch of the step), loss_nats (the batch's mean NLL per image, nats),
// bits_per_dim (the same in bits per dimension), val_nll_nats and val_bits_per_dim (the validation NLL, only on
// the row of an epoch's last step; empty elsewhere), images_per_s (training images per second of training time,
// this invocation), elapsed_s (training time of the whole run: steps only), val_s and grid_s (seconds spent on
// the validation NLL and on the sample grid, on the row of an epoch's last step; empty elsewhere). Rows are
// appended and flushed as they come; when a run is resumed the file
// is first rewritten (atomically) without the rows after the checkpoint's step, so no step appears twice.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace pixelrnn::tool {

struct MetricsRow {
  int64_t step = 0, epoch = 0;
  double loss_nats = 0, bits_per_dim = 0;
  bool has_val = false;
  double val_nll_nats = 0, val_bits_per_dim = 0;
  double images_per_s = 0, elapsed_s = 0;
  double val_s = -1, grid_s = -1;  // -1: empty
};

class MetricsLog {
 public:
  static constexpr const char* kHeader =
      "step,epoch,loss_nats,bits_per_dim,val_nll_nats,val_bits_per_dim,images_per_s,elapsed_s,val_s,grid_s";
  // The header of files written before val_s and grid_s existed; their rows get two empty columns on resume.
  static constexpr const char* kOldHeader =
      "step,epoch,loss_nats,bits_per_dim,val_nll_nats,val_bits_per_dim,images_per_s,elapsed_s";
  // Creates path with the header (keep_until < 0), or keeps the rows with step <= keep_until of an existing file
  // (a missing file starts with the header). throws: std::runtime_error / fw::io::IoError naming path.
  MetricsLog(const std::string& path, int64_t keep_until);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // Appends and flushes one row. throws: std::runtime_error naming the file on a write error.
  void add(const MetricsRow& r);

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace pixelrnn::tool
