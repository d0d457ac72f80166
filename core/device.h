// Devices: where a Tensor lives ("cpu", "cuda:1"), the CUDA probe behind `mrbm info` and
// `--device auto`, library version strings, and a scoped current-device switch.
//
// probe_cuda() never throws or crashes, in a CPU-only build or on a machine without a driver: it
// returns what it found and, when no device is usable, a human-readable reason. A device counts as
// usable when a context can be created on it and this build holds a kernel image for its
// architecture (a CUDA 13 build cannot run on a P40, sm_61). Anything that needs a CUDA device and
// cannot get one (CPU-only build, no driver, bad index) throws CudaError.
//
// Stream is the CUDA stream handle type without the CUDA headers: cudaStream_t is a typedef of
// CUstream_st*, so a Stream and a cudaStream_t convert freely. nullptr is the legacy default
// stream.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

struct CUstream_st;

namespace mrbm {

using Stream = CUstream_st*;

struct Device {
  enum class Type { kCpu, kCuda };
  Type type = Type::kCpu;
  int index = 0;  // the CUDA ordinal; always 0 for the CPU

  static Device cpu() { return Device{Type::kCpu, 0}; }
  static Device cuda(int index = 0) { return Device{Type::kCuda, index}; }
  bool is_cpu() const { return type == Type::kCpu; }
  bool is_cuda() const { return type == Type::kCuda; }
};

inline bool operator==(const Device& a, const Device& b) {
  return a.type == b.type && a.index == b.index;
}
inline bool operator!=(const Device& a, const Device& b) { return !(a == b); }

// "cpu", "cuda" (= cuda:0), "cuda:<index>" or "auto" (the first usable CUDA device, else the CPU).
// Only the syntax is checked for cpu/cuda; a bad string throws InvalidArgument naming it.
Device parse_device(const std::string& text);
// "cpu" or "cuda:<index>".
std::string to_string(const Device& device);
std::ostream& operator<<(std::ostream& os, const Device& device);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int64_t total_memory_bytes = 0;
  int64_t free_memory_bytes = 0;  // at probe time; 0 when the device could not be opened
  int sm_count = 0;
  int clock_khz = 0;              // peak SM clock; 0 when the runtime does not report it
  int memory_clock_khz = 0;       // peak memory clock; 0 when not reported
  int memory_bus_width_bits = 0;  // 0 when not reported
  // Theoretical peak: 2 (double data rate) * memory clock * bus width / 8; 0 when unknown.
  double peak_bandwidth_gbs = 0;
  bool usable = false;
  std::string problem;  // why the device is not usable; empty when usable

  std::string compute_capability() const;  // "9.0"
};

struct CudaProbe {
  bool built_with_cuda = false;
  int driver_version = 0;   // cudaDriverGetVersion, e.g. 13000; 0 when no driver is installed
  int runtime_version = 0;  // cudaRuntimeGetVersion; 0 in a CPU-only build
  std::vector<CudaDeviceInfo> devices;  // every visible device, usable or not
  std::string reason;                   // why no device is usable; empty when at least one is

  int usable_count() const;
  int first_usable() const;  // the index of the first usable device, -1 when none
};

CudaProbe probe_cuda();

// "13.0" from 13000 (the encoding of cudaDriverGetVersion/cudaRuntimeGetVersion); "none" for 0.
std::string cuda_version_string(int version);
// "13.0.2"-style versions of the libraries this build links; "not built" when absent.
std::string cublas_version_string();
std::string cudnn_version_string();

// Makes `index` the current CUDA device for the scope and restores the previous one on exit.
// Throws CudaError in a CPU-only build or when the device cannot be selected.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int index);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = -1;  // -1: nothing to restore
};

}  // namespace mrbm
