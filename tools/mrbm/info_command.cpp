// `mrbm info`: version, build options, CUDA/cuBLAS/cuDNN versions, compiled architectures, which
// library and kernels run the CPU GEMMs (with a warning when they are generic), and the
// visible CUDA devices or why none is usable. Never fails for lack of a GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/blas_info.h"
#include "core/device.h"
#include "tools/mrbm/commands.h"

namespace mrbm::tools {
namespace {

#if defined(MRBM_WITH_CUDA)
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif
#if defined(MRBM_WITH_CUDNN)
constexpr bool kBuiltWithCudnn = true;
#else
constexpr bool kBuiltWithCudnn = false;
#endif
#if defined(MRBM_HAVE_OPENBLAS)
constexpr bool kBuiltWithOpenblas = true;
#else
constexpr bool kBuiltWithOpenblas = false;
#endif

nlohmann::json info_json() {
  const CudaProbe probe = probe_cuda();
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : probe.devices) {
    devices.push_back({{"index", d.index},
                       {"name", d.name},
                       {"compute_capability", d.compute_capability()},
                       {"memory_gib", d.total_memory_bytes / double(1 << 30)},
                       {"sms", d.sm_count},
                       {"peak_bandwidth_gbs", d.peak_bandwidth_gbs},
                       {"usable", d.usable},
                       {"problem", d.problem}});
  }
  const CpuGemmInfo gemm = cpu_gemm_info();
  return {{"version", MRBM_VERSION},
          {"build",
           {{"type", MRBM_BUILD_TYPE},
            {"cxx_compiler", MRBM_CXX_COMPILER},
            {"cuda", kBuiltWithCuda},
            {"cuda_compiler", kBuiltWithCuda ? MRBM_CUDA_COMPILER : ""},
            {"cuda_architectures", kBuiltWithCuda ? MRBM_CUDA_ARCHS : ""},
            {"cudnn", kBuiltWithCudnn},
            {"openblas", kBuiltWithOpenblas},
            {"onednn", gemm.onednn}}},
          {"cpu_gemm",
           {{"float32", gemm.float32},
            {"float64", gemm.float64},
            {"cpu_vectors", gemm.cpu},
            {"warning", gemm.warning}}},
          {"cuda_runtime", cuda_version_string(probe.runtime_version)},
          {"cuda_driver", cuda_version_string(probe.driver_version)},
          {"cublas", cublas_version_string()},
          {"cudnn", cudnn_version_string()},
          {"devices", devices},
          {"no_device_reason", probe.reason}};
}

void print_info(const nlohmann::json& j) {
  const auto& b = j["build"];
  std::printf("mrbm %s (%s build, %s)\n", j["version"].get<std::string>().c_str(),
              b["type"].get<std::string>().c_str(), b["cxx_compiler"].get<std::string>().c_str());
  if (b["cuda"].get<bool>()) {
    std::printf("CUDA:        built with %s for architectures %s\n",
                b["cuda_compiler"].get<std::string>().c_str(),
                b["cuda_architectures"].get<std::string>().c_str());
  } else {
    std::printf("CUDA:        not built (CPU-only build)\n");
  }
  std::printf("runtime:     CUDA runtime %s, driver %s\n",
              j["cuda_runtime"].get<std::string>().c_str(),
              j["cuda_driver"].get<std::string>().c_str());
  std::printf("libraries:   cuBLAS %s, cuDNN %s, OpenBLAS %s, oneDNN %s\n",
              j["cublas"].get<std::string>().c_str(), j["cudnn"].get<std::string>().c_str(),
              b["openblas"].get<bool>() ? "yes" : "no", b["onednn"].get<bool>() ? "yes" : "no");
  const auto& g = j["cpu_gemm"];
  std::printf("cpu gemm:    float32 %s; float64 %s (cpu: %s)\n",
              g["float32"].get<std::string>().c_str(), g["float64"].get<std::string>().c_str(),
              g["cpu_vectors"].get<std::string>().c_str());
  const std::string warning = g["warning"];
  if (!warning.empty()) std::printf("WARNING:     %s\n", warning.c_str());
  const auto& devices = j["devices"];
  if (devices.empty()) std::printf("devices:     none\n");
  for (const auto& d : devices) {
    std::printf("device %d:    %s, sm_%s, %.1f GiB, %d SMs, %.0f GB/s peak%s%s\n",
                d["index"].get<int>(), d["name"].get<std::string>().c_str(),
                d["compute_capability"].get<std::string>().c_str(), d["memory_gib"].get<double>(),
                d["sms"].get<int>(), d["peak_bandwidth_gbs"].get<double>(),
                d["usable"].get<bool>() ? "" : ", NOT usable: ",
                d["problem"].get<std::string>().c_str());
  }
  const std::string reason = j["no_device_reason"];
  if (!reason.empty()) std::printf("GPU:         none usable: %s\n", reason.c_str());
}

}  // namespace

void register_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the version, build options, library versions and CUDA devices");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the same information as one JSON object (default: off)");
  cmd->callback([json] {
    const auto j = info_json();
    if (*json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      print_info(j);
    }
  });
}

}  // namespace mrbm::tools
