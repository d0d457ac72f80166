// Host declaration of the compiled fused multi-tensor Adam step (kernels/adam.h describes it).
// Includes only the CUDA runtime API header, so g++-compiled code can call it. Defined in
// kernels/adam.cu from the header-only launcher of kernels/adam.cuh. No workspace is needed: the
// tensor descriptors travel by value in the kernel parameters (kernels/adam.cuh explains why).
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/adam.h"

namespace mrbm::kernels {

// Same arguments as adam_step_cpu plus the stream. The descriptor array is host memory, the
// pointers in it device memory; asynchronous (the descriptors may be freed when it returns).
// Invalid arguments: cudaErrorInvalidValue, nothing launched. Otherwise the first launch error.
cudaError_t adam_step_cuda(const AdamTensorList& list, const AdamHyper& hyper, int64_t step,
                           cudaStream_t stream);

}  // namespace mrbm::kernels
