// `mrbm train`: trains a DBN on a data set (docs/cli.md).
//
// The output folder holds one run: run.json (what was asked: model spec, data, seed, batch, lr,
// limit, epochs), metrics.jsonl (one JSON object per logged step and per epoch), samples.png
// (Gibbs chains from noise), samples-from-data.png (chains started from evaluation images),
// reconstructions.png and checkpoint.safetensors (atomic: the initialized model at once, then after
// each epoch and on Ctrl-C/SIGTERM). --resume continues the run in the folder exactly where its
// checkpoint stopped (mid-epoch included): the batch order, the sampling streams and the optimizer
// state are functions of (seed, step), so the continued run equals an uninterrupted one. A folder
// that holds a run is never overwritten without --resume; run folder states and the continuity of
// metrics.jsonl: tools/mrbm/run_folder.h.
#include <CLI/CLI.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "core/cpu_threads.h"
#include "core/log.h"
#include "data/batch_iterator.h"
#include "data/data_spec.h"
#include "data/png_grid.h"
#include "layers/checkpoint.h"
#include "layers/trainer.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/memory_estimate.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/option_checks.h"
#include "tools/mrbm/progress.h"
#include "tools/mrbm/run_folder.h"
#include "tools/mrbm/sample_quality.h"
#include "tools/mrbm/sampling_plan.h"
#include "tools/mrbm/train_log_likelihood.h"

namespace mrbm::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The signal that asked to stop (SIGINT or SIGTERM), 0 while none did.
std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

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
  int64_t gibbs_steps = -1;  // -1: as `mrbm sample` would (sampling_plan.h), at most 100 for CD models
  int64_t quality_every = 0;     // epochs between sample-quality lines (0: none)
  int64_t quality_samples = 1000;
  int threads = 0;  // 0: available_cpus()
  // The model's negative phase (docs/math.md section 10), when given: "" / -1 keep the spec's.
  std::string negative;
  int64_t negative_steps = -1, chains = -1;
  bool resume = false;
  // Which options the command line gave (a resumed run compares those with run.json).
  bool model_given = false, data_given = false, out_given = false, epochs_given = false,
       batch_given = false, lr_given = false, seed_given = false, limit_given = false,
       log_every_given = false, sample_count_given = false, gibbs_steps_given = false,
       quality_every_given = false, quality_samples_given = false;
  TrainLogLikelihood log_likelihood;  // --log-likelihood-every (off by default)
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// What run.json records: enough to resume, and to refuse mixing runs.
json run_record(const layers::ModelSpec& spec, const TrainArgs& a, int64_t images) {
  return {{"model_spec", layers::model_spec_to_json(spec)},
          {"data", a.data},
          {"seed", a.seed},
          {"batch", a.batch},
          {"lr", a.lr},
          {"limit", a.limit},
          {"images", images},
          {"epochs", a.epochs},
          {"log_every", a.log_every},
          {"sample_count", a.sample_count},
          {"gibbs_steps", a.gibbs_steps},
          {"quality_every", a.quality_every},
          {"quality_samples", a.quality_samples}};
}

// --negative, --negative-steps, --chains: the spec with its negative phase replaced (the values are
// checked by the option validators; run.json records the resulting spec).
layers::ModelSpec with_negative_options(layers::ModelSpec spec, const TrainArgs& a) {
  if (!a.negative.empty()) spec.negative.start = layers::parse_chain_start(a.negative);
  if (a.negative_steps >= 0) spec.negative.steps = a.negative_steps;
  if (a.chains >= 0) spec.negative.chains = a.chains;
  return spec;
}

