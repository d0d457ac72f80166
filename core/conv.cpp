// Convolutions on Tensors (core/conv.h): argument checks, the choice of algorithm, and the three
// paths (reference loops, im2col + GEMM, cuDNN). The oracle of every path is the reference
// (kernels/conv_reference.h); test/test_core_conv.cpp compares them.
//
// im2col path, shared by the CPU and CUDA (only the im2col/col2im/permute kernels and the GEMM
// backend differ). The batch is cut into chunks of nb samples so that the column buffer stays
// below the limit of set_im2col_buffer_limit; with K = Cin kh kw, P = Ho Wo and N = nb P (layouts
// of kernels/im2col.h and kernels/permute.h):
//   conv2d:            col [K, N] = im2col(x_c);  t [Cout, N] = W [Cout, K] col;
//                      y_c = swap(t: [Cout, nb, P] -> [nb, Cout, P]) + beta y_c
//   conv_transpose2d:  t [Cout, N] = swap(y_c);  col [K, N] = W^T t;  x_c = col2im(col)
//                      (beta = 1: col2im into a temporary, then x_c = tmp + x_c)
//   weight gradient:   col = im2col(x_c);  t = swap(dy_c);  dW [Cout, K] = t col^T + beta' dW
//                      (beta' = beta for the first chunk, then 1: the chunks' sums add up)
// One GEMM per chunk whose inner or outer size is N (thousands to 100k+) keeps cuBLAS/OpenBLAS
// near their peak for every layer shape; per-sample (strided batched) GEMMs would avoid the
// permutes but have only P = Ho Wo columns each (16 for the paper's last conv layer), too thin to
// fill a GPU's GEMM tiles, and the weight gradient has to sum over samples anyway.
//
// Expected CUDA speed against cuDNN (fp32 FMA math, no TF32), written before measuring (check with
// `mrbm bench`): the GEMM does the same 2 Cout K N flops as cuDNN's implicit GEMM, and cuBLAS
// SGEMM at these sizes (Cout 128-256, K 1024-4096, N >= 2048) runs at or above the speed of
// cuDNN's fp32 kernels. The extra cost is memory traffic: im2col writes the K x N column buffer
// and the GEMM reads it back (8 bytes per column element, against 2 Cout flops per element), and
// the permute moves the output twice more (negligible: 1/K of the col traffic per output). So the
// extra time is about 4 / Cout bytes per flop over the machine balance: on an H100 (about 50
// TFLOP/s fp32 achieved, 3 TB/s), 1/16 B/flop, that is +50% of the GEMM time at Cout = 128 (the
// paper's layer 2, the worst case: ratio ~0.65-0.75 depending on how fast cuDNN's fp32 kernel is)
// and +25% at Cout = 256 (layers 3-5: ratio ~0.8). The transpose (col written by the GEMM, read by
// col2im) and the weight gradient (col written by im2col, read by the GEMM) move the same bytes.
// If layer 2 misses 0.7x, the next step is a fused implicit-GEMM kernel that builds the col tile
// in shared memory (no col buffer), not a different chunking.
//
// cuDNN path: one descriptor set per call (cheap host calls); the algorithm is chosen once per
// (operation, shape, device, math mode) with cudnnFind*Ex (timed, the fastest first; falls back to
// the cudnnGet*_v7 heuristics if Find fails) and cached. The search runs in the context's
// workspace (grown to kCudnnWorkspaceLimit), so no memory is allocated outside the caching
// allocator, and writes a scratch output, so that an accumulating call (beta = 1) is not
// clobbered by the trial runs. Only deterministic algorithms are chosen (perf.determinism): the
// atomic backward-data and backward-filter algorithms that cudnnFind may rank first would break
// the bit-exact resume promise of docs/architecture.md (issue 12, 6d). Math: CUDNN_FMA_MATH unless
// the context allows TF32, so the results keep float32 accuracy like the cuBLAS GEMMs of
// core/gemm.h.
#include "core/conv.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "core/cpu_threads.h"
#include "core/gemm.h"
#include "kernels/conv_reference.h"
#include "kernels/im2col.h"
#include "kernels/permute.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/im2col_cuda.h"
#include "kernels/permute_cuda.h"
#endif
#if defined(MRBM_WITH_CUDNN)
#include <cudnn.h>
#endif

