// Center crop, separable area/bilinear resize, and the HWC -> CHW copy (data/image_resize.h).
#include "data/image_resize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace mrbm::data {
namespace {

// One output sample of a 1-D filter: sum over k of weight[k] * input[first + k].
struct Tap {
  int64_t first = 0;
  std::vector<double> weights;
};

// The 1-D filter taking `in` samples to `out` samples (see the header for the two kernels).
std::vector<Tap> make_taps(int64_t in, int64_t out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    Tap& t = taps[static_cast<size_t>(o)];
    if (in == out) {
      t.first = o;
      t.weights = {1.0};
    } else if (in > out) {
      // Area: the footprint [lo, hi) in input coordinates; input pixel i covers [i, i + 1).
      const double lo = o * scale;
      const double hi = (o + 1) * scale;
      const int64_t first = static_cast<int64_t>(std::floor(lo));
      const int64_t last = std::min<int64_t>(in - 1, static_cast<int64_t>(std::ceil(hi)) - 1);
      t.first = first;
      for (int64_t i = first; i <= last; ++i) {
        const double cover = std::min<double>(hi, i + 1) - std::max<double>(lo, i);
        t.weights.push_back(std::max(0.0, cover) / scale);
      }
    } else {
      const double x = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(x));
      const int64_t i1 = std::min(i0 + 1, in - 1);
      const double f = x - static_cast<double>(i0);
      t.first = i0;
      t.weights = {1.0 - f};
      if (i1 != i0) t.weights.push_back(f);
    }
  }
  return taps;
}

uint8_t to_byte(double v) {
  return static_cast<uint8_t>(std::floor(std::clamp(v, 0.0, 255.0) + 0.5));
}

}  // namespace

Image center_crop_square(const Image& image) {
  const int64_t side = std::min(image.width, image.height);
  const int64_t x0 = (image.width - side) / 2;
  const int64_t y0 = (image.height - side) / 2;
  Image out;
  out.width = side;
  out.height = side;
  out.channels = image.channels;
  out.pixels.resize(static_cast<size_t>(side * side * image.channels));
  const int64_t row = side * image.channels;
  for (int64_t y = 0; y < side; ++y) {
    const uint8_t* src = image.pixels.data() + ((y0 + y) * image.width + x0) * image.channels;
    std::copy(src, src + row, out.pixels.data() + y * row);
  }
  return out;
}

Image resize_image(const Image& image, int64_t out_width, int64_t out_height) {
  MRBM_CHECK(out_width >= 1 && out_height >= 1,
             "resize to " << out_width << " x " << out_height << ": sizes must be >= 1");
  MRBM_CHECK(
      image.width >= 1 && image.height >= 1 && image.channels >= 1 &&
          static_cast<int64_t>(image.pixels.size()) == image.width * image.height * image.channels,
      "resize of an invalid image " << image.width << " x " << image.height << " x "
                                    << image.channels << " with " << image.pixels.size()
                                    << " bytes");
  const int64_t c = image.channels;
  const std::vector<Tap> htaps = make_taps(image.width, out_width);
  const std::vector<Tap> vtaps = make_taps(image.height, out_height);
  // Horizontal pass: height x out_width x c, kept in double so the vertical pass rounds once.
  std::vector<double> mid(static_cast<size_t>(image.height * out_width * c));
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* src = image.pixels.data() + y * image.width * c;
    for (int64_t x = 0; x < out_width; ++x) {
      const Tap& t = htaps[static_cast<size_t>(x)];
      for (int64_t ch = 0; ch < c; ++ch) {
        double acc = 0.0;
        for (size_t k = 0; k < t.weights.size(); ++k) {
          acc += t.weights[k] * src[(t.first + static_cast<int64_t>(k)) * c + ch];
        }
        mid[static_cast<size_t>((y * out_width + x) * c + ch)] = acc;
      }
    }
  }
  Image out;
  out.width = out_width;
  out.height = out_height;
  out.channels = c;
  out.pixels.resize(static_cast<size_t>(out_height * out_width * c));
  const int64_t row = out_width * c;
  for (int64_t y = 0; y < out_height; ++y) {
    const Tap& t = vtaps[static_cast<size_t>(y)];
    for (int64_t j = 0; j < row; ++j) {
      double acc = 0.0;
      for (size_t k = 0; k < t.weights.size(); ++k) {
        acc +=
            t.weights[k] * mid[static_cast<size_t>((t.first + static_cast<int64_t>(k)) * row + j)];
      }
      out.pixels[static_cast<size_t>(y * row + j)] = to_byte(acc);
    }
  }
  return out;
}

void interleaved_to_planar(uint8_t* out, const Image& image) {
  const int64_t plane = image.width * image.height;
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t ch = 0; ch < image.channels; ++ch) {
      out[ch * plane + p] = image.pixels[static_cast<size_t>(p * image.channels + ch)];
    }
  }
}

}  // namespace mrbm::data
