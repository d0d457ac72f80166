// PNG grids of images: samples, filters, "originals above, reconstructions below".
//
// Layout of a grid: tiles of H x W pixels in rows of `columns` (default ceil(sqrt(N))), each tile
// surrounded by `border` pixels of border_value (the outer frame too), so a grid of r rows is
// (r * (H + border) + border) pixels high. write_png_grid_groups stacks several groups of images,
// each group starting on a new row and groups separated by `group_gap` extra border pixels, which
// makes "originals above, reconstructions below" readable at a glance. 1-channel images give a
// greyscale PNG, 3-channel images an RGB PNG (planar C x H x W input, interleaved PNG output).
//
// Values: float tensors map [low, high] linearly onto 0..255 (defaults 0 and 255: the raw pixel
// values of mrbm) with clamping and rounding; NaN becomes 0. uint8 input is taken as it is.
// Files are encoded in memory by stb_image_write and written atomically (data/file_io.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/image_resize.h"

namespace mrbm::data {

struct GridOptions {
  int64_t columns = 0;         // 0: ceil(sqrt(N)) of the largest group
  int64_t border = 1;          // pixels between and around tiles (0..16)
  uint8_t border_value = 128;  // grey: visible against both white and black images
  int64_t group_gap = 2;       // extra border pixels between groups
  float low = 0.0f;            // float input value shown as 0
  float high = 255.0f;         // float input value shown as 255
};

// N images as planar uint8 [N, C, H, W] (C = 1 or 3), the input of the grid functions.
struct ImageBatchU8 {
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;
};

// A float32/float64 tensor [N, C, H, W] (any device) mapped to bytes with low/high as above.
ImageBatchU8 to_uint8_images(const Tensor& images, float low = 0.0f, float high = 255.0f);

// The images `indices` of a data set (e.g. originals to show above their reconstructions).
ImageBatchU8 dataset_images(const Dataset& dataset, const std::vector<int64_t>& indices);

// The grid image (interleaved, C channels) of the groups, laid out as described above.
// InvalidArgument when groups are empty or disagree in C, H, W, or C is not 1 or 3.
Image make_grid(const std::vector<ImageBatchU8>& groups, const GridOptions& options);

// Encodes `image` (1 or 3 channels) as PNG and writes it atomically. IoError naming the file.
void write_png(const std::string& path, const Image& image);

// One group: uint8 images, or a float tensor [N, C, H, W] mapped with options.low/high.
void write_png_grid(const std::string& path, const ImageBatchU8& images,
                    const GridOptions& options = {});
void write_png_grid(const std::string& path, const Tensor& images, const GridOptions& options = {});

// Several groups, each starting a new row block (e.g. {originals, reconstructions}).
void write_png_grid_groups(const std::string& path, const std::vector<ImageBatchU8>& groups,
                           const GridOptions& options = {});
// Two float tensors of the same image shape: `top` rows, then `bottom` rows.
void write_png_grid_pair(const std::string& path, const Tensor& top, const Tensor& bottom,
                         const GridOptions& options = {});

}  // namespace mrbm::data