namespace mrbm {
namespace {

using kernels::ConvShape;

enum class ConvOp { kForward, kTranspose, kWeightGrad };

const char* op_name(ConvOp op) {
  switch (op) {
    case ConvOp::kForward:
      return "conv2d";
    case ConvOp::kTranspose:
      return "conv_transpose2d";
    case ConvOp::kWeightGrad:
      return "conv2d_weight_grad";
  }
  return "conv";
}

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kCpuIm2colLimit = 64 * kMiB;
// Larger on the GPU: bigger chunks mean fewer, larger GEMMs; 256 MiB is about 1% of a P40's memory.
constexpr int64_t kCudaIm2colLimit = 256 * kMiB;

std::atomic<int> g_algo_override{-1};  // -1: not set, use the environment
std::atomic<int64_t> g_im2col_limit{0};

// ---- argument checks -------------------------------------------------------------------------

void check_defined(ConvOp op, const Tensor& t, const char* name) {
  MRBM_CHECK(t.defined(), op_name(op) << ": " << name << " is undefined");
}

// Same dtype and device for all three; a context on that device for CUDA tensors.
void check_placement(ConvOp op, const Tensor& out, const Tensor& a, const Tensor& b,
                     CudaContext* cuda) {
  MRBM_CHECK(out.dtype() == a.dtype() && out.dtype() == b.dtype(),
             op_name(op) << ": dtypes differ: " << out.describe() << ", " << a.describe() << ", "
                         << b.describe());
  MRBM_CHECK(out.device() == a.device() && out.device() == b.device(),
             op_name(op) << ": devices differ: " << out.describe() << ", " << a.describe() << ", "
                         << b.describe());
  if (out.is_cuda()) {
    MRBM_CHECK(cuda != nullptr, op_name(op) << " on " << out.describe() << " needs a CudaContext");
    MRBM_CHECK(cuda->device() == out.device(), op_name(op)
                                                   << ": context on " << to_string(cuda->device())
                                                   << ", tensors on " << to_string(out.device()));
  }
}

// Checks that `actual` (the tensor that is not x or w) has the shape the conv shape implies.
void check_third_shape(ConvOp op, const char* name, const Shape& actual, const Shape& expected,
                       const char* x_name, const Shape& x, const Shape& w) {
  if (actual != expected) {
    MRBM_THROW(ShapeError, op_name(op) << ": " << name << " " << shape_to_string(actual)
                                       << " does not fit " << x_name << " " << shape_to_string(x)
                                       << " and w " << shape_to_string(w) << " (expected "
                                       << shape_to_string(expected) << ")");
  }
}

bool cudnn_fits(const ConvShape& s) {
  // The legacy cuDNN API takes int sizes and strides, and rejects padding that reaches past a
  // whole kernel (our reference allows it: the outer outputs are 0).
  const int64_t largest = std::max(
      {kernels::conv_input_count(s), kernels::conv_output_count(s), kernels::conv_weight_count(s)});
  return largest <= INT32_MAX && s.pad_h < s.kernel_h && s.pad_w < s.kernel_w;
}

bool cudnn_available(const CudaContext* cuda) {
#if defined(MRBM_WITH_CUDNN)
  return cuda != nullptr && cuda->has_cudnn();
#else
  (void)cuda;
  return false;
#endif
}

ConvAlgo env_algo_override() {
  // Initialized once; a bad value throws here (and again on the next call), never silently ignored.
  static const ConvAlgo value = [] {
    const char* text = std::getenv("MRBM_CONV_ALGO");
    if (text == nullptr || *text == '\0') return ConvAlgo::kAuto;
    try {
      return parse_conv_algo(text);
    } catch (const InvalidArgument& e) {
      MRBM_THROW(InvalidArgument, "environment variable MRBM_CONV_ALGO: " << e.what());
    }
  }();
  return value;
}

// The algorithm to run; throws UnsupportedError for an explicit choice the device cannot serve.
ConvAlgo choose_algo(ConvOp op, ConvAlgo requested, const Tensor& out, const ConvShape& s,
                     CudaContext* cuda) {
  ConvAlgo algo = resolve_conv_algo(requested, out.device(), out.dtype(), cuda);
  if (algo == ConvAlgo::kCudnn && requested == ConvAlgo::kAuto && !cudnn_fits(s))
    algo = ConvAlgo::kIm2col;
  switch (algo) {
    case ConvAlgo::kReference:
      if (!out.is_cpu())
        MRBM_THROW(UnsupportedError, op_name(op) << ": the reference algorithm runs on the CPU "
                                                    "only, tensors are on "
                                                 << to_string(out.device()));
      break;
    case ConvAlgo::kCudnn:
      if (!out.is_cuda() || !cudnn_available(cuda))
        MRBM_THROW(UnsupportedError, op_name(op)
                                         << ": cuDNN is not available for " << out.describe()
                                         << " (CPU tensor, or a build/context without "
                                            "cuDNN)");
      if (out.dtype() != DType::kFloat32)
        MRBM_THROW(UnsupportedError,
                   op_name(op) << ": the cuDNN path is float32 only, got " << out.describe());
      if (!cudnn_fits(s))
        MRBM_THROW(UnsupportedError, op_name(op) << ": cuDNN cannot take this shape (sizes beyond "
                                                    "32 bits or padding >= kernel)");
      break;
    case ConvAlgo::kIm2col:
    case ConvAlgo::kAuto:
      break;
  }
  return algo;
}

// ---- device dispatch of the small kernels ------------------------------------------------------

// CPU im2col/col2im split over images on core/cpu_threads.h's threads (each image owns its columns
// of col and its part of x: the result is the same whatever the split). Small layers stay on the
// calling thread (parallel_rows_kernel's minimum part).
template <class F>
void for_image_ranges(const ConvShape& s, const F& f) {
  parallel_rows_kernel(s.batch, kernels::conv_col_count(s) / std::max<int64_t>(1, s.batch), f);
}

template <class T>
void run_im2col(Tensor& col, const Tensor& x, const ConvShape& s, CudaContext* cuda) {
  if (cuda == nullptr) {
    MRBM_KERNEL_CHECK(kernels::validate_im2col_args(col.data<T>(), x.data<T>(), s));
    for_image_ranges(s, [&](int64_t begin, int64_t end) {
      return kernels::im2col_cpu_by_rows_batches(col.data<T>(), x.data<T>(), s, begin, end);
    });
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard device_guard(cuda->device_index());
  MRBM_LAUNCH_CHECK(kernels::im2col_cuda(col.data<T>(), x.data<T>(), s, cuda->stream()));
#else
  MRBM_THROW(CudaError, "im2col on CUDA in a CPU-only build");
#endif
}

template <class T>
void run_col2im(Tensor& x, const Tensor& col, const ConvShape& s, CudaContext* cuda) {
  if (cuda == nullptr) {
    MRBM_KERNEL_CHECK(kernels::validate_im2col_args(col.data<T>(), x.data<T>(), s));
    for_image_ranges(s, [&](int64_t begin, int64_t end) {
      return kernels::col2im_cpu_by_rows_batches(x.data<T>(), col.data<T>(), s, begin, end);
    });
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard device_guard(cuda->device_index());
  MRBM_LAUNCH_CHECK(kernels::col2im_cuda(x.data<T>(), col.data<T>(), s, cuda->stream()));
#else
  MRBM_THROW(CudaError, "col2im on CUDA in a CPU-only build");
#endif
}

// out [dim1, dim0, inner] = swap(in [dim0, dim1, inner]) + beta out.
template <class T>
void run_swap(Tensor& out, const Tensor& in, int64_t dim0, int64_t dim1, int64_t inner, double beta,
              CudaContext* cuda) {
  if (cuda == nullptr) {  // rows of out split over threads
    parallel_rows_kernel(dim1, dim0 * inner, [&](int64_t c0, int64_t c1) {
      return kernels::swap_outer_dims_cpu_rows(out.data<T>(), in.data<T>(), dim0, dim1, inner,
                                               static_cast<T>(beta), c0, c1);
    });
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard device_guard(cuda->device_index());
  MRBM_LAUNCH_CHECK(kernels::swap_outer_dims_cuda(out.data<T>(), in.data<T>(), dim0, dim1, inner,
                                                  static_cast<T>(beta), cuda->stream()));
#else
  MRBM_THROW(CudaError, "swap_outer_dims on CUDA in a CPU-only build");
#endif
}

// ---- reference path (CPU) ----------------------------------------------------------------------

// out = result + beta out; (a, b) = (x, w), (y, w) or (x, dy) as in the public functions.
template <class T>
void reference_conv(ConvOp op, Tensor& out, const Tensor& a, const Tensor& b, const ConvShape& s,
                    double beta) {
  Tensor target = beta == 0.0 ? out : Tensor::empty(out.shape(), out.dtype());
  switch (op) {
    case ConvOp::kForward:
      MRBM_KERNEL_CHECK(kernels::conv2d_reference(target.data<T>(), a.data<T>(), b.data<T>(), s));
      break;
    case ConvOp::kTranspose:
      MRBM_KERNEL_CHECK(
          kernels::conv_transpose2d_reference(target.data<T>(), a.data<T>(), b.data<T>(), s));
      break;
    case ConvOp::kWeightGrad:
      MRBM_KERNEL_CHECK(
          kernels::conv2d_weight_grad_reference(target.data<T>(), a.data<T>(), b.data<T>(), s));
      break;
  }
  if (beta != 0.0) run_swap<T>(out, target, 1, out.numel(), 1, beta, nullptr);
}

// ---- im2col path (CPU and CUDA) ----------------------------------------------------------------

// Samples per chunk: the column buffer [K, nb P] stays below the limit (at least one sample), and
// N = nb P stays below 2^31 (cuBLAS takes int sizes).
int64_t chunk_samples(const ConvShape& s, int64_t element_bytes, bool on_cuda) {
  const int64_t set = g_im2col_limit.load();
  const int64_t limit = set > 0 ? set : (on_cuda ? kCudaIm2colLimit : kCpuIm2colLimit);
  const int64_t positions = s.out_h * s.out_w;
  const int64_t per_sample = kernels::conv_col_rows(s) * positions * element_bytes;
  int64_t nb = per_sample > 0 ? limit / per_sample : s.batch;
  nb = std::min<int64_t>(nb, INT32_MAX / std::max<int64_t>(positions, 1));
  return std::max<int64_t>(1, std::min(nb, s.batch));
}

// The first numel(shape) elements of `buffer`, viewed as `shape` (chunks smaller than the largest
// reuse the front of its buffers).
Tensor front_view(const Tensor& buffer, const Shape& shape) {
  return buffer.reshape({-1}).rows(0, shape_numel(shape)).reshape(shape);
}

// Columns kept by conv2d (ConvColumns, core/conv.h): `keep` for the forward, `reuse` for the
// weight gradient; both only on the CPU with the batch in one chunk.
template <class T>
void im2col_conv(ConvOp op, Tensor& out, const Tensor& a, const Tensor& b, const Tensor& w_like,
                 const ConvShape& s, double beta, CudaContext* cuda, ConvColumns* keep,
                 const ConvColumns* reuse) {
  const int64_t k = kernels::conv_col_rows(s);
  const int64_t positions = s.out_h * s.out_w;
  const int64_t cout = s.out_channels;
  const int64_t max_nb = chunk_samples(s, static_cast<int64_t>(sizeof(T)), cuda != nullptr);
  const Device device = out.device();
  const Stream stream = cuda != nullptr ? cuda->stream() : nullptr;
  const DType dtype = out.dtype();
  const bool one_cpu_chunk = cuda == nullptr && max_nb >= s.batch;
  const Shape all_columns{k, s.batch * positions};
  const bool reusing = op == ConvOp::kWeightGrad && one_cpu_chunk && reuse != nullptr &&
                       reuse->col.defined() && reuse->col.shape() == all_columns &&
                       reuse->col.dtype() == dtype && reuse->col.device() == device;

  Tensor col = reusing ? reuse->col : Tensor::empty({k, max_nb * positions}, dtype, device, stream);
  Tensor t = Tensor::empty({cout, max_nb * positions}, dtype, device, stream);
  Tensor tmp;  // col2im target when conv_transpose2d accumulates
  if (op == ConvOp::kTranspose && beta != 0.0)
    tmp = Tensor::empty({max_nb, s.in_channels, s.in_h, s.in_w}, dtype, device, stream);
  Tensor w2 = w_like.reshape({cout, k});  // w, or dw for the weight gradient

  for (int64_t b0 = 0; b0 < s.batch; b0 += max_nb) {
    const int64_t nb = std::min(max_nb, s.batch - b0);
    ConvShape cs = s;
    cs.batch = nb;
    Tensor col_c = front_view(col, {k, nb * positions});
    Tensor t_c = front_view(t, {cout, nb * positions});
    switch (op) {
      case ConvOp::kForward: {  // a = x, b = w, out = y
        run_im2col<T>(col_c, a.rows(b0, b0 + nb), cs, cuda);
        gemm(t_c, w2, col_c, false, false, 1.0, 0.0, cuda);
        Tensor y_c = out.rows(b0, b0 + nb);
        run_swap<T>(y_c, t_c, cout, nb, positions, beta, cuda);
        if (keep != nullptr && one_cpu_chunk) keep->col = col;
        break;
      }
      case ConvOp::kTranspose: {  // a = y, b = w, out = x_out
        run_swap<T>(t_c, a.rows(b0, b0 + nb), nb, cout, positions, 0.0, cuda);
        gemm(col_c, w2, t_c, true, false, 1.0, 0.0, cuda);
        Tensor x_c = out.rows(b0, b0 + nb);
        if (beta == 0.0) {
          run_col2im<T>(x_c, col_c, cs, cuda);
        } else {
          Tensor tmp_c = tmp.rows(0, nb);
          run_col2im<T>(tmp_c, col_c, cs, cuda);
          run_swap<T>(x_c, tmp_c, 1, x_c.numel(), 1, beta, cuda);
        }
        break;
      }
      case ConvOp::kWeightGrad: {  // a = x, b = dy, out = dw (= w2's storage)
        if (!reusing) run_im2col<T>(col_c, a.rows(b0, b0 + nb), cs, cuda);
        run_swap<T>(t_c, b.rows(b0, b0 + nb), nb, cout, positions, 0.0, cuda);
        gemm(w2, t_c, col_c, false, true, 1.0, b0 == 0 ? beta : 1.0, cuda);
        break;
      }
    }
  }
}

// ---- cuDNN path --------------------------------------------------------------------------------

#if defined(MRBM_WITH_CUDNN)

// Descriptors of one call (float32, NCHW). Creation is a few host calls; the algorithm search is
// what is expensive, and that is cached below.
class CudnnDescriptors {
 public:
  CudnnDescriptors(const ConvShape& s, cudnnMathType_t math) {
    try {
      MRBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      MRBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      MRBM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      MRBM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      MRBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(
          x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(s.batch),
          static_cast<int>(s.in_channels), static_cast<int>(s.in_h), static_cast<int>(s.in_w)));
      MRBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(
          y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(s.batch),
          static_cast<int>(s.out_channels), static_cast<int>(s.out_h), static_cast<int>(s.out_w)));
      MRBM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(
          w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, static_cast<int>(s.out_channels),
          static_cast<int>(s.in_channels), static_cast<int>(s.kernel_h),
          static_cast<int>(s.kernel_w)));
      MRBM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
          conv, static_cast<int>(s.pad_h), static_cast<int>(s.pad_w), static_cast<int>(s.stride_h),
          static_cast<int>(s.stride_w), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      MRBM_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math));
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~CudnnDescriptors() { destroy(); }
  CudnnDescriptors(const CudnnDescriptors&) = delete;
  CudnnDescriptors& operator=(const CudnnDescriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr;
  cudnnTensorDescriptor_t y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void destroy() noexcept {
    // Destroy calls only fail for null descriptors, which are skipped.
    if (conv != nullptr) (void)cudnnDestroyConvolutionDescriptor(conv);
    if (w != nullptr) (void)cudnnDestroyFilterDescriptor(w);
    if (y != nullptr) (void)cudnnDestroyTensorDescriptor(y);
    if (x != nullptr) (void)cudnnDestroyTensorDescriptor(x);
    conv = nullptr;
    w = nullptr;
    y = nullptr;
    x = nullptr;
  }
};

struct CudnnAlgoKey {
  int op;
  int device;
  bool tf32;
  std::array<int64_t, 11> dims;
  bool operator<(const CudnnAlgoKey& o) const {
    return std::tie(op, device, tf32, dims) < std::tie(o.op, o.device, o.tf32, o.dims);
  }
};

struct CudnnAlgoChoice {
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

// Algorithms needing more workspace than this are skipped; the search offers exactly this much
// (the context's workspace grows to it once and is kept).
constexpr size_t kCudnnWorkspaceLimit = size_t{256} << 20;

bool is_tensor_op_math(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The first (fastest) usable entry: succeeded, fits the workspace limit, deterministic, and uses
// tensor cores (TF32) only when the context allows it.
template <class Perf>
bool pick_algo(const Perf* perf, int count, bool allow_tf32, CudnnAlgoChoice* choice) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kCudnnWorkspaceLimit) continue;
    if (perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    if (!allow_tf32 && is_tensor_op_math(perf[i].mathType)) continue;
    choice->algo = static_cast<int>(perf[i].algo);
    choice->math = allow_tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
    return true;
  }
  return false;
}

// a and b are the call's inputs (as in cudnn_conv); out_shape the output's. The trial runs write
// a scratch tensor from the caching allocator, never the caller's output.
CudnnAlgoChoice search_algo(ConvOp op, CudaContext* cuda, const CudnnDescriptors& d,
                            const Tensor& a, const Tensor& b, const Shape& out_shape) {
  cudnnHandle_t handle = cuda->cudnn();
  const bool allow_tf32 = cuda->allow_tf32();
  Tensor scratch = Tensor::empty(out_shape, DType::kFloat32, a.device(), cuda->stream());
  void* ws = cuda->workspace(kCudnnWorkspaceLimit);
  const size_t ws_bytes = kCudnnWorkspaceLimit;
  CudnnAlgoChoice choice;
  int returned = 0;
  bool found = false;
  switch (op) {
    case ConvOp::kForward: {  // a = x, b = w
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      if (cudnnFindConvolutionForwardAlgorithmEx(
              handle, d.x, a.data<float>(), d.w, b.data<float>(), d.conv, d.y,
              scratch.data<float>(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, ws,
              ws_bytes) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      if (!found && cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x, d.w, d.conv, d.y,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                           &returned, perf) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      break;
    }
    case ConvOp::kTranspose: {  // a = y, b = w
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      if (cudnnFindConvolutionBackwardDataAlgorithmEx(
              handle, d.w, b.data<float>(), d.y, a.data<float>(), d.conv, d.x,
              scratch.data<float>(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf, ws,
              ws_bytes) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      if (!found && cudnnGetConvolutionBackwardDataAlgorithm_v7(
                        handle, d.w, d.y, d.conv, d.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                        &returned, perf) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      break;
    }
    case ConvOp::kWeightGrad: {  // a = x, b = dy
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      if (cudnnFindConvolutionBackwardFilterAlgorithmEx(
              handle, d.x, a.data<float>(), d.y, b.data<float>(), d.conv, d.w,
              scratch.data<float>(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf, ws,
              ws_bytes) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      if (!found && cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                        handle, d.x, d.y, d.conv, d.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                        &returned, perf) == CUDNN_STATUS_SUCCESS)
        found = pick_algo(perf, returned, allow_tf32, &choice);
      break;
    }
  }
  if (!found) {
    MRBM_THROW(CudaError, op_name(op) << ": cuDNN offers no usable algorithm for this shape "
                                         "(deterministic, workspace limit "
                                      << (kCudnnWorkspaceLimit >> 20) << " MiB"
                                      << (allow_tf32 ? "" : ", FMA math") << ")");
  }
  // The workspace of the chosen algorithm with the math type it will run with.
  MRBM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, choice.math));
  switch (op) {
    case ConvOp::kForward:
      MRBM_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
          handle, d.x, d.w, d.conv, d.y, static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
          &choice.workspace));
      break;
    case ConvOp::kTranspose:
      MRBM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
          handle, d.w, d.y, d.conv, d.x, static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
          &choice.workspace));
      break;
    case ConvOp::kWeightGrad:
      MRBM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          handle, d.x, d.y, d.conv, d.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
          &choice.workspace));
      break;
  }
  return choice;
}

CudnnAlgoChoice cached_algo(ConvOp op, const ConvShape& s, CudaContext* cuda,
                            const CudnnDescriptors& d, const Tensor& a, const Tensor& b,
                            const Shape& out_shape) {
  static std::mutex mutex;
  static std::map<CudnnAlgoKey, CudnnAlgoChoice> cache;
  const CudnnAlgoKey key{static_cast<int>(op),
                         cuda->device_index(),
                         cuda->allow_tf32(),
                         {s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels, s.kernel_h,
                          s.kernel_w, s.stride_h, s.stride_w, s.pad_h, s.pad_w}};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const CudnnAlgoChoice choice = search_algo(op, cuda, d, a, b, out_shape);
  cache.emplace(key, choice);
  return choice;
}

void cudnn_conv(ConvOp op, Tensor& out, const Tensor& a, const Tensor& b, const ConvShape& s,
                double beta, CudaContext* cuda) {
  CudnnDescriptors d(s, cuda->allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
  const CudnnAlgoChoice choice = cached_algo(op, s, cuda, d, a, b, out.shape());
  MRBM_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, choice.math));
  void* workspace = choice.workspace > 0 ? cuda->workspace(choice.workspace) : nullptr;
  const float alpha_f = 1.0f;
  const float beta_f = static_cast<float>(beta);  // 0: cuDNN does not read out
  cudnnHandle_t handle = cuda->cudnn();
  switch (op) {
    case ConvOp::kForward:  // a = x, b = w
      MRBM_CUDNN_CHECK(
          cudnnConvolutionForward(handle, &alpha_f, d.x, a.data<float>(), d.w, b.data<float>(),
                                  d.conv, static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                                  workspace, choice.workspace, &beta_f, d.y, out.data<float>()));
      break;
    case ConvOp::kTranspose:  // a = y, b = w: backward data
      MRBM_CUDNN_CHECK(cudnnConvolutionBackwardData(
          handle, &alpha_f, d.w, b.data<float>(), d.y, a.data<float>(), d.conv,
          static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), workspace, choice.workspace,
          &beta_f, d.x, out.data<float>()));
      break;
    case ConvOp::kWeightGrad:  // a = x, b = dy: backward filter
      MRBM_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
          handle, &alpha_f, d.x, a.data<float>(), d.y, b.data<float>(), d.conv,
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), workspace, choice.workspace,
          &beta_f, d.w, out.data<float>()));
      break;
  }
}

