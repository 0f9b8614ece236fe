// tests/test_dist.cpp: framework/dist in one process: the single-process communicator (rank 0 of 1, collectives
// that leave data as it is), world() and set_world, and the contiguous shares of data parallelism. The collectives
// over MPI are checked by tests/dist_probe.cpp under mpirun (tests/test_mpi.cpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "framework/dist/communicator.h"

using namespace fw::dist;

TEST_CASE("the single process: rank 0 of 1, collectives leave the data, first_failed names rank 0") {
  SingleProcess s;
  CHECK(s.rank() == 0);
  CHECK(s.size() == 1);
  std::vector<float> f{1.5f, -2.0f, 3.25f};
  s.allreduce_sum(f.data(), f.size());
  CHECK(f == std::vector<float>{1.5f, -2.0f, 3.25f});
  std::vector<double> d{1e300, -7};
  s.allreduce_sum(d.data(), d.size());
  CHECK(d == std::vector<double>{1e300, -7});
  int x = 42;
  s.broadcast(&x, sizeof x, 0);
  CHECK(x == 42);
  CHECK_THROWS_AS(s.broadcast(&x, sizeof x, 1), std::invalid_argument);
  CHECK(s.first_failed(false) == -1);
  CHECK(s.first_failed(true) == 0);
  s.barrier();
}

TEST_CASE("world() is the single process unless another communicator is installed") {
  CHECK(world().size() == 1);
  CHECK(world().rank() == 0);
  struct Fake : SingleProcess {
    int size() const override { return 3; }
  } fake;
  set_world(&fake);
  CHECK(world().size() == 3);
  set_world(nullptr);
  CHECK(world().size() == 1);
}

TEST_CASE("shares are contiguous, in rank order, cover every item once and differ by at most one") {
  for (int64_t n : {0, 1, 7, 16, 17, 100})
    for (int p : {1, 2, 3, 5, 8}) {
      int64_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < p; ++r) {
        const Share s = share_of(n, r, p);
        CHECK(s.begin == next);
        CHECK(s.end >= s.begin);
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      CHECK(next == n);
      CHECK(hi - lo <= 1);
    }
  CHECK(share_of(16, 1, 2).begin == 8);
  CHECK(share_of(16, 1, 2).end == 16);
  CHECK_THROWS_AS(share_of(10, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(share_of(10, 0, 0), std::invalid_argument);
}

TEST_CASE("bucket size: 2^23 elements by default, settable, never 0") {
  SingleProcess s;
  CHECK(s.bucket_elements() == (size_t(1) << 23));
  s.set_bucket_elements(5);
  CHECK(s.bucket_elements() == 5);
  s.set_bucket_elements(0);
  CHECK(s.bucket_elements() == 1);
}
