// Kernels for the simulator's own tests (sim_kernels.cu, a simulated device translation unit),
// each behind a host function that launches it and returns the launch error (cudaGetLastError).
// Several are deliberately broken: the tests check that the simulator fails where a GPU would.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace cuda_sim_test {

// out[t] = t + 1 read back by the next thread through shared memory, with or without the barrier
// between the write and the read (the broken version reads before its neighbour wrote).
cudaError_t neighbour_exchange(int* out, int threads, bool with_barrier, cudaStream_t s);
// Thread b of block b writes out[0] = b + 1, in two blocks: a race between blocks.
cudaError_t blocks_write_one_word(int* out, cudaStream_t s);
// out[t] = shared[t] with no write at all: a read before any write.
cudaError_t read_unwritten_shared(float* out, int threads, cudaStream_t s);
// __syncthreads() inside `if (threadIdx.x < threads / 2)`: the other half never reaches it.
cudaError_t barrier_in_branch(int* out, int threads, cudaStream_t s);
// Two different __syncthreads() in the two halves of a branch.
cudaError_t barriers_in_both_branches(int* out, int threads, cudaStream_t s);
// Block sums of x by __shfl_down_sync(0xffffffff) warp sums and a shared-memory combine.
cudaError_t block_sums(double* out, const double* x, int blocks, int threads, cudaStream_t s);
// total += sum of x with one atomicAdd per element, across `blocks` blocks.
cudaError_t atomic_total(double* total, const double* x, int blocks, int threads, cudaStream_t s);
// out[i] = x[i] * 2 for i < n, in a grid of the given shape.
cudaError_t scale_by_two(float* out, const float* x, int64_t n, dim3 grid, dim3 block,
                         cudaStream_t s);
// The same, the pointers inside a struct argument.
cudaError_t scale_by_two_struct(float* out, const float* x, int64_t n, cudaStream_t s);
// order[k] = the linear index of the k-th block to run.
cudaError_t block_order(int* order, int* counter, int blocks, cudaStream_t s);
// Device-branch probes: out[i] = mrbm::kernels::exp_nonpositive(x[i]) as a simulated kernel
// computes it (the __CUDA_ARCH__ branch), and the value of MRBM_DEVICE_CODE there.
cudaError_t device_exp_nonpositive(double* out, const double* x, int64_t n, cudaStream_t s);
int device_code_macro_in_kernel_tu();
// out[i] = a[i] * b[i] + c[i] written plainly (contracted, as nvcc --fmad=true does) and with
// __fmul_rn / __fadd_rn (never contracted).
cudaError_t multiply_add(float* plain, float* rounded, const float* a, const float* b,
                         const float* c, int64_t n, cudaStream_t s);

}  // namespace cuda_sim_test
