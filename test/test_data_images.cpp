// Tests of data/image_resize.h and data/image_folder_reader.h: crop and resize of known patterns
// give the expected pixels (area means when shrinking, half-pixel bilinear when enlarging);
// folders of PNG/JPEG files written here with stb_image_write read back in sorted order with grey
// expanded to RGB and alpha dropped; the decode is the same on 1 or 3 threads and reports
// progress; undecodable images, empty folders and bad CelebA partition files give an IoError
// naming the file.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include <stb/stb_image_write.h>

#include "data/image_folder_reader.h"
#include "data/image_resize.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using mrbm::data::Image;

using mrbm::test::TempDir;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

// A w x h image of `channels` whose every pixel is `value` (one byte per channel).
Image uniform(int64_t w, int64_t h, std::vector<uint8_t> value) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = static_cast<int64_t>(value.size());
  for (int64_t p = 0; p < w * h; ++p)
    img.pixels.insert(img.pixels.end(), value.begin(), value.end());
  return img;
}

// A 1-channel image from rows of values.
Image grey(const std::vector<std::vector<uint8_t>>& rows) {
  Image img;
  img.height = static_cast<int64_t>(rows.size());
  img.width = static_cast<int64_t>(rows[0].size());
  img.channels = 1;
  for (const auto& r : rows) img.pixels.insert(img.pixels.end(), r.begin(), r.end());
  return img;
}

void write_png_file(const std::string& path, const Image& img) {
  REQUIRE(stbi_write_png(path.c_str(), static_cast<int>(img.width), static_cast<int>(img.height),
                         static_cast<int>(img.channels), img.pixels.data(),
                         static_cast<int>(img.width * img.channels)) != 0);
}

using mrbm::test::message_of;

mrbm::data::ImageFolderOptions options_of(int64_t size, int64_t channels, int threads = 2) {
  mrbm::data::ImageFolderOptions o;
  o.size = size;
  o.channels = channels;
  o.threads = threads;
  return o;
}

}  // namespace

TEST_CASE("center_crop_square keeps the centred square", "[data]") {
  // 6 wide, 4 high: columns 1..4 are kept.
  const Image wide = grey({{0, 1, 2, 3, 4, 5},
                           {10, 11, 12, 13, 14, 15},
                           {20, 21, 22, 23, 24, 25},
                           {30, 31, 32, 33, 34, 35}});
  const Image c = mrbm::data::center_crop_square(wide);
  CHECK(c.width == 4);
  CHECK(c.height == 4);
  CHECK(c.pixels ==
        std::vector<uint8_t>{1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34});
  // 2 wide, 5 high (odd excess 3): rows 1..2 are kept (offset rounded down).
  const Image tall = grey({{0, 1}, {10, 11}, {20, 21}, {30, 31}, {40, 41}});
  CHECK(mrbm::data::center_crop_square(tall).pixels == std::vector<uint8_t>{10, 11, 20, 21});
}

TEST_CASE("downscaling averages each output pixel's footprint exactly", "[data]") {
  const Image img =
      grey({{0, 10, 100, 120}, {20, 30, 140, 160}, {1, 3, 200, 200}, {5, 7, 250, 254}});
  // 2x2 block means: (0+10+20+30)/4 = 15, (100+120+140+160)/4 = 130, (1+3+5+7)/4 = 4, 226.
  const Image half = mrbm::data::resize_image(img, 2, 2);
  CHECK(half.pixels == std::vector<uint8_t>{15, 130, 4, 226});
  // A non-integer ratio, 6 -> 4 (s = 1.5): weights 1, 0.5 | 0.5, 1 | 1, 0.5 | 0.5, 1, over 1.5.
  const Image row = grey({{0, 30, 60, 90, 120, 150}});
  CHECK(mrbm::data::resize_image(row, 4, 1).pixels == std::vector<uint8_t>{10, 50, 100, 140});
  // Rounding is half-up: the mean of 0 and 1 is 0.5 -> 1.
  CHECK(mrbm::data::resize_image(grey({{0, 1}}), 1, 1).pixels == std::vector<uint8_t>{1});
  // A uniform image stays exactly uniform at any scale, per channel.
  const Image rgb = mrbm::data::resize_image(uniform(178, 218, {12, 200, 77}), 64, 37);
  CHECK(rgb.pixels == uniform(64, 37, {12, 200, 77}).pixels);
}

