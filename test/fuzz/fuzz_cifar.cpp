// CIFAR-10 binary batches (data/cifar_reader.h): the input as one batch file, and twice in a row
// as two files (the reader appends the second to the first).
#include "data/cifar_reader.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm::data;
  const std::string path = mrbm::fuzz::write_input("data_batch_1.bin", data, size);
  for (const std::vector<std::string>& paths :
       {std::vector<std::string>{path}, std::vector<std::string>{path, path}}) {
    mrbm::fuzz::expect_contract("read_cifar10_files", [&] {
      const Dataset d = read_cifar10_files(paths);
      check_dataset(d);
      MRBM_FUZZ_ASSERT(d.channels == 3 && d.height == 32 && d.width == 32);
      MRBM_FUZZ_ASSERT(d.count > 0 && static_cast<int64_t>(d.labels.size()) == d.count);
      const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
      MRBM_FUZZ_ASSERT(gzip || d.count * kCifarRecordBytes ==
                                   static_cast<int64_t>(size * paths.size()));
      for (const int32_t l : d.labels) MRBM_FUZZ_ASSERT(l >= 0 && l < kCifarClasses);
    });
  }
  return 0;
}
