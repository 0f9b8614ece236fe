// tools/pixelrnn/trainer.h: the training loop of `pixelrnn train`.
//
// One step: the next batch of the seeded, resumable batch iterator -> model.nll -> loss = mean over the batch of
// the per-image NLL (nats) -> backward -> optional clipping -> optimizer step. After every step a row goes to
// DIR/metrics.csv; after the last step of an epoch the epoch's mean loss is reported, the validation NLL is
// computed, a grid of samples is drawn to DIR/samples/epoch-NNNN.png (the default grid shrunk or skipped when it
// would take longer than a tenth of the epoch) and a checkpoint is saved. Validation and grid times are kept out
// of the training time and speed (their own metrics columns) and counted in the ETA. Checkpoints are also saved
// every --save-every-minutes minutes, every --save-every-steps steps, at the end, and on SIGINT/SIGTERM (noticed
// at the next step boundary, or within the validation or the grid after the current batch or element; the loop
// saves and returns 130/143). A NaN or infinite loss stops training before the update with an error naming the
// step; DIR/last.safetensors keeps the last good state.
//
// Under mpirun (docs/distributed.md, distributed.h) every rank runs this loop on its share of each global batch:
// one allreduce of the gradients per step, an agreement on stopping at each step boundary, rank 0 alone writing.
//
// Determinism: the batch order (seed + iterator position), the initial weights (seed) and the sampling RNG are
// all in the checkpoint, so k steps + resume + (N - k) steps give bitwise the weights of N steps straight.
#pragma once
#include "framework/io/dataset.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/train_options.h"

namespace pixelrnn::tool {

// requires: o resolved (cfg matches the images of train and val; val may be empty, n == 0); DIR exists and is
//   writable; resume_from non-null iff o.resume.
// ensures: the exit status: 0 when a stopping rule was reached, 130/143 after SIGINT/SIGTERM (checkpoint saved).
// throws: std::runtime_error on a non-finite loss (naming the step) or an I/O failure.
int run_training(const TrainOptions& o, const fw::io::Dataset& train, const fw::io::Dataset& val,
                 const Checkpoint* resume_from);

}  // namespace pixelrnn::tool
