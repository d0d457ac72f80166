// Safetensors files (core/safetensors.h): the header alone and the whole file. What the loader
// returns must agree with the header it validated.
#include "core/safetensors.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm;
  const std::string path = fuzz::write_input("input.safetensors", data, size);
  fuzz::expect_contract("read_safetensors_header", [&] {
    const SafetensorsHeader h = read_safetensors_header(path);
    MRBM_FUZZ_ASSERT(h.buffer_start() + h.buffer_size == static_cast<int64_t>(size));
    int64_t total = 0;
    for (const auto& [name, entry] : h.tensors) {
      MRBM_FUZZ_ASSERT(0 <= entry.begin && entry.begin <= entry.end && entry.end <= h.buffer_size);
      total += entry.end - entry.begin;
    }
    MRBM_FUZZ_ASSERT(total == h.buffer_size);
  });
  fuzz::expect_contract("load_safetensors", [&] {
    const TensorFile f = load_safetensors(path);
    int64_t total = 0;
    for (const auto& [name, t] : f.tensors) {
      MRBM_FUZZ_ASSERT(t.defined() && t.is_cpu());
      total += t.bytes();
    }
    MRBM_FUZZ_ASSERT(total <= static_cast<int64_t>(size));
  });
  return 0;
}
