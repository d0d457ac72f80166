// What several subcommands share: choosing the device from --device and loading a checkpoint
// into a ready model on it.
#pragma once

#include <memory>
#include <string>

#include "core/cuda_context.h"
#include "layers/checkpoint.h"
#include "layers/dbn.h"

namespace mrbm::tools {

// "auto" (a usable GPU, else the CPU), "cpu", "cuda" or "cuda:<i>". Asking for CUDA without a
// usable device is an error that says why (CPU-only build, no driver, no such device, ...).
Device resolve_device(const std::string& text);

struct LoadedModel {
  std::unique_ptr<CudaContext> cuda;  // null on the CPU
  std::unique_ptr<layers::Dbn> dbn;
  layers::CheckpointInfo info;
};

// A CudaContext for `device` (null for the CPU).
std::unique_ptr<CudaContext> make_context(Device device);

// Reads the checkpoint's spec, builds the model on `device` and loads its parameters.
LoadedModel load_model(const std::string& checkpoint, Device device);

}  // namespace mrbm::tools
