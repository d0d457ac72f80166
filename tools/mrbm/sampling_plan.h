// How `mrbm sample` and the sample grids of `mrbm train` run their chains by default: the way the
// model was trained (docs/cli.md "mrbm sample"), so that a model trained to generate in k steps
// from noise is sampled exactly so, and a persistent-chain model continues its own chains.
//
//   negative_phase.start   default start          default steps
//   persistent             the checkpoint's top-layer chains (noise when it has none: 1000 steps)   k
//   noise                  uniform noise, up the layers below                                      k
//   data (CD-k)            uniform noise: a CD model has no chain of its own to start from, and
//                          starting from data shows reconstructions, not generation             1000
#pragma once

#include <cstdint>
#include <string>

#include "layers/dbn.h"

namespace mrbm::tools {

enum class SampleStart { kNoise, kData, kPersistent };
SampleStart parse_sample_start(const std::string& name);  // noise, data, persistent
const char* sample_start_name(SampleStart start);

struct SamplingPlan {
  SampleStart start = SampleStart::kNoise;
  layers::GibbsOptions gibbs;
  std::string reason;  // why these defaults, for the command's report line
};

// The defaults for a model (has_chains: the checkpoint carries persistent chains).
SamplingPlan default_sampling(const layers::ModelSpec& spec, bool has_chains);

// The plan's images [count, C, H, W] in the input unit's range (data: the up pass of `images`, which
// must hold `count` prepared images; persistent: the first `count` of the top layer's chains, so
// `count` may not exceed the chains: the caller checks).
Tensor run_sampling(const layers::Dbn& dbn, const SamplingPlan& plan, int64_t count, uint64_t seed,
                    const Tensor* images);

}  // namespace mrbm::tools
