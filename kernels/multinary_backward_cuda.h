// Host declaration of the compiled CUDA multinary backward (kernels/multinary_backward.h).
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/multinary_backward.h"

namespace mrbm::kernels {

cudaError_t multinary_backward_cuda(const MultinaryBackwardArgs<float>& args, cudaStream_t stream);

}  // namespace mrbm::kernels
