// ModelSpec: a DBN described in JSON (docs/models.md), its validation and the presets.
//
//   {
//     "name": "demo",
//     "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "closed", "n": 255}},
//     "layers": [
//       {"type": "conv", "channels": 32, "kernel": 4, "stride": 2, "padding": 1,
//        "hidden": {"kind": "closed", "n": 255}},
//       {"type": "dense", "units": 200, "hidden": {"kind": "closed", "n": 255}}
//     ],
//     "sampler": "gaussian", "stop_gradient": true, "joint": true,
//     "training": {"lr": 0.001, "batch": 64, "epochs": 5}  (+ optional "weight_decay", "lr_decay")
//   }
//
// Layer l's visible unit is layer l-1's hidden unit (the input unit for the first layer); conv
// layers come first, dense layers after (the activations are flattened once). Optional fields take
// the defaults shown in docs/models.md; unknown fields are errors, so a typo never passes silently.
// Errors name the source (file or preset), the field ("layers[1].kernel") and the problem.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/unit_config.h"

namespace mrbm::layers {

struct LayerSpec {
  std::string type = "conv";  // "conv" or "dense"
  int64_t size = 0;           // conv: output channels; dense: hidden units
  int64_t kernel = 4, stride = 2, padding = 1;  // conv only
  UnitConfig hidden;
  double init_std = 0.0;  // 0: default_init_std
};

struct TrainingDefaults {
  double lr = 1e-3;
  int64_t batch = 64;
  int64_t epochs = 5;
  // Adam's L2 weight decay (PyTorch's weight_decay: wd * w added to every gradient); 0: none.
  double weight_decay = 0.0;
  // Epoch e (0-based) trains with lr * lr_decay^e: a schedule of the epoch alone, so a run
  // continued with more epochs (--resume) matches an uninterrupted one; 1: a constant lr.
  double lr_decay = 1.0;
};

// The negative phase of every layer's loss (docs/math.md section 10). The loss stays
// L = mean_n F(v_n) - mean_m F(sg(v'_m)); only where the chains that give v' start changes:
//   data        CD-k: k Gibbs steps from the batch (k = 1 is the paper's CD-1, the default)
//   persistent  PCD-k: k steps from where the chains stopped at the previous training step
//               (started from uniform noise; their states travel in checkpoints)
//   noise       short-run chains: k steps from fresh uniform noise at every step
// A Gibbs step samples the hidden units (the spec's sampler), then takes the visible mean.
enum class ChainStart : int32_t { kData = 0, kPersistent = 1, kNoise = 2 };
const char* chain_start_name(ChainStart start);  // "data", "persistent", "noise"
ChainStart parse_chain_start(const std::string& name);  // InvalidArgument when unknown

struct NegativePhase {
  ChainStart start = ChainStart::kData;
  int64_t steps = 1;   // k >= 1
  int64_t chains = 0;  // chains per layer for persistent and noise starts; 0: the batch size
  bool operator==(const NegativePhase& o) const {
    return start == o.start && steps == o.steps && chains == o.chains;
  }
};

struct ModelSpec {
  std::string name;
  int64_t channels = 1, height = 28, width = 28;
  UnitConfig input_unit;
  std::vector<LayerSpec> layers;
  kernels::Sampler sampler = kernels::Sampler::kGaussian;
  bool stop_gradient = true;  // v' is a constant in each layer's loss
  bool joint = true;          // layer l+1's loss also trains layer l (false: detached layers)
  NegativePhase negative;     // JSON "negative_phase": {"start", "steps", "chains"}
  TrainingDefaults training;
};

ModelSpec model_spec_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json model_spec_to_json(const ModelSpec& spec);

// The presets of docs/models.md: demo, paper-fashion, paper-fashion-binary, paper-mnist,
// paper-mnist-binary, paper-cifar10, paper-cifar10-binary, paper-celeba64, paper-celeba128.
std::vector<std::string> preset_names();
ModelSpec preset(const std::string& name);  // InvalidArgument listing the presets
// A preset name, or the path of a JSON file (IoError when unreadable or invalid).
ModelSpec load_model_spec(const std::string& preset_or_file);

}  // namespace mrbm::layers
