// `mrbm sample` and `mrbm reconstruct`: images from a trained checkpoint (docs/cli.md).
//
// sample: Gibbs sampling in the top RBM (from uniform noise, or from the up pass of data images
// with --from), then the top-down pass of means (layers/dbn.h). --out FILE.png writes a grid;
// any other --out is a folder that receives one PNG per image (000000.png, ...) for external
// tools such as FID scripts.
// reconstruct: originals above, their reconstructions through --depth layers below.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <numeric>

#include "core/log.h"
#include "data/data_spec.h"
#include "data/png_grid.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/option_checks.h"
#include "tools/mrbm/partial_outputs.h"
#include "tools/mrbm/sampling_plan.h"

namespace mrbm::tools {
namespace {

namespace fs = std::filesystem;

bool ends_with_png(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".png") == 0;
}

data::Dataset load_images(const std::string& spec_text, const std::string& split, int64_t count,
                          const layers::ModelSpec& model) {
  data::Dataset d = load_split(data::parse_data_spec(spec_text), data::parse_split(split), count, &model);
  check_data_fits_model(d, spec_text, model);
  return d;
}

// sample --out FOLDER: the folder may exist (it must be a writable folder) or be created in an
// existing parent folder, like every output of mrbm (docs/cli.md).
void check_output_folder(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) MRBM_THROW(IoError, path << ": not a folder (--out)");
    if (::access(path.c_str(), W_OK | X_OK) != 0) {
      MRBM_THROW(IoError, path << ": the folder is not writable (--out)");
    }
    return;
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) {
    MRBM_THROW(IoError, path << ": the folder " << parent.string() << " does not exist (--out)");
  }
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    MRBM_THROW(IoError, path << ": the folder " << parent.string() << " is not writable (--out)");
  }
}

struct SampleArgs {
  std::string checkpoint, out = "samples.png", device = "auto", from, split = "test";
  std::string start;          // "": as the model was trained (tools/mrbm/sampling_plan.h)
  std::string visible = "mean";
  int64_t count = 64, gibbs_steps = -1;  // -1: as the model was trained
  double anneal_from = 1.0;
  uint64_t seed = 1;
};

void run_sample(const SampleArgs& a) {
  const bool grid = ends_with_png(a.out);
  if (grid) {
    check_output_path(a.out, "--out");
  } else {
    check_output_folder(a.out);
  }
  std::string device_note;
  const Device device = resolve_device_quietly(a.device, &device_note);
  LoadedModel m = load_model(a.checkpoint, device);
  const layers::Dbn& dbn = *m.dbn;
  SamplingPlan plan = default_sampling(dbn.spec(), !dbn.chains().empty());
  std::string why = plan.reason;
  if (!a.start.empty() || !a.from.empty()) {
    const SampleStart start = a.start.empty() ? SampleStart::kData : parse_sample_start(a.start);
    if (start == SampleStart::kData && a.from.empty()) {
      throw usage_error("--start data needs --from SPEC (the images whose up pass starts the chains)");
    }
    if (start != SampleStart::kData && !a.from.empty()) {
      throw usage_error("--from starts the chains from data; it cannot go with --start " + a.start);
    }
    if (start == SampleStart::kPersistent && dbn.chains().empty()) {
      MRBM_THROW(InvalidArgument, a.checkpoint << ": holds no persistent chains (its model was trained with "
                                               << layers::chain_start_name(dbn.spec().negative.start)
                                               << "-started chains); use --start noise or --from SPEC");
    }
    if (start != plan.start) {
      plan.start = start;
      why = "--start " + std::string(sample_start_name(start));
      // A start other than the training's keeps the trained chains' length only where it
      // continues them; elsewhere long chains, as from noise for a CD model.
      if (a.gibbs_steps < 0 && start != SampleStart::kPersistent) plan.gibbs.steps = 1000;
    }
  }
  if (a.gibbs_steps >= 0) {
    plan.gibbs.steps = a.gibbs_steps;
    why += "; --gibbs-steps " + std::to_string(a.gibbs_steps);
  }
  if (plan.start == SampleStart::kPersistent && a.count > dbn.chains().back().size(0)) {
    const int64_t m = dbn.chains().back().size(0);
    MRBM_THROW(InvalidArgument, a.count << " samples from the " << m
                                        << " persistent chains of the checkpoint: ask for at most " << m
                                        << " (--count), or start from noise (--start noise)");
  }
  plan.gibbs.visible_samples = a.visible == "sample";
  plan.gibbs.beta_start = a.anneal_from;
  Tensor start;
  if (plan.start == SampleStart::kData) {
    const data::Dataset d = load_images(a.from, a.split, a.count, dbn.spec());
    if (d.count != a.count) {
      MRBM_THROW(InvalidArgument, "--from " << a.from << ": its " << a.split << " split holds "
                                            << d.count << " images, --count asks for " << a.count);
    }
    std::vector<int64_t> idx(static_cast<size_t>(d.count));
    std::iota(idx.begin(), idx.end(), 0);
    start = dbn.prepare_input(data::make_batch(d, idx));
  }
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  std::string extras;
  if (plan.gibbs.visible_samples) extras += ", visible units sampled";
  if (plan.gibbs.beta_start != 1.0) extras += ", annealed from beta " + std::to_string(plan.gibbs.beta_start).substr(0, 6);
  std::fprintf(stderr, "mrbm sample: %lld chains from %s, %lld Gibbs steps%s on %s (%s)\n",
               static_cast<long long>(a.count), sample_start_name(plan.start),
               static_cast<long long>(plan.gibbs.steps), extras.c_str(), to_string(device).c_str(),
               why.c_str());
  const Tensor images = dbn.to_pixels(run_sampling(dbn, plan, a.count, a.seed, start.defined() ? &start : nullptr));
  if (grid) {
    data::write_png_grid(a.out, images);
    std::fprintf(stderr, "mrbm sample: %lld images -> %s\n", static_cast<long long>(a.count), a.out.c_str());
    return;
  }
  // One file per image: all of them, or (failure, Ctrl-C) none.
  std::error_code ec;
  const bool created = fs::create_directory(a.out, ec);
  if (ec) MRBM_THROW(IoError, a.out << ": cannot create the folder: " << ec.message());
  PartialOutput partial = PartialOutput::numbered_folder(a.out, a.count, created);
  data::GridOptions single;
  single.columns = 1;
  single.border = 0;
  for (int64_t i = 0; i < a.count; ++i) {
    data::write_png_grid((fs::path(a.out) / numbered_png_name(i)).string(), images.rows(i, i + 1), single);
  }
  partial.commit();
  std::fprintf(stderr, "mrbm sample: %lld images -> %s/\n", static_cast<long long>(a.count), a.out.c_str());
}

