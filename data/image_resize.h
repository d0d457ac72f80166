// Center crop and resize of 8-bit images, for fitting photographs (CelebA, image folders) to the
// model's square input.
//
// Layout: Image holds height x width x channels interleaved bytes (stb_image's layout), row-major.
//
// Resize is separable, one axis after the other, each with its own 1-D filter chosen by the scale
// of that axis (s = in / out):
//   downscaling (s > 1): area (box) filter: output pixel o covers the input interval [o*s, (o+1)*s)
//     and is the mean of the input pixels weighted by how much of each the interval covers. This is
//     the exact average over the footprint, so it does not alias (unlike point or bilinear
//     sampling) and a uniform region stays exactly uniform;
//   upscaling (s < 1): bilinear: output centre (o + 0.5) * s - 0.5 in input coordinates, clamped to
//     [0, in - 1], linear between the two nearest inputs (the "half-pixel" convention of OpenCV,
//     PIL and PyTorch's align_corners=False);
//   same size: a copy.
// Intermediate values are double and each output byte is round-half-up of the clamped result, so
// the result is exact where the mean is a representable integer (tests rely on this).
#pragma once

#include <cstdint>
#include <vector>

namespace mrbm::data {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels, interleaved
};

// The largest centred square: side min(w, h), offset ((w - side) / 2, (h - side) / 2) (rounded
// down, so an odd excess drops one more column/row on the right/bottom).
Image center_crop_square(const Image& image);

// `image` resized to out_width x out_height (both >= 1) with the filters above.
Image resize_image(const Image& image, int64_t out_width, int64_t out_height);

// HWC interleaved -> CHW planar (mrbm's layout) into out[channels * height * width].
void interleaved_to_planar(uint8_t* out, const Image& image);

}  // namespace mrbm::data
