// Differentiable elementwise ops and views (autodiff/ops_elementwise.h).
#include "autodiff/ops_elementwise.h"

#include "autodiff/op_util.h"
#include "core/tensor_math.h"

namespace mrbm::autodiff {

using detail::check_on_tape;
using detail::cuda_of;
using detail::should_record;

namespace {

// out = alpha a + beta b, recorded with da += alpha g, db += beta g.
Variable linear_combination(Tape& tape, const Variable& a, const Variable& b, double alpha,
                            double beta, const char* op) {
  const Tensor& av = a.value();
  check_on_tape(tape, av, op);
  Tensor out = Tensor::empty(av.shape(), av.dtype(), av.device(), tape.stream());
  axpby(out, av, b.defined() ? b.value() : Tensor(), alpha, b.defined() ? beta : 0.0, 0.0,
        cuda_of(tape));
  const bool record = b.defined() ? should_record(tape, a, b) : should_record(tape, a);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, a = Variable(a), b = Variable(b), y, alpha, beta]() mutable {
      if (!y.has_grad()) return;
      const Tensor& g = y.grad();
      if (a.requires_grad()) {
        Tensor& ga = a.grad_buffer(tape.stream());
        axpby(ga, g, Tensor(), alpha, 0.0, 1.0, cuda_of(tape));
      }
      if (b.defined() && b.requires_grad()) {
        Tensor& gb = b.grad_buffer(tape.stream());
        axpby(gb, g, Tensor(), beta, 0.0, 1.0, cuda_of(tape));
      }
    });
  }
  return y;
}

}  // namespace

Variable add(Tape& tape, const Variable& a, const Variable& b) {
  return linear_combination(tape, a, b, 1.0, 1.0, "add");
}

Variable sub(Tape& tape, const Variable& a, const Variable& b) {
  return linear_combination(tape, a, b, 1.0, -1.0, "sub");
}

Variable scale(Tape& tape, const Variable& a, double s) {
  return linear_combination(tape, a, Variable(), s, 0.0, "scale");
}

Variable mul(Tape& tape, const Variable& a, const Variable& b) {
  const Tensor& av = a.value();
  check_on_tape(tape, av, "mul");
  Tensor out = Tensor::empty(av.shape(), av.dtype(), av.device(), tape.stream());
  mrbm::mul(out, av, b.value(), 1.0, 0.0, cuda_of(tape));
  const bool record = should_record(tape, a, b);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, a = Variable(a), b = Variable(b), y]() mutable {
      if (!y.has_grad()) return;
      const Tensor& g = y.grad();
      if (a.requires_grad()) mrbm::mul(a.grad_buffer(tape.stream()), g, b.value(), 1.0, 1.0, cuda_of(tape));
      if (b.requires_grad()) mrbm::mul(b.grad_buffer(tape.stream()), g, a.value(), 1.0, 1.0, cuda_of(tape));
    });
  }
  return y;
}

Variable add_bias(Tape& tape, const Variable& x, const Variable& bias, int64_t inner) {
  const Tensor& xv = x.value();
  check_on_tape(tape, xv, "add_bias");
  Tensor out = Tensor::empty(xv.shape(), xv.dtype(), xv.device(), tape.stream());
  mrbm::add_bias(out, xv, bias.value(), inner, cuda_of(tape));
  const bool record = should_record(tape, x, bias);
  Variable y(out, record);
  if (record) {
    tape.record([&tape, x = Variable(x), bias = Variable(bias), y, inner]() mutable {
      if (!y.has_grad()) return;
      const Tensor& g = y.grad();
      if (x.requires_grad()) axpby(x.grad_buffer(tape.stream()), g, Tensor(), 1.0, 0.0, 1.0, cuda_of(tape));
      if (bias.requires_grad()) bias_grad(bias.grad_buffer(tape.stream()), g, inner, 1.0, 1.0, cuda_of(tape));
    });
  }
  return y;
}

Variable reshape(Tape& tape, const Variable& x, const Shape& shape) {
  const Tensor view = x.value().reshape(shape);
  const bool record = should_record(tape, x);
  Variable y(view, record);
  if (record) {
    tape.record([&tape, x = Variable(x), y]() mutable {
      if (!y.has_grad()) return;
      Tensor& gx = x.grad_buffer(tape.stream());
      Tensor gx_view = gx.reshape(y.value().shape());
      axpby(gx_view, y.grad(), Tensor(), 1.0, 0.0, 1.0, cuda_of(tape));
    });
  }
  return y;
}

Variable stop_gradient(const Variable& x) { return Variable(x.value(), false); }

}  // namespace mrbm::autodiff
