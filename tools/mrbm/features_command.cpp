// `mrbm features`: the hidden means of one layer of a trained DBN for every image of a data set,
// as a .npy matrix for other tools (docs/cli.md).
//
// Output: FILE, NumPy .npy version 1.0, '<f4', C order, shape (count, feature_dim): row i is image
// i of the split (in the data set's order, the first --limit images), the layer's hidden means
// flattened channel-major (tools/mrbm/feature_extraction.h). With labels in the data set, also
// labels_path_for(FILE) ("feat.npy" -> "feat.labels.npy"): '<i4', shape (count,). Both files are
// written atomically (temporary file, then rename); a labels file left by an earlier run on a
// labelled set is removed when the new set has no labels, so the pair never disagrees.
// Batches of --batch images bound the memory; the rows stream to the file.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

#include "core/log.h"
#include "data/data_spec.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/option_checks.h"

namespace mrbm::tools {
namespace {

struct FeaturesOptions {
  std::string checkpoint;
  std::string data;
  std::string split = "train";
  int64_t layer = -1;
  int64_t limit = -1;
  int64_t batch = 256;
  std::string device = "auto";
  std::string out;
};

void run_features(const FeaturesOptions& o) {
  check_output_path(o.out, "--out");
  const std::string labels_path = labels_path_for(o.out);
  const data::DataSpec spec = data::parse_data_spec(o.data);
  std::string device_note;
  const Device device = resolve_device_quietly(o.device, &device_note);
  LoadedModel model = load_model(o.checkpoint, device);
  const size_t layer = resolve_feature_layer(*model.dbn, o.layer);

  const data::Dataset dataset =
      load_split(spec, data::parse_split(o.split), o.limit, &model.info.spec);
  check_data_fits_model(dataset, o.data, model.info.spec);
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  MRBM_LOG_INFO("features: " << data::describe_dataset(dataset) << "; model '"
                             << model.info.spec.name << "' layer " << layer << " of "
                             << model.dbn->num_layers() << " on " << to_string(device));

  const int64_t dim = shape_numel(model.dbn->layer(layer).hidden_shape());
  NpyFileWriter features(o.out, "<f4", {dataset.count, dim}, sizeof(float));
  std::unique_ptr<NpyFileWriter> labels;
  if (dataset.has_labels()) {
    labels = std::make_unique<NpyFileWriter>(labels_path, "<i4", Shape{dataset.count},
                                             sizeof(int32_t));
    labels->append(dataset.labels.data(), dataset.count * static_cast<int64_t>(sizeof(int32_t)));
  }
  Progress progress("features", dataset.count, "img");
  compute_features(
      *model.dbn, dataset, layer, o.batch,
      [&](int64_t, int64_t n, int64_t d, const float* values) {
        features.append(values, n * d * static_cast<int64_t>(sizeof(float)));
      },
      &progress);
  features.commit();
  if (labels) {
    labels->commit();
  } else {
    std::error_code ec;
    if (std::filesystem::remove(labels_path, ec)) {
      MRBM_LOG_INFO("features: removed the stale " << labels_path << " (this data set has no labels)");
    }
  }
  MRBM_LOG_INFO("features: wrote " << o.out << " [" << dataset.count << ", " << dim << "]"
                                   << (labels ? " and " + labels_path : std::string()));
}

}  // namespace

void register_features_command(CLI::App& app) {
  auto o = std::make_shared<FeaturesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "features", "Write the hidden means of one layer for every image as a .npy matrix");
  add_checkpoint_and_data_options(cmd, o->checkpoint, o->data);
  cmd->add_option("--split", o->split, "Which split to read")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--layer", o->layer, "Layer whose hidden means are the features (0-based; -1: the top)")
      ->check(integer_in(-1, 1000))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Only the first K images of the split (-1: all)")
      ->check(count_or_all())
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per batch (bounds the memory)")
      ->check(integer_in(1, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->check(CLI::Validator(check_device_syntax, "DEVICE"))
      ->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Output .npy file (float32 [count, dim]); labels go to <out without .npy>.labels.npy")
      ->required();
  cmd->callback([o] { run_features(*o); });
}

}  // namespace mrbm::tools
