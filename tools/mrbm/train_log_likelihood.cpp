// The log-likelihood monitor of `mrbm train` (tools/mrbm/train_log_likelihood.h).
#include "tools/mrbm/train_log_likelihood.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "layers/ais.h"
#include "layers/unit_states.h"

namespace mrbm::tools {

void add_train_log_likelihood_options(CLI::App* cmd, TrainLogLikelihood& o) {
  cmd->add_option("--log-likelihood-every", o.every,
                  "Epochs between AIS estimates of layer 0's log-likelihood on the evaluation "
                  "images (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-likelihood-chains", o.chains, "AIS chains of that estimate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--log-likelihood-temperatures", o.temperatures, "AIS temperatures of that estimate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
}

void check_train_log_likelihood(const layers::Dbn& dbn, const TrainLogLikelihood& o) {
  if (o.every <= 0) return;
  const layers::RbmLayer& layer = dbn.layer(0);
  layers::require_exact_sampler(layer.visible_unit(), "--log-likelihood-every: " + layer.name() + "'s visible unit");
  layers::require_exact_sampler(layer.hidden_unit(), "--log-likelihood-every: " + layer.name() + "'s hidden unit");
}

std::string train_log_likelihood_line(const layers::Dbn& dbn, const TrainLogLikelihood& o,
                                      int64_t epochs_done, int64_t step, const data::Dataset& train,
                                      const Tensor& eval_images, uint64_t seed) {
  if (o.every <= 0 || epochs_done % o.every != 0) return {};
  const layers::RbmLayer& layer = dbn.layer(0);
  std::vector<int64_t> idx(static_cast<size_t>(std::min<int64_t>(1000, train.count)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  const layers::BaseRateModel base =
      layers::base_rate_model(layer, dbn.prepare_input(data::make_batch(train, idx)));
  autodiff::Tape tape = dbn.make_tape();
  layers::AisOptions ais;
  ais.chains = o.chains;
  ais.temperatures = o.temperatures;
  ais.seed = seed;
  const layers::AisEstimate e = layers::ais_log_partition(layer, tape, base, ais);
  Tensor v = dbn.prepare_input(eval_images);
  if (layer.visible_unit().kind == kernels::UnitKind::kBinary) v = layers::binarize(v, 1);
  const std::vector<double> ll = layers::log_likelihood(layer, tape, v, e.log_z);
  double mean = 0;
  for (double l : ll) mean += l / static_cast<double>(ll.size());
  std::fprintf(stderr, "  log-likelihood: %.2f nats per image (log Z %.2f +- %.2f by AIS, %lld chains, %lld temperatures)\n",
               mean, e.log_z, e.std_error, static_cast<long long>(o.chains), static_cast<long long>(o.temperatures));
  return nlohmann::json{{"type", "log_likelihood"},
                        {"epoch", epochs_done},
                        {"step", step},
                        {"log_z", e.log_z},
                        {"log_z_std_error", e.std_error},
                        {"eval_log_likelihood", mean},
                        {"eval_images", static_cast<int64_t>(ll.size())},
                        {"chains", o.chains},
                        {"temperatures", o.temperatures}}
             .dump() +
         "\n";
}

}  // namespace mrbm::tools
