// Differentiable 2-D convolutions (autodiff/ops_conv.h). Each op runs its forward with beta = 0
// into a fresh tensor and records a closure that accumulates (beta = 1) into the inputs' gradient
// buffers, following the pattern of autodiff/ops_linear.cpp.
#include "autodiff/ops_conv.h"

#include <utility>

namespace mrbm::autodiff {
namespace {

CudaContext* cuda_of(const Tape& tape) { return tape.device().is_cuda() ? &tape.cuda() : nullptr; }

void check_on_tape(const Tape& tape, const Tensor& t, const char* op, const char* name) {
  MRBM_CHECK(t.device() == tape.device(), op << ": " << name << " " << t.describe()
                                             << " on a tape for " << to_string(tape.device()));
}

}  // namespace

Variable conv2d(Tape& tape, const Variable& x, const Variable& w, const ConvParams& params,
                ConvAlgo algo) {
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  check_on_tape(tape, xv, "conv2d", "x");
  check_on_tape(tape, wv, "conv2d", "w");
  Tensor y = Tensor::empty(conv2d_output_shape(xv.shape(), wv.shape(), params), xv.dtype(),
                           xv.device(), tape.stream());
  const bool record = tape.recording() && (x.requires_grad() || w.requires_grad());
  // The weight gradient needs im2col(x) again: keep the forward's columns for it (CPU only; the
  // memory, up to the 64 MiB chunk limit per op, lives until the backward has run).
  ConvColumns columns;
  mrbm::conv2d(y, xv, wv, params, 0.0, cuda_of(tape), algo,
               record && w.requires_grad() ? &columns : nullptr);

  Variable out(y, record);
  if (record) {
    tape.record([&tape, x = Variable(x), w = Variable(w), out, params, algo,
                 columns = std::move(columns)]() mutable {
      if (!out.has_grad()) return;
      const Tensor& g = out.grad();
      CudaContext* cuda = cuda_of(tape);
      if (x.requires_grad()) {
        mrbm::conv_transpose2d(x.grad_buffer(tape.stream()), g, w.value(), params, 1.0, cuda, algo);
      }
      if (w.requires_grad()) {
        mrbm::conv2d_weight_grad(w.grad_buffer(tape.stream()), x.value(), g, params, 1.0, cuda,
                                 algo, &columns);
      }
      columns.col = Tensor();  // one backward per tape: free the columns now
    });
  }
  return out;
}

Variable conv_transpose2d(Tape& tape, const Variable& y, const Variable& w,
                          const ConvParams& params, int64_t out_h, int64_t out_w, ConvAlgo algo) {
  const Tensor& yv = y.value();
  const Tensor& wv = w.value();
  check_on_tape(tape, yv, "conv_transpose2d", "y");
  check_on_tape(tape, wv, "conv_transpose2d", "w");
  if (yv.dim() != 4 || wv.dim() != 4) {
    MRBM_THROW(ShapeError, "conv_transpose2d: y " << shape_to_string(yv.shape()) << " and w "
                                                  << shape_to_string(wv.shape())
                                                  << " must both be 4-D");
  }
  MRBM_CHECK(out_h >= 0 && out_w >= 0,
             "conv_transpose2d: negative output size " << out_h << "x" << out_w);
  // core's conv_transpose2d checks that y fits [B, Cin, out_h, out_w] and w (ShapeError).
  Tensor x =
      Tensor::empty({yv.size(0), wv.size(1), out_h, out_w}, yv.dtype(), yv.device(), tape.stream());
  mrbm::conv_transpose2d(x, yv, wv, params, 0.0, cuda_of(tape), algo);

  const bool record = tape.recording() && (y.requires_grad() || w.requires_grad());
  Variable out(x, record);
  if (record) {
    tape.record([&tape, y = Variable(y), w = Variable(w), out, params, algo]() mutable {
      if (!out.has_grad()) return;
      const Tensor& g = out.grad();  // [B, Cin, out_h, out_w]: plays the conv2d input
      CudaContext* cuda = cuda_of(tape);
      if (y.requires_grad()) {
        mrbm::conv2d(y.grad_buffer(tape.stream()), g, w.value(), params, 1.0, cuda, algo);
      }
      if (w.requires_grad()) {
        mrbm::conv2d_weight_grad(w.grad_buffer(tape.stream()), g, y.value(), params, 1.0, cuda,
                                 algo);
      }
    });
  }
  return out;
}

}  // namespace mrbm::autodiff
