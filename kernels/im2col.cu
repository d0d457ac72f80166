// Compiled instances of im2col and col2im for mrbm's own host code (kernels/im2col_cuda.h).
#include "kernels/im2col.cuh"
#include "kernels/im2col_cuda.h"

namespace mrbm::kernels {

cudaError_t im2col_cuda(float* col, const float* x, const ConvShape& shape, cudaStream_t stream) {
  return launch_im2col(col, x, shape, stream);
}

cudaError_t im2col_cuda(double* col, const double* x, const ConvShape& shape, cudaStream_t stream) {
  return launch_im2col(col, x, shape, stream);
}

cudaError_t col2im_cuda(float* x, const float* col, const ConvShape& shape, cudaStream_t stream) {
  return launch_col2im(x, col, shape, stream);
}

cudaError_t col2im_cuda(double* x, const double* col, const ConvShape& shape, cudaStream_t stream) {
  return launch_col2im(x, col, shape, stream);
}

}  // namespace mrbm::kernels
