// The JSON model spec (layers/model_spec.h) from a file, as `mrbm train --model FILE` reads it. An
// accepted spec must survive its own round trip: to_json, then from_json, gives the same JSON.
#include "layers/model_spec.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm::layers;
  const std::string path = mrbm::fuzz::write_input("model.json", data, size);
  mrbm::fuzz::expect_contract("load_model_spec", [&] {
    const ModelSpec spec = load_model_spec(path);
    MRBM_FUZZ_ASSERT(!spec.layers.empty());
    const nlohmann::json j = model_spec_to_json(spec);
    MRBM_FUZZ_ASSERT(model_spec_to_json(model_spec_from_json(j, "round trip")) == j);
  });
  return 0;
}
