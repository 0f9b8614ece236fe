// framework/dist/communicator.cpp: the single-process communicator, world(), shares, and the MPI stand-in of a
// build without MPI (see communicator.h).
#include "framework/dist/communicator.h"

#include <cstdlib>
#include <stdexcept>

namespace fw::dist {

namespace {
SingleProcess g_single;
Communicator* g_world = &g_single;
}  // namespace

void SingleProcess::broadcast(void*, size_t, int root) {
  if (root != 0) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " of a single process");
}

Communicator& world() { return *g_world; }
void set_world(Communicator* c) { g_world = c ? c : &g_single; }

Share share_of(int64_t n, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size || n < 0)
    throw std::invalid_argument("share_of: rank " + std::to_string(rank) + " of " + std::to_string(size) +
                                " ranks, " + std::to_string(n) + " items");
  return Share{n * rank / size, n * (rank + 1) / size};
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

#ifndef FW_HAVE_MPI
bool mpi_built() { return false; }
std::unique_ptr<Communicator> make_mpi_communicator(int*, char***) {
  throw std::runtime_error("this build has no MPI (configure with -Dmpi=enabled after installing libopenmpi-dev)");
}
#endif

}  // namespace fw::dist
