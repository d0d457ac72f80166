// `mrbm free-energy`: layer 0's free energy F(v) of each image under a trained DBN (docs/math.md;
// docs/cli.md), e.g. to compare training and test images (overfitting) or to rank images.
//
// Output: JSON Lines, one object per image in the data set's order,
//   {"index": i, "label": l, "free_energy": F}
// i the image's index in the split, l its class (null when the data set has no labels), F the
// float64 free energy of the input v (the image scaled to the input unit's range, as in training),
// written with the shortest text that reads back to the same double. To stdout with --out -
// (streamed, batch by batch), else to a file written atomically once all images are done.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "data/file_io.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/option_checks.h"

namespace mrbm::tools {
namespace {

struct FreeEnergyOptions {
  std::string checkpoint;
  std::string data;
  std::string split = "test";
  int64_t count = -1;
  int64_t batch = 256;
  std::string device = "auto";
  std::string out = "-";
};

// One output line (with its newline); key order as documented.
std::string free_energy_line(int64_t index, const std::vector<int32_t>& labels, double f) {
  nlohmann::ordered_json j;
  j["index"] = index;
  j["label"] = labels.empty() ? nlohmann::ordered_json(nullptr)
                              : nlohmann::ordered_json(labels[static_cast<size_t>(index)]);
  j["free_energy"] = f;  // a NaN or an infinity would be written as null
  return j.dump() + "\n";
}

void run_free_energy(const FreeEnergyOptions& o) {
  const bool to_stdout = o.out == "-";
  if (!to_stdout) check_output_path(o.out, "--out");
  const data::DataSpec spec = data::parse_data_spec(o.data);
  std::string device_note;
  const Device device = resolve_device_quietly(o.device, &device_note);
  LoadedModel model = load_model(o.checkpoint, device);
  const data::Dataset dataset =
      load_split(spec, data::parse_split(o.split), o.count, &model.info.spec);
  check_data_fits_model(dataset, o.data, model.info.spec);
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  MRBM_LOG_INFO("free-energy: " << data::describe_dataset(dataset) << "; model '"
                                << model.info.spec.name << "' on " << to_string(device));

  std::string text;  // the file's content (not used for stdout)
  Progress progress("free-energy", dataset.count, "img");
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < dataset.count; begin += o.batch) {
    const int64_t n = std::min(o.batch, dataset.count - begin);
    indices.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = begin + i;
    const Tensor input = model.dbn->prepare_input(data::make_batch(dataset, indices));
    const std::vector<double> f = model.dbn->free_energy(input).to_vector<double>(model.dbn->stream());
    MRBM_CHECK(static_cast<int64_t>(f.size()) == n,
               "free-energy: " << f.size() << " values for a batch of " << n);
    std::string lines;
    for (int64_t i = 0; i < n; ++i) lines += free_energy_line(begin + i, dataset.labels, f[static_cast<size_t>(i)]);
    if (to_stdout) {
      if (std::fwrite(lines.data(), 1, lines.size(), stdout) != lines.size() || std::fflush(stdout) != 0) {
        MRBM_THROW(IoError, "stdout: write failed");
      }
    } else {
      text += lines;
    }
    progress.update(begin + n);
  }
  progress.finish();
  if (!to_stdout) {
    data::write_file_atomically(o.out, std::vector<uint8_t>(text.begin(), text.end()));
    MRBM_LOG_INFO("free-energy: wrote " << dataset.count << " lines to " << o.out);
  }
}

}  // namespace

void register_free_energy_command(CLI::App& app) {
  auto o = std::make_shared<FreeEnergyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "free-energy", "Print layer 0's free energy F(v) of each image as JSON lines");
  add_checkpoint_and_data_options(cmd, o->checkpoint, o->data);
  cmd->add_option("--split", o->split, "Which split to read")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--count", o->count, "Only the first K images of the split (-1: all)")
      ->check(count_or_all())
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per batch (bounds the memory)")
      ->check(integer_in(1, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->check(CLI::Validator(check_device_syntax, "DEVICE"))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output file of JSON lines; - for stdout")->capture_default_str();
  cmd->callback([o] { run_free_energy(*o); });
}

}  // namespace mrbm::tools
