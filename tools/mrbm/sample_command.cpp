// `mrbm sample` and `mrbm reconstruct`: images from a trained checkpoint (docs/cli.md).
//
// sample: Gibbs sampling in the top RBM (from uniform noise, or from the up pass of data images
// with --from), then the top-down pass of means (layers/dbn.h). --out FILE.png writes a grid;
// any other --out is a folder that receives one PNG per image (000000.png, ...) for external
// tools such as FID scripts.
// reconstruct: originals above, their reconstructions through --depth layers below.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <numeric>

#include "data/data_spec.h"
#include "data/png_grid.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/model_loading.h"

namespace mrbm::tools {
namespace {

namespace fs = std::filesystem;

bool ends_with_png(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".png") == 0;
}

data::Dataset load_images(const std::string& spec_text, const std::string& split, int64_t count,
                          const layers::ModelSpec& model) {
  data::LoadOptions o;
  o.split = data::parse_split(split);
  o.limit = count;
  o.images.size = model.height;  // square crops (image folders)
  o.images.channels = model.channels;
  data::Dataset d = data::load_dataset(data::parse_data_spec(spec_text), o);
  MRBM_CHECK(d.channels == model.channels && d.height == model.height && d.width == model.width,
             "the data " << spec_text << " has images " << d.channels << "x" << d.height << "x"
                         << d.width << ", the model takes " << model.channels << "x" << model.height
                         << "x" << model.width);
  return d;
}

struct SampleArgs {
  std::string checkpoint, out = "samples.png", device = "auto", from, split = "test";
  int64_t count = 64, gibbs_steps = 1000;
  uint64_t seed = 1;
};

void run_sample(const SampleArgs& a) {
  LoadedModel m = load_model(a.checkpoint, resolve_device(a.device));
  const layers::Dbn& dbn = *m.dbn;
  Tensor start;
  if (!a.from.empty()) {
    const data::Dataset d = load_images(a.from, a.split, a.count, dbn.spec());
    MRBM_CHECK(d.count == a.count, a.from << " holds " << d.count << " images, --count asks for " << a.count);
    std::vector<int64_t> idx(static_cast<size_t>(d.count));
    std::iota(idx.begin(), idx.end(), 0);
    start = dbn.prepare_input(data::make_batch(d, idx));
  }
  const Tensor images = dbn.to_pixels(dbn.generate(a.count, a.gibbs_steps, a.seed, a.from.empty() ? nullptr : &start));
  if (ends_with_png(a.out)) {
    data::write_png_grid(a.out, images);
    std::fprintf(stderr, "mrbm sample: %lld images -> %s\n", static_cast<long long>(a.count), a.out.c_str());
    return;
  }
  fs::create_directories(a.out);
  data::GridOptions single;
  single.columns = 1;
  single.border = 0;
  for (int64_t i = 0; i < a.count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(i));
    data::write_png_grid((fs::path(a.out) / name).string(), images.rows(i, i + 1), single);
  }
  std::fprintf(stderr, "mrbm sample: %lld images -> %s/\n", static_cast<long long>(a.count), a.out.c_str());
}

struct ReconstructArgs {
  std::string checkpoint, data = "fashion-mnist", out = "reconstructions.png", device = "auto",
                          split = "test";
  int64_t count = 32, depth = 0;
};

void run_reconstruct(const ReconstructArgs& a) {
  LoadedModel m = load_model(a.checkpoint, resolve_device(a.device));
  const layers::Dbn& dbn = *m.dbn;
  const int64_t depth = a.depth > 0 ? a.depth : static_cast<int64_t>(dbn.num_layers());
  MRBM_CHECK(depth <= static_cast<int64_t>(dbn.num_layers()),
             "--depth " << depth << ": the model has " << dbn.num_layers() << " layers");
  const data::Dataset d = load_images(a.data, a.split, a.count, dbn.spec());
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
      ->required();
  cmd->add_option("--count", a->count, "Number of images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--gibbs-steps", a->gibbs_steps, "Gibbs steps in the top RBM")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", a->out, "A .png file (one grid) or a folder (one PNG per image)")->capture_default_str();
  cmd->add_option("--from", a->from, "Start the chains from these data images (a data spec) instead of noise");
  cmd->add_option("--split", a->split, "Split of --from: train or test")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the chains")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([a] { run_sample(*a); });
}

void register_reconstruct_command(CLI::App& app) {
  auto a = std::make_shared<ReconstructArgs>();
  auto* cmd = app.add_subcommand("reconstruct", "Reconstruct data images through the model (originals above, reconstructions below)");
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint file")->required();
  cmd->add_option("--data", a->data, "Data spec (docs/data.md)")->capture_default_str();
  cmd->add_option("--split", a->split, "train or test")->capture_default_str();
  cmd->add_option("--count", a->count, "Number of images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--depth", a->depth, "Layers to go up before coming down (default: all)");
  cmd->add_option("--out", a->out, "Output PNG")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([a] { run_reconstruct(*a); });
}

}  // namespace mrbm::tools
