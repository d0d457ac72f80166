// Tests of data/data_spec.h and data/dataset.h: the --data syntax parses (default Fashion-MNIST
// folder, environment override), unknown kinds and missing folders are clear errors, load_dataset
// dispatches to the readers and applies --limit, and the Dataset helpers (batches, subsets) copy
// exactly the requested images.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <stb/stb_image_write.h>

#include "data/data_spec.h"
#include "data/dataset.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using mrbm::test::TempDir;

using mrbm::test::write_bytes;

// An IDX file of n images 2x2 (pixel values i*4 + k) or of n labels (i % 10).
std::vector<uint8_t> idx(bool images, uint8_t n) {
  std::vector<uint8_t> out = {0, 0, 8, static_cast<uint8_t>(images ? 3 : 1), 0, 0, 0, n};
  if (images) out.insert(out.end(), {0, 0, 0, 2, 0, 0, 0, 2});
  for (uint8_t i = 0; i < n; ++i) {
    if (images) {
      for (uint8_t k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(i * 4 + k));
    } else {
      out.push_back(i % 10);
    }
  }
  return out;
}

// A small labelled data set: n images of 2 x 1 x 3, pixel k of image i = i * 6 + k.
mrbm::data::Dataset small(int64_t n) {
  mrbm::data::Dataset d;
  d.name = "small";
  d.count = n;
  d.channels = 2;
  d.height = 1;
  d.width = 3;
  for (int64_t i = 0; i < n * 6; ++i) d.pixels.push_back(static_cast<uint8_t>(i));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(100 + i));
  return d;
}

using mrbm::test::message_of;

}  // namespace

TEST_CASE("data specs parse kind and folder", "[data]") {
  using mrbm::data::parse_data_spec;
  CHECK(parse_data_spec("mnist:/data/mnist").kind == "mnist");
  CHECK(parse_data_spec("mnist:/data/mnist").dir == "/data/mnist");
  CHECK(parse_data_spec("cifar10:rel/dir").dir == "rel/dir");
  CHECK(parse_data_spec("celeba:/a:b").dir == "/a:b");  // everything after the first ':'
  CHECK(parse_data_spec("images:x").kind == "images");
  CHECK(parse_data_spec("fashion-mnist:/f").dir == "/f");

  const char* old = std::getenv("MRBM_FASHION_MNIST_DIR");
  const std::string saved = old != nullptr ? old : "";
  ::unsetenv("MRBM_FASHION_MNIST_DIR");
  CHECK(parse_data_spec("fashion-mnist").dir == "/usr/share/datasets/fashion-mnist");
  ::setenv("MRBM_FASHION_MNIST_DIR", "/staged/fashion", 1);
  CHECK(parse_data_spec("fashion-mnist").dir == "/staged/fashion");
  if (old != nullptr) {
    ::setenv("MRBM_FASHION_MNIST_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("MRBM_FASHION_MNIST_DIR");
  }

  std::string msg = message_of<mrbm::InvalidArgument>([] { parse_data_spec("svhn:/x"); });
  CHECK_THAT(msg, Contains("unknown data set 'svhn'"));
  CHECK_THAT(msg, Contains("cifar10:DIR"));
  msg = message_of<mrbm::InvalidArgument>([] { parse_data_spec("mnist"); });
  CHECK_THAT(msg, Contains("needs a folder"));
  CHECK_THROWS_AS(parse_data_spec("celeba:"), mrbm::InvalidArgument);
  CHECK_THROWS_AS(parse_data_spec("fashion-mnist:"), mrbm::InvalidArgument);
  CHECK_THROWS_AS(parse_data_spec(""), mrbm::InvalidArgument);
}

TEST_CASE("load_dataset reads the named folder, its split, and applies the limit", "[data]") {
  TempDir dir;
  write_bytes(dir.file("train-images-idx3-ubyte"), idx(true, 5));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx(false, 5));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx(true, 2));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx(false, 2));
  const auto spec = mrbm::data::parse_data_spec("mnist:" + dir.path.string());
  mrbm::data::LoadOptions opts;
  auto d = mrbm::data::load_dataset(spec, opts);
  CHECK(d.name == "mnist/train");
  CHECK(d.count == 5);
  opts.limit = 3;
  d = mrbm::data::load_dataset(spec, opts);
  CHECK(d.count == 3);
  CHECK(d.labels == std::vector<int32_t>{0, 1, 2});
  CHECK(d.pixels.size() == 12);
  CHECK_THAT(mrbm::data::describe_dataset(d), Contains("mnist/train: 3 x [1, 2, 2]"));
  opts.split = mrbm::data::Split::kTest;
  opts.limit = -1;
  CHECK(mrbm::data::load_dataset(spec, opts).count == 2);

  const std::string missing = dir.file("nowhere");
  const std::string msg = message_of<mrbm::IoError>(
      [&] { mrbm::data::load_dataset(mrbm::data::parse_data_spec("cifar10:" + missing), opts); });
  CHECK_THAT(msg, Contains(missing));
  CHECK_THAT(msg, Contains("does not exist"));
}