TEST_CASE("upscaling is half-pixel bilinear, clamped at the edges", "[data]") {
  // 2 -> 4: centres at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  CHECK(mrbm::data::resize_image(grey({{0, 100}}), 4, 1).pixels ==
        std::vector<uint8_t>{0, 25, 75, 100});
  // Both axes: the 2x2 -> 4x4 centre pixels are the bilinear blend of all four corners.
  const Image up = mrbm::data::resize_image(grey({{0, 100}, {200, 40}}), 4, 4);
  REQUIRE(up.pixels.size() == 16);
  CHECK(up.pixels[0] == 0);
  CHECK(up.pixels[3] == 100);
  CHECK(up.pixels[12] == 200);
  CHECK(up.pixels[15] == 40);
  // (1,1): weights 0.75/0.25 on both axes: .5625*0 + .1875*100 + .1875*200 + .0625*40 = 58.75.
  CHECK(up.pixels[5] == 59);
  // Mixed: width shrinks (area), height grows (bilinear).
  const Image mixed = mrbm::data::resize_image(grey({{0, 20, 40, 60}, {100, 120, 140, 160}}), 2, 4);
  CHECK(mixed.pixels == std::vector<uint8_t>{10, 50, 35, 75, 85, 125, 110, 150});
}

TEST_CASE("interleaved_to_planar writes C x H x W", "[data]") {
  Image img;
  img.width = 2;
  img.height = 1;
  img.channels = 3;
  img.pixels = {1, 2, 3, 4, 5, 6};  // (r,g,b) (r,g,b)
  std::vector<uint8_t> out(6);
  mrbm::data::interleaved_to_planar(out.data(), img);
  CHECK(out == std::vector<uint8_t>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("an image folder reads PNG and JPEG, sorted, grey -> RGB, RGBA -> RGB", "[data]") {
  TempDir dir;
  write_png_file(dir.file("c_rgba.png"), uniform(9, 7, {10, 20, 30, 0}));
  write_png_file(dir.file("a_rgb.png"), uniform(5, 5, {200, 100, 50}));
  write_png_file(dir.file("b_grey.PNG"), uniform(4, 6, {77}));
  const Image jpeg_src = uniform(16, 16, {40, 160, 220});
  REQUIRE(stbi_write_jpg(dir.file("d.jpg").c_str(), 16, 16, 3, jpeg_src.pixels.data(), 100) != 0);
  write_text(dir.file("notes.txt"), "not an image");
  fs::create_directories(dir.path / "sub.png");  // a folder, even with an image-like name

  const auto files = mrbm::data::list_image_files(dir.path.string());
  REQUIRE(files.size() == 4);
  CHECK(fs::path(files[0]).filename() == "a_rgb.png");
  CHECK(fs::path(files[1]).filename() == "b_grey.PNG");
  CHECK(fs::path(files[3]).filename() == "d.jpg");

  const auto d = mrbm::data::read_image_folder(dir.path.string(), options_of(3, 3));
  REQUIRE(d.count == 4);
  CHECK(d.image_shape() == mrbm::Shape{3, 3, 3});
  CHECK_FALSE(d.has_labels());
  auto channel_values = [&](int64_t i, int64_t ch) {
    return std::vector<uint8_t>(d.image(i) + ch * 9, d.image(i) + (ch + 1) * 9);
  };
  CHECK(channel_values(0, 0) == std::vector<uint8_t>(9, 200));
  CHECK(channel_values(0, 1) == std::vector<uint8_t>(9, 100));
  CHECK(channel_values(0, 2) == std::vector<uint8_t>(9, 50));
  for (int64_t ch = 0; ch < 3; ++ch) CHECK(channel_values(1, ch) == std::vector<uint8_t>(9, 77));
  CHECK(channel_values(2, 0) == std::vector<uint8_t>(9, 10));
  CHECK(channel_values(2, 2) == std::vector<uint8_t>(9, 30));
  // JPEG is lossy; a flat colour at quality 100 comes back within a few levels.
  const uint8_t want[] = {40, 160, 220};
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (uint8_t v : channel_values(3, ch)) CHECK(std::abs(int{v} - int{want[ch]}) <= 3);
  }
  // limit keeps the first files in sorted order.
  auto limited = options_of(3, 1);
  limited.limit = 2;
  const auto first_two = mrbm::data::read_image_folder(dir.path.string(), limited);
  CHECK(first_two.count == 2);
  CHECK(first_two.image_shape() == mrbm::Shape{1, 3, 3});
  CHECK(first_two.image(1)[4] == 77);
}

TEST_CASE("a decoded image is cropped and resized like the reference functions", "[data]") {
  TempDir dir;
  // 12 wide, 8 high: the centre crop is columns 2..9; each 2x2 block of it averages exactly.
  Image img;
  img.width = 12;
  img.height = 8;
  img.channels = 1;
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 12; ++x)
      img.pixels.push_back(static_cast<uint8_t>(x < 2 || x > 9 ? 255 : (x / 2) * 40 + (y / 2) * 8));
  }
  write_png_file(dir.file("p.png"), img);
  const auto d = mrbm::data::read_image_folder(dir.path.string(), options_of(4, 1));
  REQUIRE(d.count == 1);
  std::vector<uint8_t> expected;
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 4; ++x) expected.push_back(static_cast<uint8_t>((x + 1) * 40 + y * 8));
  }
  CHECK(std::vector<uint8_t>(d.image(0), d.image(0) + 16) == expected);
}

