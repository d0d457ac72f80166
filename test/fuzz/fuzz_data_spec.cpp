// The `--data KIND[:DIR]` string (data/data_spec.h). An accepted spec has a known kind and a
// folder; the folder is everything after the first ':' (or the default for fashion-mnist).
#include <set>

#include "data/data_spec.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm::data;
  const std::string text(reinterpret_cast<const char*>(data), size);
  mrbm::fuzz::expect_contract("parse_data_spec", [&] {
    const DataSpec spec = parse_data_spec(text);
    static const std::set<std::string> kinds = {"fashion-mnist", "mnist", "cifar10", "celeba",
                                                "images"};
    MRBM_FUZZ_ASSERT(kinds.count(spec.kind) == 1);
    MRBM_FUZZ_ASSERT(!spec.dir.empty());
    const size_t colon = text.find(':');
    MRBM_FUZZ_ASSERT(text.substr(0, colon) == spec.kind);
    if (colon != std::string::npos) MRBM_FUZZ_ASSERT(text.substr(colon + 1) == spec.dir);
  });
  return 0;
}
