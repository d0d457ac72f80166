// Compiled instance of the multinary backward for mrbm's host code.
#include "kernels/multinary_backward.cuh"
#include "kernels/multinary_backward_cuda.h"

namespace mrbm::kernels {

cudaError_t multinary_backward_cuda(const MultinaryBackwardArgs<float>& args, cudaStream_t stream) {
  return launch_multinary_backward(args, stream);
}

}  // namespace mrbm::kernels
