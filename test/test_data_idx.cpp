// Tests of data/idx_reader.h and data/file_io.h: IDX image and label files written here (raw, and
// gzip through zlib's gzopen/gzwrite) read back byte for byte; every malformed file (wrong magic,
// truncated header or data, trailing bytes, count mismatch, truncated gzip, missing file) gives an
// IoError naming the file; the real Fashion-MNIST of Debian loads with its known sizes.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#if defined(MRBM_HAVE_ZLIB)
#include <zlib.h>
#endif

#include "data/data_spec.h"
#include "data/file_io.h"
#include "data/idx_reader.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

// A fresh folder under the system temp folder, removed with its content at scope exit.
using mrbm::test::TempDir;

using mrbm::test::write_bytes;

#if defined(MRBM_HAVE_ZLIB)
void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}
#endif

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX file: magic (type 0x08, sizes.size() dimensions), sizes, then `data`.
std::vector<uint8_t> idx_file(const std::vector<uint32_t>& sizes,
                              const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(sizes.size())};
  for (uint32_t s : sizes) put_be32(out, s);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// N images of rows x cols with distinct bytes, and N labels.
std::vector<uint8_t> pattern(int64_t n) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return v;
}

using mrbm::test::message_of;

}  // namespace

TEST_CASE("IDX images and labels round-trip exactly", "[data]") {
  TempDir dir;
  const std::vector<uint8_t> pixels = pattern(3 * 4 * 5);
  const std::vector<uint8_t> labels = {7, 0, 9};
  write_bytes(dir.file("img"), idx_file({3, 4, 5}, pixels));
  write_bytes(dir.file("lab"), idx_file({3}, labels));
  const mrbm::data::Dataset d = mrbm::data::read_idx(dir.file("img"), dir.file("lab"));
  CHECK(d.count == 3);
  CHECK(d.channels == 1);
  CHECK(d.height == 4);
  CHECK(d.width == 5);
  CHECK(d.pixels == pixels);
  CHECK(d.labels == std::vector<int32_t>{7, 0, 9});
  CHECK_NOTHROW(mrbm::data::check_dataset(d));
}

#if defined(MRBM_HAVE_ZLIB)
TEST_CASE("IDX .gz files read the same as plain ones", "[data]") {
  TempDir dir;
  const std::vector<uint8_t> pixels = pattern(2 * 28 * 28);
  write_gzip(dir.file("img.gz"), idx_file({2, 28, 28}, pixels));
  write_gzip(dir.file("lab.gz"), idx_file({2}, {3, 4}));
  // The test's own gzip writer must really have compressed (else this proves nothing).
  const std::vector<uint8_t> raw = read_raw(dir.file("img.gz"));
  REQUIRE(raw.size() >= 2);
  REQUIRE(raw[0] == 0x1f);
  REQUIRE(raw[1] == 0x8b);
  const mrbm::data::Dataset d = mrbm::data::read_idx(dir.file("img.gz"), dir.file("lab.gz"));
  CHECK(d.count == 2);
  CHECK(d.height == 28);
  CHECK(d.pixels == pixels);
  CHECK(d.labels == std::vector<int32_t>{3, 4});
  CHECK(mrbm::data::read_file_bytes(dir.file("img.gz")) == idx_file({2, 28, 28}, pixels));
}

TEST_CASE("a truncated gzip file is an IoError naming it", "[data]") {
  TempDir dir;
  write_gzip(dir.file("full.gz"), idx_file({4, 28, 28}, pattern(4 * 28 * 28)));
  std::vector<uint8_t> gz = read_raw(dir.file("full.gz"));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("cut.gz"), gz);
  const std::string msg =
      message_of<mrbm::IoError>([&] { mrbm::data::read_idx_images(dir.file("cut.gz")); });
  CHECK_THAT(msg, Contains(dir.file("cut.gz")));
  CHECK_THAT(msg, Contains("gzip"));
}
#endif

TEST_CASE("gzip support matches the build", "[data]") {
#if defined(MRBM_HAVE_ZLIB)
  CHECK(mrbm::data::gzip_supported());
#else
  CHECK_FALSE(mrbm::data::gzip_supported());
  TempDir dir;
  write_bytes(dir.file("x.gz"), {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3});
  const std::string msg =
      message_of<mrbm::IoError>([&] { mrbm::data::read_file_bytes(dir.file("x.gz")); });
  CHECK_THAT(msg, Contains(dir.file("x.gz")));
  CHECK_THAT(msg, Contains("zlib"));
#endif
}

TEST_CASE("read_mnist_like picks the split's files, plain or .gz, either spelling", "[data]") {
  TempDir dir;
  const std::vector<uint8_t> train_pixels = pattern(5 * 2 * 3);
  const std::vector<uint8_t> test_pixels = pattern(2 * 2 * 3 + 7);
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_file({5, 2, 3}, train_pixels));
  write_bytes(dir.file("train-labels.idx1-ubyte"), idx_file({5}, {0, 1, 2, 3, 4}));
  const std::vector<uint8_t> t10k(test_pixels.end() - 12, test_pixels.end());
#if defined(MRBM_HAVE_ZLIB)
  write_gzip(dir.file("t10k-images-idx3-ubyte.gz"), idx_file({2, 2, 3}, t10k));
  write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_file({2}, {9, 8}));
