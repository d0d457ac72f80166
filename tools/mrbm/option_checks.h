// CLI11 validators for the numeric options of every subcommand, with ranges written as users read
// them: "--batch: must be a positive integer, got 0" instead of CLI11's "Value 0 not in range
// 0.000000 to 1797693134862315708145...". Each parses the whole text strictly ("1e-3x", "nan",
// "2.5" for an integer are refused), so a malformed value is a usage error (exit 2) before any
// work starts.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

namespace mrbm::tools {

// An integer in [min, max]; the message names the range in words ("a positive integer",
// "an integer from 0 to 4096").
CLI::Validator integer_in(int64_t min, int64_t max = INT64_MAX);
// A positive integer, or -1 meaning "all" (the --limit/--count options of the reading commands).
CLI::Validator count_or_all();
// A finite number > 0 (learning rates, SVM costs).
CLI::Validator positive_number();
// A finite number in [min, max].
CLI::Validator number_in(double min, double max);

}  // namespace mrbm::tools
