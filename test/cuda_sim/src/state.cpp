// CUDA simulator: the simulated devices (kinds, properties, the current device per host thread),
// error reporting and the runtime's version queries.
#include "state.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "cuda_sim/control.h"

namespace cuda_sim::detail {
namespace {

// Limits of the two cards mrbm targets (docs/building.md): a Tesla P40 (sm_61, CUDA 11.8/12.x
// builds) and an H100 (sm_90). Only the global memory is small, so that out-of-memory paths run.
const DeviceKind kH100{"cuda_sim H100-like (sm_90)", 9, 0, 132, 1980000, 2619000, 5120,
                       50 * 1024 * 1024, 227 * 1024};
const DeviceKind kP40{"cuda_sim P40-like (sm_61)", 6, 1, 30, 1531000, 3615000, 384,
                      3 * 1024 * 1024, 48 * 1024};

std::string g_kinds_override;
std::string g_last_diagnostic;

std::vector<Device> make_devices() {
  std::string kinds = g_kinds_override;
  if (kinds.empty()) {
    const char* env = std::getenv("CUDA_SIM_DEVICES");
    kinds = env && *env ? env : "sm_90";
  }
  size_t mib = 1024;
  if (const char* env = std::getenv("CUDA_SIM_MEMORY_MIB")) mib = std::strtoull(env, nullptr, 10);
  std::vector<Device> out;
  // "none": a machine without a GPU (the CPU tests of the sanitized build run so, as they do on
  // such a machine): cudaGetDeviceCount reports cudaErrorNoDevice, as CUDA does.
  if (kinds == "none") return out;
  std::stringstream list(kinds);
  std::string kind;
  while (std::getline(list, kind, ',')) {
    Device d;
    d.index = static_cast<int>(out.size());
    if (kind == "sm_90") {
      d.kind = kH100;
    } else if (kind == "sm_61") {
      d.kind = kP40;
    } else {
      std::fprintf(stderr,
                   "cuda_sim: CUDA_SIM_DEVICES: unknown kind '%s' (sm_90, sm_61, or none alone)\n",
                   kind.c_str());
      std::abort();
    }
    out.push_back(std::move(d));
  }
  for (Device& d : out) {
    init_arena(d.arena, mib << 20);
    d.legacy = new Stream;
    d.legacy->device = d.index;
    d.legacy->legacy = true;
  }
  return out;
}

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_current_device = 0;

}  // namespace

std::recursive_mutex& sim_lock() {
  static std::recursive_mutex m;
  return m;
}

// Never destroyed (as every registry of the simulator): CUDA objects of mrbm's static objects may
// be released during exit, and LeakSanitizer sees what stays reachable from here as not leaked.
std::vector<Device>& devices() {
  static auto* all = new std::vector<Device>(make_devices());
  return *all;
}

int& current_device() { return t_current_device; }

Device& device(int index) { return devices().at(static_cast<size_t>(index)); }

cudaError_t set_last_error(cudaError_t err) {
  if (err != cudaSuccess) t_last_error = err;
  return err;
}

bool quiet() {
  static const bool q = [] {
    const char* env = std::getenv("CUDA_SIM_QUIET");
    return env && std::strcmp(env, "1") == 0;
  }();
  return q;
}

void report(const std::string& message) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  g_last_diagnostic = message;
  if (!quiet()) std::fprintf(stderr, "cuda_sim: error: %s\n", message.c_str());
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

uint64_t seed() {
  static const uint64_t s = [] {
    const char* env = std::getenv("CUDA_SIM_SEED");
    return env ? std::strtoull(env, nullptr, 10) : 1ull;
  }();
  return s;
}

}  // namespace cuda_sim::detail

