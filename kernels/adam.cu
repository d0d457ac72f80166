// Compiled instance of the fused multi-tensor Adam step for mrbm's own host code
// (kernels/adam_cuda.h).
#include "kernels/adam.cuh"
#include "kernels/adam_cuda.h"

namespace mrbm::kernels {

cudaError_t adam_step_cuda(const AdamTensorList& list, const AdamHyper& hyper, int64_t step,
                           cudaStream_t stream) {
  return launch_adam_step(list, hyper, step, stream);
}

}  // namespace mrbm::kernels