TEST_CASE("parallel decoding gives the same data on any thread count and reports progress",
          "[data]") {
  TempDir dir;
  for (int i = 0; i < 23; ++i) {
    Image img =
        uniform(10 + i, 12, {static_cast<uint8_t>(i * 11), static_cast<uint8_t>(255 - i), 3});
    img.pixels[static_cast<size_t>(i)] = 0;  // make each image's crop differ a little
    write_png_file(dir.file("img" + std::to_string(100 + i) + ".png"), img);
  }
  auto one = options_of(8, 3, 1);
  const auto serial = mrbm::data::read_image_folder(dir.path.string(), one);
  auto three = options_of(8, 3, 3);
  std::vector<std::pair<int64_t, int64_t>> calls;
  three.progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  const auto parallel = mrbm::data::read_image_folder(dir.path.string(), three);
  CHECK(parallel.pixels == serial.pixels);
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == std::make_pair<int64_t, int64_t>(23, 23));
  for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first >= calls[i - 1].first);
}

TEST_CASE("bad image folders give an IoError naming the file or folder", "[data]") {
  TempDir dir;
  SECTION("undecodable image") {
    write_png_file(dir.file("a.png"), uniform(4, 4, {1}));
    write_text(dir.file("b.png"), "this is no PNG at all");
    const std::string msg = message_of<mrbm::IoError>(
        [&] { mrbm::data::read_image_folder(dir.path.string(), options_of(4, 1)); });
    CHECK_THAT(msg, Contains(dir.file("b.png")));
    CHECK_THAT(msg, Contains("cannot decode"));
  }
  SECTION("empty folder") {
    const std::string msg = message_of<mrbm::IoError>(
        [&] { mrbm::data::read_image_folder(dir.path.string(), options_of(4, 1)); });
    CHECK_THAT(msg, Contains(dir.path.string()));
    CHECK_THAT(msg, Contains("no image files"));
  }
  SECTION("only non-image files") {
    write_text(dir.file("readme.txt"), "x");
    CHECK_THROWS_AS(mrbm::data::list_image_files(dir.path.string()), mrbm::IoError);
  }
  SECTION("not a folder") {
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::list_image_files(dir.file("absent")); });
    CHECK_THAT(msg, Contains(dir.file("absent")));
  }
  SECTION("bad options") {
    write_png_file(dir.file("a.png"), uniform(4, 4, {1}));
    CHECK_THROWS_AS(mrbm::data::read_image_folder(dir.path.string(), options_of(4, 2)),
                    mrbm::InvalidArgument);
    CHECK_THROWS_AS(mrbm::data::read_image_folder(dir.path.string(), options_of(0, 3)),
                    mrbm::InvalidArgument);
  }
}

