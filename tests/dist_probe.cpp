// tests/dist_probe.cpp: run under mpirun by tests/test_mpi.cpp: checks the MPI communicator's collectives
// between real processes (allreduce in buckets of 3 elements, broadcast from rank 1, first_failed, barrier).
// Prints "rank R of P: ok" and exits 0, or names the first wrong value and exits 1.
#include <cstdio>
#include <vector>

#include "framework/dist/communicator.h"

int main(int argc, char** argv) {
  auto comm = fw::dist::make_mpi_communicator(&argc, &argv);
  fw::dist::Communicator& c = *comm;
  const int r = c.rank(), p = c.size();
  int bad = 0;
  auto expect = [&](bool ok, const char* what, double got, double want) {
    if (!ok && !bad++) std::fprintf(stderr, "rank %d: %s: got %.17g, want %.17g\n", r, what, got, want);
  };
  c.set_bucket_elements(3);
  std::vector<float> f(10);
  std::vector<double> d(10);
  for (int i = 0; i < 10; ++i) f[size_t(i)] = float(r + 1) + 0.5f * float(i), d[size_t(i)] = 1e10 * (r + 1) + i;
  c.allreduce_sum(f.data(), f.size());
  c.allreduce_sum(d.data(), d.size());
  const double ranks = p * (p + 1) / 2.0;  // sum of r + 1 over ranks
  for (int i = 0; i < 10; ++i) {
    expect(f[size_t(i)] == float(ranks + p * 0.5 * i), "allreduce_sum(float)", f[size_t(i)], ranks + p * 0.5 * i);
    expect(d[size_t(i)] == 1e10 * ranks + p * double(i), "allreduce_sum(double)", d[size_t(i)], 1e10 * ranks + p * i);
  }
  std::vector<int> b(5, r);
  const int root = p > 1 ? 1 : 0;
  c.broadcast(b.data(), b.size() * sizeof(int), root);
  for (int v : b) expect(v == root, "broadcast", v, root);
  const int none = c.first_failed(false);
  expect(none == -1, "first_failed(none)", none, -1);
  const int ff = c.first_failed(r == p - 1);
  expect(ff == p - 1, "first_failed(last rank)", ff, p - 1);
  c.barrier();
  if (!bad) std::printf("rank %d of %d: ok\n", r, p);
  return bad ? 1 : 0;
}
