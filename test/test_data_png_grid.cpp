// Tests of data/png_grid.h: the grid layout puts every pixel where the header says (borders,
// empty slots, group gap), float values map through [low, high] with clamping and rounding, and the
// PNG written atomically reads back through stb_image byte for byte, grey and RGB.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <stb/stb_image.h>

#include "data/png_grid.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using mrbm::data::GridOptions;
using mrbm::data::ImageBatchU8;

using mrbm::test::TempDir;

// n images of c x h x w, byte k of image i = 10 * i + k + 1 (never the border value 128 here).
ImageBatchU8 numbered(int64_t n, int64_t c, int64_t h, int64_t w) {
  ImageBatchU8 b;
  b.count = n;
  b.channels = c;
  b.height = h;
  b.width = w;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < c * h * w; ++k)
      b.pixels.push_back(static_cast<uint8_t>(10 * i + k + 1));
  }
  return b;
}

// The decoded PNG (as stored: 1 or 3 channels), checked against the expected size.
mrbm::data::Image load_png(const std::string& path) {
  int w = 0, h = 0, c = 0;
  stbi_uc* p = stbi_load(path.c_str(), &w, &h, &c, 0);
  REQUIRE(p != nullptr);
  mrbm::data::Image img;
  img.width = w;
  img.height = h;
  img.channels = c;
  img.pixels.assign(p, p + w * h * c);
  stbi_image_free(p);
  return img;
}

}  // namespace

TEST_CASE("a grey grid places tiles, borders and empty slots exactly", "[data]") {
  // 3 images of 2 x 3 in 2 columns, border 1: 9 x 7 pixels, the 4th slot empty.
  GridOptions opts;
  opts.columns = 2;
  const mrbm::data::Image g = mrbm::data::make_grid({numbered(3, 1, 2, 3)}, opts);
  REQUIRE(g.width == 9);
  REQUIRE(g.height == 7);
  REQUIRE(g.channels == 1);
  auto at = [&](int64_t x, int64_t y) { return int{g.pixels[static_cast<size_t>(y * 9 + x)]}; };
  const int64_t x0[] = {1, 5, 1};
  const int64_t y0[] = {1, 1, 4};
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t y = 0; y < 2; ++y) {
      for (int64_t x = 0; x < 3; ++x) CHECK(at(x0[i] + x, y0[i] + y) == 10 * i + y * 3 + x + 1);
    }
  }
  for (int64_t x = 0; x < 9; ++x) {
    CHECK(at(x, 0) == 128);
    CHECK(at(x, 3) == 128);
    CHECK(at(x, 6) == 128);
  }
  for (int64_t y = 0; y < 7; ++y) {
    CHECK(at(0, y) == 128);
    CHECK(at(4, y) == 128);
    CHECK(at(8, y) == 128);
  }
  for (int64_t y = 4; y < 6; ++y) {
    for (int64_t x = 5; x < 8; ++x) CHECK(at(x, y) == 128);  // the empty slot
  }
  // Default columns: ceil(sqrt(5)) = 3.
  CHECK(mrbm::data::make_grid({numbered(5, 1, 2, 2)}, GridOptions{}).width == 3 * 3 + 1);
}