TEST_CASE("CelebA picks its split from list_eval_partition.txt", "[data]") {
  TempDir dir;
  const fs::path images = dir.path / "img_align_celeba";
  fs::create_directories(images);
  for (int i = 1; i <= 6; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "%06d.png", i);
    write_png_file((images / name).string(), uniform(6, 8, {static_cast<uint8_t>(i * 10), 0, 0}));
  }
  // Out of order on purpose: the split's files are sorted.
  write_text(dir.file("list_eval_partition.txt"),
             "000003.png 0\r\n000001.png 0\n000002.png 1\n\n000004.png 2\n000005.png 0\n"
             "000006.png 2\n");
  auto first_red = [](const mrbm::data::Dataset& d) {
    std::vector<int> v;
    for (int64_t i = 0; i < d.count; ++i) v.push_back(d.image(i)[0]);
    return v;
  };
  const auto opts = options_of(4, 3);
  const auto train = mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTrain, opts);
  CHECK(train.name == "celeba/train");
  CHECK(first_red(train) == std::vector<int>{10, 30, 50});
  CHECK(first_red(mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kValid, opts)) ==
        std::vector<int>{20});
  // The image folder itself is accepted too (the partition file is in its parent).
  CHECK(first_red(mrbm::data::read_celeba(images.string(), mrbm::data::Split::kTest, opts)) ==
        std::vector<int>{40, 60});
  auto limited = opts;
  limited.limit = 1;
  CHECK(mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTrain, limited).count == 1);

  SECTION("a malformed line names the file and line") {
    write_text(dir.file("list_eval_partition.txt"), "000001.png 0\n000002.png seven\n");
    const std::string msg = message_of<mrbm::IoError>(
        [&] { mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTrain, opts); });
    CHECK_THAT(msg, Contains(dir.file("list_eval_partition.txt") + ":2"));
  }
  SECTION("a listed file that is missing is named") {
    write_text(dir.file("list_eval_partition.txt"), "000001.png 0\n999999.png 0\n");
    const std::string msg = message_of<mrbm::IoError>(
        [&] { mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTrain, opts); });
    CHECK_THAT(msg, Contains((images / "999999.png").string()));
  }
  SECTION("without the partition file: train is every image, test an error") {
    fs::remove(dir.path / "list_eval_partition.txt");
    CHECK(mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTrain, opts).count == 6);
    const std::string msg = message_of<mrbm::IoError>(
        [&] { mrbm::data::read_celeba(dir.path.string(), mrbm::data::Split::kTest, opts); });
    CHECK_THAT(msg, Contains("list_eval_partition.txt"));
  }
}

