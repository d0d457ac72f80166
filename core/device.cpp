// Device parsing and printing, the CUDA probe, library versions, CudaDeviceGuard (core/device.h).
#include "core/device.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

#if defined(MRBM_WITH_CUDA)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif
#if defined(MRBM_WITH_CUDNN)
#include <cudnn.h>
#endif

#if defined(MRBM_WITH_CUDA)
namespace mrbm::detail {
// In core/tensor_fill.cu: the cudaError_t (as int) of querying a kernel of this build on the
// current device; nonzero (cudaErrorNoKernelImageForDevice, ...) when the build cannot run there.
int core_kernel_image_status();
}  // namespace mrbm::detail
#endif

namespace mrbm {
namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 4) return false;  // 4 digits: no overflow, more than any machine has
  for (const char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

#if defined(MRBM_WITH_CUDA)
std::string cuda_error_text(cudaError_t code) {
  return std::string(cudaGetErrorName(code)) + " (" + cudaGetErrorString(code) + ")";
}

int attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  if (cudaDeviceGetAttribute(&value, attr, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return value;
}

// Fills everything about one device; opening it (the context, the kernel image check) decides
// whether it is usable. The current device is restored by the caller.
CudaDeviceInfo describe_device(int index) {
  CudaDeviceInfo info;
  info.index = index;
  cudaDeviceProp prop{};
  cudaError_t code = cudaGetDeviceProperties(&prop, index);
  if (code != cudaSuccess) {
    (void)cudaGetLastError();
    info.problem = "cudaGetDeviceProperties failed: " + cuda_error_text(code);
    return info;
  }
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.total_memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  // Attributes rather than cudaDeviceProp fields: CUDA 13 removed clockRate and memoryClockRate
  // from the struct, the attributes exist in every toolkit we build with (11.8 .. 13).
  info.sm_count = attribute(cudaDevAttrMultiProcessorCount, index);
  info.clock_khz = attribute(cudaDevAttrClockRate, index);
  info.memory_clock_khz = attribute(cudaDevAttrMemoryClockRate, index);
  info.memory_bus_width_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, index);
  if (info.memory_clock_khz > 0 && info.memory_bus_width_bits > 0) {
    info.peak_bandwidth_gbs =
        2.0 * info.memory_clock_khz * 1e3 * (info.memory_bus_width_bits / 8.0) / 1e9;
  }

  code = cudaSetDevice(index);
  if (code == cudaSuccess) code = cudaFree(nullptr);  // creates the context now
  if (code != cudaSuccess) {
    (void)cudaGetLastError();
    info.problem = "cannot open the device: " + cuda_error_text(code);
    return info;
  }
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    info.free_memory_bytes = static_cast<int64_t>(free_bytes);
  } else {
    (void)cudaGetLastError();
  }
  const int image = detail::core_kernel_image_status();
  if (image != 0) {
    (void)cudaGetLastError();
    info.problem =
        "this build has no kernel image for compute capability " + info.compute_capability() +
        ": " + cuda_error_text(static_cast<cudaError_t>(image)) +
        " (rebuild with MRBM_CUDA_ARCHITECTURES including it; sm_61 needs CUDA 11.x/12.x)";
    return info;
  }
  info.usable = true;
  return info;
}

