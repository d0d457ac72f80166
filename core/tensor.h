// Tensor: a dense, contiguous, row-major array of float32 (default) or float64 on the CPU or one
// CUDA device.
//
// Layout: element (i0, i1, ..., ik) of a tensor of shape [n0, n1, ..., nk] sits at linear index
// ((i0 * n1 + i1) * n2 + ...) * nk + ik, with no strides and no padding. Storage is owned by a
// shared_ptr<Storage>: copies of a Tensor, reshape() and rows() are views of the same storage (a
// write through one is seen by all); clone() and to() on another device copy. rows() views a
// contiguous range along dimension 0 (a mini-batch), so a view carries a byte offset into storage.
// float64 exists for gradient checks and float64 accumulations; the training path is float32.
//
// Device memory comes from the caching allocator (core/allocator.h) on the stream given at
// creation, host memory from the counted 64-byte aligned host allocation. Copies and fills that
// take a stream are asynchronous on it (nullptr: the legacy default stream); CPU<->CUDA copies of
// pageable host memory return once the host side may be reused, to_vector() waits for its copy.
// The caller orders work across streams: pass the stream the data was produced on.
// Shape mismatches throw ShapeError naming both shapes ("[128, 3, 32, 32] vs [128, 3, 32]").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace mrbm {

enum class DType { kFloat32, kFloat64 };

int64_t dtype_size(DType dtype);      // 4 or 8
const char* dtype_name(DType dtype);  // "float32" or "float64"

template <class T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "Tensor holds float (float32) or double (float64)");
  return std::is_same_v<T, float> ? DType::kFloat32 : DType::kFloat64;
}

using Shape = std::vector<int64_t>;

// "[128, 3, 32, 32]"; "[]" for a scalar shape.
std::string shape_to_string(const Shape& shape);
// The product of the sizes (1 for []); ShapeError for a negative size or an int64 overflow.
int64_t shape_numel(const Shape& shape);

// One allocation on one device; freed (returned to its allocator) when the last view goes away.
class Storage {
 public:
  Storage(int64_t bytes, Device device, Stream stream);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  int64_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  Stream stream() const { return stream_; }  // the stream the device block belongs to

 private:
  void* data_ = nullptr;
  int64_t bytes_ = 0;
  Device device_;
  Stream stream_ = nullptr;
};

class Tensor {
 public:
  // An undefined tensor: no storage, shape [0], defined() == false.
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::kFloat32,
                      Device device = Device::cpu(), Stream stream = nullptr);
  static Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32,
                      Device device = Device::cpu(), Stream stream = nullptr);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::kFloat32,
                     Device device = Device::cpu(), Stream stream = nullptr);
  // CPU tensors holding a copy of `values`; values.size() must equal the shape's numel
  // (an empty `shape` argument means the 1-D shape [values.size()]).
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape = {});
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape = {});

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(
      int64_t d) const;  // a negative d counts from the end; InvalidArgument if out of range
  int64_t numel() const { return numel_; }
  int64_t bytes() const { return numel_ * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_cpu() const { return device_.is_cpu(); }
  bool is_cuda() const { return device_.is_cuda(); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool shares_storage_with(const Tensor& other) const {
    return storage_ != nullptr && storage_ == other.storage_;
  }

  // Typed pointer to the first element (host or device memory); InvalidArgument when T does not
  // match dtype() or the tensor is undefined. Null for an empty (numel 0) tensor.
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>(), "data");
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // A view with a new shape and the same numel; one size may be -1 (inferred).
  Tensor reshape(const Shape& shape) const;
  // A view of rows [begin, end) along dimension 0.
  Tensor rows(int64_t begin, int64_t end) const;

  // A copy on `device` (this tensor itself, sharing storage, when already there).
  Tensor to(Device device, Stream stream = nullptr) const;
  // A copy on the same device with its own storage.
  Tensor clone(Stream stream = nullptr) const;
  // Copies src's elements into this tensor: same numel (ShapeError otherwise) and dtype; any
  // devices (CPU<->CUDA, CUDA<->CUDA incl. between devices).
  void copy_from(const Tensor& src, Stream stream = nullptr);
  // Sets every element to `value` (converted to the dtype).
  void fill(double value, Stream stream = nullptr);
  void zero(Stream stream = nullptr) { fill(0.0, stream); }

  // All elements, copied to the host; T must match dtype(). Waits for the copy (on `stream`).
  template <class T>
  std::vector<T> to_vector(Stream stream = nullptr) const {
    check_dtype(dtype_of<T>(), "to_vector");
    std::vector<T> out(static_cast<size_t>(numel_));
    copy_to_host(out.data(), stream);
    return out;
  }

  // "Tensor(float32, [2, 3], cuda:0)" for error messages.
  std::string describe() const;

 private:
  void check_dtype(DType wanted, const char* what) const;
  void copy_to_host(void* dst, Stream stream) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_bytes_ = 0;  // views made by rows() start inside the storage
  Shape shape_{0};
  int64_t numel_ = 0;
  DType dtype_ = DType::kFloat32;
  Device device_;
};

// Throws ShapeError "<context>: shape [a] vs [b]" when the shapes differ.
void check_same_shape(const Tensor& a, const Tensor& b, const std::string& context);
void check_same_shape(const Shape& a, const Shape& b, const std::string& context);

}  // namespace mrbm
