// What main.cpp prints for a failure: one line `mrbm: error: <what is wrong>`, for users. The
// library's messages end with where they were raised ("(at core/x.cpp:42)", "(check `cond`
// failed at layers/y.cpp:7)"); those locations help a developer, not a user, so they are removed
// from the line and logged at debug level instead (MRBM_LOG_LEVEL=debug shows them).
#pragma once

#include <string>
#include <vector>

namespace mrbm::tools {

// `message` without its source locations and checked expressions.
std::string without_source_locations(const std::string& message);

// The closest of `names` to `word` (edit distance at most 2, or `word` a prefix of it), or "".
std::string closest_name(const std::string& word, const std::vector<std::string>& names);

}  // namespace mrbm::tools