#endif  // MRBM_WITH_CUDNN

// ---- the common driver -------------------------------------------------------------------------

// out = op(a, b) + beta out for a checked shape s; w_like is the [Cout, Cin, kh, kw] tensor (w, or
// dw for the weight gradient).
void run_conv(ConvOp op, Tensor& out, const Tensor& a, const Tensor& b, const Tensor& w_like,
              const ConvShape& s, double beta, CudaContext* cuda, ConvAlgo requested,
              ConvColumns* keep = nullptr, const ConvColumns* reuse = nullptr) {
  MRBM_CHECK(beta == 0.0 || beta == 1.0,
             op_name(op) << ": beta must be 0 (overwrite) or 1 (accumulate), got " << beta);
  check_placement(op, out, a, b, cuda);
  CudaContext* device_cuda = out.is_cuda() ? cuda : nullptr;
  const ConvAlgo algo = choose_algo(op, requested, out, s, device_cuda);
  if (out.numel() == 0) return;
  if (a.numel() == 0 || b.numel() == 0) {
    // Every output element is a sum of products with one factor from each input: an empty input
    // means empty sums, so the result is 0.
    if (beta == 0.0) out.zero(device_cuda != nullptr ? device_cuda->stream() : nullptr);
    return;
  }
  const bool is_float = out.dtype() == DType::kFloat32;
  switch (algo) {
    case ConvAlgo::kReference:
      if (is_float) {
        reference_conv<float>(op, out, a, b, s, beta);
      } else {
        reference_conv<double>(op, out, a, b, s, beta);
      }
      return;
    case ConvAlgo::kAuto:  // resolved above; not reached
    case ConvAlgo::kIm2col:
      if (is_float) {
        im2col_conv<float>(op, out, a, b, w_like, s, beta, device_cuda, keep, reuse);
      } else {
        im2col_conv<double>(op, out, a, b, w_like, s, beta, device_cuda, keep, reuse);
      }
      return;
    case ConvAlgo::kCudnn:
#if defined(MRBM_WITH_CUDNN)
      cudnn_conv(op, out, a, b, s, beta, device_cuda);
      return;
#else
      MRBM_THROW(UnsupportedError, op_name(op) << ": this build has no cuDNN");
#endif
  }
}

}  // namespace

