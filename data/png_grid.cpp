// Grid layout, value mapping and PNG encoding (data/png_grid.h).
#include "data/png_grid.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <stb/stb_image_write.h>

#include "core/error.h"
#include "data/file_io.h"

namespace mrbm::data {
namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

void check_batch(const ImageBatchU8& b) {
  MRBM_CHECK(b.channels == 1 || b.channels == 3,
             "image grids take 1 (grey) or 3 (RGB) channels, not " << b.channels);
  MRBM_CHECK(b.count >= 1 && b.height >= 1 && b.width >= 1,
             "image grid of " << b.count << " images of " << b.height << " x " << b.width);
  MRBM_CHECK(static_cast<int64_t>(b.pixels.size()) == b.count * b.channels * b.height * b.width,
             "image batch of " << b.pixels.size() << " bytes for [" << b.count << ", " << b.channels
                               << ", " << b.height << ", " << b.width << "]");
}

}  // namespace

ImageBatchU8 to_uint8_images(const Tensor& images, float low, float high) {
  MRBM_CHECK(images.dim() == 4,
             "image grid input must be [N, C, H, W], got " << shape_to_string(images.shape()));
  MRBM_CHECK(high > low, "image value range [" << low << ", " << high << "] is empty");
  ImageBatchU8 out;
  out.count = images.size(0);
  out.channels = images.size(1);
  out.height = images.size(2);
  out.width = images.size(3);
  const Tensor host = images.to(Device::cpu());
  std::vector<double> values;
  if (host.dtype() == DType::kFloat64) {
    values = host.to_vector<double>();
  } else {
    const std::vector<float> f = host.to_vector<float>();
    values.assign(f.begin(), f.end());
  }
  out.pixels.resize(values.size());
  const double scale = 255.0 / (static_cast<double>(high) - low);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    out.pixels[i] =
        std::isnan(v)
            ? 0
            : static_cast<uint8_t>(std::floor(std::clamp((v - low) * scale, 0.0, 255.0) + 0.5));
  }
  return out;
}

ImageBatchU8 dataset_images(const Dataset& dataset, const std::vector<int64_t>& indices) {
  const Dataset picked = select(dataset, indices);
  ImageBatchU8 out;
  out.count = picked.count;
  out.channels = picked.channels;
  out.height = picked.height;
  out.width = picked.width;
  out.pixels = picked.pixels;
  return out;
}

Image make_grid(const std::vector<ImageBatchU8>& groups, const GridOptions& options) {
  MRBM_CHECK(!groups.empty(), "image grid of no group");
  MRBM_CHECK(options.border >= 0 && options.border <= 16,
             "grid border " << options.border << " must be in 0..16");
  MRBM_CHECK(options.group_gap >= 0 && options.group_gap <= 64,
             "grid group gap " << options.group_gap << " must be in 0..64");
  int64_t largest = 0;
  for (const ImageBatchU8& g : groups) {
    check_batch(g);
    MRBM_CHECK(g.channels == groups[0].channels && g.height == groups[0].height &&
                   g.width == groups[0].width,
               "image grid groups differ: [" << g.channels << ", " << g.height << ", " << g.width
                                             << "] vs [" << groups[0].channels << ", "
                                             << groups[0].height << ", " << groups[0].width << "]");
    largest = std::max(largest, g.count);
  }
  const int64_t c = groups[0].channels;
  const int64_t h = groups[0].height;
  const int64_t w = groups[0].width;
  const int64_t b = options.border;
  const int64_t columns =
      options.columns > 0
          ? options.columns
          : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(largest))));
  Image grid;
  grid.channels = c;
  grid.width = columns * (w + b) + b;
  grid.height = b;
  for (const ImageBatchU8& g : groups) grid.height += ((g.count + columns - 1) / columns) * (h + b);
  grid.height += options.group_gap * static_cast<int64_t>(groups.size() - 1);
  MRBM_CHECK(grid.width <= 65535 && grid.height <= 65535,
             "image grid of " << grid.width << " x " << grid.height << " pixels is too large");
  grid.pixels.assign(static_cast<size_t>(grid.width * grid.height * c), options.border_value);

  int64_t top = b;  // first pixel row of the current group's first tile row
  for (const ImageBatchU8& g : groups) {
    const int64_t plane = h * w;
    for (int64_t i = 0; i < g.count; ++i) {
      const int64_t y0 = top + (i / columns) * (h + b);
      const int64_t x0 = b + (i % columns) * (w + b);
      const uint8_t* src = g.pixels.data() + i * c * plane;
      for (int64_t y = 0; y < h; ++y) {
        uint8_t* dst = grid.pixels.data() + ((y0 + y) * grid.width + x0) * c;
        for (int64_t x = 0; x < w; ++x) {
          for (int64_t ch = 0; ch < c; ++ch) dst[x * c + ch] = src[ch * plane + y * w + x];
        }
      }
    }
    top += ((g.count + columns - 1) / columns) * (h + b) + options.group_gap;
  }
  return grid;
}

void write_png(const std::string& path, const Image& image) {
  MRBM_CHECK(
      image.channels >= 1 && image.channels <= 4 && image.width >= 1 && image.height >= 1 &&
          image.width <= std::numeric_limits<int>::max() / 4 &&
          image.height <= std::numeric_limits<int>::max() &&
          static_cast<int64_t>(image.pixels.size()) == image.width * image.height * image.channels,
      path << ": cannot write an image of " << image.width << " x " << image.height << " x "
           << image.channels << " with " << image.pixels.size() << " bytes");
  std::vector<uint8_t> png;
  const int w = static_cast<int>(image.width);
  const int comp = static_cast<int>(image.channels);
  if (stbi_write_png_to_func(append_bytes, &png, w, static_cast<int>(image.height), comp,
                             image.pixels.data(), w * comp) == 0) {
    MRBM_THROW(IoError, path << ": PNG encoding failed");
  }
  write_file_atomically(path, png);
}

void write_png_grid(const std::string& path, const ImageBatchU8& images,
                    const GridOptions& options) {
  write_png(path, make_grid({images}, options));
}

void write_png_grid(const std::string& path, const Tensor& images, const GridOptions& options) {
  write_png(path, make_grid({to_uint8_images(images, options.low, options.high)}, options));
}

void write_png_grid_groups(const std::string& path, const std::vector<ImageBatchU8>& groups,
                           const GridOptions& options) {
  write_png(path, make_grid(groups, options));
}

void write_png_grid_pair(const std::string& path, const Tensor& top, const Tensor& bottom,
                         const GridOptions& options) {
  write_png(path, make_grid({to_uint8_images(top, options.low, options.high),
                             to_uint8_images(bottom, options.low, options.high)},
                            options));
}

}  // namespace mrbm::data
