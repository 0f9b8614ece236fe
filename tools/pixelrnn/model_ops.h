// tools/pixelrnn/model_ops.h: what the subcommands do with a model: the negative log-likelihood of a dataset
// (per image, per dimension and per pixel) and drawing images, both without building a graph.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/rng.h"
#include "framework/io/dataset.h"
#include "models/pixel_model.h"

namespace pixelrnn::tool {

struct NllResult {
  double nll_nats = 0;      // mean over images of -log p(image), in nats
  double bits_per_dim = 0;  // nll_nats / (C * H * W * ln 2)
  int64_t images = 0;
};

// requires: d's images match the model's configuration (check_data_matches), batch > 0.
// ensures: the mean NLL over all images of d, summed in double precision in a fixed order (so it does not depend
//   on the thread count); when per_pixel is non-null it receives the per-element NLL (N, C, H, W) as float32.
//   progress(done) is called after each batch with the number of images done so far. For a class-conditional
//   model (config().classes > 0) it is the conditional NLL, -log p(x | label), with d's labels; throws
//   std::runtime_error naming d.source when d has none.
NllResult evaluate_nll(PixelModel& model, const fw::io::Dataset& d, int64_t batch, std::vector<float>* per_pixel,
                       const std::function<void(int64_t)>& progress = {});

// bits per dimension of a per-image NLL in nats for images of `dims` = C*H*W values.
double bits_per_dim(double nll_nats, int64_t dims);

// Draws n images from the model, batch at a time, all pixels unknown. opts is passed to PixelModel::sample, except
// that opts.progress(done, total) counts over all the batches (total = batches * elements per image); it may
// throw to cancel (e.g. Interrupted), and nothing is returned then.
// labels: empty for an unconditional model; n class labels (image i drawn from p(x | labels[i])) for a
// class-conditional one.
// ensures: (n, C, H, W) bytes of pixel values in the model's space (0/1 or 0..255).
std::vector<uint8_t> sample_images(PixelModel& model, int64_t n, int64_t batch, fw::Rng& rng,
                                   const SampleOptions& opts = {}, const std::vector<int64_t>& labels = {});

// Image i's label for dataset images [begin, end) (int64), for class_nll. throws naming d.source without labels.
std::vector<int64_t> labels_of(const fw::io::Dataset& d, int64_t begin, int64_t end);

}  // namespace pixelrnn::tool
