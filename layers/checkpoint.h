// Checkpoints: a trained (or training) DBN in one safetensors file (core/safetensors.h), readable
// by Python's safetensors.
//
// Tensors: every parameter under its name ("layers.0.W", "layers.0.a", "layers.0.b", ...) and,
// when an optimizer is saved, its state under "adam." ("adam.step", "adam.layers.0.W.m", ...), and
// a persistent-chain model's chains under "chains.layers.<l>" ([M, visible...] per layer).
// Metadata (strings): "format" = "mrbm-checkpoint-1", "model_spec" (the JSON spec), "epoch",
// "step" (optimizer steps done), "seed" (the run's seed: with the step it fixes every random
// stream, so a resumed run draws the same samples), "mrbm_version", plus free-form entries of the
// caller (the data spec, ...). Files are written atomically (temporary file, then rename).
// Loading checks the format, the spec, and every tensor's presence and shape against the model,
// and refuses anything else with an IoError naming the file and the entry.
#pragma once

#include <map>
#include <string>

#include "autodiff/adam.h"
#include "layers/dbn.h"

namespace mrbm::layers {

struct CheckpointInfo {
  ModelSpec spec;
  int64_t epoch = 0;  // completed epochs
  int64_t step = 0;   // completed optimizer steps
  uint64_t seed = 0;
  std::map<std::string, std::string> extra;  // free-form metadata of the caller
};

void save_checkpoint(const std::string& path, const Dbn& dbn, const autodiff::Adam* adam,
                     const CheckpointInfo& info);
// Reads the metadata only (cheap): the spec to build the Dbn with, the counters.
CheckpointInfo read_checkpoint_info(const std::string& path);
// Loads the parameters (and the optimizer state when `adam` is given) into a Dbn built from the
// same spec; returns the checkpoint's info.
CheckpointInfo load_checkpoint(const std::string& path, Dbn& dbn, autodiff::Adam* adam);

}  // namespace mrbm::layers
