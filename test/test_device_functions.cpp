// Device branches of single MRBM_HD functions against their host branches, on the same inputs
// [cuda] (test/device/device_functions.cu runs them on the device). Where docs/kernels.md promises
// the same bits on both devices, a contraction or an intrinsic that only the device branch uses
// shows here, one function at a time, rather than as a last-bit difference inside a whole pass.
#include <cmath>
#include <random>

#include "kernels/multinary_sample.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "test/device/device_functions.h"
#endif

TEST_CASE("the gaussian draw h = f + sqrt(f') xi has the same bits on both devices", "[multinary][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  // Issue 12, 6f: nvcc contracted f + sqrt(f') xi into one FMA, which rounds once where the CPU
  // rounds twice; about half of all draws then differed in the last bit. Means and variances of
  // 255-level units, xi from a standard normal.
  const int64_t count = 100003;
  std::mt19937_64 gen(61);
  std::uniform_real_distribution<float> mean_of(0.0f, 255.0f), var_of(0.0f, 64.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> mean(count), var(count), xi(count), want(count);
  for (int64_t i = 0; i < count; ++i) {
    mean[i] = mean_of(gen);
    var[i] = var_of(gen);
    xi[i] = normal(gen);
    want[i] = mrbm::kernels::gaussian_sample(mean[i], var[i], 255.0f, xi[i]);
  }
  float *d_out, *d_mean, *d_var, *d_xi;
  const size_t bytes = sizeof(float) * count;
  for (float** p : {&d_out, &d_mean, &d_var, &d_xi}) REQUIRE(cudaMalloc(reinterpret_cast<void**>(p), bytes) == cudaSuccess);
  const std::vector<float> poison = mrbm::test::poisoned(count);
  REQUIRE(cudaMemcpy(d_out, poison.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(d_mean, mean.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(d_var, var.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(d_xi, xi.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(mrbm::test::gaussian_samples_on_device(d_out, d_mean, d_var, d_xi, 255.0f, count) == cudaSuccess);
  std::vector<float> got(count);
  REQUIRE(cudaMemcpy(got.data(), d_out, bytes, cudaMemcpyDeviceToHost) == cudaSuccess);
  for (float* p : {d_out, d_mean, d_var, d_xi}) cudaFree(p);
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < count; ++i) {
    if (!mrbm::test::same_bits(got[i], want[i])) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  INFO(mismatches << " of " << count << " draws differ, the first at " << first);
  CHECK(mismatches == 0);
#endif
}
