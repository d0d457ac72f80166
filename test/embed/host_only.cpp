// Proof that the host-side kernel headers need no CUDA headers: this file is compiled with only
// mrbm's source folder on the include path (test/embed/CMakeLists.txt) and evaluates the same
// MRBM_HD formulas the CUDA kernel uses, through the CPU reference.
#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/multinary.h"

#if defined(__CUDA_RUNTIME_H__) || defined(__CUDA_RUNTIME_API_H__) || defined(CUDART_VERSION)
#error "kernels/multinary.h must not pull in CUDA headers"
#endif

int main() {
  namespace mk = mrbm::kernels;
  std::vector<float> x = {-600.0f, -20.0f, 0.0f, 31.5f, 700.0f}, mean(x.size());
  mk::MultinaryArgs args;
  args.mean = mean.data();
  args.x = x.data();
  args.rows = 1;
  args.cols = static_cast<int64_t>(x.size());
  args.unit.kind = mk::UnitKind::kClosedForm;
  args.unit.n = 255;
  args.unit.scale = 255.0 / 4;
  if (mk::multinary_forward_cpu(args) != mk::Status::kOk) return 1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = 255.0 / (1.0 + std::exp(-x[i] / args.unit.scale));
    if (std::fabs(mean[i] - ref) > 1e-5 * ref + 1e-30) {
      std::printf("host_only: mismatch at %zu: %g vs %g\n", i, mean[i], ref);
      return 1;
    }
  }
  std::printf("host_only: ok\n");
  return 0;
}
