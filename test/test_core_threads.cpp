// The CPU thread pool of core/cpu_threads.h under the uses the library makes of it: loops from
// inside a loop, loops from several threads at once, and GEMMs split over the pool.
#include <sched.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <utility>
#include <vector>

#include "core/cpu_threads.h"
#include "core/gemm.h"
#include "core/tensor.h"
#include "core/tensor_math.h"
#include "test/test_support.h"

using namespace mrbm;

namespace {

// Restores the thread count when a test ends, also when it fails.
struct ThreadCountGuard {
  int saved = cpu_threads();
  ~ThreadCountGuard() { set_cpu_threads(saved); }
};

// hits[i] counts the calls that covered i.
void count_hits(std::vector<std::atomic<int>>& hits, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
}

}  // namespace

TEST_CASE("parallel_for inside a part runs its parts on that thread and covers every index",
          "[core]") {
  ThreadCountGuard guard;
  set_cpu_threads(3);
  const int64_t outer = 6, inner = 1000;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(outer * inner));
  std::atomic<int> foreign_parts{0};
  parallel_for(outer, 1, [&](int64_t b0, int64_t b1) {
    const auto me = std::this_thread::get_id();
    for (int64_t o = b0; o < b1; ++o) {
      parallel_for(inner, 1, [&](int64_t begin, int64_t end) {
        if (std::this_thread::get_id() != me) ++foreign_parts;
        count_hits(hits, o * inner + begin, o * inner + end);
      });
    }
  });
  for (const auto& h : hits) REQUIRE(h.load() == 1);
  CHECK(foreign_parts.load() == 0);
}

TEST_CASE("parallel_for from several threads at once covers every index of each call once",
          "[core]") {
  ThreadCountGuard guard;
  set_cpu_threads(4);
  const int callers = 4, rounds = 200;
  const int64_t n = 4096;
  std::vector<std::vector<std::atomic<int>>> hits(callers);
  for (auto& h : hits) h = std::vector<std::atomic<int>>(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      for (int r = 0; r < rounds; ++r) {
        parallel_for(n, 1, [&](int64_t begin, int64_t end) { count_hits(hits[c], begin, end); });
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& per_caller : hits)
    for (const auto& h : per_caller) REQUIRE(h.load() == rounds);
}

TEST_CASE("available_cpus counts the CPUs of the affinity mask, not every online CPU", "[core]") {
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(0, sizeof(saved), &saved) == 0);
  CHECK(available_cpus() == CPU_COUNT(&saved));
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);  // as `taskset -c N` does
  const int pinned = available_cpus();
  REQUIRE(sched_setaffinity(0, sizeof(saved), &saved) == 0);
  CHECK(pinned == 1);
  CHECK(available_cpus() == CPU_COUNT(&saved));
}

TEST_CASE("the pool follows set_cpu_threads up and down", "[core]") {
  ThreadCountGuard guard;
  for (int threads : {1, 5, 2, 7, 1, 3}) {
    set_cpu_threads(threads);
    std::vector<std::atomic<int>> hits(1000);
    std::atomic<int> parts{0};
    parallel_for(1000, 1, [&](int64_t begin, int64_t end) {
      ++parts;
      count_hits(hits, begin, end);
    });
    INFO("threads " << threads);
    REQUIRE(parts.load() == threads);
    for (const auto& h : hits) REQUIRE(h.load() == 1);
  }
}

// core/gemm.cpp cuts C into column blocks (n >= m) or row blocks (m > n) over the pool. Sizes
// chosen so that both cuts and the unsplit small case happen at 4 threads, with block edges that
// are not multiples of the 16-wide tile.
TEST_CASE("CPU gemm split over threads equals the reference for every transpose", "[core]") {
  ThreadCountGuard guard;
  struct Dims {
    int64_t m, n, k;
  };
  for (const Dims d :
       {Dims{37, 3001, 129}, Dims{2003, 45, 257}, Dims{5, 7, 3}, Dims{64, 64, 4000}}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const auto av = test::random_floats(d.m * d.k, -1.0f, 1.0f, 7);
        const auto bv = test::random_floats(d.k * d.n, -1.0f, 1.0f, 8);
        const auto cv = test::random_floats(d.m * d.n, -1.0f, 1.0f, 9);
        const Tensor a = Tensor::from_vector(av, ta ? Shape{d.k, d.m} : Shape{d.m, d.k});
        const Tensor b = Tensor::from_vector(bv, tb ? Shape{d.n, d.k} : Shape{d.k, d.n});
        Tensor expected = Tensor::from_vector(cv, {d.m, d.n});
        gemm_reference_cpu(expected, a, b, ta, tb, 0.5, 0.25);
        const std::vector<float> want = expected.to_vector<float>();
        for (int threads : {1, 4}) {
          set_cpu_threads(threads);
          Tensor c = Tensor::from_vector(cv, {d.m, d.n});
          gemm(c, a, b, ta, tb, 0.5, 0.25, nullptr);
          const std::vector<float> got = c.to_vector<float>();
          INFO("m " << d.m << " n " << d.n << " k " << d.k << " ta " << ta << " tb " << tb
                    << " threads " << threads);
          // |terms| <= 0.5 each: the float32 error bound of a k-term sum is about k eps / 2.
          const double tol = 1e-6 * static_cast<double>(d.k) + 1e-6;
          double worst = 0.0;
          for (size_t i = 0; i < want.size(); ++i)
            worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
          REQUIRE(worst <= tol);
        }
      }
    }
  }
}

