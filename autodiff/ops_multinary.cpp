// Differentiable multinary unit ops (autodiff/ops_multinary.h).
#include "autodiff/ops_multinary.h"

#include <algorithm>

#include "core/cpu_threads.h"
#include "kernels/multinary.h"
#include "kernels/multinary_backward.h"
#include "kernels/multinary_reference.h"

#if defined(MRBM_WITH_CUDA)
#include "kernels/multinary_backward_cuda.h"
#include "kernels/multinary_cuda.h"
#endif

namespace mrbm::autodiff {
namespace {

struct Saved {
  Tensor mean;  // f(x), for the row_phi backward (and the mean output itself)
  Tensor var;   // f'(x), for the mean backward
};

void forward_float64(const Tensor& x, const kernels::UnitSpec& unit, Tensor* mean, Tensor* var,
                     Tensor* row_phi, int64_t rows, int64_t cols) {
  // (sampling is float32-only: the float64 twin exists for gradient checks)
  const double* xs = x.data<double>();
  for (int64_t r = 0; r < rows; ++r) {
    double phi_sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const auto ref = kernels::unit_values_reference<double>(unit, xs[i]);
      if (mean) mean->data<double>()[i] = ref.mean;
      if (var) var->data<double>()[i] = ref.var;
      phi_sum += ref.phi;
    }
    if (row_phi) row_phi->data<double>()[r] = phi_sum;
  }
}

// A CPU pass (forward or backward) split over rows on core/cpu_threads.h's threads: fn(begin, end,
// shift) runs rows [begin, end), shift(ptr) moving a rows x cols pointer to row begin. Every
// element and every row sum depends on its own inputs only (samples on (seed, element index), kept
// global by first_element), so the result is bit-identical to one call whatever the split.
template <class Fn>
void split_pass_rows(int64_t rows, int64_t cols, const Fn& fn) {
  parallel_rows_kernel(rows, cols, [&](int64_t begin, int64_t end) {
    const int64_t offset = begin * cols;
    return fn(begin, end, [offset](auto* ptr) { return ptr ? ptr + offset : ptr; });
  });
}

void forward_cpu_parallel(const kernels::MultinaryArgs& a) {
  MRBM_KERNEL_CHECK(kernels::validate_multinary_args(a));
  split_pass_rows(a.rows, a.cols, [&](int64_t begin, int64_t end, auto shift) {
    kernels::MultinaryArgs p = a;
    p.mean = shift(a.mean);
    p.var = shift(a.var);
    p.sample = shift(a.sample);
    p.x = shift(a.x);
    p.row_phi = a.row_phi ? a.row_phi + begin : nullptr;
    p.rows = end - begin;
    p.first_element = a.first_element + begin * a.cols;
    return kernels::multinary_forward_cpu(p);
  });
}

void forward_float32(Tape& tape, const Tensor& x, const kernels::UnitSpec& unit, Tensor* mean,
                     Tensor* var, Tensor* row_phi, Tensor* sample, const SampleRequest& request,
                     int64_t rows, int64_t cols) {
  kernels::MultinaryArgs a;
  a.sample = sample ? sample->data<float>() : nullptr;
  a.sampler = sample ? request.sampler : kernels::Sampler::kNone;
  a.seed = request.seed;
  a.offset = request.offset;
  a.mean = mean ? mean->data<float>() : nullptr;
  a.var = var ? var->data<float>() : nullptr;
  a.row_phi = row_phi ? row_phi->data<double>() : nullptr;
  a.x = x.data<float>();
  a.rows = rows;
  a.cols = cols;
  a.unit = unit;
  if (x.is_cpu()) {
    forward_cpu_parallel(a);
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard device_guard(tape.cuda().device_index());  // the stream's device
  // Per-block partials of row_phi, so that free energies have the same bits on every run (a conv
  // layer's rows span several blocks). Freed on the stream that uses it (stream-ordered reuse).
  Tensor partials;
  const int64_t partial_count = row_phi ? kernels::multinary_row_partials_count(rows, cols) : 0;
  if (partial_count > 0) {
    partials = Tensor::empty({partial_count}, DType::kFloat64, x.device(), tape.stream());
    a.row_partials = partials.data<double>();
  }
  MRBM_LAUNCH_CHECK(kernels::multinary_forward_cuda(a, tape.stream()));
#else
  (void)tape;
  MRBM_THROW(CudaError, "multinary on " << x.describe() << " in a CPU-only build");
#endif
}

template <class T>
void backward(Tape& tape, Tensor& grad_x, const Tensor* grad_mean, const Tensor* grad_row_phi,
              const Saved& saved, int64_t rows, int64_t cols) {
  kernels::MultinaryBackwardArgs<T> a;
  a.grad_x = grad_x.data<T>();
  if (grad_mean) {
    a.grad_mean = grad_mean->data<T>();
    a.var = saved.var.data<T>();
  }
  if (grad_row_phi) {
    a.grad_row_phi = grad_row_phi->data<double>();
    a.mean = saved.mean.data<T>();
  }
  a.rows = rows;
  a.cols = cols;
  if (grad_x.is_cpu()) {
    MRBM_KERNEL_CHECK(kernels::validate_multinary_backward_args(a));
    split_pass_rows(rows, cols, [&](int64_t begin, int64_t end, auto shift) {
      kernels::MultinaryBackwardArgs<T> p = a;
      p.grad_x = shift(a.grad_x);
      p.grad_mean = shift(a.grad_mean);
      p.var = shift(a.var);
      p.mean = shift(a.mean);
      p.grad_row_phi = a.grad_row_phi ? a.grad_row_phi + begin : nullptr;
      p.rows = end - begin;
      return kernels::multinary_backward_cpu(p);
    });
    return;
  }
#if defined(MRBM_WITH_CUDA)
  if constexpr (std::is_same_v<T, float>) {
    CudaDeviceGuard device_guard(tape.cuda().device_index());
    MRBM_LAUNCH_CHECK(kernels::multinary_backward_cuda(a, tape.stream()));
    return;
  }
#endif
  (void)tape;
  MRBM_THROW(UnsupportedError, "multinary backward on " << grad_x.describe());
}

}  // namespace

MultinaryOutputs multinary(Tape& tape, const Variable& x, const kernels::UnitSpec& unit,
                           bool want_mean, bool want_row_phi, const SampleRequest& request) {
  const bool want_sample = request.sampler != kernels::Sampler::kNone;
  MRBM_CHECK(want_mean || want_row_phi || want_sample,
             "multinary: ask for the mean, the row sums, a sample or several");
  const Tensor& xv = x.value();
  MRBM_CHECK(xv.dim() >= 1, "multinary needs a [rows, ...] tensor, got " << xv.describe());
  MRBM_CHECK(xv.device() == tape.device(),
             "multinary: " << xv.describe() << " on a tape for " << to_string(tape.device()));
  const int64_t rows = xv.size(0);
  const int64_t cols = rows > 0 ? xv.numel() / rows : 0;
  const bool record = tape.recording() && x.requires_grad() && (want_mean || want_row_phi);
  const Stream stream = tape.stream();

  Saved saved;
  Tensor row_phi;
  // mean is computed when asked for, or saved for the row_phi backward; var for the mean backward.
  if (want_mean || (record && want_row_phi)) {
    saved.mean = Tensor::empty(xv.shape(), xv.dtype(), xv.device(), stream);
  }
  if (record && want_mean) saved.var = Tensor::empty(xv.shape(), xv.dtype(), xv.device(), stream);
  if (want_row_phi) row_phi = Tensor::empty({rows}, DType::kFloat64, xv.device(), stream);
  Tensor sample;
  if (want_sample) sample = Tensor::empty(xv.shape(), xv.dtype(), xv.device(), stream);

  Tensor* mean_ptr = saved.mean.defined() ? &saved.mean : nullptr;
  Tensor* var_ptr = saved.var.defined() ? &saved.var : nullptr;
  Tensor* phi_ptr = row_phi.defined() ? &row_phi : nullptr;
  if (xv.dtype() == DType::kFloat64) {
    MRBM_CHECK(xv.is_cpu(), "multinary in float64 runs on the CPU only (gradient checks)");
    MRBM_CHECK(!want_sample, "multinary: sampling runs in float32");
    forward_float64(xv, unit, mean_ptr, var_ptr, phi_ptr, rows, cols);
  } else {
    forward_float32(tape, xv, unit, mean_ptr, var_ptr, phi_ptr, want_sample ? &sample : nullptr,
                    request, rows, cols);
  }

  MultinaryOutputs out;
  out.sample = sample;
  if (want_mean) out.mean = Variable(saved.mean, record);
  if (want_row_phi) out.row_phi = Variable(row_phi, record);
  if (record) {
    if (!want_mean) saved.var = Tensor();
    tape.record([&tape, x = Variable(x), mean = out.mean, row_phi = out.row_phi, saved, rows,
                 cols]() mutable {
      const Tensor* g_mean = mean.defined() && mean.has_grad() ? &mean.grad() : nullptr;
      const Tensor* g_phi = row_phi.defined() && row_phi.has_grad() ? &row_phi.grad() : nullptr;
      if (!g_mean && !g_phi) return;
      Tensor& gx = x.grad_buffer(tape.stream());
      if (gx.dtype() == DType::kFloat64) {
        backward<double>(tape, gx, g_mean, g_phi, saved, rows, cols);
      } else {
        backward<float>(tape, gx, g_mean, g_phi, saved, rows, cols);
      }
    });
  }
  return out;
}

}  // namespace mrbm::autodiff
