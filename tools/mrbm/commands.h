// The subcommands of the mrbm tool. Each registers itself on the CLI11 app; main.cpp owns error
// handling (one line `mrbm: error: ...`, exit 2 for usage errors, 1 for the rest).
#pragma once

namespace CLI {
class App;
}

namespace mrbm::tools {

void register_info_command(CLI::App& app);
void register_bench_command(CLI::App& app);

}  // namespace mrbm::tools