const char* conv_algo_name(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::kAuto:
      return "auto";
    case ConvAlgo::kReference:
      return "reference";
    case ConvAlgo::kIm2col:
      return "im2col";
    case ConvAlgo::kCudnn:
      return "cudnn";
  }
  return "unknown";
}

ConvAlgo parse_conv_algo(const std::string& text) {
  for (ConvAlgo algo :
       {ConvAlgo::kAuto, ConvAlgo::kReference, ConvAlgo::kIm2col, ConvAlgo::kCudnn}) {
    if (text == conv_algo_name(algo)) return algo;
  }
  MRBM_THROW(InvalidArgument,
             "unknown conv algorithm '" << text << "' (auto, reference, im2col, cudnn)");
}

void set_conv_algo_override(ConvAlgo algo) {
  g_algo_override.store(algo == ConvAlgo::kAuto ? -1 : static_cast<int>(algo));
}

ConvAlgo conv_algo_override() {
  const int set = g_algo_override.load();
  if (set >= 0) return static_cast<ConvAlgo>(set);
  return env_algo_override();
}

ConvAlgo resolve_conv_algo(ConvAlgo algo, Device device, DType dtype, const CudaContext* cuda) {
  if (algo != ConvAlgo::kAuto) return algo;
  const bool cudnn_ok = device.is_cuda() && dtype == DType::kFloat32 && cudnn_available(cuda);
  switch (conv_algo_override()) {
    case ConvAlgo::kReference:
      if (device.is_cpu()) return ConvAlgo::kReference;
      break;
    case ConvAlgo::kIm2col:
      return ConvAlgo::kIm2col;
    case ConvAlgo::kCudnn:
      if (cudnn_ok) return ConvAlgo::kCudnn;
      break;
    case ConvAlgo::kAuto:
      break;
  }
  return cudnn_ok ? ConvAlgo::kCudnn : ConvAlgo::kIm2col;
}

