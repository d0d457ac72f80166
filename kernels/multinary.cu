// Compiled instance of the fused multinary pass for mrbm's own host code (kernels/multinary_cuda.h).
#include "kernels/multinary.cuh"
#include "kernels/multinary_cuda.h"

namespace mrbm::kernels {

cudaError_t multinary_forward_cuda(const MultinaryArgs& args, cudaStream_t stream) {
  return launch_multinary_forward(args, stream);
}

}  // namespace mrbm::kernels