TEST_CASE("images:DIR uses DIR/<split> when it exists", "[data]") {
  TempDir dir;
  fs::create_directories(dir.path / "train");
  fs::create_directories(dir.path / "test");
  const std::vector<uint8_t> white(4 * 4, 255);
  const std::vector<uint8_t> black(4 * 4, 0);
  for (const char* name : {"train/a.png", "train/b.png"}) {
    REQUIRE(stbi_write_png(dir.file(name).c_str(), 4, 4, 1, white.data(), 4) != 0);
  }
  REQUIRE(stbi_write_png(dir.file("test/c.png").c_str(), 4, 4, 1, black.data(), 4) != 0);
  const auto spec = mrbm::data::parse_data_spec("images:" + dir.path.string());
  mrbm::data::LoadOptions opts;
  opts.images.size = 2;
  opts.images.channels = 1;
  auto train = mrbm::data::load_dataset(spec, opts);
  CHECK(train.count == 2);
  CHECK(train.name == "images/train");
  CHECK(train.pixels == std::vector<uint8_t>(8, 255));
  opts.split = mrbm::data::Split::kTest;
  auto test = mrbm::data::load_dataset(spec, opts);
  CHECK(test.count == 1);
  CHECK(test.pixels == std::vector<uint8_t>(4, 0));
}

TEST_CASE("Dataset batches and subsets copy exactly the requested images", "[data]") {
  const mrbm::data::Dataset d = small(5);
  REQUIRE_NOTHROW(mrbm::data::check_dataset(d));
  const mrbm::Tensor b = mrbm::data::make_batch(d, {4, 0, 4});
  CHECK(b.shape() == mrbm::Shape{3, 2, 1, 3});
  const std::vector<float> v = b.to_vector<float>();
  for (int64_t k = 0; k < 6; ++k) {
    CHECK(v[static_cast<size_t>(k)] == static_cast<float>(24 + k));
    CHECK(v[static_cast<size_t>(6 + k)] == static_cast<float>(k));
    CHECK(v[static_cast<size_t>(12 + k)] == static_cast<float>(24 + k));
  }
  CHECK(mrbm::data::batch_labels(d, {4, 0}) == std::vector<int32_t>{104, 100});
  const auto s = mrbm::data::select(d, {3, 1});
  CHECK(s.count == 2);
  CHECK(s.pixels == std::vector<uint8_t>{18, 19, 20, 21, 22, 23, 6, 7, 8, 9, 10, 11});
  CHECK(s.labels == std::vector<int32_t>{103, 101});
  CHECK(mrbm::data::take_first(d, 2).pixels.size() == 12);
  CHECK(mrbm::data::take_first(d, 99).count == 5);
  CHECK(mrbm::data::take_first(d, -1).count == 5);
  CHECK(mrbm::data::num_classes(d) == 105);
  CHECK_THROWS_AS(mrbm::data::make_batch(d, {5}), mrbm::InvalidArgument);
  CHECK_THROWS_AS(mrbm::data::make_batch(d, {-1}), mrbm::InvalidArgument);
  mrbm::data::Dataset broken = d;
  broken.labels.pop_back();
  CHECK_THROWS_AS(mrbm::data::check_dataset(broken), mrbm::InvalidArgument);
  CHECK(mrbm::data::parse_split("valid") == mrbm::data::Split::kValid);
  CHECK_THROWS_AS(mrbm::data::parse_split("training"), mrbm::InvalidArgument);
}