// Inputs found by test/fuzz/fuzz_image (stb_image 2.27 bugs worked around in the reader, and a
// header's claimed size checked before stb allocates it).
TEST_CASE("fuzzing regressions: 16-bit PGM, oversized headers, bad JPEG Huffman tables", "[data]") {
  TempDir dir;
  const std::string path = dir.file("x.pgm");
  auto read = [&](int64_t channels) {
    return mrbm::data::read_image_files({path}, options_of(1, channels));
  };
  SECTION("a 16-bit PGM read as RGB or grey") {
    // Big-endian samples 0x1234 and 0xabcd, scaled by 255 / 65535 and rounded: 18 (0x12) and 171
    // (0xab); stb 2.27 alone reads them little-endian (0x34, 0xcd). Size 1 keeps the first.
    write_text(path, std::string("P5\n2 1\n65535\n") + "\x12\x34\xab\xcd");
    CHECK(read(3).pixels == std::vector<uint8_t>{0x12, 0x12, 0x12});
    CHECK(read(1).pixels == std::vector<uint8_t>{0x12});
  }
  SECTION("a 16-bit PPM with a maximum value of 1000 is scaled by it") {
    // 500, 1000, 0 of 1000: (v * 255 + 500) / 1000 = 128, 255, 0; grey by luma (77, 150, 29) / 256.
    write_text(path, std::string("P6\n1 1\n1000\n") + std::string("\x01\xf4\x03\xe8\x00\x00", 6));
    CHECK(read(3).pixels == std::vector<uint8_t>{128, 255, 0});
    CHECK(read(1).pixels == std::vector<uint8_t>{(128 * 77 + 255 * 150) >> 8});
  }
  SECTION("a header that claims more than 2^25 pixels") {
    write_text(path, "P5\n30000 30000\n255\n\x01\x02");
    const std::string msg = message_of<mrbm::IoError>([&] { read(3); });
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains("30000 x 30000"));
  }
  SECTION("a PGM header number with more than 9 digits") {
    write_text(path, "P5\n3 2\n26666666666666666665\n\x01\x02\x03\x04\x05\x06");
    CHECK_THAT(message_of<mrbm::IoError>([&] { read(1); }), Contains("20 digits"));
  }
  SECTION("a JPEG Huffman table with more than 256 codes") {
    write_text(path, std::string("\xff\xd8\xff\xc4\x00\x13\x00", 7) + std::string(16, '\x20'));
    CHECK_THAT(message_of<mrbm::IoError>([&] { read(3); }), Contains("512 codes"));
  }
  SECTION("a PNG with empty IDAT chunks reads as the same PNG without them; overlong chunks") {
    // stb 2.27 memcpy's an empty first IDAT chunk to a null pointer (UBSan finds it in the
    // sanitized build of this suite); the reader drops empty IDAT chunks, which hold no data.
    const std::string png = dir.file("plain.png");
    write_png_file(png, grey({{0, 50, 100, 150}, {200, 250, 7, 9}, {1, 2, 3, 4}, {5, 6, 7, 8}}));
    std::ifstream in(png, std::ios::binary);
    const std::string plain((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // An empty IDAT (length 0, type, CRC of "IDAT") after IHDR (8 + 25 bytes) and at the end.
    const std::string empty_idat("\0\0\0\0IDAT\x35\xaf\x06\x1e", 12);
    const std::string odd = dir.file("odd.png");
    write_text(odd, plain.substr(0, 33) + empty_idat + empty_idat + plain.substr(33) + empty_idat);
    const auto a = mrbm::data::read_image_files({png}, options_of(4, 1));
    const auto b = mrbm::data::read_image_files({odd}, options_of(4, 1));
    CHECK(b.pixels == a.pixels);
    CHECK(a.pixels[1] == 50);
    // A data chunk that claims more bytes than the file has: stb would first grow its buffer to
    // the claim (2 GiB for the fuzzer's 135-byte file), so the reader refuses it.
    const std::string claim("\x40\x00\x00\x00IDAT", 8);
    write_text(odd, plain.substr(0, 33) + claim + plain.substr(33));
    const std::string msg =
        message_of<mrbm::IoError>([&] { mrbm::data::read_image_files({odd}, options_of(4, 1)); });
    CHECK_THAT(msg, Contains(odd));
    CHECK_THAT(msg, Contains("claims 1073741824 bytes"));
  }
  SECTION("the same table after 0xFF fill bytes before the start of image") {
    // stb finds the start of image after any number of 0xFF (stbi__get_marker), so such a file is
    // a JPEG to stb and its tables must be checked too.
    write_text(path,
               std::string("\xff\xff\xff\xd8\xff\xc4\x00\x13\x00", 9) + std::string(16, '\x20'));
    CHECK_THAT(message_of<mrbm::IoError>([&] { read(3); }), Contains("512 codes"));
  }
}
