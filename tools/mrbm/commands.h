// The subcommands of the mrbm tool. Each registers itself on the CLI11 app; main.cpp owns error
// handling (one line `mrbm: error: ...`, exit 2 for usage errors, 1 for the rest).
#pragma once

namespace CLI {
class App;
}

namespace mrbm::tools {

void register_info_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_features_command(CLI::App& app);
void register_classify_command(CLI::App& app);
void register_free_energy_command(CLI::App& app);
void register_train_command(CLI::App& app);
void register_sample_command(CLI::App& app);
void register_reconstruct_command(CLI::App& app);
void register_evaluate_command(CLI::App& app);

// Thrown after Ctrl-C once the work is saved: main exits with 130 (the shell's code for SIGINT).
struct Interrupted {};

}  // namespace mrbm::tools
