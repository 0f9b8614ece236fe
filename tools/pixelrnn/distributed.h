// tools/pixelrnn/distributed.h: data-parallel training and evaluation over fw::dist::world() (docs/distributed.md).
//
// Under mpirun every rank runs the same command. Rank 0's weights and optimizer state are broadcast to all; each
// global batch is cut into contiguous shares, one per rank (fw::dist::share_of); every rank computes the gradient
// of sum(NLL of its share) / (global batch size), and one allreduce over a flat float32 buffer (bucketed above
// 2^23 elements) sums the gradients, a has-gradient count per parameter and each rank's loss; the optimizer step is
// then the same on every rank. A dataset NLL (validation, eval) is shared out by whole batches, so every image's
// NLL is computed exactly as in one process, and the double sums are reduced. In a single process every function
// here does what the one-process code did.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/dist/communicator.h"
#include "framework/optim/optimizer.h"
#include "tools/pixelrnn/model_ops.h"

namespace pixelrnn::tool {

// Started by main(): installs the MPI communicator as fw::dist::world() when the program was started by an MPI
// launcher and the build has MPI (finalised when the object is destroyed).
// throws: std::runtime_error when started by mpirun with more than one process but built without MPI.
class DistributedSession {
 public:
  DistributedSession(int* argc, char*** argv);
  ~DistributedSession();

 private:
  std::unique_ptr<fw::dist::Communicator> comm_;
};

// "rank R: " when there is more than one rank, "" otherwise (prefix of messages).
std::string rank_prefix();

// The collective check after a phase in which any rank may have failed (setup, a step): when a rank failed,
// every rank throws; a rank that failed itself rethrows its own error, the others throw RankFailed naming the
// lowest failed rank. In a single process it just rethrows error (when non-null).
// An error every rank throws alike (a rank failed, a NaN somewhere): main() prints it on rank 0 only.
struct CollectiveError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RankFailed : CollectiveError {
  explicit RankFailed(int rank);
  int rank;
};
// Thrown by agree_or_throw on every rank when a rank failed, after the messages were printed: main() exits with
// status without a message.
struct AlreadyReported {
  int status;
};
// Several ranks: every failing rank prints its error ("WHO: rank R: error: ..."; a usage error rank 0 also has is
// said by rank 0 alone), rank 0 names the lowest failed rank when it did not fail itself, then all wait for each
// other (mpirun ends the job at the first non-zero exit, which could cut a slower rank's message) and throw
// AlreadyReported (status 2 for a usage error, else 1).
void agree_or_throw(std::exception_ptr error, const std::string& who);

// Makes every rank's parameters and optimizer state rank 0's (broadcast).
void broadcast_from_rank0(const std::vector<fw::Tensor>& params, fw::optim::Optimizer* opt);

// One step's reduction: after backward on this rank's share, sums the gradients over ranks in place (a parameter
// no rank has a gradient for keeps none) and returns every rank's loss contribution (entry r: rank r's
// sum(NLL of its share) / global batch; NaN stays NaN).
std::vector<double> allreduce_step(const std::vector<fw::Tensor>& params, double local_loss);

// evaluate_nll over all ranks: batches [k*batch, (k+1)*batch) are shared out whole (contiguous runs of batches
// per rank), each image's NLL is computed as in one process, and the sums are reduced. per_pixel (when non-null)
// is filled on every rank. progress(done) counts this rank's images.
NllResult evaluate_nll_all_ranks(PixelModel& model, const fw::io::Dataset& d, int64_t batch,
                                 std::vector<float>* per_pixel, const std::function<void(int64_t)>& progress = {});

// The step-boundary agreement, one collective called by every rank: the signal to stop on (SIGTERM when any rank
// has one, else SIGINT, else 0), whether a rank was already interrupted inside the epoch's end (validation or
// grid: that step must end the run even when it was the last one), and whether rank 0 says the run is done.
struct StepAgreement {
  int signal = 0;
  bool interrupted_in_epoch_end = false;
  bool done = false;
};
StepAgreement agree_at_step(int local_signal, bool interrupted_in_epoch_end, bool rank0_done);

}  // namespace pixelrnn::tool
