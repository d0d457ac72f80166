// launch(kernel, grid, block, shared_bytes, stream, args...): the one place where mrbm launches a
// CUDA kernel. Under nvcc it is exactly `kernel<<<grid, block, shared_bytes, stream>>>(args...)`;
// the arguments are converted to the kernel's parameter types as the triple-chevron syntax does.
// Like <<<>>> it returns nothing: the caller reads the launch error with cudaGetLastError().
//
// Why a helper: the CUDA simulator of the tests (test/cuda_sim, docs/building.md) compiles the
// same kernel sources with the host compiler, which has no <<<>>>. Built with
// MRBM_CUDA_SIMULATOR, the helper hands the launch to the simulator instead, which runs every
// CUDA thread of every block in its own context. No other file of mrbm writes <<<>>>.
#pragma once

#include <cstddef>
#include <utility>

#include <cuda_runtime.h>

#if defined(MRBM_CUDA_SIMULATOR)
#include "cuda_sim/launch.h"
#endif

namespace mrbm::kernels {

template <typename... Params, typename... Args>
inline void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Args&&... args) {
#if defined(MRBM_CUDA_SIMULATOR)
  ::cuda_sim::launch_kernel(kernel, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
#else
  // The chevrons must stay together; clang-format would split them.
  // clang-format off
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
}

}  // namespace mrbm::kernels
