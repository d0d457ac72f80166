// Numeric option validators (tools/mrbm/option_checks.h).
#include "tools/mrbm/option_checks.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>

namespace mrbm::tools {
namespace {

std::optional<int64_t> parse_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (errno == ERANGE || end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string describe_integer_range(int64_t min, int64_t max) {
  if (max == INT64_MAX) {
    if (min == 1) return "a positive integer";
    if (min == 0) return "a non-negative integer";
    return "an integer >= " + std::to_string(min);
  }
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

std::string shortest(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

CLI::Validator integer_in(int64_t min, int64_t max) {
  const std::string what = describe_integer_range(min, max);
  CLI::Validator v(
      [=](std::string& text) -> std::string {
        const auto n = parse_integer(text);
        if (!n || *n < min || *n > max) return "must be " + what + ", got '" + text + "'";
        return "";
      },
      max == INT64_MAX ? ">=" + std::to_string(min)
                       : "in " + std::to_string(min) + ".." + std::to_string(max));
  return v.non_modifying();
}

CLI::Validator count_or_all() {
  CLI::Validator v(
      [](std::string& text) -> std::string {
        const auto n = parse_integer(text);
        if (!n || (*n < 1 && *n != -1)) {
          return "must be a positive integer (or -1: all), got '" + text + "'";
        }
        return "";
      },
      ">0 or -1 (all)");
  return v.non_modifying();
}

CLI::Validator positive_number() {
  CLI::Validator v(
      [](std::string& text) -> std::string {
        const auto x = parse_number(text);
        if (!x || !(*x > 0)) return "must be a positive number, got '" + text + "'";
        return "";
      },
      ">0");
  return v.non_modifying();
}

CLI::Validator number_in(double min, double max) {
  CLI::Validator v(
      [=](std::string& text) -> std::string {
        const auto x = parse_number(text);
        if (!x || *x < min || *x > max) {
          return "must be a number from " + shortest(min) + " to " + shortest(max) + ", got '" +
                 text + "'";
        }
        return "";
      },
      "in " + shortest(min) + ".." + shortest(max));
  return v.non_modifying();
}

}  // namespace mrbm::tools