struct ReconstructArgs {
  std::string checkpoint, data = "fashion-mnist", out = "reconstructions.png", device = "auto",
                          split = "test";
  int64_t count = 32, depth = 0;  // depth 0: all layers (the option itself takes 1..layers)
};

void run_reconstruct(const ReconstructArgs& a) {
  check_output_path(a.out, "--out");
  std::string device_note;
  const Device device = resolve_device_quietly(a.device, &device_note);
  LoadedModel m = load_model(a.checkpoint, device);
  const layers::Dbn& dbn = *m.dbn;
  const int64_t layers = static_cast<int64_t>(dbn.num_layers());
  if (a.depth > layers) {
    throw usage_error("--depth " + std::to_string(a.depth) + " is more than the " +
                                              std::to_string(layers) + " layers of model '" +
                                              dbn.spec().name + "' (1.." + std::to_string(layers) + ")");
  }
  const int64_t depth = a.depth > 0 ? a.depth : layers;
  const data::Dataset d = load_images(a.data, a.split, a.count, dbn.spec());
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  std::vector<int64_t> idx(static_cast<size_t>(d.count));
  std::iota(idx.begin(), idx.end(), 0);
  const Tensor originals = data::make_batch(d, idx);
  const Tensor recon = dbn.to_pixels(dbn.reconstruct(dbn.prepare_input(originals), static_cast<size_t>(depth)));
  data::write_png_grid_pair(a.out, originals, recon);
  std::fprintf(stderr, "mrbm reconstruct: %lld images through %lld layers -> %s\n",
               static_cast<long long>(d.count), static_cast<long long>(depth), a.out.c_str());
}

}  // namespace

void register_sample_command(CLI::App& app) {
  auto a = std::make_shared<SampleArgs>();
  auto* cmd = app.add_subcommand("sample", "Generate images from a checkpoint by Gibbs sampling in the top RBM");
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint file (checkpoint.safetensors of a train run)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--count", a->count, "Number of images")->capture_default_str()->check(integer_in(1));
  cmd->add_option("--gibbs-steps", a->gibbs_steps,
                  "Gibbs steps in the top RBM (default: as the model was trained: k of its noise or "
                  "persistent negative phase, 1000 for CD models and other starts)")
      ->check(integer_in(0));
  cmd->add_option("--start", a->start,
                  "Where the chains start: noise, data (needs --from) or persistent (the "
                  "checkpoint's chains) (default: as the model was trained: persistent chains "
                  "when it has them, else noise)")
      ->check(CLI::IsMember({"noise", "data", "persistent"}));
  cmd->add_option("--visible", a->visible,
                  "The top RBM's visible units in the chain: mean (the mean given h, as in "
                  "training) or sample (drawn with the model's sampler); the last step shows means")
      ->capture_default_str()
      ->check(CLI::IsMember({"mean", "sample"}));
  cmd->add_option("--anneal-from", a->anneal_from,
                  "Anneal: the inverse temperature rises linearly from this beta in (0, 1] to 1 "
                  "over the steps (1: no annealing)")
      ->capture_default_str()
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--out", a->out,
                  "A .png file (one grid) or a folder (one PNG per image); its parent folder must exist")
      ->capture_default_str();
  cmd->add_option("--from", a->from, "Start the chains from these data images (a data spec) instead of noise")
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
  cmd->add_option("--split", a->split, "Split of --from")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the chains")->capture_default_str()->check(integer_in(0));
  cmd->add_option("--device", a->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->capture_default_str()
      ->check(CLI::Validator(check_device_syntax, "DEVICE"));
  cmd->callback([a] { run_sample(*a); });
}

void register_reconstruct_command(CLI::App& app) {
  auto a = std::make_shared<ReconstructArgs>();
  auto* cmd = app.add_subcommand("reconstruct", "Reconstruct data images through the model (originals above, reconstructions below)");
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint file (checkpoint.safetensors of a train run)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data, "Data spec (docs/data.md)")
      ->capture_default_str()
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
  cmd->add_option("--split", a->split, "Which split to read")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--count", a->count, "Number of images")->capture_default_str()->check(integer_in(1));
  cmd->add_option("--depth", a->depth, "Layers to go up before coming down, 1..layers (default: all)")
      ->check(integer_in(1));
  cmd->add_option("--out", a->out, "Output PNG; its folder must exist")->capture_default_str();
  cmd->add_option("--device", a->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->capture_default_str()
      ->check(CLI::Validator(check_device_syntax, "DEVICE"));
  cmd->callback([a] { run_reconstruct(*a); });
}

}  // namespace mrbm::tools
