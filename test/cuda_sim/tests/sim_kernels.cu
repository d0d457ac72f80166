// Kernels for the simulator's own tests (sim_kernels.h says what each one does and which are
// broken on purpose). A simulated device translation unit: compiled like mrbm's .cu files.
#include "sim_kernels.h"

#include <cuda_runtime.h>

#include "kernels/elementary.h"
#include "kernels/launch.cuh"

namespace cuda_sim_test {
namespace {

using mrbm::kernels::launch;

template <bool kBarrier>
__global__ void neighbour_kernel(int* out) {
  __shared__ int values[1024];
  const int t = static_cast<int>(threadIdx.x);
  values[t] = t + 1;
  if (kBarrier) __syncthreads();
  out[t] = values[(t + 1) % blockDim.x];
}

__global__ void one_word_kernel(int* out) {
  if (threadIdx.x == blockIdx.x) out[0] = static_cast<int>(blockIdx.x) + 1;
}

__global__ void unwritten_kernel(float* out) {
  __shared__ float values[1024];
  out[threadIdx.x] = values[threadIdx.x];
}

__global__ void branch_barrier_kernel(int* out) {
  if (threadIdx.x < blockDim.x / 2) __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void both_branches_kernel(int* out) {
  if (threadIdx.x < blockDim.x / 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void block_sums_kernel(double* out, const double* x) {
  __shared__ double warp_sums[32];
  double v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int delta = 16; delta > 0; delta >>= 1) v += __shfl_down_sync(0xffffffffu, v, delta);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w) total += warp_sums[w];
    out[blockIdx.x] = total;
  }
}

__global__ void atomic_kernel(double* total, const double* x) {
  atomicAdd(total, x[blockIdx.x * blockDim.x + threadIdx.x]);
}

__global__ void scale_kernel(float* out, const float* x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = x[i] * 2.0f;
}

struct ScaleArgs {
  float* out;
  const float* x;
  int64_t n;
};

__global__ void scale_struct_kernel(ScaleArgs a) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < a.n) a.out[i] = a.x[i] * 2.0f;
}

__global__ void order_kernel(int* order, int* counter) {
  if (threadIdx.x == 0) order[atomicAdd(counter, 1)] = static_cast<int>(blockIdx.x);
}

__global__ void exp_kernel(double* out, const double* x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = mrbm::kernels::exp_nonpositive(x[i]);
}

__global__ void multiply_add_kernel(float* plain, float* rounded, const float* a, const float* b,
                                    const float* c, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    plain[i] = a[i] * b[i] + c[i];
    rounded[i] = __fadd_rn(__fmul_rn(a[i], b[i]), c[i]);
  }
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + 127) / 128); }

}  // namespace

cudaError_t neighbour_exchange(int* out, int threads, bool with_barrier, cudaStream_t s) {
  if (with_barrier) launch(neighbour_kernel<true>, 1, threads, 0, s, out);
  else launch(neighbour_kernel<false>, 1, threads, 0, s, out);
  return cudaGetLastError();
}

cudaError_t blocks_write_one_word(int* out, cudaStream_t s) {
  launch(one_word_kernel, 2, 2, 0, s, out);
  return cudaGetLastError();
}

cudaError_t read_unwritten_shared(float* out, int threads, cudaStream_t s) {
  launch(unwritten_kernel, 1, threads, 0, s, out);
  return cudaGetLastError();
}

cudaError_t barrier_in_branch(int* out, int threads, cudaStream_t s) {
  launch(branch_barrier_kernel, 1, threads, 0, s, out);
  return cudaGetLastError();
}

cudaError_t barriers_in_both_branches(int* out, int threads, cudaStream_t s) {
  launch(both_branches_kernel, 1, threads, 0, s, out);
  return cudaGetLastError();
}

cudaError_t block_sums(double* out, const double* x, int blocks, int threads, cudaStream_t s) {
  launch(block_sums_kernel, blocks, threads, 0, s, out, x);
  return cudaGetLastError();
}

cudaError_t atomic_total(double* total, const double* x, int blocks, int threads,
                         cudaStream_t s) {
  launch(atomic_kernel, blocks, threads, 0, s, total, x);
  return cudaGetLastError();
}

cudaError_t scale_by_two(float* out, const float* x, int64_t n, dim3 grid, dim3 block,
                         cudaStream_t s) {
  launch(scale_kernel, grid, block, 0, s, out, x, n);
  return cudaGetLastError();
}

cudaError_t scale_by_two_struct(float* out, const float* x, int64_t n, cudaStream_t s) {
  launch(scale_struct_kernel, blocks_for(n), 128, 0, s, ScaleArgs{out, x, n});
  return cudaGetLastError();
}

cudaError_t block_order(int* order, int* counter, int blocks, cudaStream_t s) {
  launch(order_kernel, blocks, 32, 0, s, order, counter);
  return cudaGetLastError();
}

cudaError_t device_exp_nonpositive(double* out, const double* x, int64_t n, cudaStream_t s) {
  launch(exp_kernel, blocks_for(n), 128, 0, s, out, x, n);
  return cudaGetLastError();
}

int device_code_macro_in_kernel_tu() { return MRBM_DEVICE_CODE; }

cudaError_t multiply_add(float* plain, float* rounded, const float* a, const float* b,
                         const float* c, int64_t n, cudaStream_t s) {
  launch(multiply_add_kernel, blocks_for(n), 128, 0, s, plain, rounded, a, b, c, n);
  return cudaGetLastError();
}

}  // namespace cuda_sim_test
