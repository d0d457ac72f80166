// `mrbm presets`: the model presets `mrbm train --model` accepts, one line each (docs/models.md
// has the details), so a user finds them without reading the source or the docs.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "layers/model_spec.h"
#include "tools/mrbm/commands.h"

namespace mrbm::tools {
namespace {

// "conv 64-128-256, dense 1000-500" from the layer list.
std::string layer_summary(const layers::ModelSpec& s) {
  std::string conv, dense;
  for (const auto& l : s.layers) {
    std::string& list = l.type == "conv" ? conv : dense;
    list += (list.empty() ? "" : "-") + std::to_string(l.size);
  }
  std::string out;
  if (!conv.empty()) out += "conv " + conv;
  if (!dense.empty()) out += (out.empty() ? "dense " : ", dense ") + dense;
  return out;
}

void print_presets() {
  for (const auto& name : layers::preset_names()) {
    const layers::ModelSpec s = layers::preset(name);
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-22s %lldx%lldx%lld input, %s; %s units (n=%d); lr %g, batch %lld, %lld epochs",
                  name.c_str(), static_cast<long long>(s.channels),
                  static_cast<long long>(s.height), static_cast<long long>(s.width),
                  layer_summary(s).c_str(), layers::unit_kind_name(s.input_unit.kind),
                  s.input_unit.n, s.training.lr, static_cast<long long>(s.training.batch),
                  static_cast<long long>(s.training.epochs));
    std::string negative;
    if (!(s.negative == layers::NegativePhase{})) {
      negative = std::string("; negative phase ") + layers::chain_start_name(s.negative.start) +
                 ", " + std::to_string(s.negative.steps) + " Gibbs steps";
    }
    std::printf("%s%s\n", line, negative.c_str());
  }
}

}  // namespace

void register_presets_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "presets", "List the model presets of mrbm train --model (input, layers, units, training defaults)");
  cmd->callback(print_presets);
}

}  // namespace mrbm::tools
