// `mrbm train`: trains a DBN on a data set (docs/cli.md).
//
// The output folder holds one run: run.json (what was asked: model spec, data, seed, batch, lr,
// limit), metrics.jsonl (one JSON object per logged step and per epoch), samples.png (Gibbs chains
// from noise), samples-from-data.png (chains started from evaluation images) and
// reconstructions.png (rewritten after each epoch) and checkpoint.safetensors (atomic, after each
// epoch and on Ctrl-C). --resume continues the run in the folder exactly where its checkpoint
// stopped (mid-epoch included): the batch order, the sampling streams and the optimizer state are
// functions of (seed, step), so the continued run equals an uninterrupted one. A folder that holds
// a different run is never overwritten without --resume.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/cpu_threads.h"
#include "data/batch_iterator.h"
#include "data/data_spec.h"
#include "data/png_grid.h"
#include "layers/checkpoint.h"
#include "layers/trainer.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/progress.h"
#include "tools/mrbm/train_log_likelihood.h"

namespace mrbm::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

struct TrainArgs {
  std::string model = "demo";
  std::string data = "fashion-mnist";
  std::string out = "out/train";
  std::string device = "auto";
  int64_t epochs = -1;  // -1: the spec's training.epochs
  int64_t batch = -1;   // -1: the spec's training.batch
  double lr = -1;       // < 0: the spec's training.lr
  uint64_t seed = 1;
  int64_t limit = -1;
  int64_t log_every = 50;
  int64_t sample_count = 64;
  int64_t gibbs_steps = 100;
  int threads = 0;  // 0: every core
  bool resume = false;
  bool model_given = false, data_given = false;
  TrainLogLikelihood log_likelihood;  // --log-likelihood-every (off by default)
};

// What run.json records: enough to resume, and to refuse mixing runs.
json run_record(const layers::ModelSpec& spec, const TrainArgs& a) {
  return {{"model_spec", layers::model_spec_to_json(spec)},
          {"data", a.data},
          {"seed", a.seed},
          {"batch", a.batch},
          {"lr", a.lr},
          {"limit", a.limit}};
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) MRBM_THROW(IoError, tmp.string() << ": cannot write");
    out << text;
    if (!out.flush()) MRBM_THROW(IoError, tmp.string() << ": write failed");
  }
  fs::rename(tmp, path);
}

// The images every epoch evaluates and shows: the first 64 of the test split (or of the training
// data when the data set has no test split).
Tensor evaluation_images(const data::DataSpec& spec, const data::Dataset& train) {
  data::LoadOptions o;
  o.split = data::Split::kTest;
  o.limit = 64;
  o.images.size = train.height;  // square crops (image folders)
  o.images.channels = train.channels;
  std::vector<int64_t> idx;
  try {
    const data::Dataset test = data::load_dataset(spec, o);
    for (int64_t i = 0; i < std::min<int64_t>(64, test.count); ++i) idx.push_back(i);
    return data::make_batch(test, idx);
  } catch (const Error&) {
    for (int64_t i = 0; i < std::min<int64_t>(64, train.count); ++i) idx.push_back(i);
    return data::make_batch(train, idx);
  }
}

Tensor shuffle_pixels(const Tensor& images, uint64_t seed) {
  Tensor out = images.clone();
  float* p = out.data<float>();
  const int64_t per = images.numel() / std::max<int64_t>(images.size(0), 1);
  std::mt19937_64 gen(seed);
  for (int64_t i = 0; i < images.size(0); ++i) std::shuffle(p + i * per, p + (i + 1) * per, gen);
  return out;
}