#else
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_file({2, 2, 3}, t10k));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_file({2}, {9, 8}));
#endif
  const auto train =
      mrbm::data::read_mnist_like(dir.path.string(), mrbm::data::Split::kTrain, "fashion-mnist");
  CHECK(train.name == "fashion-mnist/train");
  CHECK(train.pixels == train_pixels);
  CHECK(train.labels == std::vector<int32_t>{0, 1, 2, 3, 4});
  const auto test = mrbm::data::read_mnist_like(dir.path.string(), mrbm::data::Split::kTest);
  CHECK(test.name == "mnist/test");
  CHECK(test.pixels == t10k);
  CHECK(test.labels == std::vector<int32_t>{9, 8});

  fs::remove(dir.path / "train-labels.idx1-ubyte");
  const std::string msg = message_of<mrbm::IoError>(
      [&] { mrbm::data::read_mnist_like(dir.path.string(), mrbm::data::Split::kTrain); });
  CHECK_THAT(msg, Contains(dir.path.string()));
  CHECK_THAT(msg, Contains("train-labels-idx1-ubyte"));
  CHECK_THROWS_AS(mrbm::data::read_mnist_like(dir.file("nowhere"), mrbm::data::Split::kTrain),
                  mrbm::IoError);
  CHECK_THROWS_AS(mrbm::data::read_mnist_like(dir.path.string(), mrbm::data::Split::kValid),
                  mrbm::InvalidArgument);
}

TEST_CASE("malformed IDX files give an IoError naming the file and the problem", "[data]") {
  TempDir dir;
  const std::string path = dir.file("bad-idx");
  auto images_error = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(path, bytes);
    const std::string msg = message_of<mrbm::IoError>([&] { mrbm::data::read_idx_images(path); });
    CHECK_THAT(msg, Contains(path));
    return msg;
  };
  const std::vector<uint8_t> good = idx_file({2, 3, 3}, pattern(18));
  // The well-formed file reads, so each section below fails only by its own damage.
  write_bytes(path, good);
  REQUIRE(mrbm::data::read_idx_images(path).count == 2);

  SECTION("zero images of a size beyond 2^40 bytes (found by fuzz_idx: rows x cols overflowed)") {
    CHECK_THAT(images_error(idx_file({0, 0xfffc0000u, 0xf7ff0000u}, {})), Contains("2^40"));
  }
  SECTION("wrong magic: a label file read as images") {
    CHECK_THAT(images_error(idx_file({18}, pattern(18))), Contains("magic number 0x00000801"));
  }
  SECTION("wrong element type") {
    std::vector<uint8_t> bytes = good;
    bytes[2] = 0x0d;  // float32 IDX
    CHECK_THAT(images_error(bytes), Contains("magic"));
  }
  SECTION("shorter than the magic") { CHECK_THAT(images_error({0, 0}), Contains("truncated")); }
  SECTION("empty file") { CHECK_THAT(images_error({}), Contains("truncated")); }
  SECTION("truncated header") {
    CHECK_THAT(images_error(std::vector<uint8_t>(good.begin(), good.begin() + 10)),
               Contains("header"));
  }
  SECTION("truncated data") {
    const std::string msg = images_error(std::vector<uint8_t>(good.begin(), good.end() - 1));
    CHECK_THAT(msg, Contains("truncated"));
    CHECK_THAT(msg, Contains("need 18 data bytes, the file has 17"));
  }
  SECTION("trailing bytes") {
    std::vector<uint8_t> bytes = good;
    bytes.push_back(0);
    bytes.push_back(0);
    CHECK_THAT(images_error(bytes), Contains("2 trailing bytes"));
  }
  SECTION("absurd sizes") {
    CHECK_THAT(images_error(idx_file({0xffffffffu, 0xffffffffu, 0xffffffffu}, {})),
               Contains("corrupt"));
  }
  SECTION("missing file") {
    const std::string missing = dir.file("missing");
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_idx_images(missing); });
    CHECK_THAT(msg, Contains(missing));
    CHECK_THAT(msg, Contains("cannot open"));
  }
  SECTION("label count differs from image count") {
    write_bytes(path, good);
    write_bytes(dir.file("labels"), idx_file({3}, {1, 2, 3}));
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_idx(path, dir.file("labels")); });
    CHECK_THAT(msg, Contains(dir.file("labels")));
    CHECK_THAT(msg, Contains("3 labels"));
    CHECK_THAT(msg, Contains("2 images"));
  }
  SECTION("labels with the image magic") {
    write_bytes(dir.file("labels"), good);
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_idx_labels(dir.file("labels")); });
    CHECK_THAT(msg, Contains(dir.file("labels")));
    CHECK_THAT(msg, Contains("0x00000803"));
  }
}

TEST_CASE("the real Fashion-MNIST loads with 60000/10000 images of 28x28, labels 0..9", "[data]") {
  const std::string dir = mrbm::data::default_fashion_mnist_dir();
  if (!fs::is_directory(dir)) {
    WARN("skipped: no Fashion-MNIST in " << dir << " (Debian package dataset-fashion-mnist)");
    return;
  }
  const struct {
    mrbm::data::Split split;
    int64_t count;
  } cases[] = {{mrbm::data::Split::kTrain, 60000}, {mrbm::data::Split::kTest, 10000}};
  for (const auto& c : cases) {
    const auto d = mrbm::data::read_mnist_like(dir, c.split, "fashion-mnist");
    CHECK(d.count == c.count);
    CHECK(d.channels == 1);
    CHECK(d.height == 28);
    CHECK(d.width == 28);
    REQUIRE(static_cast<int64_t>(d.labels.size()) == c.count);
    // Fashion-MNIST is balanced: every class 0..9 holds exactly a tenth of each split.
    std::vector<int64_t> per_class(10, 0);
    for (int32_t label : d.labels) {
      REQUIRE(label >= 0);
      REQUIRE(label <= 9);
      ++per_class[static_cast<size_t>(label)];
    }
    for (int64_t n : per_class) CHECK(n == c.count / 10);
    CHECK(mrbm::data::num_classes(d) == 10);
  }
}
