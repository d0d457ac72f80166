// Differentiable reductions (autodiff/ops_reduce.h).
#include "autodiff/ops_reduce.h"

#include "autodiff/op_util.h"
#include "core/tensor_math.h"

namespace mrbm::autodiff {

using detail::check_on_tape;
using detail::cuda_of;
using detail::should_record;

namespace {

// sum(x) * factor as a float64 scalar; backward dx += factor g (g broadcast to every element).
Variable scaled_sum(Tape& tape, const Variable& x, double factor, const char* op) {
  const Tensor& xv = x.value();
  check_on_tape(tape, xv, op);
  Tensor out = Tensor::empty({}, DType::kFloat64, xv.device(), tape.stream());
  sum_all(out, xv, cuda_of(tape));
  if (factor != 1.0) broadcast_product(out, Tensor(), Tensor(), out, 1, factor, 0.0, cuda_of(tape));
  const bool record = should_record(tape, x);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, x = Variable(x), y, factor]() mutable {
      if (!y.has_grad()) return;
      Tensor gx = x.grad_buffer(tape.stream()).reshape({1, -1});
      broadcast_product(gx, y.grad(), Tensor(), Tensor(), 1, factor, 1.0, cuda_of(tape));
    });
  }
  return y;
}

}  // namespace

Variable sum(Tape& tape, const Variable& x) { return scaled_sum(tape, x, 1.0, "sum"); }

Variable mean(Tape& tape, const Variable& x) {
  const int64_t n = x.value().numel();
  MRBM_CHECK(n > 0, "mean of an empty tensor " << x.value().describe());
  return scaled_sum(tape, x, 1.0 / static_cast<double>(n), "mean");
}

Variable row_sum(Tape& tape, const Variable& x) {
  const Tensor& xv = x.value();
  check_on_tape(tape, xv, "row_sum");
  MRBM_CHECK(xv.dim() >= 1, "row_sum needs [rows, ...], got " << xv.describe());
  Tensor out = Tensor::empty({xv.size(0)}, DType::kFloat64, xv.device(), tape.stream());
  row_sums(out, xv, cuda_of(tape));
  const bool record = should_record(tape, x);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, x = Variable(x), y]() mutable {
      if (!y.has_grad()) return;
      broadcast_product(x.grad_buffer(tape.stream()), y.grad(), Tensor(), Tensor(), 1, 1.0, 1.0,
                        cuda_of(tape));
    });
  }
  return y;
}

Variable row_dot(Tape& tape, const Variable& x, const Variable& a, int64_t inner) {
  const Tensor& xv = x.value();
  check_on_tape(tape, xv, "row_dot");
  MRBM_CHECK(xv.dim() >= 1, "row_dot needs [rows, ...], got " << xv.describe());
  Tensor out = Tensor::empty({xv.size(0)}, DType::kFloat64, xv.device(), tape.stream());
  mrbm::row_dot(out, xv, a.value(), inner, cuda_of(tape));
  const bool record = should_record(tape, x, a);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, x = Variable(x), a = Variable(a), y, inner]() mutable {
      if (!y.has_grad()) return;
      const Tensor& g = y.grad();
      if (x.requires_grad()) {
        broadcast_product(x.grad_buffer(tape.stream()), g, a.value(), Tensor(), inner, 1.0, 1.0,
                          cuda_of(tape));
      }
      if (a.requires_grad()) {
        // da[ch] = sum_{r, p} g[r] x[r, ch*inner + p]: scale the rows, then sum per channel.
        const Tensor& xv = x.value();
        Tensor scaled = Tensor::empty(xv.shape(), xv.dtype(), xv.device(), tape.stream());
        broadcast_product(scaled, g, Tensor(), xv, 1, 1.0, 0.0, cuda_of(tape));
        bias_grad(a.grad_buffer(tape.stream()), scaled, inner, 1.0, 1.0, cuda_of(tape));
      }
    });
  }
  return y;
}

}  // namespace mrbm::autodiff
