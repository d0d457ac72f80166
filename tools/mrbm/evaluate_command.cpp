// `mrbm evaluate --log-likelihood`: the test log-likelihood of a model's first RBM (docs/cli.md,
// docs/math.md section 11). log Z of layer 0 by annealed importance sampling from a base-rate start
// model fitted to the training split, then log p(v) = log base(v) - F(v) - log Z per test image,
// averaged. Binary visible units see stochastically binarized images (each grey level in [0, 1] is
// the probability of a 1, drawn from --binarize-seed), the setting of the RBM literature; other
// visible units must take the images' values as states (closed form with N s an integer, copies).
// When the enumerated side of the layer is small (at most 2^20 joint states) the exact log Z is
// reported too. Progress on stderr; one JSON object (documented in docs/cli.md) to --out.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "data/file_io.h"
#include "layers/ais.h"
#include "layers/partition_exact.h"
#include "layers/unit_config.h"
#include "layers/unit_states.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/sample_quality.h"

namespace mrbm::tools {
namespace {

struct EvaluateOptions {
  std::string checkpoint;
  std::string data;
  bool log_likelihood = false;
  std::string split = "test";
  int64_t count = -1;
  int64_t base_count = 10000;
  int64_t chains = 100;
  int64_t temperatures = 14500;
  uint64_t seed = 1;
  uint64_t binarize_seed = 1;
  int64_t batch = 256;
  std::string device = "auto";
  std::string out = "-";
  SampleQualityOptions quality;  // --samples
};

void write_json(const nlohmann::json& j, const std::string& out) {
  const std::string text = j.dump(2) + "\n";
  if (out == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
      MRBM_THROW(IoError, "stdout: write failed");
    }
  } else {
    data::write_file_atomically(out, std::vector<uint8_t>(text.begin(), text.end()));
    MRBM_LOG_INFO("evaluate: wrote " << out);
  }
}

// --samples DIR: the generation metrics of tools/mrbm/sample_quality.h.
void run_sample_quality(const EvaluateOptions& o) {
  if (o.out != "-") check_output_path(o.out, "--out");
  SampleQualityOptions q = o.quality;
  q.data = o.data.empty() ? "fashion-mnist" : o.data;
  q.seed = o.seed;
  if (o.count >= 0) q.count = o.count;
  const nlohmann::json j = evaluate_sample_quality(q);
  write_json(j, o.out);
  MRBM_LOG_INFO("evaluate: " << j["generated"]["images"].get<int64_t>() << " samples: Frechet distance "
                             << j["generated"]["frechet"].get<double>() << " ("
                             << j["frechet_vs_blurred"].get<double>() << "x the twice-blurred real images'), classifier score "
                             << j["generated"]["classifier_score"].get<double>() << " ("
                             << j["score_vs_real"].get<double>() << "x the real images')");
}

// The images `dataset` holds, as layer 0's visible values (binarized when `binarize`), `batch`
// at a time; `use` gets each batch.
template <class Use>
void for_each_input(const layers::Dbn& dbn, const data::Dataset& dataset, int64_t batch,
                    bool binarize, uint64_t binarize_seed, const Use& use) {
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < dataset.count; begin += batch) {
    const int64_t n = std::min(batch, dataset.count - begin);
    indices.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = begin + i;
    Tensor v = dbn.prepare_input(data::make_batch(dataset, indices));
    // Drawn by the image's index, so that an image's binarization does not depend on the batch.
    if (binarize) v = layers::binarize(v, binarize_seed, begin * dataset.image_numel());
    use(begin, n, v);
  }
}

