// A rough upper estimate of the memory a model needs, checked before anything is allocated, so
// that a spec with absurd sizes (channels: 65536, a dense layer of 16M units) is refused with a
// message naming the layer and the bytes instead of a std::bad_alloc or the kernel's OOM killer
// (rc 137) after minutes of swapping.
//
// Per layer, in float32: the parameters (W, the biases) 4 times while training (the value, its
// gradient, Adam's two moments), once otherwise; and per image of a batch, 8 copies of the
// visible and hidden activations (data, means, samples and their gradients in CD) plus, for a
// conv layer, its im2col columns (C_in * k * k values per hidden position) twice (the columns
// kept for the weight gradient). The exact peak depends on the code path; the estimate is meant
// to be above it, and the check only refuses what exceeds the available memory (MemAvailable on
// the CPU, free device memory on CUDA), where the run could not succeed anyway.
#pragma once

#include <cstdint>
#include <string>

#include "core/device.h"
#include "layers/model_spec.h"

namespace mrbm::tools {

struct LayerMemory {
  int64_t parameter_bytes = 0;  // one copy of the parameters
  int64_t per_image_bytes = 0;  // activations and columns per image of a batch
};

LayerMemory estimate_layer_memory(const layers::ModelSpec& spec, size_t layer);

// InvalidArgument naming the model, its largest layer and the bytes when the model with `batch`
// images (training: with gradients and Adam's moments) needs more memory than `device` has
// available. Does nothing when the available memory cannot be read.
void check_memory_fits(const layers::ModelSpec& spec, int64_t batch, bool training, Device device);

// "22.8 GB".
std::string format_bytes(double bytes);

}  // namespace mrbm::tools