int64_t set_im2col_buffer_limit(int64_t bytes) {
  MRBM_CHECK(bytes >= 0, "set_im2col_buffer_limit: negative size " << bytes);
  return g_im2col_limit.exchange(bytes);
}

kernels::ConvShape make_conv2d_shape(const Shape& x, const Shape& w, const ConvParams& params) {
  if (x.size() != 4 || w.size() != 4) {
    MRBM_THROW(ShapeError, "conv: x " << shape_to_string(x) << " must be [B, Cin, H, W] and w "
                                      << shape_to_string(w) << " [Cout, Cin, kh, kw]");
  }
  MRBM_CHECK(params.stride_h >= 1 && params.stride_w >= 1 && params.pad_h >= 0 && params.pad_w >= 0,
             "conv: stride must be >= 1 and padding >= 0, got stride "
                 << params.stride_h << "x" << params.stride_w << " pad " << params.pad_h << "x"
                 << params.pad_w);
  if (x[1] != w[1]) {
    MRBM_THROW(ShapeError, "conv: x " << shape_to_string(x) << " has " << x[1] << " channels but w "
                                      << shape_to_string(w) << " expects " << w[1]);
  }
  const ConvShape s =
      kernels::make_conv_shape(x[0], x[1], x[2], x[3], w[0], w[2], w[3], params.stride_h,
                               params.stride_w, params.pad_h, params.pad_w);
  if (kernels::validate_conv_shape(s) != kernels::Status::kOk) {
    MRBM_THROW(ShapeError, "conv: the kernel of w "
                               << shape_to_string(w) << " does not fit x " << shape_to_string(x)
                               << " with stride " << params.stride_h << "x" << params.stride_w
                               << " and padding " << params.pad_h << "x" << params.pad_w);
  }
  return s;
}