// --resume: the settings come from run.json. --model/--data/--batch/--seed/--limit that differ
// are refused (they would silently train another run); --epochs and --lr may change, with a note,
// and so may --log-every, --sample-count, --gibbs-steps and --quality-every/--quality-samples (they
// change no parameter).
// Returns whether run.json must be rewritten (a changed setting, or an older run.json).
bool take_settings_from_run(const json& previous, const fs::path& run_json, TrainArgs& a,
                            layers::ModelSpec& spec, std::vector<std::string>& notes) {
  spec = layers::model_spec_from_json(previous.at("model_spec"), run_json.string() + ": model_spec");
  if (a.model_given &&
      layers::model_spec_to_json(with_negative_options(layers::load_model_spec(a.model), a)) !=
          previous.at("model_spec")) {
    throw usage_error("--model " + a.model + " differs from the model of the run in " +
                                              run_json.parent_path().string() +
                                              " (a resumed run keeps its model; drop --model)");
  }
  const std::string data = previous.at("data").get<std::string>();
  if (a.data_given && a.data != data) {
    throw usage_error("--data " + a.data + " differs from the run's data '" + data +
                                             "' (a resumed run keeps its data; drop --data)");
  }
  a.data = data;
  // The negative phase is part of the model: a resumed run keeps it.
  if (!(with_negative_options(spec, a).negative == spec.negative)) {
    const layers::NegativePhase& n = spec.negative;
    throw usage_error("--negative/--negative-steps/--chains differ from the negative phase of the run in " +
                      run_json.parent_path().string() + " (" + chain_start_name(n.start) + ", " +
                      std::to_string(n.steps) + " steps, " + std::to_string(n.chains) +
                      " chains; a resumed run keeps its model: drop the options)");
  }
  auto keep = [&](const char* option, bool given, auto& value, const char* key) {
    using T = std::decay_t<decltype(value)>;
    const T recorded = previous.at(key).get<T>();
    if (given && value != recorded) {
      throw usage_error(std::string(option) + " " + std::to_string(value) + " differs from the run's " + key +
                                             " " + std::to_string(recorded) + " in " +
                                             run_json.string() +
                                             " (a resumed run keeps its batch, seed and limit: "
                                             "drop the option, or start a new run in another --out)");
    }
    value = recorded;
  };
  keep("--batch", a.batch_given, a.batch, "batch");
  keep("--seed", a.seed_given, a.seed, "seed");
  keep("--limit", a.limit_given, a.limit, "limit");
  // What is logged and drawn does not change the training: the run's values unless given anew.
  bool changed = false;
  auto output_setting = [&](bool given, int64_t& value, const char* key) {
    if (!previous.contains(key)) return;
    if (!given) {
      value = previous.at(key).get<int64_t>();
    } else if (value != previous.at(key).get<int64_t>()) {
      changed = true;
    }
  };
  output_setting(a.log_every_given, a.log_every, "log_every");
  output_setting(a.sample_count_given, a.sample_count, "sample_count");
  output_setting(a.gibbs_steps_given, a.gibbs_steps, "gibbs_steps");
  output_setting(a.quality_every_given, a.quality_every, "quality_every");
  output_setting(a.quality_samples_given, a.quality_samples, "quality_samples");
  const double lr = previous.at("lr").get<double>();
  if (a.lr_given && a.lr != lr) {
    notes.push_back("--lr " + fmt("%g", a.lr) + ": the run continues with this learning rate (it had " +
                    fmt("%g", lr) + "), so it no longer equals an uninterrupted run");
    changed = true;
  } else {
    a.lr = lr;
  }
  // run.json before this option existed: the preset's epochs, as the run was started.
  const int64_t epochs = previous.value("epochs", spec.training.epochs);
  if (a.epochs_given && a.epochs != epochs) {
    notes.push_back("--epochs " + std::to_string(a.epochs) + ": the run now goes to " +
                    std::to_string(a.epochs) + " epochs (it asked for " + std::to_string(epochs) + ")");
    changed = true;
  } else {
    a.epochs = epochs;
  }
  return changed || !previous.contains("epochs");
}

