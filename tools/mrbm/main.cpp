// The mrbm command: parses the subcommand, runs it, and turns every exception into one line
// `mrbm: error: ...` on stderr with a non-zero exit (2 for usage errors, 1 for the rest).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "tools/mrbm/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"mrbm: multinary restricted Boltzmann machines (train, sample, benchmark)", "mrbm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mrbm " MRBM_VERSION);
  mrbm::tools::register_info_command(app);
  mrbm::tools::register_bench_command(app);
  mrbm::tools::register_features_command(app);
  mrbm::tools::register_classify_command(app);
  mrbm::tools::register_free_energy_command(app);
  mrbm::tools::register_train_command(app);
  mrbm::tools::register_sample_command(app);
  mrbm::tools::register_reconstruct_command(app);
  mrbm::tools::register_evaluate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "mrbm: error: %s (see mrbm --help)\n", e.what());
    return 2;
  } catch (const mrbm::tools::Interrupted&) {
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mrbm: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