Shape conv2d_output_shape(const Shape& x, const Shape& w, const ConvParams& params) {
  const ConvShape s = make_conv2d_shape(x, w, params);
  return {s.batch, s.out_channels, s.out_h, s.out_w};
}

void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const ConvParams& params, double beta,
            CudaContext* cuda, ConvAlgo algo, ConvColumns* keep) {
  const ConvOp op = ConvOp::kForward;
  check_defined(op, y, "y");
  check_defined(op, x, "x");
  check_defined(op, w, "w");
  const ConvShape s = make_conv2d_shape(x.shape(), w.shape(), params);
  check_third_shape(op, "y", y.shape(), {s.batch, s.out_channels, s.out_h, s.out_w}, "x", x.shape(),
                    w.shape());
  if (keep != nullptr) keep->col = Tensor();
  run_conv(op, y, x, w, w, s, beta, cuda, algo, keep);
}

void conv_transpose2d(Tensor& x_out, const Tensor& y, const Tensor& w, const ConvParams& params,
                      double beta, CudaContext* cuda, ConvAlgo algo) {
  const ConvOp op = ConvOp::kTranspose;
  check_defined(op, x_out, "x_out");
  check_defined(op, y, "y");
  check_defined(op, w, "w");
  const ConvShape s = make_conv2d_shape(x_out.shape(), w.shape(), params);
  check_third_shape(op, "y", y.shape(), {s.batch, s.out_channels, s.out_h, s.out_w}, "x_out",
                    x_out.shape(), w.shape());
  run_conv(op, x_out, y, w, w, s, beta, cuda, algo);
}

void conv2d_weight_grad(Tensor& dw, const Tensor& x, const Tensor& dy, const ConvParams& params,
                        double beta, CudaContext* cuda, ConvAlgo algo, const ConvColumns* columns) {
  const ConvOp op = ConvOp::kWeightGrad;
  check_defined(op, dw, "dw");
  check_defined(op, x, "x");
  check_defined(op, dy, "dy");
  const ConvShape s = make_conv2d_shape(x.shape(), dw.shape(), params);
  check_third_shape(op, "dy", dy.shape(), {s.batch, s.out_channels, s.out_h, s.out_w}, "x",
                    x.shape(), dw.shape());
  run_conv(op, dw, x, dy, dw, s, beta, cuda, algo, nullptr, columns);
}

}  // namespace mrbm
