// One image file through the image-folder reader (data/image_folder_reader.h): stb_image decode,
// grey-to-colour (or colour-to-grey), center crop, resize, planar copy. The output channels (1 or
// 3) and size (1..8) follow from the input's length, so that every combination is reached without
// spending input bytes on options.
#include "data/image_folder_reader.h"
#include "test/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrbm::data;
  const std::string path = mrbm::fuzz::write_input("input.png", data, size);
  ImageFolderOptions options;
  options.channels = size % 2 == 0 ? 3 : 1;
  options.size = 1 + static_cast<int64_t>(size / 2 % 8);
  options.threads = 1;
  // 2^16 pixels, not the default 2^25: a header that claims millions of pixels takes about a second
  // to decode under the sanitizers, and such inputs had slowed the whole run to 15-40 executions/s.
  // The size check itself is the same code whatever the limit.
  options.max_pixels = int64_t{1} << 16;
  mrbm::fuzz::expect_contract("read_image_files", [&] {
    const Dataset d = read_image_files({path}, options);
    check_dataset(d);
    MRBM_FUZZ_ASSERT(d.count == 1 && d.channels == options.channels);
    MRBM_FUZZ_ASSERT(d.height == options.size && d.width == options.size);
  });
  return 0;
}
