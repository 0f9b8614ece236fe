// framework/dist/mpi_communicator.cpp: the Communicator over MPI_COMM_WORLD (see communicator.h). Compiled only
// when Meson finds MPI (-Dmpi=auto|enabled), with FW_HAVE_MPI defined.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "framework/dist/communicator.h"

namespace fw::dist {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(msg, size_t(len)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) check(MPI_Init(argc, argv), "MPI_Init");
    // Errors come back as codes (turned into exceptions) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, size_t(len));
    name_ = "MPI (" + v.substr(0, v.find(',')) + ")";
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  void allreduce_sum(float* data, size_t n) override { reduce(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, size_t n) override { reduce(data, n, MPI_DOUBLE); }
  void broadcast(void* bytes, size_t n, int root) override {
    char* p = static_cast<char*>(bytes);
    const size_t chunk = size_t(INT_MAX / 2);
    for (size_t at = 0; at < n; at += chunk)
      check(MPI_Bcast(p + at, int(std::min(n - at, chunk)), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  int first_failed(bool failed) override {
    int mine = failed ? rank_ : INT_MAX, lowest = INT_MAX;
    check(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (first_failed)");
    return lowest == INT_MAX ? -1 : lowest;
  }

 private:
  template <class T>
  void reduce(T* data, size_t n, MPI_Datatype type) {
    const size_t bucket = bucket_elements();
    for (size_t at = 0; at < n; at += bucket) {
      const size_t m = std::min(n - at, bucket);
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, int(m), type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }
  int rank_ = 0, size_ = 1;
  std::string name_;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  return std::make_unique<MpiCommunicator>(argc, argv);
}

}  // namespace fw::dist
