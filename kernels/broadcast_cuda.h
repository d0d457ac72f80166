// Host declaration of the compiled CUDA broadcast product (kernels/broadcast.h).
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/broadcast.h"

namespace mrbm::kernels {

cudaError_t broadcast_product_cuda(const BroadcastProductArgs<float>& args, cudaStream_t stream);
// float64 (scalar losses and their scaling stay in float64 on the device).
cudaError_t broadcast_product_cuda(const BroadcastProductArgs<double>& args, cudaStream_t stream);

}  // namespace mrbm::kernels
