// The mrbm command: parses the subcommand, runs it, and turns every exception into one line
// `mrbm: error: ...` on stderr (tools/mrbm/error_report.h) with the exit codes of docs/cli.md:
// 2 for usage errors (CLI11's, and the validators' of tools/mrbm/option_checks.h), 1 for the
// rest, 128 + the signal for an interrupted run.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <regex>

#include "core/log.h"
#include "mrbm_git_commit.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/error_report.h"

namespace {

std::string version_line() { return "mrbm " MRBM_VERSION " (git " MRBM_GIT_COMMIT ")"; }

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  names.push_back("help");
  names.push_back("version");
  return names;
}

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

int usage_error(const std::string& message, const std::string& help) {
  std::fprintf(stderr, "mrbm: error: %s (see %s)\n", message.c_str(), help.c_str());
  return 2;
}

// `mrbm help [COMMAND]`, `mrbm version`, and an unknown or missing command, before CLI11 parses
// (it would only say "A subcommand is required"). Returns the exit code, or -1 to go on parsing.
int handle_command_word(CLI::App& app, int argc, char** argv) {
  std::string all;
  for (const auto& n : command_names(app)) all += (all.empty() ? "" : ", ") + n;
  if (argc < 2) return usage_error("a command is required: " + all, "mrbm help");
  const std::string word = argv[1];
  if (word == "version") {
    std::printf("%s\n", version_line().c_str());
    return 0;
  }
  if (word == "help") {
    if (argc == 2) {
      std::printf("%s", app.help().c_str());
      return 0;
    }
    if (const CLI::App* sub = find_command(app, argv[2])) {
      std::printf("%s", sub->help().c_str());
      return 0;
    }
    const std::string guess = mrbm::tools::closest_name(argv[2], command_names(app));
    return usage_error(std::string("unknown command '") + argv[2] + "'" +
                           (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                           "; the commands: " + all,
                       "mrbm help");
  }
  if (word.empty() || word[0] == '-' || find_command(app, word) != nullptr) return -1;
  const std::string guess = mrbm::tools::closest_name(word, command_names(app));
  return usage_error("unknown command '" + word + "'" +
                         (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                         "; the commands: " + all,
                     "mrbm help");
}

// CLI11 writes "--batch: must be ..." for a validator's message: "--batch must be ...".
std::string usage_message(const std::string& what) {
  static const std::regex option_colon(R"(^(--[A-Za-z0-9-]+): (must be|differs))");
  return std::regex_replace(what, option_colon, "$1 $2");
}

}  // namespace

int main(int argc, char** argv) {
  // A file size limit (ulimit -f) reached must be a write error naming the file (EFBIG, handled like a
  // full disk: the previous checkpoint stays), not SIGXFSZ's silent death with a half-written file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"mrbm: multinary restricted Boltzmann machines (train, sample, benchmark)", "mrbm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_line());
  app.footer("mrbm help COMMAND (or mrbm COMMAND --help) lists a command's options; docs/cli.md\n");
  mrbm::tools::register_info_command(app);
  mrbm::tools::register_presets_command(app);
  mrbm::tools::register_bench_command(app);
  mrbm::tools::register_features_command(app);
  mrbm::tools::register_classify_command(app);
  mrbm::tools::register_free_energy_command(app);
  mrbm::tools::register_train_command(app);
  mrbm::tools::register_sample_command(app);
  mrbm::tools::register_reconstruct_command(app);
  mrbm::tools::register_evaluate_command(app);
  if (const int code = handle_command_word(app, argc, argv); code >= 0) return code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // "mrbm bench conv --help": the chain of the subcommands parsed so far.
    std::string help = "mrbm";
    for (const CLI::App* level = &app; !level->get_subcommands().empty();) {
      level = level->get_subcommands().back();
      help += " " + level->get_name();
    }
    help += " --help";
    MRBM_LOG_DEBUG("usage error raised as: " << e.what());
    return usage_error(usage_message(mrbm::tools::without_source_locations(e.what())), help);
  } catch (const mrbm::tools::Interrupted& e) {
    return e.exit_code;
  } catch (const std::exception& e) {
    MRBM_LOG_DEBUG("error raised as: " << e.what());
    std::fprintf(stderr, "mrbm: error: %s\n", mrbm::tools::without_source_locations(e.what()).c_str());
    return 1;
  }
  return 0;
}
