// tools/pixelrnn/checkpoint.cpp: training checkpoints (see checkpoint.h).
#include "tools/pixelrnn/checkpoint.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "framework/core/rng.h"
#include "framework/io/safetensors.h"
#include "tools/pixelrnn/common.h"

#ifndef PIXELRNN_VERSION
#define PIXELRNN_VERSION "unknown"
#endif

namespace pixelrnn::tool {

using fw::io::CheckpointError;

static std::string rng_text(const std::array<uint64_t, 4>& s) {
  return std::to_string(s[0]) + "," + std::to_string(s[1]) + "," + std::to_string(s[2]) + "," + std::to_string(s[3]);
}

static uint64_t parse_u64(const Checkpoint& ck, const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || end != text.c_str() + text.size() || errno == ERANGE)
    throw CheckpointError(ck.path + ": metadata '" + key + "' is not an unsigned integer: '" + text + "'");
  return v;
}

static int64_t parse_i64(const Checkpoint& ck, const std::string& key) {
  const uint64_t v = parse_u64(ck, key, meta(ck, key));
  if (v > uint64_t(INT64_MAX)) throw CheckpointError(ck.path + ": metadata '" + key + "' is too large");
  return int64_t(v);
}

std::map<std::string, std::string> checkpoint_metadata(const ModelConfig& cfg,
                                                       const std::map<std::string, std::string>& train_options,
                                                       const TrainProgress* p) {
  std::map<std::string, std::string> m = cfg.to_metadata();
  m["format_version"] = kFormatVersion;
  m["program"] = std::string("pixelrnn ") + PIXELRNN_VERSION;
  for (const auto& [k, v] : train_options) m["train." + k] = v;
  if (p) {
    m["step"] = std::to_string(p->step);
    m["epoch"] = std::to_string(p->epoch);
    m["elapsed_s"] = fmt_double(p->elapsed_s);
    m["wall_s"] = fmt_double(p->wall_s);
    m["epoch_loss_sum"] = fmt_double(p->epoch_loss_sum);
    m["epoch_loss_images"] = std::to_string(p->epoch_loss_images);
    m["batches.seed"] = std::to_string(p->batches.seed);
    m["batches.epoch"] = std::to_string(p->batches.epoch);
    m["batches.position"] = std::to_string(p->batches.position);
    m["rng.sample"] = rng_text(p->sample_rng);
  }
  return m;
}

void save_checkpoint(const std::string& path, const PixelModel& model, const fw::optim::Optimizer* opt,
                     const std::map<std::string, std::string>& metadata) {
  fw::nn::NamedTensors all = model.named_parameters();
  if (opt)
    for (auto& [name, t] : opt->state()) all.emplace_back("optim." + name, t);
  // Checkpoints are device-independent: tensors on a device (--device cuda) are copied to the host first.
  for (auto& [name, t] : all)
    if (t.device() != fw::Device::CPU) t = t.to_device(fw::Device::CPU);
  fw::io::save_safetensors(path, all, metadata);
}

const std::string& meta(const Checkpoint& ck, const std::string& key) {
  auto it = ck.metadata.find(key);
  if (it == ck.metadata.end()) throw CheckpointError(ck.path + ": metadata lacks '" + key + "'");
  return it->second;
}

Checkpoint read_checkpoint(const std::string& path) {
  fw::io::SafetensorsFile f = fw::io::load_safetensors(path);
  Checkpoint ck;
  ck.path = path;
  ck.metadata = std::move(f.metadata);
  ck.tensors = std::move(f.tensors);
  const auto v = ck.metadata.find("format_version");
  if (v == ck.metadata.end())
    throw CheckpointError(path + ": not a pixelrnn checkpoint (metadata lacks 'format_version')");
  if (v->second != kFormatVersion)
    throw CheckpointError(path + ": checkpoint format version " + v->second + " is not supported (this program reads " +
                          kFormatVersion + ")");
  try {
    ck.config = ModelConfig::from_metadata(ck.metadata).resolved();
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": bad model configuration in the metadata: " + e.what());
  }
  return ck;
}

