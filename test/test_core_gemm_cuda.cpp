// core/gemm on CUDA (cuBLAS) against the CPU reference [cuda], every transpose combination and the
// empty cases, k = 0 with beta != 0 included (issue 12, 6e: a leading dimension of 0 is invalid
// for cuBLAS even when k = 0). Error model: inputs are small integers (|a|, |b| <= 4, k <= 37),
// so every product and partial sum is an integer below 2^24 and exact in float in any summation
// order: cuBLAS and the reference agree exactly, whatever cuBLAS's blocking. alpha = 2 and
// beta = 0.5 keep the results exact too (C's entries are small integers).
#include <cmath>
#include <vector>

#include "core/cuda_context.h"
#include "core/gemm.h"
#include "core/tensor.h"
#include "test_support.h"

using mrbm::Tensor;

namespace {

Tensor small_integers(int64_t rows, int64_t cols, uint64_t seed) {
  std::vector<float> v = mrbm::test::random_floats(rows * cols, -4.0f, 4.0f, seed);
  for (float& x : v) x = std::round(x);
  return Tensor::from_vector(v, {rows, cols});
}

}  // namespace

TEST_CASE("CUDA gemm equals the CPU reference with k = 0 included", "[gemm][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  mrbm::CudaContext cuda(0);
  struct Case {
    int64_t m, n, k;
  };
  const Case cases[] = {{5, 7, 37}, {1, 1, 1}, {4, 3, 0}, {0, 3, 5}, {3, 0, 5}, {16, 1, 9}};
  uint64_t seed = 10;
  for (const Case& c : cases) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (double beta : {0.0, 0.5}) {
          INFO("m " << c.m << " n " << c.n << " k " << c.k << " ta " << ta << " tb " << tb
                    << " beta " << beta);
          const Tensor a = ta ? small_integers(c.k, c.m, ++seed) : small_integers(c.m, c.k, ++seed);
          const Tensor b = tb ? small_integers(c.n, c.k, ++seed) : small_integers(c.k, c.n, ++seed);
          const Tensor c0 = small_integers(c.m, c.n, ++seed);
          Tensor expected = c0.clone();
          mrbm::gemm_reference_cpu(expected, a, b, ta, tb, 2.0, beta);
          const Tensor da = a.to(cuda.device(), cuda.stream());
          const Tensor db = b.to(cuda.device(), cuda.stream());
          Tensor dc = c0.to(cuda.device(), cuda.stream());
          mrbm::gemm(dc, da, db, ta, tb, 2.0, beta, &cuda);
          CHECK(dc.to_vector<float>(cuda.stream()) == expected.to_vector<float>());
        }
      }
    }
  }
}
