// Memory estimate of a model before allocation (tools/mrbm/memory_estimate.h).
#include "tools/mrbm/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"
#include "layers/conv_rbm.h"

namespace mrbm::tools {
namespace {

constexpr double kFloat = 4;
constexpr double kActivationCopies = 8;

// MemAvailable of /proc/meminfo in bytes; -1 when unknown.
double available_host_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

double available_bytes(Device device) {
  if (device.is_cpu()) return available_host_bytes();
  const CudaProbe probe = probe_cuda();
  if (device.index < 0 || device.index >= static_cast<int>(probe.devices.size())) return -1;
  const int64_t free_bytes = probe.devices[static_cast<size_t>(device.index)].free_memory_bytes;
  return free_bytes > 0 ? static_cast<double>(free_bytes) : -1;
}

}  // namespace

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  }
  return buf;
}

LayerMemory estimate_layer_memory(const layers::ModelSpec& spec, size_t layer) {
  // Walk the shapes as layers::Dbn builds them: conv layers keep [C, H, W], dense ones flatten.
  double c = static_cast<double>(spec.channels), h = static_cast<double>(spec.height),
         w = static_cast<double>(spec.width);
  LayerMemory m;
  for (size_t i = 0; i <= layer && i < spec.layers.size(); ++i) {
    const layers::LayerSpec& l = spec.layers[i];
    const double visible = c * h * w;
    double hidden = 0, params = 0, columns = 0;
    if (l.type == "conv") {
      layers::ConvGeometry g;
      g.in_h = static_cast<int64_t>(h);
      g.in_w = static_cast<int64_t>(w);
      g.kernel = l.kernel;
      g.stride = l.stride;
      g.padding = l.padding;
      const double oh = static_cast<double>(g.out_h()), ow = static_cast<double>(g.out_w());
      const double patch = c * static_cast<double>(l.kernel * l.kernel);
      hidden = static_cast<double>(l.size) * oh * ow;
      params = static_cast<double>(l.size) * patch + c + static_cast<double>(l.size);
      columns = 2 * patch * oh * ow;
      c = static_cast<double>(l.size);
      h = oh;
      w = ow;
    } else {
      hidden = static_cast<double>(l.size);
      params = visible * hidden + visible + hidden;
      c = hidden;
      h = w = 1;
    }
    if (i == layer) {
      m.parameter_bytes = static_cast<int64_t>(std::min(params * kFloat, 9e18));
      m.per_image_bytes = static_cast<int64_t>(
          std::min((kActivationCopies * (visible + hidden) + columns) * kFloat, 9e18));
    }
  }
  return m;
}

void check_memory_fits(const layers::ModelSpec& spec, int64_t batch, bool training, Device device) {
  double total = 0, largest = -1;
  size_t largest_layer = 0;
  LayerMemory largest_memory;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerMemory m = estimate_layer_memory(spec, i);
    const double bytes = static_cast<double>(m.parameter_bytes) * (training ? 4 : 1) +
                         static_cast<double>(m.per_image_bytes) * static_cast<double>(batch);
    total += bytes;
    if (bytes > largest) {
      largest = bytes;
      largest_layer = i;
      largest_memory = m;
    }
  }
  const double available = available_bytes(device);
  if (available <= 0 || total <= available) return;
  const layers::LayerSpec& l = spec.layers[largest_layer];
  MRBM_THROW(InvalidArgument,
             "model '" << spec.name << "' needs about " << format_bytes(total) << " on "
                       << to_string(device) << " for " << (training ? "training" : "a batch")
                       << " of " << batch << " images, " << format_bytes(available)
                       << " is available; the largest is layer " << largest_layer << " ("
                       << l.type << ", " << l.size << (l.type == "conv" ? " channels" : " units")
                       << ": " << format_bytes(static_cast<double>(largest_memory.parameter_bytes))
                       << " of parameters, " << format_bytes(static_cast<double>(largest_memory.per_image_bytes))
                       << " per image); use fewer units or a smaller --batch");
}

}  // namespace mrbm::tools
