// Device choice and checkpoint loading for the subcommands (tools/mrbm/model_loading.h).
#include "tools/mrbm/model_loading.h"

#include "core/device.h"
#include "tools/mrbm/memory_estimate.h"

namespace mrbm::tools {

Device resolve_device(const std::string& text) {
  const Device device = parse_device(text);
  if (device.is_cpu()) return device;
  const CudaProbe probe = probe_cuda();
  if (device.index >= static_cast<int>(probe.devices.size()) ||
      !probe.devices[static_cast<size_t>(device.index)].usable) {
    std::string why = probe.reason;
    if (why.empty() && device.index < static_cast<int>(probe.devices.size())) {
      why = probe.devices[static_cast<size_t>(device.index)].problem;
    }
    if (why.empty()) why = "no device with index " + std::to_string(device.index);
    MRBM_THROW(CudaError, "--device " << text << ": no usable CUDA device (" << why << ")");
  }
  return device;
}

std::unique_ptr<CudaContext> make_context(Device device) {
  if (device.is_cpu()) return nullptr;
  return std::make_unique<CudaContext>(device.index);
}

LoadedModel load_model(const std::string& checkpoint, Device device) {
  LoadedModel m;
  m.info = layers::read_checkpoint_info(checkpoint);
  check_memory_fits(m.info.spec, 1, /*training=*/false, device);
  m.cuda = make_context(device);
  m.dbn = std::make_unique<layers::Dbn>(m.info.spec, device, m.cuda.get(), m.info.seed);
  layers::load_checkpoint(checkpoint, *m.dbn, nullptr);
  return m;
}

}  // namespace mrbm::tools
