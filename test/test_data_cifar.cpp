// Tests of data/cifar_reader.h: CIFAR-10 records written here read back exactly (label byte, then
// the planar 3x32x32 pixels), folders resolve to the five train batches or the test batch, and bad
// files (size not a multiple of 3073, empty, label above 9, a missing batch) give an IoError
// naming the file.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "data/cifar_reader.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using mrbm::test::TempDir;

using mrbm::test::write_bytes;

// Pixel k of record r of a file numbered f: distinct across records and files.
uint8_t pixel(int f, int64_t r, int64_t k) {
  return static_cast<uint8_t>((f * 101 + r * 7 + k) % 251);
}

// `labels.size()` records of file number f.
std::vector<uint8_t> cifar_file(int f, const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.push_back(labels[r]);
    for (int64_t k = 0; k < mrbm::data::kCifarImageBytes; ++k)
      out.push_back(pixel(f, static_cast<int64_t>(r), k));
  }
  return out;
}

using mrbm::test::message_of;

}  // namespace

TEST_CASE("CIFAR-10 records round-trip: labels and planar pixels, files in order", "[data]") {
  TempDir dir;
  write_bytes(dir.file("a.bin"), cifar_file(1, {3, 9, 0}));
  write_bytes(dir.file("b.bin"), cifar_file(2, {5, 1}));
  const auto d = mrbm::data::read_cifar10_files({dir.file("a.bin"), dir.file("b.bin")});
  CHECK(d.count == 5);
  CHECK(d.image_shape() == mrbm::Shape{3, 32, 32});
  CHECK(d.labels == std::vector<int32_t>{3, 9, 0, 5, 1});
  REQUIRE(d.pixels.size() == 5 * 3072);
  const int files[] = {1, 1, 1, 2, 2};
  const int64_t records[] = {0, 1, 2, 0, 1};
  int64_t mismatches = 0;
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t k = 0; k < 3072; ++k) {
      mismatches += d.image(i)[k] != pixel(files[i], records[i], k);
    }
  }
  CHECK(mismatches == 0);
  // Planar: the green value of pixel (row 1, col 2) of image 0 is byte 1024 + 32 + 2.
  CHECK(d.image(0)[1024 + 34] == pixel(1, 0, 1024 + 34));
}

TEST_CASE("read_cifar10 reads the five train batches or the test batch", "[data]") {
  TempDir dir;
  const fs::path bins = dir.path / "cifar-10-batches-bin";
  fs::create_directories(bins);
  for (int f = 1; f <= 5; ++f) {
    write_bytes((bins / ("data_batch_" + std::to_string(f) + ".bin")).string(),
                cifar_file(f, {static_cast<uint8_t>(f), static_cast<uint8_t>(f - 1)}));
  }
  write_bytes((bins / "test_batch.bin").string(), cifar_file(9, {7}));
  // Both the tarball's folder and its parent are accepted.
  for (const fs::path& root : {bins, dir.path}) {
    const auto train = mrbm::data::read_cifar10(root.string(), mrbm::data::Split::kTrain);
    CHECK(train.name == "cifar10/train");
    CHECK(train.labels == std::vector<int32_t>{1, 0, 2, 1, 3, 2, 4, 3, 5, 4});
    CHECK(train.image(8)[5] == pixel(5, 0, 5));
    const auto test = mrbm::data::read_cifar10(root.string(), mrbm::data::Split::kTest);
    CHECK(test.count == 1);
    CHECK(test.labels == std::vector<int32_t>{7});
  }
  fs::remove(bins / "data_batch_3.bin");
  const std::string msg = message_of<mrbm::IoError>(
      [&] { mrbm::data::read_cifar10(bins.string(), mrbm::data::Split::kTrain); });
  CHECK_THAT(msg, Contains((bins / "data_batch_3.bin").string()));
  CHECK_THAT(msg, Contains("missing"));
}

TEST_CASE("malformed CIFAR-10 files give an IoError naming the file", "[data]") {
  TempDir dir;
  const std::string path = dir.file("data_batch_1.bin");
  auto error_of = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(path, bytes);
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_cifar10_files({path}); });
    CHECK_THAT(msg, Contains(path));
    return msg;
  };
  std::vector<uint8_t> good = cifar_file(1, {1, 2});
  write_bytes(path, good);
  REQUIRE(mrbm::data::read_cifar10_files({path}).count == 2);

  SECTION("truncated record") {
    good.pop_back();
    CHECK_THAT(error_of(good), Contains("6145 bytes is not a positive multiple of 3073"));
  }
  SECTION("trailing bytes") {
    good.push_back(0);
    CHECK_THAT(error_of(good), Contains("multiple of 3073"));
  }
  SECTION("empty file") { CHECK_THAT(error_of({}), Contains("0 bytes")); }
  SECTION("label above 9") {
    good[3073] = 10;
    CHECK_THAT(error_of(good), Contains("record 1 has label 10"));
  }
  SECTION("missing file") {
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_cifar10_files({dir.file("nope.bin")}); });
    CHECK_THAT(msg, Contains(dir.file("nope.bin")));
  }
  SECTION("not a folder") {
    CHECK_THROWS_AS(mrbm::data::read_cifar10(dir.file("nope"), mrbm::data::Split::kTest),
                    mrbm::IoError);
  }
}