void run_evaluate(const EvaluateOptions& o) {
  if (!o.quality.samples.empty()) {
    if (o.log_likelihood) throw usage_error("--samples and --log-likelihood are two evaluations; give one");
    run_sample_quality(o);
    return;
  }
  if (!o.log_likelihood) throw usage_error("give --log-likelihood (with --checkpoint and --data) or --samples DIR");
  if (o.checkpoint.empty() || o.data.empty()) {
    throw usage_error("--log-likelihood needs --checkpoint and --data");
  }
  const bool to_stdout = o.out == "-";
  if (!to_stdout) check_output_path(o.out, "--out");
  const data::DataSpec spec = data::parse_data_spec(o.data);
  std::string device_note;
  const Device device = resolve_device_quietly(o.device, &device_note);
  LoadedModel model = load_model(o.checkpoint, device);
  const layers::Dbn& dbn = *model.dbn;
  const layers::RbmLayer& layer = dbn.layer(0);
  layers::require_exact_sampler(layer.visible_unit(), layer.name() + "'s visible unit");
  layers::require_exact_sampler(layer.hidden_unit(), layer.name() + "'s hidden unit");
  const data::Dataset test = load_split(spec, data::parse_split(o.split), o.count, &model.info.spec);
  const data::Dataset train = load_split(spec, data::Split::kTrain, o.base_count, &model.info.spec);
  check_data_fits_model(test, o.data, model.info.spec);
  check_data_fits_model(train, o.data, model.info.spec);
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  MRBM_LOG_INFO("evaluate: " << data::describe_dataset(test) << "; base rate from "
                             << train.count << " training images; model '" << model.info.spec.name
                             << "' layer " << layer.name() << " on " << to_string(device));

  autodiff::Tape tape = dbn.make_tape();
  // The base rate: the mean of the training images (grey levels: the binarized images' expectation).
  const bool binary = layer.visible_unit().kind == kernels::UnitKind::kBinary;
  std::vector<float> all;
  for_each_input(dbn, train, o.batch, false, 0, [&](int64_t, int64_t, const Tensor& v) {
    const std::vector<float> host = v.to(Device::cpu(), dbn.stream()).to_vector<float>();
    all.insert(all.end(), host.begin(), host.end());
  });
  Shape shape = layer.visible_shape();
  shape.insert(shape.begin(), train.count);
  const layers::BaseRateModel base = layers::base_rate_model(layer, Tensor::from_vector(all, shape));
  all.clear();
  all.shrink_to_fit();

  layers::AisOptions ais;
  ais.chains = o.chains;
  ais.temperatures = o.temperatures;
  ais.seed = o.seed;
  const auto start = std::chrono::steady_clock::now();
  Progress ais_progress("ais", o.temperatures, "T");
  const layers::AisEstimate estimate =
      layers::ais_log_partition(layer, tape, base, ais, [&](int64_t k, int64_t) { ais_progress.update(k); });
  ais_progress.finish();
  const double ais_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nlohmann::ordered_json exact = nullptr;
  try {
    const layers::ExactLogPartition x = layers::exact_log_partition(layer, tape, "auto", 1048576.0);
    exact = {{"log_z", x.log_z}, {"enumerated", x.enumerated}, {"states", x.states}};
  } catch (const InvalidArgument&) {
    // Too many states to enumerate: AIS only.
  }

  double sum = 0, sum2 = 0;
  Progress ll_progress("log-likelihood", test.count, "img");
  for_each_input(dbn, test, o.batch, binary, o.binarize_seed, [&](int64_t begin, int64_t n, const Tensor& v) {
    for (double l : layers::log_likelihood(layer, tape, v, estimate.log_z)) {
      sum += l;
      sum2 += l * l;
    }
    ll_progress.update(begin + n);
  });
  ll_progress.finish();
  const double count = static_cast<double>(test.count);
  const double mean = sum / count;
  const double sd = count > 1 ? std::sqrt(std::max(0.0, (sum2 - count * mean * mean) / (count - 1))) : 0.0;

  nlohmann::ordered_json j;
  j["checkpoint"] = o.checkpoint;
  j["model"] = model.info.spec.name;
  j["layer"] = layer.name();
  j["layer_type"] = layer.type();
  j["visible_unit"] = layers::unit_to_json(layer.visible_unit());
  j["hidden_unit"] = layers::unit_to_json(layer.hidden_unit());
  j["data"] = o.data;
  j["split"] = o.split;
  j["test_images"] = test.count;
  j["base_rate_images"] = train.count;
  j["binarized"] = binary;
  j["binarize_seed"] = o.binarize_seed;
  j["ais"] = {{"chains", estimate.chains},
              {"temperatures", estimate.temperatures},
              {"schedule", "linear pieces: K/29 over [0, 0.5], 8K/29 over [0.5, 0.9], the rest over [0.9, 1]"},
              {"seed", estimate.seed},
              {"log_z_base", estimate.log_z_base},
              {"effective_chains", estimate.effective_chains},
              {"seconds", ais_seconds}};
  j["log_z"] = estimate.log_z;
  j["log_z_std_error"] = estimate.std_error;
  j["exact_log_z"] = exact;
  j["mean_log_likelihood"] = mean;  // nats per image
  j["log_likelihood_std_error"] = count > 1 ? sd / std::sqrt(count) : 0.0;  // over the test images
  j["device"] = to_string(device);
  write_json(j, o.out);
  MRBM_LOG_INFO("evaluate: log Z = " << estimate.log_z << " +- " << estimate.std_error
                                     << ", mean test log-likelihood " << mean << " nats per image");
}

}  // namespace

void register_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "As JSON: the test log-likelihood of layer 0 (--log-likelihood: log Z by annealed importance "
      "sampling) or the quality of generated images (--samples DIR)");
  cmd->add_option("--checkpoint", o->checkpoint, "Trained model (checkpoint.safetensors; --log-likelihood)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", o->data,
                  "Data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, celeba:DIR, images:DIR "
                  "(--log-likelihood: required; --samples: the data the samples imitate, default "
                  "fashion-mnist)")
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
  cmd->add_flag("--log-likelihood", o->log_likelihood,
                "Estimate log Z by AIS and the mean test log-likelihood per image (nats)");
  cmd->add_option("--samples", o->quality.samples,
                  "Score the images of this folder (mrbm sample --out FOLDER): Frechet distance in "
                  "the principal directions of the training pixels and a classifier score, beside "
                  "real, blurred and noise images")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--reference-images", o->quality.reference_images,
                  "--samples: training images that fit the feature space and the classifier (-1: all)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--dims", o->quality.dims, "--samples: principal directions of the feature space")
      ->check(CLI::Range(int64_t{2}, int64_t{1024}))
      ->capture_default_str();
  cmd->add_option("--split", o->split, "The split whose log-likelihood is measured")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--count", o->count, "Only the first K images of the split, or of --samples (-1: all)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--base-count", o->base_count,
                  "Training images whose mean sets the AIS start model (-1: all)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--chains", o->chains, "AIS chains M")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--temperatures", o->temperatures, "AIS intermediate distributions K")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "AIS random seed; --samples: the classifier's batch order")->capture_default_str();
  cmd->add_option("--binarize-seed", o->binarize_seed,
                  "Seed of the stochastic binarization (binary visible units)")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per batch (bounds the memory)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->check(CLI::Validator(check_device_syntax, "DEVICE"))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output JSON file; - for stdout")->capture_default_str();
  cmd->callback([o] { run_evaluate(*o); });
}

}  // namespace mrbm::tools