namespace cuda_sim {

std::string last_diagnostic() {
  std::lock_guard<std::recursive_mutex> lock(detail::sim_lock());
  return detail::g_last_diagnostic;
}

void clear_diagnostic() {
  std::lock_guard<std::recursive_mutex> lock(detail::sim_lock());
  detail::g_last_diagnostic.clear();
}

void set_device_kinds_for_testing(const std::string& kinds) { detail::g_kinds_override = kinds; }

}  // namespace cuda_sim

using namespace cuda_sim::detail;

cudaError_t cudaGetLastError() {
  const cudaError_t err = t_last_error;
  t_last_error = cudaSuccess;
  return err;
}

cudaError_t cudaPeekAtLastError() { return t_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define CUDA_SIM_NAME(e) \
  case e:                \
    return #e;
    CUDA_SIM_NAME(cudaSuccess)
    CUDA_SIM_NAME(cudaErrorInvalidValue)
    CUDA_SIM_NAME(cudaErrorMemoryAllocation)
    CUDA_SIM_NAME(cudaErrorInitializationError)
    CUDA_SIM_NAME(cudaErrorInvalidConfiguration)
    CUDA_SIM_NAME(cudaErrorInvalidDevicePointer)
    CUDA_SIM_NAME(cudaErrorInvalidMemcpyDirection)
    CUDA_SIM_NAME(cudaErrorInsufficientDriver)
    CUDA_SIM_NAME(cudaErrorNoDevice)
    CUDA_SIM_NAME(cudaErrorInvalidDevice)
    CUDA_SIM_NAME(cudaErrorNoKernelImageForDevice)
    CUDA_SIM_NAME(cudaErrorInvalidResourceHandle)
    CUDA_SIM_NAME(cudaErrorNotReady)
    CUDA_SIM_NAME(cudaErrorIllegalAddress)
    CUDA_SIM_NAME(cudaErrorLaunchOutOfResources)
    CUDA_SIM_NAME(cudaErrorLaunchFailure)
    CUDA_SIM_NAME(cudaErrorNotSupported)
    CUDA_SIM_NAME(cudaErrorUnknown)
#undef CUDA_SIM_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return cudaGetErrorName(error);
  }
}

// The simulator implements the CUDA 13.0 runtime API.
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return set_last_error(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return set_last_error(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return set_last_error(cudaErrorInvalidValue);
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  *count = static_cast<int>(devices().size());
  return *count == 0 ? set_last_error(cudaErrorNoDevice) : cudaSuccess;
}

cudaError_t cudaGetDevice(int* dev) {
  if (!dev) return set_last_error(cudaErrorInvalidValue);
  *dev = current_device();
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (dev < 0 || dev >= static_cast<int>(devices().size()))
    return set_last_error(cudaErrorInvalidDevice);
  current_device() = dev;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int dev) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!prop) return set_last_error(cudaErrorInvalidValue);
  if (dev < 0 || dev >= static_cast<int>(devices().size()))
    return set_last_error(cudaErrorInvalidDevice);
  const Device& d = device(dev);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "%s", d.kind.name);
  prop->totalGlobalMem = d.arena.size;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = d.kind.shared_optin;
  prop->sharedMemPerMultiprocessor = d.kind.shared_optin + 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->clockRate = d.kind.clock_khz;
  prop->totalConstMem = 65536;
  prop->major = d.kind.major;
  prop->minor = d.kind.minor;
  prop->multiProcessorCount = d.kind.sm_count;
  prop->memoryClockRate = d.kind.memory_clock_khz;
  prop->memoryBusWidth = d.kind.bus_width_bits;
  prop->l2CacheSize = d.kind.l2_bytes;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->pciBusID = dev + 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int dev) {
  cudaDeviceProp p;
  const cudaError_t err = cudaGetDeviceProperties(&p, dev);
  if (err != cudaSuccess) return err;
  if (!value) return set_last_error(cudaErrorInvalidValue);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrClockRate: *value = p.clockRate; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrMemoryClockRate: *value = p.memoryClockRate; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = p.memoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    default: return set_last_error(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
