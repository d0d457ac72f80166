// Checkpoints (layers/checkpoint.h): the metadata (read_checkpoint_info: format, the JSON model
// spec inside the safetensors metadata, the counters) and the full load into a model built from a
// fixed spec (fuzz_checkpoint.h), with and without the optimizer state: the loader's checks of the
// spec, every tensor's presence, shape and dtype, the Adam state and the persistent chains.
#include "autodiff/adam.h"
#include "layers/checkpoint.h"
#include "test/fuzz/fuzz_checkpoint.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm;
  static layers::Dbn dbn(fuzz::checkpoint_spec(), Device::cpu(), nullptr, 1);
  static autodiff::Adam adam(dbn.parameters());
  const std::string path = fuzz::write_input("checkpoint.safetensors", data, size);
  fuzz::expect_contract("read_checkpoint_info", [&] {
    const layers::CheckpointInfo info = layers::read_checkpoint_info(path);
    MRBM_FUZZ_ASSERT(!info.spec.layers.empty() && info.epoch >= 0 && info.step >= 0);
  });
  for (autodiff::Adam* optimizer : {static_cast<autodiff::Adam*>(nullptr), &adam}) {
    fuzz::expect_contract("load_checkpoint", [&] {
      const layers::CheckpointInfo info = layers::load_checkpoint(path, dbn, optimizer);
      MRBM_FUZZ_ASSERT(layers::model_spec_to_json(info.spec) ==
                       layers::model_spec_to_json(dbn.spec()));
    });
  }
  return 0;
}
