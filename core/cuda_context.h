// CudaContext: what GPU work on one device needs, owned in one place and passed explicitly (no
// global handles): a non-blocking stream, a cuBLAS handle bound to that stream, a cuDNN handle
// bound to it (builds with cuDNN), and a growable device workspace for cuBLAS/cuDNN/our kernels.
//
// Math mode: TF32 tensor-core math is off by default, so float32 GEMMs keep float32 precision
// (~1e-7 relative per operation) and the CPU/GPU comparisons hold their float32 tolerances;
// set_allow_tf32(true) trades that (~1e-3 relative) for speed.
// Workspace: workspace(bytes) returns a block of at least `bytes` on the stream, reallocated (never
// shrunk) when a larger one is asked for; the pointer stays valid until the next call that grows
// it. Work queued on this stream that still uses the old block is safe: the old block goes back to
// the caching allocator's list for this stream, so only later work on the same stream reuses it.
//
// Non-copyable, movable (a moved-from context holds nothing). Creation without a usable device or
// in a CPU-only build throws CudaError. The destructor synchronizes the stream and logs errors.
// Handle types are forward-declared (cudaStream_t = CUstream_st*, cublasHandle_t = cublasContext*,
// cudnnHandle_t = cudnnContext*), so this header compiles without the CUDA headers.
#pragma once

#include <cstddef>

#include "core/device.h"

struct cublasContext;
struct cudnnContext;

namespace mrbm {

class CudaContext {
 public:
  explicit CudaContext(int device_index = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;
  CudaContext(CudaContext&& other) noexcept;
  CudaContext& operator=(CudaContext&& other) noexcept;

  int device_index() const { return device_index_; }
  Device device() const { return Device::cuda(device_index_); }
  Stream stream() const { return stream_; }
  cublasContext* cublas() const { return cublas_; }
  cudnnContext* cudnn() const { return cudnn_; }  // nullptr in a build without cuDNN
  bool has_cudnn() const { return cudnn_ != nullptr; }

  void set_allow_tf32(bool allow);
  bool allow_tf32() const { return allow_tf32_; }

  // A device block of at least `bytes` (nullptr for 0 when nothing was allocated yet).
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }

  // Waits for all work queued on the stream; throws CudaError on an asynchronous fault.
  void synchronize() const;

 private:
  void release() noexcept;

  int device_index_ = -1;
  Stream stream_ = nullptr;
  cublasContext* cublas_ = nullptr;
  cudnnContext* cudnn_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool allow_tf32_ = false;
};

}  // namespace mrbm
