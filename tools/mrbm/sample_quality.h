// Sample quality (docs/cli.md "mrbm evaluate", "Sample quality"): how much a set of generated
// images looks like the data set, with data/image_quality.h's metrics and no outside weights.
// `mrbm evaluate --samples DIR` scores a folder; `mrbm train --quality-every E` scores the model's
// own samples after every E-th epoch.
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
#include <vector>

#include "data/image_quality.h"

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

// The reference (fitted once) and the figures of the real, blurred and noise images for sets of
// `count` images; score() then judges any set of that many images.
class SampleQualityJudge {
 public:
  SampleQualityJudge(const SampleQualityOptions& options, int64_t count);
  int64_t count() const { return count_; }
  int64_t channels() const { return channels_; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  // `images`: [count, C*H*W] with values 0..255. The report of docs/cli.md, without "samples".
  nlohmann::json score(const std::vector<float>& images) const;

 private:
  SampleQualityOptions options_;
  int64_t count_ = 0, channels_ = 0, height_ = 0, width_ = 0, train_count_ = 0, statistics_count_ = 0;
  data::QualityReference ref_;
  data::FeatureGaussian real_;
  data::QualityScores real_scores_, blurred_scores_, noise_scores_;
};

// `mrbm evaluate --samples`: the folder's images scored (the judge's report plus "samples").
nlohmann::json evaluate_sample_quality(const SampleQualityOptions& options);

}  // namespace mrbm::tools
