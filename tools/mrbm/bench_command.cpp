// `mrbm bench`: the benchmark subcommands (docs/benchmarks.md). Each bench validates its variants
// against the float64 reference before timing them and reports throughput against a memory
// ceiling measured in the same run; the shared timing/ceiling/output helpers are in
// bench_timing.h. Subcommands: one register_bench_<name>() per bench_<name>.cpp, declared in
// bench_timing.h (multinary, conv, train_step).
// Paired reference: none (tool code).
#include <CLI/CLI.hpp>

#include "tools/mrbm/bench_timing.h"
#include "tools/mrbm/commands.h"

namespace mrbm::tools {

void register_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Validate, then time the kernels (elements/s, GB/s against a measured ceiling)");
  bench->require_subcommand(1);
  register_bench_multinary(*bench);
  register_bench_conv(*bench);
  register_bench_train_step(*bench);
}

}  // namespace mrbm::tools
