// `mrbm evaluate --samples DIR`: how much a folder of generated images looks like the data set
// (docs/cli.md "mrbm evaluate"), with data/image_quality.h's metrics and no outside weights.
//
// The feature space (principal directions) and the softmax classifier are fitted on the first
// `reference_images` training images. With K samples, the real statistics come from the test
// images K..N-1, and the same figures are reported for the real test images 0..K-1 (disjoint from
// the statistics, so their Frechet distance is the honest floor), those images blurred twice with
// the 3x3 box filter, and K images of uniform noise: the scale a reader needs to judge a number.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mrbm::tools {

struct SampleQualityOptions {
  std::string samples;                  // a folder of images (sample --out FOLDER writes one)
  std::string data = "fashion-mnist";   // the data set the samples imitate
  int64_t count = -1;                   // the first K images of the folder (-1: all)
  int64_t reference_images = 10000;     // training images of the feature space and classifier
  int64_t dims = 32;                    // principal directions of the feature space
  int64_t classifier_epochs = 5;
  uint64_t seed = 1;
};

nlohmann::json evaluate_sample_quality(const SampleQualityOptions& options);

}  // namespace mrbm::tools
