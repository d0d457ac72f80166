// The subcommands of the mrbm tool. Each registers itself on the CLI11 app; main.cpp owns error
// handling (one line `mrbm: error: ...`, exit 2 for usage errors, 1 for the rest).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace mrbm::tools {

// A usage error found after parsing (an invalid combination, a value the model or the run folder
// does not allow): main reports `message` as it is, with exit 2.
inline CLI::ValidationError usage_error(const std::string& message) {
  return CLI::ValidationError(message, CLI::ExitCodes::ValidationError);
}

void register_info_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_features_command(CLI::App& app);
void register_classify_command(CLI::App& app);
void register_free_energy_command(CLI::App& app);
void register_train_command(CLI::App& app);
void register_sample_command(CLI::App& app);
void register_reconstruct_command(CLI::App& app);
void register_presets_command(CLI::App& app);
void register_evaluate_command(CLI::App& app);

// Thrown after Ctrl-C or SIGTERM once the work is saved: main exits with `exit_code`, the shell's
// code for the signal (130 for SIGINT, 143 for SIGTERM).
struct Interrupted {
  int exit_code = 130;
};

}  // namespace mrbm::tools
