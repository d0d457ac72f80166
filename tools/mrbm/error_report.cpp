// Error lines for users (tools/mrbm/error_report.h).
#include "tools/mrbm/error_report.h"

#include <algorithm>
#include <regex>

namespace mrbm::tools {

std::string without_source_locations(const std::string& message) {
  // core/error.h's two shapes; a message may hold several (an error quoting another one).
  static const std::regex at(R"( \(at [^ ()]+:[0-9]+\))");
  static const std::regex check(R"( \(check `[^`]*` failed at [^ ()]+:[0-9]+\))");
  return std::regex_replace(std::regex_replace(message, check, ""), at, "");
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_name(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& name : names) {
    const size_t d = name.rfind(word, 0) == 0 && !word.empty() ? 1 : edit_distance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

}  // namespace mrbm::tools
