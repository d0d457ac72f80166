// Compiled instance of the broadcast product for mrbm's host code.
#include "kernels/broadcast.cuh"
#include "kernels/broadcast_cuda.h"

namespace mrbm::kernels {

cudaError_t broadcast_product_cuda(const BroadcastProductArgs<float>& args, cudaStream_t stream) {
  return launch_broadcast_product(args, stream);
}

cudaError_t broadcast_product_cuda(const BroadcastProductArgs<double>& args, cudaStream_t stream) {
  return launch_broadcast_product(args, stream);
}

}  // namespace mrbm::kernels
