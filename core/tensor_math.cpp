// Elementwise, bias and reduction functions on Tensors (core/tensor_math.h).
#include "core/tensor_math.h"

#include <algorithm>

#include "core/cpu_threads.h"

#include "kernels/broadcast.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

#if defined(MRBM_WITH_CUDA)
#include "kernels/broadcast_cuda.h"
#include "kernels/elementwise_cuda.h"
#include "kernels/reduce_cuda.h"
#endif

namespace mrbm {
namespace {

int64_t rows_of(const Tensor& t) { return t.dim() == 0 ? 1 : t.size(0); }
int64_t cols_of(const Tensor& t) {
  const int64_t rows = rows_of(t);
  return rows == 0 ? 0 : t.numel() / rows;
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

void check_like(const Tensor& out, const Tensor& in, const char* op) {
  if (!in.defined()) return;
  MRBM_CHECK(in.device() == out.device() && in.dtype() == out.dtype(),
             op << ": " << in.describe() << " with " << out.describe());
  if (in.numel() != out.numel()) {
    MRBM_THROW(ShapeError, op << ": shape " << shape_to_string(in.shape()) << " vs "
                              << shape_to_string(out.shape()));
  }
}

// fn(r0, r1) on row ranges of a rows x cols CPU operation (parallel_rows_kernel); each row is
// computed by one call, so the split never changes the result. Throws the first failing part's
// status; returns kOk for dispatch.
template <class Fn>
kernels::Status split_rows(int64_t rows, int64_t cols, const Fn& fn) {
  parallel_rows_kernel(rows, cols, fn);
  return kernels::Status::kOk;
}

// Runs the CPU branch for float or double, or the CUDA branch (float only).
template <class CpuFn, class CudaFn>
void dispatch(const Tensor& out, CudaContext* cuda, const char* op, CpuFn cpu, CudaFn gpu) {
  if (out.is_cpu()) {
    if (out.dtype() == DType::kFloat32) {
      MRBM_KERNEL_CHECK(cpu(float{}));
    } else {
      MRBM_KERNEL_CHECK(cpu(double{}));
    }
    return;
  }
#if defined(MRBM_WITH_CUDA)
  MRBM_CHECK(cuda != nullptr && cuda->device() == out.device(),
             op << " on " << out.describe() << " needs a CudaContext for its device");
  MRBM_CHECK(out.dtype() == DType::kFloat32, op << " on CUDA supports float32, got "
                                                << out.describe());
  CudaDeviceGuard device_guard(cuda->device_index());  // the stream's device must be current
  MRBM_LAUNCH_CHECK(gpu(*cuda));
#else
  (void)cuda;
  (void)gpu;
  MRBM_THROW(CudaError, op << " on " << out.describe() << " in a CPU-only build");
#endif
}

}  // namespace

void axpby(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, double gamma,
           CudaContext* cuda) {
  check_like(out, alpha != 0 ? a : Tensor(), "axpby");
  check_like(out, beta != 0 ? b : Tensor(), "axpby");
  const int64_t n = out.numel();
  if (out.is_cuda() && out.dtype() == DType::kFloat64) {
    // float64 on the device (per-sample free energies, losses): two broadcast products,
    // out = gamma out + alpha a, then out += beta b.
    MRBM_CHECK(beta == 0 || alpha == 0 || b.raw_data() != out.raw_data(),
               "axpby in float64 on CUDA: the output may not alias b");
    Tensor o = out.reshape({1, n});
    if (alpha != 0 || gamma != 1) {
      broadcast_product(o, Tensor(), Tensor(), alpha != 0 ? a.reshape({1, n}) : Tensor(), 1,
                        alpha, gamma, cuda);
    }
    if (beta != 0) broadcast_product(o, Tensor(), Tensor(), b.reshape({1, n}), 1, beta, 1.0, cuda);
    return;
  }
  dispatch(
      out, cuda, "axpby",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::axpby_cpu<T>(out.data<T>(), alpha != 0 ? data_or_null<T>(a) : nullptr,
                                     beta != 0 ? data_or_null<T>(b) : nullptr, n, alpha, beta,
                                     gamma);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        return kernels::axpby_cuda(out.data<float>(), alpha != 0 ? data_or_null<float>(a) : nullptr,
                                   beta != 0 ? data_or_null<float>(b) : nullptr, n,
                                   static_cast<float>(alpha), static_cast<float>(beta),
                                   static_cast<float>(gamma), ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void mul(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double gamma,
         CudaContext* cuda) {
  check_like(out, a, "mul");
  check_like(out, b, "mul");
  const int64_t n = out.numel();
  if (out.is_cuda() && out.dtype() == DType::kFloat64) {
    // float64 on the device: out[i] = alpha a[i] b[i] + gamma out[i] as a broadcast product with
    // a as the per-"row" factor of an [n, 1] view.
    Tensor o = out.reshape({n, 1});
    broadcast_product(o, a.reshape({n}), Tensor(), b.reshape({n, 1}), 1, alpha, gamma, cuda);
    return;
  }
  dispatch(
      out, cuda, "mul",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::mul_cpu<T>(out.data<T>(), a.data<T>(), b.data<T>(), n, alpha, gamma);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        return kernels::mul_cuda(out.data<float>(), a.data<float>(), b.data<float>(), n,
                                 static_cast<float>(alpha), static_cast<float>(gamma), ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void add_bias(Tensor& out, const Tensor& x, const Tensor& bias, int64_t inner, CudaContext* cuda) {
  check_like(out, x, "add_bias");
  const int64_t rows = rows_of(x), channels = bias.numel();
  if (cols_of(x) != channels * inner) {
    MRBM_THROW(ShapeError, "add_bias: input " << shape_to_string(x.shape()) << " does not hold "
                                              << channels << " channels of " << inner
                                              << " values per row");
  }
  dispatch(
      out, cuda, "add_bias",
      [&](auto tag) {
        using T = decltype(tag);
        const int64_t cols = channels * inner;
        return split_rows(rows, cols, [&](int64_t r0, int64_t r1) {
          return kernels::add_bias_cpu<T>(out.data<T>() + r0 * cols, x.data<T>() + r0 * cols,
                                          bias.data<T>(), r1 - r0, channels, inner);
        });
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        return kernels::add_bias_cuda(out.data<float>(), x.data<float>(), bias.data<float>(), rows,
                                      channels, inner, ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void bias_grad(Tensor& grad_bias, const Tensor& g, int64_t inner, double alpha, double gamma,
               CudaContext* cuda) {
  const int64_t rows = rows_of(g), channels = grad_bias.numel();
  if (cols_of(g) != channels * inner) {
    MRBM_THROW(ShapeError, "bias_grad: gradient " << shape_to_string(g.shape())
                                                  << " does not hold " << channels
                                                  << " channels of " << inner << " values per row");
  }
  dispatch(
      grad_bias, cuda, "bias_grad",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::bias_grad_cpu<T>(grad_bias.data<T>(), g.data<T>(), rows, channels, inner,
                                         alpha, gamma);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        const size_t ws = kernels::bias_grad_workspace_bytes(rows, channels, inner);
        return kernels::bias_grad_cuda(grad_bias.data<float>(), g.data<float>(), rows, channels,
                                       inner, static_cast<float>(alpha), static_cast<float>(gamma),
                                       ctx.workspace(ws), ws, ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void sum_all(Tensor& out, const Tensor& x, CudaContext* cuda) {
  MRBM_CHECK(out.dtype() == DType::kFloat64 && out.numel() == 1 && out.device() == x.device(),
             "sum_all writes one float64 on the input's device, got " << out.describe());
  const int64_t n = x.numel();
#if defined(MRBM_WITH_CUDA)
  if (x.is_cuda() && x.dtype() == DType::kFloat64) {
    MRBM_CHECK(cuda != nullptr, "sum_all on " << x.describe() << " needs a CudaContext");
    const size_t ws = kernels::sum_all_workspace_bytes(n);
    CudaDeviceGuard device_guard(cuda->device_index());
    MRBM_LAUNCH_CHECK(kernels::sum_all_cuda(out.data<double>(), x.data<double>(), n,
                                            cuda->workspace(ws), ws, cuda->stream()));
    return;
  }
#endif
  dispatch(
      x, cuda, "sum_all",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::sum_all_cpu<T>(out.data<double>(), x.data<T>(), n);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        const size_t ws = kernels::sum_all_workspace_bytes(n);
        return kernels::sum_all_cuda(out.data<double>(), x.data<float>(), n, ctx.workspace(ws), ws,
                                     ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void row_sums(Tensor& out, const Tensor& x, CudaContext* cuda) {
  const int64_t rows = rows_of(x), cols = cols_of(x);
  MRBM_CHECK(out.dtype() == DType::kFloat64 && out.numel() == rows && out.device() == x.device(),
             "row_sums writes " << rows << " float64 values, got " << out.describe());
#if defined(MRBM_WITH_CUDA)
  if (x.is_cuda() && x.dtype() == DType::kFloat64) {
    MRBM_CHECK(cuda != nullptr, "row_sums on " << x.describe() << " needs a CudaContext");
    const size_t ws = kernels::row_sums_workspace_bytes(rows, cols);
    CudaDeviceGuard device_guard(cuda->device_index());
    MRBM_LAUNCH_CHECK(kernels::row_sums_cuda(out.data<double>(), x.data<double>(), rows, cols,
                                             cuda->workspace(ws), ws, cuda->stream()));
    return;
  }
#endif
  dispatch(
      x, cuda, "row_sums",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::row_sums_cpu<T>(out.data<double>(), x.data<T>(), rows, cols);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        const size_t ws = kernels::row_sums_workspace_bytes(rows, cols);
        return kernels::row_sums_cuda(out.data<double>(), x.data<float>(), rows, cols,
                                      ctx.workspace(ws), ws, ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void row_dot(Tensor& out, const Tensor& x, const Tensor& vec, int64_t inner, CudaContext* cuda) {
  const int64_t rows = rows_of(x), cols = cols_of(x);
  MRBM_CHECK(out.dtype() == DType::kFloat64 && out.numel() == rows && out.device() == x.device(),
             "row_dot writes " << rows << " float64 values, got " << out.describe());
  MRBM_CHECK(vec.device() == x.device() && vec.dtype() == x.dtype(),
             "row_dot: " << vec.describe() << " with " << x.describe());
  if (vec.numel() * inner != cols) {
    MRBM_THROW(ShapeError, "row_dot: rows of " << shape_to_string(x.shape()) << " vs vector "
                                               << shape_to_string(vec.shape()) << " x " << inner);
  }
  dispatch(
      x, cuda, "row_dot",
      [&](auto tag) {
        using T = decltype(tag);
        return kernels::row_dot_cpu<T>(out.data<double>(), x.data<T>(), vec.data<T>(), rows, cols,
                                       inner);
      },
      [&](CudaContext& ctx) {
#if defined(MRBM_WITH_CUDA)
        const size_t ws = kernels::row_dot_workspace_bytes(rows, cols);
        return kernels::row_dot_cuda(out.data<double>(), x.data<float>(), vec.data<float>(), rows,
                                     cols, inner, ctx.workspace(ws), ws, ctx.stream());
#else
        (void)ctx;
        return 0;
#endif
      });
}

void broadcast_product(Tensor& out, const Tensor& row, const Tensor& col, const Tensor& elem,
                       int64_t inner, double alpha, double gamma, CudaContext* cuda) {
  const int64_t rows = rows_of(out), cols = cols_of(out);
  if (row.defined()) {
    MRBM_CHECK(row.dtype() == DType::kFloat64 && row.device() == out.device(),
               "broadcast_product: row factor " << row.describe());
    MRBM_CHECK(row.numel() == rows || (rows == 1 && row.numel() == 1),
               "broadcast_product: " << row.numel() << " row factors for " << rows << " rows");
  }
  if (col.defined()) {
    MRBM_CHECK(col.device() == out.device() && col.dtype() == out.dtype() &&
                   col.numel() * inner == cols,
               "broadcast_product: column factor " << col.describe() << " x " << inner << " for "
                                                   << out.describe());
  }
  check_like(out, elem, "broadcast_product");
  auto args = [&](auto tag) {
    using T = decltype(tag);
    kernels::BroadcastProductArgs<T> a;
    a.out = out.data<T>();
    a.row = row.defined() ? row.data<double>() : nullptr;
    a.col = data_or_null<T>(col);
    a.elem = data_or_null<T>(elem);
    a.rows = rows;
    a.cols = cols;
    a.inner = inner;
    a.alpha = alpha;
    a.gamma = gamma;
    return a;
  };
  // Unlike the other functions, float64 also runs on CUDA (scalar losses stay in float64).
  if (out.is_cpu()) {
    auto run = [&](auto tag) {  // rows split over threads (one row factor per row, or one in all)
      const auto whole = args(tag);
      return split_rows(rows, cols, [&](int64_t r0, int64_t r1) {
        auto part = whole;
        part.out += r0 * cols;
        if (part.row != nullptr && row.numel() == rows) part.row += r0;
        if (part.elem != nullptr) part.elem += r0 * cols;
        part.rows = r1 - r0;
        return kernels::broadcast_product_cpu(part);
      });
    };
    if (out.dtype() == DType::kFloat32) {
      run(float{});
    } else {
      run(double{});
    }
    return;
  }
#if defined(MRBM_WITH_CUDA)
  MRBM_CHECK(cuda != nullptr && cuda->device() == out.device(),
             "broadcast_product on " << out.describe() << " needs a CudaContext for its device");
  CudaDeviceGuard device_guard(cuda->device_index());
  if (out.dtype() == DType::kFloat32) {
    MRBM_LAUNCH_CHECK(kernels::broadcast_product_cuda(args(float{}), cuda->stream()));
  } else {
    MRBM_LAUNCH_CHECK(kernels::broadcast_product_cuda(args(double{}), cuda->stream()));
  }
#else
  (void)cuda;
  MRBM_THROW(CudaError, "broadcast_product on " << out.describe() << " in a CPU-only build");
#endif
}

}  // namespace mrbm
