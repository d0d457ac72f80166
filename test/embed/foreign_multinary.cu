// A foreign CUDA project embedding mrbm's fused multinary kernel (docs/kernels.md shows this file).
// It needs only the headers of mrbm's kernels/ folder (CMake: target mrbm::kernel_headers, or
// -I<mrbm>/include/mrbm) and the CUDA runtime: no mrbm library, no exceptions, no global state.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/multinary.cuh"

#define CHECK_CUDA(expr)                                                               \
  do {                                                                                 \
    cudaError_t err_ = (expr);                                                         \
    if (err_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr,               \
                   cudaGetErrorString(err_));                                          \
      return 1;                                                                        \
    }                                                                                  \
  } while (0)

int main() {
  namespace mk = mrbm::kernels;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("MRBM_SKIP: no CUDA device; the example compiled and linked\n");
    return 0;
  }
  const int64_t rows = 4, cols = 1000;
  std::vector<float> x(rows * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -300.0f + 600.0f * i / x.size();

  float *d_x = nullptr, *d_mean = nullptr;
  double* d_phi = nullptr;
  CHECK_CUDA(cudaMalloc(&d_x, sizeof(float) * x.size()));
  CHECK_CUDA(cudaMalloc(&d_mean, sizeof(float) * x.size()));
  CHECK_CUDA(cudaMalloc(&d_phi, sizeof(double) * rows));
  CHECK_CUDA(cudaMemcpy(d_x, x.data(), sizeof(float) * x.size(), cudaMemcpyHostToDevice));

  // 255-level units in closed form: f = N sigmoid(x/s), Phi = N s softplus(x/s), s = N/4.
  mk::MultinaryArgs args;
  args.mean = d_mean;
  args.row_phi = d_phi;
  args.x = d_x;
  args.rows = rows;
  args.cols = cols;
  args.unit.kind = mk::UnitKind::kClosedForm;
  args.unit.n = 255;
  args.unit.scale = 255.0 / 4;

  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CHECK_CUDA(mk::launch_multinary_forward(args, stream));
  std::vector<float> mean(x.size());
  CHECK_CUDA(cudaMemcpyAsync(mean.data(), d_mean, sizeof(float) * mean.size(),
                             cudaMemcpyDeviceToHost, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));

  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = 255.0 / (1.0 + std::exp(-x[i] / args.unit.scale));
    worst = std::fmax(worst, std::fabs(mean[i] - ref) / std::fmax(ref, 1e-30));
  }
  cudaStreamDestroy(stream);
  cudaFree(d_x);
  cudaFree(d_mean);
  cudaFree(d_phi);
  std::printf("foreign_multinary: max relative error %.2e\n", worst);
  return worst <= 1e-5 ? 0 : 1;
}