TrainProgress read_progress(const Checkpoint& ck) {
  TrainProgress p;
  p.step = parse_i64(ck, "step");
  p.epoch = parse_i64(ck, "epoch");
  char* end = nullptr;
  const std::string& el = meta(ck, "elapsed_s");
  p.elapsed_s = std::strtod(el.c_str(), &end);
  if (el.empty() || end != el.c_str() + el.size()) throw CheckpointError(ck.path + ": metadata 'elapsed_s' is malformed");
  // Keys added after the first checkpoints: optional.
  p.wall_s = p.elapsed_s;
  if (ck.metadata.count("wall_s")) {
    const std::string& w = meta(ck, "wall_s");
    p.wall_s = std::strtod(w.c_str(), &end);
    if (w.empty() || end != w.c_str() + w.size()) throw CheckpointError(ck.path + ": metadata 'wall_s' is malformed");
  }
  if (ck.metadata.count("epoch_loss_sum") && ck.metadata.count("epoch_loss_images")) {
    const std::string& l = meta(ck, "epoch_loss_sum");
    p.epoch_loss_sum = std::strtod(l.c_str(), &end);
    if (l.empty() || end != l.c_str() + l.size())
      throw CheckpointError(ck.path + ": metadata 'epoch_loss_sum' is malformed");
    p.epoch_loss_images = parse_i64(ck, "epoch_loss_images");
  }
  p.batches.seed = parse_u64(ck, "batches.seed", meta(ck, "batches.seed"));
  p.batches.epoch = parse_i64(ck, "batches.epoch");
  p.batches.position = parse_i64(ck, "batches.position");
  const std::string& r = meta(ck, "rng.sample");
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t comma = r.find(',', start);
    if ((i < 3) != (comma != std::string::npos))
      throw CheckpointError(ck.path + ": metadata 'rng.sample' must hold 4 comma-separated words");
    p.sample_rng[size_t(i)] = parse_u64(ck, "rng.sample", r.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma + 1;
  }
  return p;
}

void load_weights(const Checkpoint& ck, PixelModel& model) {
  std::map<std::string, const fw::Tensor*> stored;
  for (const auto& [name, t] : ck.tensors)
    if (name.rfind("optim.", 0) != 0) stored[name] = &t;
  std::string problems;
  std::set<std::string> used;
  for (auto& [name, p] : model.named_parameters()) {
    auto it = stored.find(name);
    if (it == stored.end()) {
      problems += "\n  missing parameter '" + name + "' " + fw::shape_str(p.shape());
      continue;
    }
    used.insert(name);
    const fw::Tensor& t = *it->second;
    if (t.shape() != p.shape() || t.dtype() != p.dtype()) {
      problems += "\n  parameter '" + name + "': stored " + t.str() + ", the model needs " + p.str();
      continue;
    }
    fw::Tensor dst = p;
    dst.copy_(t);
  }
  for (const auto& [name, t] : stored)
    if (!used.count(name)) problems += "\n  unexpected tensor '" + name + "' " + fw::shape_str(t->shape());
  if (!problems.empty())
    throw CheckpointError(ck.path + ": the tensors do not fit a " + ck.config.model + " model of this configuration:" +
                          problems);
}

std::unique_ptr<PixelModel> load_model(const Checkpoint& ck) {
  fw::Rng rng(0);
  std::unique_ptr<PixelModel> m = make_model(ck.config, rng);
  load_weights(ck, *m);
  return m;
}

void load_optimizer(const Checkpoint& ck, fw::optim::Optimizer& opt) {
  fw::nn::NamedTensors state;
  for (const auto& [name, t] : ck.tensors)
    if (name.rfind("optim.", 0) == 0) state.emplace_back(name.substr(6), t);
  try {
    opt.load_state(state);
  } catch (const std::exception& e) {
    throw CheckpointError(ck.path + ": cannot restore the optimizer state: " + e.what());
  }
}

}  // namespace pixelrnn::tool