// The cut of C into BLAS calls depends on the shape alone (core/gemm.cpp), so the bits do not
// depend on the thread count by construction, whatever OpenBLAS kernel the CPU gets (its rounding
// may depend on a call's shape). Shapes that are cut into 16 blocks, into a few, and not at all.
TEST_CASE("CPU gemm gives the same bits on 1, 2, 3 and 7 threads", "[core]") {
  ThreadCountGuard guard;
  struct Dims {
    int64_t m, n, k;
  };
  for (const Dims d : {Dims{64, 3001, 300}, Dims{1500, 40, 129}, Dims{9, 700, 400},
                       Dims{5, 7, 3}}) {
    const auto av = test::random_floats(d.m * d.k, -1.0f, 1.0f, 17);
    const auto bv = test::random_floats(d.k * d.n, -1.0f, 1.0f, 18);
    const Tensor a = Tensor::from_vector(av, {d.m, d.k});
    const Tensor b = Tensor::from_vector(bv, {d.k, d.n});
    std::vector<float> first;
    for (int threads : {1, 2, 3, 7}) {
      set_cpu_threads(threads);
      Tensor c = Tensor::from_vector(test::poisoned(d.m * d.n), {d.m, d.n});
      gemm(c, a, b, false, false, 1.0, 0.0, nullptr);
      INFO("m " << d.m << " n " << d.n << " k " << d.k << " threads " << threads);
      if (first.empty()) {
        first = c.to_vector<float>();
      } else {
        REQUIRE(c.to_vector<float>() == first);
      }
    }
  }
}

// add_bias, broadcast_product and the conv permutes split their rows over the pool: the bits must
// not depend on the thread count. 64 x 8192 = 2^19 elements: 4 parts of at least 2^15 each.
TEST_CASE("row-split CPU ops give the same bits on 1 and 4 threads", "[core]") {
  ThreadCountGuard guard;
  const int64_t rows = 64, channels = 32, inner = 256, cols = channels * inner;
  const Tensor x = Tensor::from_vector(test::random_floats(rows * cols, -2, 2, 41), {rows, cols});
  const Tensor bias = Tensor::from_vector(test::random_floats(channels, -1, 1, 42), {channels});
  const Tensor elem =
      Tensor::from_vector(test::random_floats(rows * cols, -1, 1, 43), {rows, cols});
  const std::vector<float> row_f = test::random_floats(rows, -3, 3, 44);
  const Tensor row = Tensor::from_vector(std::vector<double>(row_f.begin(), row_f.end()), {rows});
  auto run = [&](int threads) {
    set_cpu_threads(threads);
    Tensor biased = Tensor::from_vector(test::poisoned(rows * cols), {rows, cols});
    add_bias(biased, x, bias, inner, nullptr);
    Tensor product = x.clone();  // gamma = 0.5: the old values count
    broadcast_product(product, row, bias, elem, inner, 1.5, 0.5, nullptr);
    return std::make_pair(biased.to_vector<float>(), product.to_vector<float>());
  };
  const auto one = run(1);
  const auto four = run(4);
  REQUIRE(one.first == four.first);
  REQUIRE(one.second == four.second);
  // And they are right: spot checks against the definitions.
  const auto xv = x.to_vector<float>(), bv = bias.to_vector<float>(), ev = elem.to_vector<float>();
  for (int64_t i : {int64_t{0}, cols + 7, rows * cols - 1, int64_t{12345}}) {
    const int64_t r = i / cols, ch = (i % cols) / inner;
    CHECK(four.first[static_cast<size_t>(i)] ==
          xv[static_cast<size_t>(i)] + bv[static_cast<size_t>(ch)]);
    const double want = 1.5 * row_f[static_cast<size_t>(r)] * bv[static_cast<size_t>(ch)] *
                            ev[static_cast<size_t>(i)] +
                        0.5 * xv[static_cast<size_t>(i)];
    CHECK(std::fabs(four.second[static_cast<size_t>(i)] - want) <= 1e-5 * (1 + std::fabs(want)));
  }
}
