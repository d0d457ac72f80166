// CPU reference of the Adam step (kernels/adam.h): the oracle that the fused CUDA kernel
// (kernels/adam.cuh) is tested against, and the CPU backend. Every element goes through
// adam_update_element, the formula the CUDA kernel applies too.
#include "kernels/adam.h"

namespace mrbm::kernels {

Status adam_step_cpu(const AdamTensorList& list, const AdamHyper& hyper, int64_t step) {
  const Status status = validate_adam_step(list, hyper, step);
  if (status != Status::kOk) return status;  // validated before any write: all or nothing
  const AdamStepScalars s = adam_step_scalars<float>(hyper, step);
  for (int64_t k = 0; k < list.count; ++k) {
    const AdamTensor& t = list.tensors[k];
    for (int64_t i = 0; i < t.size; ++i)
      adam_update_element(t.param[i], t.m[i], t.v[i], t.grad[i], s);
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