double mean_of(const Tensor& t) {
  const auto v = t.to_vector<double>();
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void run_train(TrainArgs a) {
  const fs::path out(a.out);
  const fs::path run_json = out / "run.json", checkpoint = out / "checkpoint.safetensors";
  layers::ModelSpec spec;
  json previous;
  if (a.resume) {
    if (!fs::exists(checkpoint)) {
      MRBM_THROW(IoError, checkpoint.string() << ": no checkpoint to resume from");
    }
    std::ifstream in(run_json);
    if (!in) MRBM_THROW(IoError, run_json.string() << ": missing; cannot resume this folder");
    try {
      previous = json::parse(in);
    } catch (const json::exception& e) {
      MRBM_THROW(IoError, run_json.string() << ": invalid JSON: " << e.what());
    }
    spec = layers::model_spec_from_json(previous.at("model_spec"), run_json.string() + ": model_spec");
    if (a.model_given && layers::model_spec_to_json(layers::load_model_spec(a.model)) !=
                             previous.at("model_spec")) {
      MRBM_THROW(InvalidArgument, "--model " << a.model << " differs from the model of the run in "
                                             << out.string());
    }
    if (a.data_given && a.data != previous.at("data").get<std::string>()) {
      MRBM_THROW(InvalidArgument, "--data " << a.data << " differs from the run's data '"
                                            << previous.at("data").get<std::string>() << "'");
    }
    a.data = previous.at("data").get<std::string>();
    a.seed = previous.at("seed").get<uint64_t>();
    a.batch = previous.at("batch").get<int64_t>();
    if (a.lr < 0) a.lr = previous.at("lr").get<double>();
    a.limit = previous.at("limit").get<int64_t>();
  } else {
    spec = layers::load_model_spec(a.model);
    if (fs::exists(run_json) || fs::exists(checkpoint)) {
      MRBM_THROW(IoError, out.string() << " already holds a run (" << run_json.filename().string()
                                       << "); pass --resume to continue it or choose another --out");
    }
  }
  if (a.epochs < 0) a.epochs = spec.training.epochs;
  if (a.batch < 0) a.batch = spec.training.batch;
  if (a.lr < 0) a.lr = spec.training.lr;

  // Data first: a bad data argument should fail before anything is written.
  const data::DataSpec data_spec = data::parse_data_spec(a.data);
  data::LoadOptions load;
  load.split = data::Split::kTrain;
  load.limit = a.limit;
  load.images.size = spec.height;  // square crops (image folders)
  load.images.channels = spec.channels;
  const data::Dataset train = data::load_dataset(data_spec, load);
  if (train.channels != spec.channels || train.height != spec.height || train.width != spec.width) {
    MRBM_THROW(InvalidArgument, "the data " << a.data << " has images " << train.channels << "x"
                                            << train.height << "x" << train.width
                                            << ", the model '" << spec.name << "' takes "
                                            << spec.channels << "x" << spec.height << "x"
                                            << spec.width);
  }
  const Device device = resolve_device(a.device);
  std::unique_ptr<CudaContext> cuda = make_context(device);
  layers::Dbn dbn(spec, device, cuda.get(), a.seed);
  check_train_log_likelihood(dbn, a.log_likelihood);
  layers::TrainOptions topts;
  topts.lr = a.lr;
  topts.seed = a.seed;
  layers::Trainer trainer(dbn, topts);
  int64_t epochs_done = 0;
  if (a.resume) {
    const layers::CheckpointInfo info = layers::load_checkpoint(checkpoint.string(), dbn, &trainer.adam());
    epochs_done = info.epoch;
  } else {
    fs::create_directories(out);
    write_text_atomic(run_json, run_record(spec, a).dump(2) + "\n");
  }

  std::fprintf(stderr, "mrbm train: model '%s' (%lld parameters, %zu layers) on %s, %s\n",
               spec.name.c_str(), static_cast<long long>(dbn.parameter_count()), dbn.num_layers(),
               to_string(device).c_str(), data::describe_dataset(train).c_str());

  data::BatchIteratorOptions bopts;
  bopts.batch_size = a.batch;
  bopts.seed = a.seed;
  bopts.drop_last = train.count >= a.batch;
  const int64_t start_step = trainer.steps();
  data::BatchIterator probe_it(train, [&] { auto o = bopts; o.prefetch = 0; return o; }());
  const int64_t per_epoch = probe_it.batches_per_epoch();
  const int64_t start_epoch = start_step / per_epoch;
  int64_t skip = start_step % per_epoch;
  bopts.first_epoch = start_epoch;
  data::BatchIterator batches(train, bopts);

  const Tensor eval = evaluation_images(data_spec, train);
  const Tensor eval_input = dbn.prepare_input(eval);
  const Tensor shuffled_input = dbn.prepare_input(shuffle_pixels(eval, a.seed));
  std::ofstream metrics(out / "metrics.jsonl", std::ios::app);
  if (!metrics) MRBM_THROW(IoError, (out / "metrics.jsonl").string() << ": cannot write");

  auto save = [&](int64_t epochs_completed) {
    layers::CheckpointInfo info;
    info.spec = spec;
    info.epoch = epochs_completed;
    info.step = trainer.steps();
    info.seed = a.seed;
    info.extra["data"] = a.data;
    layers::save_checkpoint(checkpoint.string(), dbn, &trainer.adam(), info);
  };

  g_interrupted = false;
  auto previous_handler = std::signal(SIGINT, on_sigint);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t epoch = std::max(start_epoch, epochs_done); epoch < a.epochs; ++epoch) {
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(a.epochs),
                      per_epoch * a.batch, "img");
    data::Batch batch;
    int64_t seen = skip * a.batch;
    layers::StepMetrics m;
    double loss_sum = 0, mse_sum = 0;
    int64_t steps_in_epoch = 0;
    while (batches.next(batch)) {
      if (skip > 0) {
        --skip;
        continue;
      }
      m = trainer.step(batch.images);
      seen += batch.images.size(0);
      loss_sum += m.loss;
      mse_sum += m.recon_mse;
      ++steps_in_epoch;
      progress.update(seen, "loss " + fmt("%.4g", m.loss) + ", recon rmse " +
                                fmt("%.1f", std::sqrt(m.recon_mse)));
      if (trainer.steps() % a.log_every == 0) {
        metrics << json{{"type", "step"},
                        {"epoch", epoch},
                        {"step", trainer.steps()},
                        {"loss", m.loss},
                        {"layer_losses", m.layer_losses},
                        {"recon_mse", m.recon_mse},
                        {"lr", a.lr},
                        {"images_per_s", seen / std::max(progress.elapsed_seconds(), 1e-9)},
                        {"time_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}}
                       .dump()
                << "\n";
        metrics.flush();
      }
      if (g_interrupted) break;
    }
    if (g_interrupted) {
      progress.finish("interrupted");
      save(epoch);
      std::signal(SIGINT, previous_handler);
      std::fprintf(stderr, "mrbm train: interrupted; checkpoint saved at step %lld in %s (continue with --resume)\n",
                   static_cast<long long>(trainer.steps()), checkpoint.string().c_str());
      throw Interrupted();
    }
    const double images_per_s = (seen - 0.0) / std::max(progress.elapsed_seconds(), 1e-9);
    progress.finish("loss " + fmt("%.4g", loss_sum / std::max<int64_t>(steps_in_epoch, 1)));

    // End of epoch: evaluate, draw, checkpoint.
    const double eval_mse = layers::mean_squared_error(
        eval_input, dbn.reconstruct(eval_input, dbn.num_layers()),
        255.0 / spec.input_unit.max_value(), cuda.get());
    const double gap = mean_of(dbn.free_energy(shuffled_input)) - mean_of(dbn.free_energy(eval_input));
    // Samples two ways: chains from uniform noise (the model's own fantasies), and chains started
    // from the evaluation images (the up pass of real data, then the same Gibbs steps).
    const Tensor samples = dbn.generate(a.sample_count, a.gibbs_steps, a.seed + 7919, nullptr);
    data::write_png_grid((out / "samples.png").string(), dbn.to_pixels(samples));
    const int64_t from_count = std::min<int64_t>(a.sample_count, eval_input.size(0));
    const Tensor start = eval_input.rows(0, from_count);
    const Tensor from_data = dbn.generate(from_count, a.gibbs_steps, a.seed + 7919, &start);
    data::write_png_grid((out / "samples-from-data.png").string(), dbn.to_pixels(from_data));
    const int64_t shown = std::min<int64_t>(32, eval.size(0));
    const Tensor recon = dbn.to_pixels(dbn.reconstruct(eval_input.rows(0, shown), dbn.num_layers()));
    data::write_png_grid_pair((out / "reconstructions.png").string(), eval.rows(0, shown), recon);
    save(epoch + 1);
    metrics << json{{"type", "epoch"},
                    {"epoch", epoch + 1},
                    {"step", trainer.steps()},
                    {"train_loss", loss_sum / std::max<int64_t>(steps_in_epoch, 1)},
                    {"train_recon_mse", mse_sum / std::max<int64_t>(steps_in_epoch, 1)},
                    {"eval_recon_mse", eval_mse},
                    {"free_energy_gap", gap},
                    {"images_per_s", images_per_s},
                    {"lr", a.lr},
                    {"time_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}}
                   .dump()
            << "\n"
            << train_log_likelihood_line(dbn, a.log_likelihood, epoch + 1, train, eval, a.seed);
    metrics.flush();
    std::fprintf(stderr, "  eval: reconstruction rmse %.2f (pixels), free-energy gap %.4g (shuffled - real)\n",
                 std::sqrt(eval_mse), gap);
  }
  std::signal(SIGINT, previous_handler);
  std::fprintf(stderr, "mrbm train: done: %s\n", checkpoint.string().c_str());
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a DBN on a data set; writes a checkpoint, metrics and image grids to --out");
  cmd->add_option("--model", a->model,
                  "Model preset (demo, paper-fashion, paper-fashion-binary, paper-mnist, paper-cifar10, "
                  "paper-celeba64, paper-celeba128, ...) or a JSON spec file (docs/models.md)")
      ->capture_default_str();
  cmd->add_option("--data", a->data,
                  "Data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, celeba:DIR, images:DIR (docs/data.md)")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Output folder of the run (run.json, metrics.jsonl, PNG grids, checkpoint)")
      ->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Total epochs (default: the model's training.epochs)");
  cmd->add_option("--batch", a->batch, "Mini-batch size (default: the model's training.batch)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lr", a->lr, "Adam learning rate (default: the model's training.lr)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", a->device, "auto (a GPU when usable, else the CPU), cpu, cuda or cuda:N")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the initialization, the batch order and every sample")
      ->capture_default_str();
  cmd->add_option("--limit", a->limit, "Train on the first K images only (quick runs; default: all)");
  cmd->add_option("--log-every", a->log_every, "Steps between lines of metrics.jsonl")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--sample-count", a->sample_count, "Images in samples.png")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--gibbs-steps", a->gibbs_steps, "Gibbs steps in the top RBM for samples.png")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", a->threads,
                  "CPU threads of every CPU loop, GEMMs included (0: all cores; also on --device "
                  "cuda, for data loading and evaluation)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_train_log_likelihood_options(cmd, a->log_likelihood);
  cmd->add_flag("--resume", a->resume,
                "Continue the run in --out from its checkpoint (model, data, seed and batch come from run.json)");
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    args.model_given = cmd->count("--model") > 0;
    args.data_given = cmd->count("--data") > 0;
    if (args.threads > 0) set_cpu_threads(args.threads);
    run_train(args);
  });
}

}  // namespace mrbm::tools