void probe_devices(CudaProbe& probe) {
  if (cudaRuntimeGetVersion(&probe.runtime_version) != cudaSuccess) {
    (void)cudaGetLastError();
    probe.runtime_version = 0;
  }
  if (cudaDriverGetVersion(&probe.driver_version) != cudaSuccess) {
    (void)cudaGetLastError();
    probe.driver_version = 0;
  }
  // Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver (35) and leaves the
  // count unset, so it starts at 0; the error is cleared so that it does not surface later.
  int count = 0;
  const cudaError_t code = cudaGetDeviceCount(&count);
  if (code != cudaSuccess) {
    (void)cudaGetLastError();
    std::ostringstream os;
    if (probe.driver_version == 0) {
      os << "no NVIDIA driver is installed or loadable (cudaGetDeviceCount: "
         << cuda_error_text(code) << ")";
    } else if (code == cudaErrorInsufficientDriver) {
      os << "the NVIDIA driver (CUDA " << cuda_version_string(probe.driver_version)
         << ") is older than this build's runtime (CUDA "
         << cuda_version_string(probe.runtime_version) << ")";
    } else {
      os << "cudaGetDeviceCount failed: " << cuda_error_text(code);
    }
    probe.reason = os.str();
    return;
  }
  if (count <= 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    probe.reason = "the driver reports no CUDA device";
    if (visible != nullptr)
      probe.reason += std::string(" (CUDA_VISIBLE_DEVICES='") + visible + "')";
    return;
  }
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) {
    (void)cudaGetLastError();
    previous = -1;
  }
  for (int i = 0; i < count; ++i) probe.devices.push_back(describe_device(i));
  if (previous >= 0 && cudaSetDevice(previous) != cudaSuccess) (void)cudaGetLastError();
  if (probe.usable_count() == 0) {
    std::ostringstream os;
    os << count << " CUDA device(s) found but none is usable:";
    for (const auto& d : probe.devices) os << " cuda:" << d.index << " " << d.problem << ";";
    probe.reason = os.str();
    probe.reason.pop_back();
  }
}
#endif

}  // namespace

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    if (all_digits(digits)) return Device::cuda(std::atoi(digits.c_str()));
  }
  if (text == "auto") {
    const CudaProbe probe = probe_cuda();
    const int first = probe.first_usable();
    if (first >= 0) return Device::cuda(first);
    MRBM_LOG_INFO("device auto: using the CPU (" << probe.reason << ")");
    return Device::cpu();
  }
  MRBM_THROW(InvalidArgument,
             "invalid device '" << text << "': expected cpu, cuda, cuda:<index> or auto");
}

std::string to_string(const Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.index);
}

std::ostream& operator<<(std::ostream& os, const Device& device) { return os << to_string(device); }

std::string CudaDeviceInfo::compute_capability() const {
  return std::to_string(compute_major) + "." + std::to_string(compute_minor);
}

int CudaProbe::usable_count() const {
  int n = 0;
  for (const auto& d : devices) n += d.usable ? 1 : 0;
  return n;
}

int CudaProbe::first_usable() const {
  for (const auto& d : devices) {
    if (d.usable) return d.index;
  }
  return -1;
}

CudaProbe probe_cuda() {
  CudaProbe probe;
#if defined(MRBM_WITH_CUDA)
  probe.built_with_cuda = true;
  try {
    probe_devices(probe);
  } catch (const std::exception& e) {  // only std::bad_alloc can get here; never let it out
    probe.reason = std::string("CUDA probe failed: ") + e.what();
  }
#else
  probe.reason = "this build has no CUDA support (configured with MRBM_WITH_CUDA=OFF or no nvcc)";
#endif
  return probe;
}

std::string cuda_version_string(int version) {
  if (version <= 0) return "none";
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string cublas_version_string() {
#if defined(MRBM_WITH_CUDA)
  int major = 0;
  int minor = 0;
  int patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS) {
    return "unknown";
  }
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
#else
  return "not built";
#endif
}

std::string cudnn_version_string() {
#if defined(MRBM_WITH_CUDNN)
  // cuDNN 9 encodes major*10000 + minor*100 + patch, cuDNN 8 major*1000 + minor*100 + patch.
  const size_t v = cudnnGetVersion();
  const size_t major_scale = v >= 90000 ? 10000 : 1000;
  return std::to_string(v / major_scale) + "." + std::to_string((v % major_scale) / 100) + "." +
         std::to_string(v % 100);
#else
  return "not built";
#endif
}

CudaDeviceGuard::CudaDeviceGuard(int index) {
#if defined(MRBM_WITH_CUDA)
  int count = 0;
  const cudaError_t count_code = cudaGetDeviceCount(&count);
  if (count_code != cudaSuccess) {
    (void)cudaGetLastError();
    MRBM_THROW(CudaError, "cannot use CUDA device " << index << ": no usable CUDA driver/device ("
                                                    << cudaGetErrorString(count_code) << ")");
  }
  if (index < 0 || index >= count) {
    MRBM_THROW(CudaError,
               "CUDA device " << index << " does not exist (" << count << " device(s) visible)");
  }
  int current = -1;
  MRBM_CUDA_CHECK(cudaGetDevice(&current));
  if (current == index) return;
  MRBM_CUDA_CHECK(cudaSetDevice(index));
  previous_ = current;
#else
  MRBM_THROW(CudaError, "cannot use CUDA device " << index << ": this build has no CUDA support");
#endif
}

CudaDeviceGuard::~CudaDeviceGuard() {
#if defined(MRBM_WITH_CUDA)
  if (previous_ >= 0) MRBM_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
#endif
}

}  // namespace mrbm
