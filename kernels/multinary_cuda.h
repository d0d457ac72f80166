// Host declaration of the compiled CUDA fused multinary pass (kernels/multinary.h describes it).
// Includes only the CUDA runtime API header, so g++-compiled code can call it. Defined in
// kernels/multinary.cu from the header-only launcher of kernels/multinary.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/multinary.h"

namespace mrbm::kernels {

// Same arguments as multinary_forward_cpu plus the stream. Device pointers; asynchronous.
cudaError_t multinary_forward_cuda(const MultinaryArgs& args, cudaStream_t stream);

}  // namespace mrbm::kernels
