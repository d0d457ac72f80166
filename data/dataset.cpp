// Dataset checks, batch conversion and subsetting (data/dataset.h).
#include "data/dataset.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace mrbm::data {

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kValid:
      return "valid";
    case Split::kTest:
      return "test";
  }
  return "?";
}

Split parse_split(const std::string& text) {
  if (text == "train") return Split::kTrain;
  if (text == "valid") return Split::kValid;
  if (text == "test") return Split::kTest;
  MRBM_THROW(InvalidArgument, "unknown split '" << text << "' (expected train, valid or test)");
}

void check_dataset(const Dataset& d) {
  MRBM_CHECK(d.count >= 0 && d.channels >= 0 && d.height >= 0 && d.width >= 0,
             "data set '" << d.name << "': negative size " << d.count << " x " << d.channels
                          << " x " << d.height << " x " << d.width);
  MRBM_CHECK(static_cast<int64_t>(d.pixels.size()) == d.count * d.image_numel(),
             "data set '" << d.name << "': " << d.pixels.size() << " pixel bytes for " << d.count
                          << " images of " << shape_to_string(d.image_shape()));
  MRBM_CHECK(
      d.labels.empty() || static_cast<int64_t>(d.labels.size()) == d.count,
      "data set '" << d.name << "': " << d.labels.size() << " labels for " << d.count << " images");
}

void check_index(const Dataset& d, int64_t i) {
  MRBM_CHECK(i >= 0 && i < d.count,
             "data set '" << d.name << "': index " << i << " out of range [0, " << d.count << ")");
}

void fill_batch(float* out, const Dataset& d, const std::vector<int64_t>& indices) {
  const int64_t n = d.image_numel();
  for (size_t b = 0; b < indices.size(); ++b) {
    check_index(d, indices[b]);
    const uint8_t* src = d.image(indices[b]);
    float* dst = out + static_cast<int64_t>(b) * n;
    for (int64_t k = 0; k < n; ++k) dst[k] = static_cast<float>(src[k]);
  }
}

Tensor make_batch(const Dataset& d, const std::vector<int64_t>& indices) {
  Tensor batch = Tensor::empty(
      {static_cast<int64_t>(indices.size()), d.channels, d.height, d.width}, DType::kFloat32);
  fill_batch(batch.data<float>(), d, indices);
  return batch;
}

std::vector<int32_t> batch_labels(const Dataset& d, const std::vector<int64_t>& indices) {
  std::vector<int32_t> labels;
  if (!d.has_labels()) return labels;
  labels.reserve(indices.size());
  for (int64_t i : indices) {
    check_index(d, i);
    labels.push_back(d.labels[static_cast<size_t>(i)]);
  }
  return labels;
}

Dataset select(const Dataset& d, const std::vector<int64_t>& indices) {
  Dataset out;
  out.name = d.name;
  out.description = d.description;
  out.count = static_cast<int64_t>(indices.size());
  out.channels = d.channels;
  out.height = d.height;
  out.width = d.width;
  const int64_t n = d.image_numel();
  out.pixels.resize(static_cast<size_t>(out.count * n));
  for (size_t b = 0; b < indices.size(); ++b) {
    check_index(d, indices[b]);
    std::memcpy(out.pixels.data() + static_cast<int64_t>(b) * n, d.image(indices[b]),
                static_cast<size_t>(n));
  }
  out.labels = batch_labels(d, indices);
  return out;
}

Dataset take_first(const Dataset& d, int64_t k) {
  if (k < 0 || k >= d.count) return d;
  Dataset out;
  out.name = d.name;
  out.description = d.description + " (first " + std::to_string(k) + ")";
  out.count = k;
  out.channels = d.channels;
  out.height = d.height;
  out.width = d.width;
  out.pixels.assign(d.pixels.begin(), d.pixels.begin() + k * d.image_numel());
  if (d.has_labels()) out.labels.assign(d.labels.begin(), d.labels.begin() + k);
  return out;
}

int32_t num_classes(const Dataset& d) {
  if (d.labels.empty()) return 0;
  return *std::max_element(d.labels.begin(), d.labels.end()) + 1;
}

}  // namespace mrbm::data
