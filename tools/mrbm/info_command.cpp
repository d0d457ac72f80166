// `mrbm info`: version (with the git commit), build options, the versions of CUDA, cuBLAS, cuDNN,
// OpenBLAS, oneDNN, zlib and liblinear, which library and kernels run the CPU GEMMs (with a warning
// when they are generic), compiled architectures, and the visible CUDA devices or why none is
// usable. Never fails for lack of a GPU. `mrbm info --checkpoint C` describes a checkpoint instead.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#if defined(MRBM_HAVE_ZLIB) && __has_include(<zlib.h>)
#include <zlib.h>
#endif
#if defined(MRBM_HAVE_OPENBLAS) && __has_include(<openblas_config.h>)
#include <openblas_config.h>
#endif
#if defined(MRBM_HAVE_LIBLINEAR) && __has_include(<linear.h>)
#include <linear.h>
#endif

#include "core/blas_info.h"
#include "core/device.h"
#include "layers/checkpoint.h"
#include "mrbm_git_commit.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/memory_estimate.h"

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

// The versions of the optional host libraries this build was compiled against ("" when absent).
std::string zlib_version_text() {
#if defined(MRBM_HAVE_ZLIB) && __has_include(<zlib.h>)
  return ZLIB_VERSION;
#else
  return "";
#endif
}

std::string openblas_version_text() {
#if defined(MRBM_HAVE_OPENBLAS) && __has_include(<openblas_config.h>)
  std::string v = OPENBLAS_VERSION;  // " OpenBLAS 0.3.21 "
  const size_t digit = v.find_first_of("0123456789");
  v = digit == std::string::npos ? v : v.substr(digit);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
#elif defined(MRBM_HAVE_OPENBLAS)
  return "yes";
#else
  return "";
#endif
}

std::string liblinear_version_text() {
#if defined(MRBM_HAVE_LIBLINEAR) && __has_include(<linear.h>)
  return std::to_string(LIBLINEAR_VERSION / 100) + "." + std::to_string(LIBLINEAR_VERSION % 100);
#elif defined(MRBM_HAVE_LIBLINEAR)
  return "yes";
#else
  return "";
#endif
}

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
          {"git_commit", MRBM_GIT_COMMIT},
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
          {"openblas", openblas_version_text()},
          {"zlib", zlib_version_text()},
          {"liblinear", liblinear_version_text()},
          {"devices", devices},
          {"no_device_reason", probe.reason}};
}

void print_info(const nlohmann::json& j) {
  const auto& b = j["build"];
  std::printf("mrbm %s (git %s, %s build, %s)\n", j["version"].get<std::string>().c_str(),
              j["git_commit"].get<std::string>().c_str(), b["type"].get<std::string>().c_str(),
              b["cxx_compiler"].get<std::string>().c_str());
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
  auto or_none = [&](const char* key) {
    const std::string v = j[key].get<std::string>();
    return v.empty() ? std::string("none") : v;
  };
  // oneDNN's version is on the "cpu gemm" line, with the kernels it chose.
  std::printf("libraries:   cuBLAS %s, cuDNN %s, OpenBLAS %s, zlib %s, liblinear %s\n",
              j["cublas"].get<std::string>().c_str(), j["cudnn"].get<std::string>().c_str(),
              or_none("openblas").c_str(), or_none("zlib").c_str(), or_none("liblinear").c_str());
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

// `mrbm info --checkpoint C`: what a checkpoint holds, from its metadata (no parameters are read).
nlohmann::json checkpoint_json(const std::string& path) {
  const layers::CheckpointInfo info = layers::read_checkpoint_info(path);
  nlohmann::json layers_json = nlohmann::json::array();
  int64_t parameters = 0;
  for (size_t i = 0; i < info.spec.layers.size(); ++i) {
    const layers::LayerSpec& l = info.spec.layers[i];
    const int64_t p = estimate_layer_memory(info.spec, i).parameter_bytes / 4;
    parameters += p;
    layers_json.push_back({{"index", i}, {"type", l.type}, {l.type == "conv" ? "channels" : "units", l.size},
                           {"hidden", layers::unit_kind_name(l.hidden.kind)}, {"n", l.hidden.n},
                           {"parameters", p}});
  }
  nlohmann::json j = {{"path", path},
                      {"model", info.spec.name},
                      {"input", {info.spec.channels, info.spec.height, info.spec.width}},
                      {"layers", layers_json},
                      {"parameters", parameters},
                      {"epoch", info.epoch},
                      {"step", info.step},
                      {"seed", info.seed},
                      {"model_spec", layers::model_spec_to_json(info.spec)}};
  for (const auto& [key, value] : info.extra) j[key] = value;
  return j;
}

void print_checkpoint(const nlohmann::json& j) {
  auto text = [&](const char* key) { return j.contains(key) ? j[key].get<std::string>() : std::string("?"); };
  std::printf("checkpoint:  %s\n", j["path"].get<std::string>().c_str());
  std::printf("model:       '%s', input %lldx%lldx%lld, %zu layers, %lld parameters\n",
              j["model"].get<std::string>().c_str(), j["input"][0].get<long long>(),
              j["input"][1].get<long long>(), j["input"][2].get<long long>(), j["layers"].size(),
              j["parameters"].get<long long>());
  for (const auto& l : j["layers"]) {
    const bool conv = l["type"] == "conv";
    std::printf("  layer %lld: %s, %lld %s, %s units (n=%lld), %lld parameters\n",
                l["index"].get<long long>(), l["type"].get<std::string>().c_str(),
                l[conv ? "channels" : "units"].get<long long>(), conv ? "channels" : "units",
                l["hidden"].get<std::string>().c_str(), l["n"].get<long long>(),
                l["parameters"].get<long long>());
  }
  std::printf("training:    epoch %lld, step %lld, seed %llu, data %s, lr %s, batch %s\n",
              j["epoch"].get<long long>(), j["step"].get<long long>(),
              j["seed"].get<unsigned long long>(), text("data").c_str(), text("lr").c_str(),
              text("batch").c_str());
  std::printf("written by:  mrbm %s\n", text("mrbm_version").c_str());
}

}  // namespace

void register_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the version, build options, library versions and CUDA devices");
  auto json = std::make_shared<bool>(false);
  auto checkpoint = std::make_shared<std::string>();
  cmd->add_flag("--json", *json, "Print the same information as one JSON object (default: off)");
  cmd->add_option("--checkpoint", *checkpoint,
                  "Describe this checkpoint instead: model, layers, parameters, epoch, step, seed, data, lr")
      ->check(CLI::ExistingFile);
  cmd->callback([json, checkpoint] {
    if (!checkpoint->empty()) {
      const auto j = checkpoint_json(*checkpoint);
      if (*json) {
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        print_checkpoint(j);
      }
      return;
    }
    const auto j = info_json();
    if (*json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      print_info(j);
    }
  });
}

}  // namespace mrbm::tools