// The header's words for the spec's schedule and weight decay ("" when neither is set).
std::string schedule_text(const layers::TrainingDefaults& t) {
  std::string text;
  if (t.lr_decay != 1) text += " times " + fmt("%g", t.lr_decay) + " per epoch";
  if (t.weight_decay != 0) text += ", weight decay " + fmt("%g", t.weight_decay);
  return text;
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

// The image grids of an epoch are written next to their final names and renamed only after the
// epoch's checkpoint is saved, so the folder's PNGs and checkpoint always describe the same epoch.
const char* const kGridNames[] = {"samples.png", "samples-from-data.png", "reconstructions.png"};
fs::path pending_grid(const fs::path& out, const char* name) { return out / (std::string(name) + ".new"); }
void remove_pending_grids(const fs::path& out) {
  std::error_code ec;
  for (const char* name : kGridNames) fs::remove(pending_grid(out, name), ec);
}

void run_train(TrainArgs a) {
  const RunFolder folder{fs::path(a.out)};
  const fs::path out = folder.dir, run_json = folder.run_json(), checkpoint = folder.checkpoint();
  // One train process per run folder: the lock first, then the folder's state. A folder created
  // below by this process is locked as soon as it exists.
  std::optional<RunFolderLock> lock;
  int removed_temporaries = 0;
  {
    std::error_code ec;
    if (fs::is_directory(out, ec)) {
      lock.emplace(out);
      // A process killed while writing left its temporaries (a checkpoint's is as big as the
      // checkpoint); with the lock held they are nobody's.
      removed_temporaries = remove_stale_temporaries(out);
    }
  }
  const RunFolderState state = folder.state();
  layers::ModelSpec spec;
  bool rewrite_run_json = false;
  // Info lines wait until every input (the data, the checkpoint) has been read, so that a bad
  // input is reported as the only line.
  std::vector<std::string> notes;
  if (removed_temporaries > 0) {
    notes.push_back(out.string() + ": removed " + std::to_string(removed_temporaries) + " temporary file" +
                    (removed_temporaries == 1 ? "" : "s") + " left by an interrupted run");
  }
  if (a.resume) {
    if (state == RunFolderState::kEmpty) {
      MRBM_THROW(IoError, "--resume: " << out.string() << " holds no run (no " << run_json.filename().string()
                                       << "); drop --resume to start one there");
    }
    rewrite_run_json = take_settings_from_run(read_run_json(run_json), run_json, a, spec, notes);
  } else {
    spec = with_negative_options(layers::load_model_spec(a.model), a);
    if (state == RunFolderState::kCheckpointed) {
      MRBM_THROW(IoError, out.string() << " already holds a run (" << run_json.filename().string()
                                       << "); pass --resume to continue it or choose another --out");
    }
    if (state == RunFolderState::kStarted) {
      MRBM_THROW(IoError, out.string() << " holds a run that stopped before its first checkpoint ("
                                       << run_json.filename().string()
                                       << ", no checkpoint); pass --resume to start it again from "
                                          "scratch, or choose another --out");
    }
    check_run_folder_writable(out, /*create_parents=*/!a.out_given);
  }
  if (a.epochs < 0) a.epochs = spec.training.epochs;
  if (a.batch < 0) a.batch = spec.training.batch;
  if (a.lr < 0) a.lr = spec.training.lr;

  // Data and device first: a bad argument fails before anything is written, with one line.
  const data::DataSpec data_spec = data::parse_data_spec(a.data);
  data::LoadOptions load;
  load.split = data::Split::kTrain;
  load.limit = a.limit;
  load.images.size = spec.height;  // square crops (image folders)
  load.images.channels = spec.channels;
  const data::Dataset train = data::load_dataset(data_spec, load);
  check_data_fits_model(train, a.data, spec);
  std::string device_note;
  const Device device = resolve_device_quietly(a.device, &device_note);
  if (!device_note.empty()) notes.push_back(device_note);
  check_memory_fits(spec, std::min(a.batch, train.count), /*training=*/true, device);
  // --quality-every: the judge of the model's samples (tools/mrbm/sample_quality.h), fitted once,
  // before anything is written: a data set without a usable test split fails at the start.
  std::unique_ptr<SampleQualityJudge> judge;
  if (a.quality_every > 0) {
    SampleQualityOptions q;
    q.data = a.data;
    q.seed = a.seed;
    judge = std::make_unique<SampleQualityJudge>(q, a.quality_samples);
    if (judge->channels() != spec.channels || judge->height() != spec.height || judge->width() != spec.width) {
      MRBM_THROW(InvalidArgument, "--quality-every: the test images of " << a.data << " are " << judge->channels()
                                      << "x" << judge->height() << "x" << judge->width() << ", the model's input "
                                      << spec.channels << "x" << spec.height << "x" << spec.width);
    }
  }

  std::unique_ptr<CudaContext> cuda = make_context(device);
  layers::Dbn dbn(spec, device, cuda.get(), a.seed);
  check_train_log_likelihood(dbn, a.log_likelihood);
  layers::TrainOptions topts;
  topts.lr = a.lr;
  topts.weight_decay = spec.training.weight_decay;
  topts.seed = a.seed;
  layers::Trainer trainer(dbn, topts);

  auto save = [&](int64_t epochs_completed, double train_seconds) {
    layers::CheckpointInfo info;
    info.spec = spec;
    info.epoch = epochs_completed;
    info.step = trainer.steps();
    info.seed = a.seed;
    info.extra["data"] = a.data;
    info.extra["lr"] = fmt("%.17g", a.lr);
    info.extra["batch"] = std::to_string(a.batch);
    info.extra["train_seconds"] = fmt("%.17g", train_seconds);
    layers::save_checkpoint(checkpoint.string(), dbn, &trainer.adam(), info);
  };

  g_stop_signal = 0;
  auto previous_int = std::signal(SIGINT, on_stop_signal);
  auto previous_term = std::signal(SIGTERM, on_stop_signal);
  int64_t epochs_done = 0;
  double time_offset = 0;  // training seconds of the run before this process
  if (state == RunFolderState::kCheckpointed) {
    const layers::CheckpointInfo info =
        layers::load_checkpoint(checkpoint.string(), dbn, &trainer.adam());
    epochs_done = info.epoch;
    double last_logged_time = 0;
    const int64_t dropped = trim_metrics(folder.metrics(), info.step, &last_logged_time);
    for (const auto& note : notes) MRBM_LOG_INFO(note);
    // The training time saved with the checkpoint; a checkpoint written before it was saved
    // continues from the last time logged, so that time_s never goes back.
    const auto t = info.extra.find("train_seconds");
    time_offset = t != info.extra.end() ? std::strtod(t->second.c_str(), nullptr) : last_logged_time;
    if (dropped > 0) {
      MRBM_LOG_INFO("metrics.jsonl: dropped " << dropped << " lines logged after the checkpoint (step "
                                              << info.step << "); those steps run again");
    }
    remove_pending_grids(out);
    if (rewrite_run_json) write_text_atomically(run_json, run_record(spec, a, train.count).dump(2) + "\n");
  } else {
    for (const auto& note : notes) MRBM_LOG_INFO(note);
    if (state == RunFolderState::kStarted) {
      MRBM_LOG_INFO(out.string() << ": no checkpoint yet; starting the run again from scratch with its "
                                 << run_json.filename().string());
      std::error_code ec;
      fs::remove(folder.metrics(), ec);
      remove_pending_grids(out);
    }
    fs::create_directories(out);
    if (!lock) {
      lock.emplace(out);
      if (folder.state() != RunFolderState::kEmpty) {
        MRBM_THROW(IoError, out.string() << ": another mrbm train started a run in this folder at the same time");
      }
    }
    write_text_atomically(run_json, run_record(spec, a, train.count).dump(2) + "\n");
    // The initialized model at once: a run stopped at any point after this line can be resumed.
    save(0, 0.0);
  }

  if (a.limit > train.count) {
    MRBM_LOG_WARN("--limit " << a.limit << ": " << a.data << " has " << train.count
                             << " training images; training on all " << train.count);
  }

  data::BatchIteratorOptions bopts;
  bopts.batch_size = a.batch;
  bopts.seed = a.seed;
  bopts.drop_last = train.count >= a.batch;
  const int64_t start_step = trainer.steps();
  data::BatchIterator probe_it(train, [&] { auto o = bopts; o.prefetch = 0; return o; }());
  const int64_t per_epoch = probe_it.batches_per_epoch();
  const int64_t images_per_epoch = bopts.drop_last ? per_epoch * a.batch : train.count;
  const int64_t start_epoch = start_step / per_epoch;
  int64_t skip = start_step % per_epoch;

  std::fprintf(stderr, "mrbm train: model '%s' (%lld parameters, %zu layers) on %s, %s\n",
               spec.name.c_str(), static_cast<long long>(dbn.parameter_count()), dbn.num_layers(),
               to_string(device).c_str(), data::describe_dataset(train).c_str());
  std::fprintf(stderr,
               "mrbm train: %lld epochs of %lld batches of %lld images (%lld of the %lld images "
               "per epoch%s), lr %g%s, seed %llu, %d CPU threads, out %s\n",
               static_cast<long long>(a.epochs), static_cast<long long>(per_epoch),
               static_cast<long long>(std::min(a.batch, train.count)),
               static_cast<long long>(images_per_epoch), static_cast<long long>(train.count),
               images_per_epoch < train.count ? ": the short last batch of each shuffled epoch is left out" : "",
               a.lr, schedule_text(spec.training).c_str(), static_cast<unsigned long long>(a.seed),
               cpu_threads(), out.string().c_str());
  if (epochs_done > 0 || start_step > 0) {
    std::fprintf(stderr, "mrbm train: resuming at epoch %lld, step %lld\n",
                 static_cast<long long>(start_epoch + 1), static_cast<long long>(start_step));
  }

  bopts.first_epoch = start_epoch;
  data::BatchIterator batches(train, bopts);
  const Tensor eval = evaluation_images(data_spec, train);
  const Tensor eval_input = dbn.prepare_input(eval);
  const Tensor shuffled_input = dbn.prepare_input(shuffle_pixels(eval, a.seed));
  std::ofstream metrics(folder.metrics(), std::ios::app);
  if (!metrics) MRBM_THROW(IoError, folder.metrics().string() << ": cannot write");
  auto write_metrics = [&](const json& line) {
    metrics << line.dump() << "\n";
    if (!metrics.flush()) MRBM_THROW(IoError, folder.metrics().string() << ": write failed (disk full?)");
  };

  const auto t0 = std::chrono::steady_clock::now();
  auto run_seconds = [&] {
    return time_offset + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  int64_t saved_step = start_step;
  // After the checkpoint is saved: say where it is and leave with 128 + the signal (130 for Ctrl-C).
  auto stop = [&] {
    const int sig = g_stop_signal;
    std::fprintf(stderr, "mrbm train: %s; checkpoint saved at step %lld in %s (continue with --resume)\n",
                 sig == SIGTERM ? "terminated" : "interrupted", static_cast<long long>(trainer.steps()),
                 checkpoint.string().c_str());
    std::signal(SIGINT, previous_int);
    std::signal(SIGTERM, previous_term);
    throw Interrupted{128 + sig};
  };
  try {
    for (int64_t epoch = std::max(start_epoch, epochs_done); epoch < a.epochs; ++epoch) {
      // The spec's schedule: a function of the epoch alone, so a resumed run steps as the
      // uninterrupted one did (layers/model_spec.h).
      const double epoch_lr = a.lr * std::pow(spec.training.lr_decay, static_cast<double>(epoch));
      trainer.adam().set_lr(epoch_lr);
      Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(a.epochs),
                        images_per_epoch, "img");
      data::Batch batch;
      const int64_t skipped_images = skip * a.batch;
      progress.start_at(skipped_images);
      int64_t seen = skipped_images;
      layers::StepMetrics m;
      double loss_sum = 0, mse_sum = 0;
      int64_t steps_in_epoch = 0;
      while (g_stop_signal == 0 && batches.next(batch)) {
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
          write_metrics({{"type", "step"},
                         {"epoch", epoch},
                         {"step", trainer.steps()},
                         {"loss", m.loss},
                         {"layer_losses", m.layer_losses},
                         {"recon_mse", m.recon_mse},
                         {"lr", epoch_lr},
                         {"images_per_s", (seen - skipped_images) / std::max(progress.elapsed_seconds(), 1e-9)},
                         {"time_s", run_seconds()}});
        }
      }
      // A stop inside an epoch saves there; one that comes after the epoch's last step lets the
      // epoch finish (evaluation, grids, checkpoint), so no resumed run skips an epoch's end.
      const bool epoch_complete = trainer.steps() >= (epoch + 1) * per_epoch;
      if (g_stop_signal != 0 && !epoch_complete) {
        progress.finish("interrupted");
        save(epoch, run_seconds());
        stop();
      }
      const double images_per_s = (seen - skipped_images) / std::max(progress.elapsed_seconds(), 1e-9);
      progress.finish("loss " + fmt("%.4g", loss_sum / std::max<int64_t>(steps_in_epoch, 1)));

      // End of epoch: evaluate, draw, checkpoint.
      // The grids sample the way `mrbm sample` would by default: the model's own chains.
      SamplingPlan plan = default_sampling(spec, !dbn.chains().empty());
      if (a.gibbs_steps >= 0) {
        plan.gibbs.steps = a.gibbs_steps;
      } else if (spec.negative.start == layers::ChainStart::kData) {
        plan.gibbs.steps = 100;  // an epoch's grid, not a final sample: 100 of mrbm sample's 1000
      }
      const int64_t sample_count = plan.start == SampleStart::kPersistent
                                       ? std::min(a.sample_count, dbn.chains().back().size(0))
                                       : a.sample_count;
      std::fprintf(stderr, "  epoch %lld: evaluating, drawing the sample grids (%lld chains from %s, %lld Gibbs steps), saving the checkpoint\n",
                   static_cast<long long>(epoch + 1), static_cast<long long>(sample_count),
                   sample_start_name(plan.start), static_cast<long long>(plan.gibbs.steps));
      const double eval_mse = layers::mean_squared_error(
          eval_input, dbn.reconstruct(eval_input, dbn.num_layers()),
          255.0 / spec.input_unit.max_value(), cuda.get());
      const double gap = mean_of(dbn.free_energy(shuffled_input)) - mean_of(dbn.free_energy(eval_input));
      // Samples two ways: chains from uniform noise (the model's own fantasies), and chains started
      // from the evaluation images (the up pass of real data, then the same Gibbs steps).
      const Tensor samples = run_sampling(dbn, plan, sample_count, a.seed + 7919, nullptr);
      data::write_png_grid(pending_grid(out, kGridNames[0]).string(), dbn.to_pixels(samples));
      const int64_t from_count = std::min<int64_t>(a.sample_count, eval_input.size(0));
      const Tensor start = eval_input.rows(0, from_count);
      const Tensor from_data = dbn.generate(from_count, plan.gibbs, a.seed + 7919, &start);
      data::write_png_grid(pending_grid(out, kGridNames[1]).string(), dbn.to_pixels(from_data));
      const int64_t shown = std::min<int64_t>(32, eval.size(0));
      const Tensor recon = dbn.to_pixels(dbn.reconstruct(eval_input.rows(0, shown), dbn.num_layers()));
      data::write_png_grid_pair(pending_grid(out, kGridNames[2]).string(), eval.rows(0, shown), recon);
      // The epoch's line before its checkpoint: if the process dies in between, the resumed run
      // drops the line (its step is after the checkpoint) and writes it again.
      const double seconds = run_seconds();
      write_metrics({{"type", "epoch"},
                     {"epoch", epoch + 1},
                     {"step", trainer.steps()},
                     {"train_loss", loss_sum / std::max<int64_t>(steps_in_epoch, 1)},
                     {"train_recon_mse", mse_sum / std::max<int64_t>(steps_in_epoch, 1)},
                     {"eval_recon_mse", eval_mse},
                     {"free_energy_gap", gap},
                     {"images_per_s", images_per_s},
                     {"lr", epoch_lr},
                     {"time_s", seconds}});
      if (judge && (epoch + 1) % a.quality_every == 0) {
        std::fprintf(stderr, "  epoch %lld: scoring %lld samples (%s start, %lld Gibbs steps)\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(judge->count()),
                     sample_start_name(plan.start), static_cast<long long>(plan.gibbs.steps));
        SamplingPlan qplan = plan;
        if (qplan.start == SampleStart::kPersistent && dbn.chains().back().size(0) < judge->count()) {
          qplan.start = SampleStart::kNoise;  // fewer chains than samples: fresh chains, same steps
        }
        const data::ImageBatchU8 bytes =
            data::to_uint8_images(dbn.to_pixels(run_sampling(dbn, qplan, judge->count(), a.seed + 104729, nullptr)));
        const json q = judge->score(std::vector<float>(bytes.pixels.begin(), bytes.pixels.end()));
        write_metrics({{"type", "sample_quality"},
                       {"epoch", epoch + 1},
                       {"step", trainer.steps()},
                       {"start", sample_start_name(qplan.start)},
                       {"gibbs_steps", qplan.gibbs.steps},
                       {"samples", judge->count()},
                       {"frechet", q["generated"]["frechet"]},
                       {"frechet_vs_blurred", q["frechet_vs_blurred"]},
                       {"classifier_score", q["generated"]["classifier_score"]},
                       {"score_vs_real", q["score_vs_real"]},
                       {"mean_confidence", q["generated"]["mean_confidence"]},
                       {"class_entropy", q["generated"]["class_entropy"]}});
        std::fprintf(stderr, "  quality: Frechet distance %.4g (%.2fx twice-blurred test images), classifier score %.3g (%.2fx real)\n",
                     q["generated"]["frechet"].get<double>(), q["frechet_vs_blurred"].get<double>(),
                     q["generated"]["classifier_score"].get<double>(), q["score_vs_real"].get<double>());
      }
      const std::string ll_line = train_log_likelihood_line(dbn, a.log_likelihood, epoch + 1,
                                                            trainer.steps(), train, eval, a.seed);
      if (!ll_line.empty()) {
        metrics << ll_line;
        if (!metrics.flush()) MRBM_THROW(IoError, folder.metrics().string() << ": write failed (disk full?)");
      }
      save(epoch + 1, seconds);
      saved_step = trainer.steps();
      for (const char* name : kGridNames) fs::rename(pending_grid(out, name), out / name);
      std::fprintf(stderr, "  eval: reconstruction rmse %.2f (pixels), free-energy gap %.4g (shuffled - real)\n",
                   std::sqrt(eval_mse), gap);
      if (g_stop_signal != 0 && epoch + 1 < a.epochs) stop();
    }
  } catch (const Interrupted&) {
    throw;
  } catch (...) {
    // A failed epoch (a full disk, ...) leaves the folder as its last checkpoint describes it.
    std::signal(SIGINT, previous_int);
    std::signal(SIGTERM, previous_term);
    remove_pending_grids(out);
    try {
      metrics.close();
      trim_metrics(folder.metrics(), saved_step);
    } catch (...) {
    }
    throw;
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (a.epochs <= epochs_done) {
    std::fprintf(stderr, "mrbm train: nothing to train: the checkpoint already has %lld of %lld epochs%s: %s\n",
                 static_cast<long long>(epochs_done), static_cast<long long>(a.epochs),
                 epochs_done == 0 ? " (the initialized model)" : "", checkpoint.string().c_str());
    return;
  }
  std::fprintf(stderr, "mrbm train: done: %lld epochs, %s\n", static_cast<long long>(a.epochs),
               checkpoint.string().c_str());
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a DBN on a data set; writes a checkpoint, metrics and image grids to --out");
  // The defaults the help shows are those of the default model, read from the preset itself.
  const layers::TrainingDefaults demo = layers::preset("demo").training;
  auto with_demo = [](const std::string& text, const std::string& value) {
    return text + " (default: the model's " + value + ")";
  };
  cmd->add_option("--model", a->model,
                  "Model preset (mrbm presets lists them) or a JSON spec file (docs/models.md)")
      ->capture_default_str();
  cmd->add_option("--data", a->data,
                  "Data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, celeba:DIR, images:DIR (docs/data.md)")
      ->capture_default_str()
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
  cmd->add_option("--out", a->out,
                  "Output folder of the run (run.json, metrics.jsonl, PNG grids, checkpoint); its "
                  "parent folder must exist")
      ->capture_default_str();
  cmd->add_option("--epochs", a->epochs,
                  with_demo("Total epochs; 0 writes the initialized model only",
                            "training.epochs, demo: " + std::to_string(demo.epochs)))
      ->check(integer_in(0));
  cmd->add_option("--batch", a->batch, with_demo("Mini-batch size", "training.batch, demo: " + std::to_string(demo.batch)))
      ->check(integer_in(1));
  cmd->add_option("--lr", a->lr, with_demo("Adam learning rate", "training.lr, demo: " + fmt("%g", demo.lr)))
      ->check(positive_number());
  cmd->add_option("--device", a->device, "auto (a GPU when usable, else the CPU), cpu, cuda or cuda:N")
      ->capture_default_str()
      ->check(CLI::Validator(check_device_syntax, "DEVICE"));
  cmd->add_option("--seed", a->seed, "Seed of the initialization, the batch order and every sample")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->add_option("--limit", a->limit, "Train on the first K images only (quick runs; default: all)")
      ->check(integer_in(1));
  cmd->add_option("--log-every", a->log_every, "Steps between lines of metrics.jsonl")
      ->capture_default_str()
      ->check(integer_in(1));
  cmd->add_option("--sample-count", a->sample_count, "Images in samples.png")
      ->capture_default_str()
      ->check(integer_in(1));
  cmd->add_option("--gibbs-steps", a->gibbs_steps,
                  "Gibbs steps in the top RBM for samples.png and samples-from-data.png (default: "
                  "as mrbm sample's default: k of a noise or persistent negative phase, 100 for CD "
                  "models)")
      ->check(integer_in(0));
  cmd->add_option("--threads", a->threads,
                  "CPU threads of every CPU loop, GEMMs included (0: all cores the process may use; also on --device "
                  "cuda, for data loading and evaluation)")
      ->capture_default_str()
      ->check(integer_in(0, 4096));
  cmd->add_option("--negative", a->negative,
                  "Where the negative phase's chains start: data (CD-k), persistent (PCD-k) or "
                  "noise (short-run chains); docs/math.md section 10 (default: the model's "
                  "negative_phase.start, demo: data)")
      ->check(CLI::IsMember({"data", "persistent", "noise"}));
  cmd->add_option("--negative-steps", a->negative_steps,
                  "Gibbs steps k of each negative chain (default: the model's negative_phase.steps, "
                  "demo: 1)")
      ->check(integer_in(1, 100000));
  cmd->add_option("--chains", a->chains,
                  "Chains per layer of persistent and noise negative phases (0: the batch size; "
                  "default: the model's negative_phase.chains, demo: 0)")
      ->check(integer_in(0, 1 << 20));
  cmd->add_option("--quality-every", a->quality_every,
                  "Score the model's samples after every E-th epoch (mrbm evaluate --samples' Frechet "
                  "distance and classifier score, as sample_quality lines of metrics.jsonl; 0: never)")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->add_option("--quality-samples", a->quality_samples, "Samples scored by --quality-every")
      ->capture_default_str()
      ->check(integer_in(1, 1 << 20));
  add_train_log_likelihood_options(cmd, a->log_likelihood);
  cmd->add_flag("--resume", a->resume,
                "Continue the run in --out from its checkpoint (model, data, seed, batch, limit and "
                "epochs come from run.json; --epochs and --lr may change)");
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    args.model_given = cmd->count("--model") > 0;
    args.data_given = cmd->count("--data") > 0;
    args.out_given = cmd->count("--out") > 0;
    args.epochs_given = cmd->count("--epochs") > 0;
    args.batch_given = cmd->count("--batch") > 0;
    args.lr_given = cmd->count("--lr") > 0;
    args.seed_given = cmd->count("--seed") > 0;
    args.limit_given = cmd->count("--limit") > 0;
    args.log_every_given = cmd->count("--log-every") > 0;
    args.sample_count_given = cmd->count("--sample-count") > 0;
    args.gibbs_steps_given = cmd->count("--gibbs-steps") > 0;
    args.quality_every_given = cmd->count("--quality-every") > 0;
    args.quality_samples_given = cmd->count("--quality-samples") > 0;
    if (args.threads > 0) set_cpu_threads(args.threads);
    run_train(args);
  });
}

}  // namespace mrbm::tools
