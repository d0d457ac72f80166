// Tensor and Storage (core/tensor.h): factories, views, copies across devices, fill.
// CPU work is plain loops and memmove; CUDA work is cudaMemcpy*Async / cudaMemsetAsync and the
// fill kernel of core/tensor_fill.cu.
#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/allocator.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

namespace mrbm::detail {
// In core/tensor_fill.cu: launches the fill of n elements (float64 when is_float64, else float32)
// with `value` on `stream` of the current device; returns the launch's cudaError_t as int.
int fill_device(void* data, double value, bool is_float64, int64_t n, Stream stream);
}  // namespace mrbm::detail
#endif

namespace mrbm {
namespace {

#if defined(MRBM_WITH_CUDA)
// A device-to-host read on the default (legacy) stream must see the work that produced the data,
// but mrbm queues its work on the CudaContext streams, which are cudaStreamNonBlocking and so do
// not synchronize with the legacy stream (issue 12, 6b: checkpoints written right after a
// training step held parameters from before Adam's update). Such a read first waits for every
// stream of the current device. Reads given the context's stream are ordered by the stream.
void wait_for_device_work() { MRBM_CUDA_CHECK(cudaDeviceSynchronize()); }
#endif

template <class T>
void fill_host(void* data, double value, int64_t n) {
  T* p = static_cast<T*>(data);
  const T v = static_cast<T>(value);
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

}  // namespace

int64_t dtype_size(DType dtype) { return dtype == DType::kFloat64 ? 8 : 4; }

const char* dtype_name(DType dtype) { return dtype == DType::kFloat64 ? "float64" : "float32"; }

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i > 0 ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) {
    if (s < 0) MRBM_THROW(ShapeError, "negative size in shape " << shape_to_string(shape));
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) {
      MRBM_THROW(ShapeError, "shape " << shape_to_string(shape) << " has more than 2^63 elements");
    }
    n *= s;
  }
  return n;
}

void check_same_shape(const Shape& a, const Shape& b, const std::string& context) {
  if (a != b) {
    MRBM_THROW(ShapeError,
               context << ": shape " << shape_to_string(a) << " vs " << shape_to_string(b));
  }
}

void check_same_shape(const Tensor& a, const Tensor& b, const std::string& context) {
  check_same_shape(a.shape(), b.shape(), context);
}

// ---- Storage ----

Storage::Storage(int64_t bytes, Device device, Stream stream)
    : bytes_(bytes), device_(device), stream_(stream) {
  data_ = device.is_cuda() ? device_allocate(bytes, device.index, stream) : host_allocate(bytes);
}

Storage::~Storage() {
  if (device_.is_cuda()) {
    device_deallocate(data_);
  } else {
    host_deallocate(data_, bytes_);
  }
}

// ---- Tensor: factories ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, Stream stream) {
  const int64_t numel = shape_numel(shape);
  if (numel > std::numeric_limits<int64_t>::max() / dtype_size(dtype)) {
    MRBM_THROW(ShapeError,
               "shape " << shape_to_string(shape) << " is too large for " << dtype_name(dtype));
  }
  if (device.is_cuda() && device.index < 0) {
    MRBM_THROW(InvalidArgument, "invalid CUDA device index " << device.index);
  }
  Tensor t;
  t.storage_ = std::make_shared<Storage>(numel * dtype_size(dtype), device, stream);
  t.shape_ = shape;
  t.numel_ = numel;
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device, Stream stream) {
  Tensor t = empty(shape, dtype, device, stream);
  t.fill(0.0, stream);
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device, Stream stream) {
  Tensor t = empty(shape, dtype, device, stream);
  t.fill(value, stream);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  const int64_t numel = shape_numel(s);
  if (numel != static_cast<int64_t>(values.size())) {
    MRBM_THROW(ShapeError, "from_vector: " << values.size() << " values for shape "
                                           << shape_to_string(s) << " (" << numel << " elements)");
  }
  Tensor t = empty(s, DType::kFloat32);
  if (numel > 0) std::memcpy(t.raw_data(), values.data(), static_cast<size_t>(t.bytes()));
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  const int64_t numel = shape_numel(s);
  if (numel != static_cast<int64_t>(values.size())) {
    MRBM_THROW(ShapeError, "from_vector: " << values.size() << " values for shape "
                                           << shape_to_string(s) << " (" << numel << " elements)");
  }
  Tensor t = empty(s, DType::kFloat64);
  if (numel > 0) std::memcpy(t.raw_data(), values.data(), static_cast<size_t>(t.bytes()));
  return t;
}

