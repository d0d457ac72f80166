// IDX images and labels (data/idx_reader.h), raw and gzip: the input as a file (a gzip input goes
// through zlib because of its magic bytes), and, when it is not gzip already, the input
// gzip-compressed, so that the fuzzer's IDX mutations reach the .gz path too.
#include <zlib.h>

#include <vector>

#include "data/idx_reader.h"
#include "test/fuzz/fuzz_support.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&z, size) + 32);
  z.next_in = const_cast<uint8_t*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void check(const std::string& path) {
  using namespace mrbm::data;
  mrbm::fuzz::expect_contract("read_idx_images", [&] {
    const Dataset d = read_idx_images(path);
    check_dataset(d);
    MRBM_FUZZ_ASSERT(d.channels == 1 && !d.has_labels());
    MRBM_FUZZ_ASSERT(static_cast<int64_t>(d.pixels.size()) == d.count * d.height * d.width);
  });
  mrbm::fuzz::expect_contract("read_idx_labels", [&] {
    const std::vector<int32_t> labels = read_idx_labels(path);
    for (const int32_t l : labels) MRBM_FUZZ_ASSERT(l >= 0 && l <= 255);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(mrbm::fuzz::write_input("input.idx", data, size));
  if (!(size >= 2 && data[0] == 0x1f && data[1] == 0x8b)) {
    const std::vector<uint8_t> gz = gzip(data, size);
    check(mrbm::fuzz::write_input("input.idx.gz", gz.data(), gz.size()));
  }
  return 0;
}
