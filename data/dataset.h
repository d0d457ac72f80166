// Dataset: a labelled (or unlabelled) set of images held in memory as raw 8-bit pixel values, and
// the conversion of a list of indices into a float32 batch for the model.
//
// Layout: pixels is N x C x H x W, row-major, planar (all of channel 0, then channel 1, ...), one
// uint8 per value, exactly as read (0..255; mrbm treats an 8-bit pixel as a 255-level multinary
// unit, so nothing is rescaled here). labels is empty or holds N int32 class indices. uint8 keeps
// CelebA at 64x64 (200k images, 2.4 GB) in memory where float32 would need 9.8 GB; the float
// batch is made per step (make_batch), in the prefetch thread of BatchIterator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mrbm::data {

// Which part of a data set to read. MNIST-like sets and CIFAR-10 have train and test; CelebA also
// has valid (list_eval_partition.txt).
enum class Split { kTrain, kValid, kTest };

// "train", "valid", "test".
const char* split_name(Split split);
// Parses the names above; InvalidArgument naming the text otherwise.
Split parse_split(const std::string& text);

struct Dataset {
  std::string name;         // "fashion-mnist/train", "cifar10/test", "celeba/train", ...
  std::string description;  // where it came from, for logs and `mrbm info`
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // count * channels * height * width
  std::vector<int32_t> labels;  // empty, or count entries

  int64_t image_numel() const { return channels * height * width; }
  bool has_labels() const { return !labels.empty(); }
  // [C, H, W], the shape of one image.
  Shape image_shape() const { return {channels, height, width}; }
  // The first byte of image i (no bounds check; see check_index).
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_numel(); }
};

// InvalidArgument unless the sizes agree: pixels.size() == count * C * H * W, labels empty or of
// size count, every size non-negative.
void check_dataset(const Dataset& dataset);

// InvalidArgument naming the data set when i is not in [0, count).
void check_index(const Dataset& dataset, int64_t i);

// Writes the images `indices` (each checked) as float32 values 0..255 into out[B * C * H * W].
void fill_batch(float* out, const Dataset& dataset, const std::vector<int64_t>& indices);

// A CPU float32 tensor [B, C, H, W] of the images `indices`, values 0..255 as floats.
Tensor make_batch(const Dataset& dataset, const std::vector<int64_t>& indices);

// The labels of `indices`; empty when the data set has none.
std::vector<int32_t> batch_labels(const Dataset& dataset, const std::vector<int64_t>& indices);

// A copy holding the images `indices` in that order (labels too), same name and description.
Dataset select(const Dataset& dataset, const std::vector<int64_t>& indices);

// The first min(k, count) images (`--limit K` for quick runs); k < 0 means all.
Dataset take_first(const Dataset& dataset, int64_t k);

// 1 + the largest label, 0 when the data set has no labels.
int32_t num_classes(const Dataset& dataset);

}  // namespace mrbm::data
