// framework/dist/communicator.h: the process group of data-parallel work: which process this is (rank), how many
// there are (size), and the few collective operations that data parallelism needs. The default is the single
// process (rank 0 of 1: every collective is a no-op); an MPI implementation (framework/dist/mpi_communicator.cpp,
// compiled only when Meson finds MPI) is installed by the program when it was started by mpirun.
//
// Every collective must be called by every rank, in the same order, with the same sizes; otherwise the ranks wait
// for each other forever (MPI semantics). The framework itself never calls these: the program does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fw::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single process" or "MPI (Open MPI ...)": for messages.
  virtual std::string name() const = 0;
  // ensures: data[0..n) holds the element-wise sum over ranks of every rank's data[0..n), the same on every rank
  //   (the summation order is the implementation's: float results may differ from a serial sum by rounding).
  //   Large buffers are reduced in buckets of at most bucket_elements() elements, one call each.
  virtual void allreduce_sum(float* data, size_t n) = 0;
  virtual void allreduce_sum(double* data, size_t n) = 0;
  // ensures: bytes[0..n) of every rank hold root's bytes.
  virtual void broadcast(void* bytes, size_t n, int root) = 0;
  virtual void barrier() = 0;
  // The "any rank failed" reduction. ensures: the lowest rank that passed failed = true, or -1 when none did
  //   (the same answer on every rank).
  virtual int first_failed(bool failed) = 0;
  // Elements per collective call of allreduce_sum (buffers above it are bucketed): 2^23 (32 MiB of float32)
  //   unless set (tests set a small one to exercise the buckets). requires: n > 0.
  size_t bucket_elements() const { return bucket_; }
  void set_bucket_elements(size_t n) { bucket_ = n > 0 ? n : 1; }

 private:
  size_t bucket_ = size_t(1) << 23;
};

// The single-process communicator: rank 0 of 1.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single process"; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(double*, size_t) override {}
  void broadcast(void*, size_t, int root) override;
  void barrier() override {}
  int first_failed(bool failed) override { return failed ? 0 : -1; }
};

// The process's communicator: SingleProcess unless set_world installed another.
Communicator& world();
// Installs c as world() (nullptr: back to the single process). The caller keeps c alive while it is installed.
void set_world(Communicator* c);

// The contiguous share of rank r among p ranks of n items: [begin, end) with begin = floor(r*n/p),
// end = floor((r+1)*n/p). Shares differ by at most one item and cover 0..n in rank order.
struct Share {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Share share_of(int64_t n, int rank, int size);

// True when this build has the MPI implementation.
bool mpi_built();
// True when the environment says the process was started by an MPI launcher (mpirun / mpiexec / srun: the
// OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE variables).
bool launched_by_mpi();
// requires: mpi_built(). ensures: MPI initialised (MPI_Init) and a communicator over MPI_COMM_WORLD; its
//   destructor finalises MPI. throws: std::runtime_error when MPI is not built or cannot start.
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);

}  // namespace fw::dist
