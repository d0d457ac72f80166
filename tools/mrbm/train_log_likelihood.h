// `mrbm train --log-likelihood-every E`: a cheap AIS estimate of layer 0's log Z and the mean
// log-likelihood of the evaluation images (the first 64 test images), every E epochs, as a line
// {"type": "log_likelihood", ...} of metrics.jsonl (docs/cli.md). Off by default. The start model
// fits the first 1000 training images; binary visible units see the evaluation images binarized
// (seed 1). A monitor of the trend only: `mrbm evaluate --log-likelihood` is the measurement.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "data/dataset.h"
#include "layers/dbn.h"

namespace CLI {
class App;
}

namespace mrbm::tools {

struct TrainLogLikelihood {
  int64_t every = 0;  // epochs between estimates; 0: off
  int64_t chains = 32;
  int64_t temperatures = 2000;
};

void add_train_log_likelihood_options(CLI::App* cmd, TrainLogLikelihood& o);

// Fails before training when the estimate is on and layer 0 has a unit without an exact sampler.
void check_train_log_likelihood(const layers::Dbn& dbn, const TrainLogLikelihood& o);

// The metrics line (with its newline) after `epochs_done` epochs and `step` optimizer steps when
// it is due, else "". The step lets a resumed run keep the line (run_folder.h, trim_metrics).
// `eval_images` are raw images (0..255) [B, C, H, W].
std::string train_log_likelihood_line(const layers::Dbn& dbn, const TrainLogLikelihood& o,
                                      int64_t epochs_done, int64_t step, const data::Dataset& train,
                                      const Tensor& eval_images, uint64_t seed);

}  // namespace mrbm::tools
