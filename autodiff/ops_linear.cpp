// Differentiable linear ops (autodiff/ops_linear.h).
#include "autodiff/ops_linear.h"

#include "autodiff/op_util.h"
#include "core/gemm.h"

namespace mrbm::autodiff {

using detail::check_on_tape;
using detail::cuda_of;

Variable matmul(Tape& tape, const Variable& a, const Variable& b, bool trans_a, bool trans_b) {
  const Tensor& av = a.value();
  const Tensor& bv = b.value();
  check_on_tape(tape, av, "matmul");
  MRBM_CHECK(av.dim() == 2 && bv.dim() == 2,
             "matmul needs 2-D tensors, got " << av.describe() << " and " << bv.describe());
  const int64_t m = trans_a ? av.size(1) : av.size(0);
  const int64_t n = trans_b ? bv.size(0) : bv.size(1);
  Tensor c = Tensor::empty({m, n}, av.dtype(), av.device(), tape.stream());
  gemm(c, av, bv, trans_a, trans_b, 1.0, 0.0, cuda_of(tape));

  const bool record = detail::should_record(tape, a, b);
  Variable out(c, record);
  if (record) {
    tape.record([&tape, a = Variable(a), b = Variable(b), out, trans_a, trans_b]() mutable {
      if (!out.has_grad()) return;
      const Tensor& g = out.grad();
      CudaContext* cuda = cuda_of(tape);
      if (a.requires_grad()) {
        // C = op(A) op(B): d op(A) = G op(B)^T; if A is stored transposed, dA = op(B) G^T.
        Tensor& ga = a.grad_buffer(tape.stream());
        if (!trans_a) {
          gemm(ga, g, b.value(), false, !trans_b, 1.0, 1.0, cuda);
        } else {
          gemm(ga, b.value(), g, trans_b, true, 1.0, 1.0, cuda);
        }
      }
      if (b.requires_grad()) {
        // d op(B) = op(A)^T G; if B is stored transposed, dB = G^T op(A).
        Tensor& gb = b.grad_buffer(tape.stream());
        if (!trans_b) {
          gemm(gb, a.value(), g, !trans_a, false, 1.0, 1.0, cuda);
        } else {
          gemm(gb, g, a.value(), true, trans_a, 1.0, 1.0, cuda);
        }
      }
    });
  }
  return out;
}

}  // namespace mrbm::autodiff
