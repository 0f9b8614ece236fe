// tools/pixelrnn/data_select.h: how eval and complete pick their images: --data (default: the data the checkpoint
// was trained on), --split, -n (the first N images), and the pixel space of the checkpoint's model.
#pragma once
#include <string>

#include "framework/io/dataset.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

// Declares --data, --split, -n and --binarize on f (n_help describes -n's default).
void add_data_flags(Flags& f, const std::string& n_help);

// The binarization to use with a checkpoint: --binarize when given, else the checkpoint's "train.binarize", else
// stochastic.
std::string binarize_mode(const Flags& f, const Checkpoint& ck);

// Loads the chosen split in the checkpoint's pixel space, checks it matches the model, and keeps the first -n
// images (default_n < 0: all; an explicit -n larger than the split is an error, a default one is clamped).
// throws: fw::io::DataError / std::runtime_error naming the data and the problem.
fw::io::Dataset select_images(const Flags& f, const Checkpoint& ck, int64_t default_n);

}  // namespace pixelrnn::tool