// ---- Tensor: access and views ----

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  const int64_t k = d < 0 ? d + n : d;
  if (k < 0 || k >= n) {
    MRBM_THROW(InvalidArgument,
               "size(" << d << ") of a tensor of shape " << shape_to_string(shape_));
  }
  return shape_[static_cast<size_t>(k)];
}

void* Tensor::raw_data() const {
  if (storage_ == nullptr || storage_->data() == nullptr) return nullptr;
  return static_cast<char*>(storage_->data()) + offset_bytes_;
}

void Tensor::check_dtype(DType wanted, const char* what) const {
  if (!defined()) MRBM_THROW(InvalidArgument, what << "(): the tensor is undefined");
  if (wanted != dtype_) {
    MRBM_THROW(InvalidArgument, what << "<" << dtype_name(wanted) << ">() on " << describe());
  }
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (!defined()) MRBM_THROW(InvalidArgument, "reshape() of an undefined tensor");
  Shape resolved = shape;
  int inferred = -1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
      resolved[i] = 1;
    } else if (resolved[i] < 0) {
      MRBM_THROW(ShapeError,
                 "reshape: invalid target shape " << shape_to_string(shape) << " (at most one -1)");
    }
  }
  const int64_t known = shape_numel(resolved);  // checks overflow
  if (inferred >= 0) {
    if (known == 0 || numel_ % known != 0) {
      MRBM_THROW(ShapeError, "reshape: cannot view " << shape_to_string(shape_) << " as "
                                                     << shape_to_string(shape));
    }
    resolved[static_cast<size_t>(inferred)] = numel_ / known;
  }
  if (shape_numel(resolved) != numel_) {
    MRBM_THROW(ShapeError, "reshape: cannot view " << shape_to_string(shape_) << " (" << numel_
                                                   << " elements) as " << shape_to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = resolved;
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  if (dim() < 1 || !defined()) MRBM_THROW(InvalidArgument, "rows() of " << describe());
  if (begin < 0 || begin > end || end > shape_[0]) {
    MRBM_THROW(InvalidArgument, "rows(" << begin << ", " << end << ") of " << describe());
  }
  const int64_t row_elements = shape_[0] == 0 ? 0 : numel_ / shape_[0];
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.numel_ = (end - begin) * row_elements;
  t.offset_bytes_ += begin * row_elements * dtype_size(dtype_);
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "Tensor(undefined)";
  return std::string("Tensor(") + dtype_name(dtype_) + ", " + shape_to_string(shape_) + ", " +
         to_string(device_) + ")";
}

// ---- Tensor: copies and fill ----

Tensor Tensor::to(Device device, Stream stream) const {
  if (!defined()) MRBM_THROW(InvalidArgument, "to(" << device << ") of an undefined tensor");
  if (device == device_) return *this;
  Tensor t = empty(shape_, dtype_, device, stream);
  t.copy_from(*this, stream);
  return t;
}

Tensor Tensor::clone(Stream stream) const {
  if (!defined()) MRBM_THROW(InvalidArgument, "clone() of an undefined tensor");
  Tensor t = empty(shape_, dtype_, device_, stream);
  t.copy_from(*this, stream);
  return t;
}

void Tensor::copy_from(const Tensor& src, Stream stream) {
  if (!defined() || !src.defined()) {
    MRBM_THROW(InvalidArgument, "copy_from: " << describe() << " <- " << src.describe());
  }
  if (src.numel_ != numel_) {
    MRBM_THROW(ShapeError, "copy_from: shape " << shape_to_string(shape_) << " vs "
                                               << shape_to_string(src.shape_));
  }
  if (src.dtype_ != dtype_) {
    MRBM_THROW(InvalidArgument,
               "copy_from: dtype " << dtype_name(dtype_) << " vs " << dtype_name(src.dtype_));
  }
  void* dst_ptr = raw_data();
  const void* src_ptr = src.raw_data();
  const auto n = static_cast<size_t>(bytes());
  if (n == 0 || dst_ptr == src_ptr) return;
  if (is_cpu() && src.is_cpu()) {
    std::memmove(dst_ptr, src_ptr, n);  // views of one storage may overlap
    return;
  }
#if defined(MRBM_WITH_CUDA)
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (is_cuda() && src.is_cpu()) {
    CudaDeviceGuard guard(device_.index);
    MRBM_CUDA_CHECK(cudaMemcpyAsync(dst_ptr, src_ptr, n, cudaMemcpyHostToDevice, cuda_stream));
  } else if (is_cpu() && src.is_cuda()) {
    CudaDeviceGuard guard(src.device_.index);
    if (cuda_stream == nullptr) wait_for_device_work();
    MRBM_CUDA_CHECK(cudaMemcpyAsync(dst_ptr, src_ptr, n, cudaMemcpyDeviceToHost, cuda_stream));
    // The host may read the destination as soon as this returns.
    MRBM_CUDA_CHECK(cudaStreamSynchronize(cuda_stream));
  } else if (device_ == src.device_) {
    CudaDeviceGuard guard(device_.index);
    MRBM_CUDA_CHECK(cudaMemcpyAsync(dst_ptr, src_ptr, n, cudaMemcpyDeviceToDevice, cuda_stream));
  } else {
    CudaDeviceGuard guard(device_.index);
    MRBM_CUDA_CHECK(
        cudaMemcpyPeerAsync(dst_ptr, device_.index, src_ptr, src.device_.index, n, cuda_stream));
  }
#else
  (void)stream;
  MRBM_THROW(CudaError, "copy_from: " << describe() << " <- " << src.describe()
                                      << ": this build has no CUDA support");
#endif
}

void Tensor::fill(double value, Stream stream) {
  if (!defined()) MRBM_THROW(InvalidArgument, "fill() of an undefined tensor");
  if (numel_ == 0) return;
  if (is_cpu()) {
    if (dtype_ == DType::kFloat64) {
      fill_host<double>(raw_data(), value, numel_);
    } else {
      fill_host<float>(raw_data(), value, numel_);
    }
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard guard(device_.index);
  // All-zero bytes are +0.0 in IEEE float32 and float64. A value of -0.0 takes the kernel path.
  if (value == 0.0 && !std::signbit(value)) {
    MRBM_CUDA_CHECK(cudaMemsetAsync(raw_data(), 0, static_cast<size_t>(bytes()),
                                    static_cast<cudaStream_t>(stream)));
  } else {
    MRBM_LAUNCH_CHECK(
        detail::fill_device(raw_data(), value, dtype_ == DType::kFloat64, numel_, stream));
  }
#else
  (void)stream;
  MRBM_THROW(CudaError, "fill() of " << describe() << ": this build has no CUDA support");
#endif
}

void Tensor::copy_to_host(void* dst, Stream stream) const {
  if (numel_ == 0) return;
  if (is_cpu()) {
    std::memcpy(dst, raw_data(), static_cast<size_t>(bytes()));
    return;
  }
#if defined(MRBM_WITH_CUDA)
  CudaDeviceGuard guard(device_.index);
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (cuda_stream == nullptr) wait_for_device_work();
  MRBM_CUDA_CHECK(cudaMemcpyAsync(dst, raw_data(), static_cast<size_t>(bytes()),
                                  cudaMemcpyDeviceToHost, cuda_stream));
  MRBM_CUDA_CHECK(cudaStreamSynchronize(cuda_stream));
#else
  (void)dst;
  (void)stream;
  MRBM_THROW(CudaError, "to_vector() of " << describe() << ": this build has no CUDA support");
#endif
}

}  // namespace mrbm
