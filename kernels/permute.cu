// Compiled instances of swap_outer_dims for mrbm's own host code (kernels/permute_cuda.h).
#include "kernels/permute.cuh"
#include "kernels/permute_cuda.h"

namespace mrbm::kernels {

cudaError_t swap_outer_dims_cuda(float* out, const float* in, int64_t dim0, int64_t dim1,
                                 int64_t inner, float beta, cudaStream_t stream) {
  return launch_swap_outer_dims(out, in, dim0, dim1, inner, beta, stream);
}

cudaError_t swap_outer_dims_cuda(double* out, const double* in, int64_t dim0, int64_t dim1,
                                 int64_t inner, double beta, cudaStream_t stream) {
  return launch_swap_outer_dims(out, in, dim0, dim1, inner, beta, stream);
}

}  // namespace mrbm::kernels
