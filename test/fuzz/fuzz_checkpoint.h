// The small model of fuzz_checkpoint.cpp, shared with make_corpus (which saves its seed
// checkpoints): a conv layer and a dense layer, persistent chains, binary units.
#pragma once

#include "layers/model_spec.h"

namespace mrbm::fuzz {

inline layers::ModelSpec checkpoint_spec() {
  return layers::model_spec_from_json(nlohmann::json::parse(R"({
    "name": "fuzz",
    "input": {"channels": 1, "height": 4, "width": 4, "unit": {"kind": "binary"}},
    "layers": [
      {"type": "conv", "channels": 2, "kernel": 2, "stride": 2, "padding": 0,
       "hidden": {"kind": "binary"}},
      {"type": "dense", "units": 3, "hidden": {"kind": "closed", "n": 3}}
    ],
    "negative_phase": {"start": "persistent", "steps": 1, "chains": 2},
    "training": {"lr": 0.01, "batch": 2, "epochs": 1}
  })"),
                                      "fuzz checkpoint spec");
}

}  // namespace mrbm::fuzz