TEST_CASE("grid PNGs round-trip through stb_image, grey and RGB", "[data]") {
  TempDir dir;
  for (int64_t c : {1, 3}) {
    GridOptions opts;
    opts.border = 2;
    opts.border_value = 7;
    const ImageBatchU8 images = numbered(7, c, 4, 5);
    const std::string path = dir.file("grid" + std::to_string(c) + ".png");
    mrbm::data::write_png_grid(path, images, opts);
    const mrbm::data::Image expected = mrbm::data::make_grid({images}, opts);
    const mrbm::data::Image read = load_png(path);
    CHECK(read.channels == c);
    CHECK(read.width == expected.width);
    CHECK(read.height == expected.height);
    CHECK(read.pixels == expected.pixels);
    // RGB tiles are interleaved from planar input: pixel (0,0) of image 0 is (1, 21, 41).
    if (c == 3) {
      const size_t first = static_cast<size_t>((2 * read.width + 2) * 3);
      CHECK(int{read.pixels[first]} == 1);
      CHECK(int{read.pixels[first + 1]} == 21);
      CHECK(int{read.pixels[first + 2]} == 41);
    }
  }
  // Writing leaves no temporary file behind and replaces an existing file.
  mrbm::data::write_png_grid(dir.file("grid1.png"), numbered(1, 1, 3, 3), GridOptions{});
  CHECK(load_png(dir.file("grid1.png")).width == 5);
  int64_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    CHECK_THAT(e.path().filename().string(), !Contains(".tmp"));
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("float tensors map [low, high] to 0..255 with clamping, rounding and NaN as 0",
          "[data]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const mrbm::Tensor t = mrbm::Tensor::from_vector(
      std::vector<float>{-5.0f, 0.0f, 0.5f, 1.0f, 254.4f, 254.5f, 300.0f, nan}, {2, 1, 2, 2});
  CHECK(mrbm::data::to_uint8_images(t).pixels ==
        std::vector<uint8_t>{0, 0, 1, 1, 254, 255, 255, 0});
  const mrbm::Tensor unit =
      mrbm::Tensor::from_vector(std::vector<double>{0.0, 0.25, 0.5, 1.0}, {1, 1, 2, 2});
  CHECK(unit.dtype() == mrbm::DType::kFloat64);
  CHECK(mrbm::data::to_uint8_images(unit, 0.0f, 1.0f).pixels ==
        std::vector<uint8_t>{0, 64, 128, 255});
  CHECK_THROWS_AS(mrbm::data::to_uint8_images(unit, 1.0f, 1.0f), mrbm::InvalidArgument);
  CHECK_THROWS_AS(mrbm::data::to_uint8_images(mrbm::Tensor::zeros({2, 2})), mrbm::InvalidArgument);
}

TEST_CASE("the pair grid puts originals above reconstructions, separated by the gap", "[data]") {
  TempDir dir;
  const mrbm::Tensor top = mrbm::Tensor::full({3, 1, 2, 2}, 10.0);
  const mrbm::Tensor bottom = mrbm::Tensor::full({3, 1, 2, 2}, 200.0);
  GridOptions opts;
  opts.columns = 3;
  opts.group_gap = 2;
  const std::string path = dir.file("pair.png");
  mrbm::data::write_png_grid_pair(path, top, bottom, opts);
  const mrbm::data::Image img = load_png(path);
  // Width 3 * 3 + 1; height: 1 + (2 + 1) for the top row, gap 2, (2 + 1) for the bottom row.
  REQUIRE(img.width == 10);
  REQUIRE(img.height == 9);
  auto at = [&](int64_t x, int64_t y) { return int{img.pixels[static_cast<size_t>(y * 10 + x)]}; };
  CHECK(at(1, 1) == 10);
  CHECK(at(8, 2) == 10);
  for (int64_t y = 3; y < 6; ++y) CHECK(at(1, y) == 128);  // border + gap
  CHECK(at(1, 6) == 200);
  CHECK(at(8, 7) == 200);
  CHECK(at(1, 8) == 128);
}

TEST_CASE("grid errors: bad channels, mismatched groups, unwritable path", "[data]") {
  CHECK_THROWS_AS(mrbm::data::make_grid({numbered(2, 2, 3, 3)}, GridOptions{}),
                  mrbm::InvalidArgument);
  CHECK_THROWS_AS(
      mrbm::data::make_grid({numbered(2, 1, 3, 3), numbered(2, 1, 3, 4)}, GridOptions{}),
      mrbm::InvalidArgument);
  CHECK_THROWS_AS(mrbm::data::make_grid({}, GridOptions{}), mrbm::InvalidArgument);
  TempDir dir;
  const std::string path = dir.file("no/such/folder/grid.png");
  try {
    mrbm::data::write_png_grid(path, numbered(1, 1, 2, 2), GridOptions{});
    FAIL("no exception");
  } catch (const mrbm::IoError& e) {
    CHECK_THAT(std::string(e.what()), Contains(path));
  }
}
