// CPU reference of the fused multinary pass (kernels/multinary.h): the oracle that the CUDA kernel
// (kernels/multinary.cuh) is tested against, and the CPU backend.
#include "kernels/multinary.h"

namespace mrbm::kernels {

Status multinary_forward_cpu(const MultinaryArgs& a) {
  const Status status = validate_multinary_args(a);
  if (status != Status::kOk) return status;
  const UnitConstants k = unit_constants(a.unit);
  for (int64_t r = 0; r < a.rows; ++r) {
    double phi_sum = 0.0;  // float64: F reaches 1e5-1e6 per sample at N = 255
    const int64_t row_start = r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) phi_sum += multinary_element(a, k, row_start + c, c);
    if (a.row_phi) a.row_phi[r] = phi_sum;
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
