#include "tools/mrbm/sample_quality.h"

#include <chrono>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "data/data_spec.h"
#include "data/dataset.h"

namespace mrbm::tools {
namespace {

using nlohmann::json;

json scores_json(const data::QualityScores& s, int64_t count) {
  json j = {{"images", count},
            {"frechet", s.frechet},
            {"classifier_score", s.classifier_score},
            {"mean_confidence", s.mean_confidence},
            {"class_entropy", s.class_entropy}};
  if (s.accuracy >= 0) j["classifier_accuracy"] = s.accuracy;
  return j;
}

data::Dataset load(const data::DataSpec& spec, data::Split split, int64_t limit, int64_t size,
                   int64_t channels) {
  data::LoadOptions o;
  o.split = split;
  o.limit = limit;
  if (size > 0) o.images.size = size;  // image folders: decoded to this size and channel count
  if (channels > 0) o.images.channels = channels;
  return data::load_dataset(spec, o);
}

constexpr int64_t kMinStatisticsImages = 2000;

}  // namespace

SampleQualityJudge::SampleQualityJudge(const SampleQualityOptions& o, int64_t count)
    : options_(o), count_(count) {
  const data::DataSpec spec = data::parse_data_spec(o.data);
  const data::Dataset test = load(spec, data::Split::kTest, -1, 0, 0);
  channels_ = test.channels;
  height_ = test.height;
  width_ = test.width;
  if (count < 1 || test.count - count < kMinStatisticsImages) {
    MRBM_THROW(InvalidArgument, count << " samples to score: at most " << test.count - kMinStatisticsImages
                                      << " (the real statistics need " << kMinStatisticsImages << " of the "
                                      << test.count << " test images of " << o.data << " that are not scored)");
  }
  const data::Dataset train = load(spec, data::Split::kTrain, o.reference_images, test.height, test.channels);
  if (!train.has_labels()) MRBM_THROW(InvalidArgument, o.data << ": the classifier score needs labelled training images");
  train_count_ = train.count;
  statistics_count_ = test.count - count;
  MRBM_LOG_INFO("sample quality: fitting the feature space (" << o.dims << " principal directions) and the classifier on "
                                                              << train.count << " training images");
  ref_ = data::fit_quality_reference(train, o.dims, o.classifier_epochs, o.seed);
  std::vector<int64_t> rest(static_cast<size_t>(statistics_count_));
  std::iota(rest.begin(), rest.end(), count);
  real_ = data::feature_gaussian(ref_, data::to_float_images(data::select(test, rest)));
  const data::Dataset real_scored = data::take_first(test, count);
  const std::vector<float> real_images = data::to_float_images(real_scored);
  real_scores_ = data::score_images(ref_, real_images, real_, real_scored.labels);
  blurred_scores_ = data::score_images(ref_, data::box_blur(real_images, channels_, height_, width_, 2), real_);
  noise_scores_ = data::score_images(ref_, data::uniform_noise_images(count, test.image_numel(), o.seed + 1), real_);
}

json SampleQualityJudge::score(const std::vector<float>& images) const {
  MRBM_CHECK(static_cast<int64_t>(images.size()) == count_ * channels_ * height_ * width_,
             "sample quality: " << images.size() << " values for " << count_ << " images of "
                                << channels_ << "x" << height_ << "x" << width_);
  const data::QualityScores s = data::score_images(ref_, images, real_);
  json j;
  j["data"] = options_.data;
  j["reference"] = {{"train_images", train_count_},
                    {"dims", options_.dims},
                    {"classifier_epochs", options_.classifier_epochs},
                    {"classifier_train_accuracy", ref_.train_accuracy},
                    {"statistics_test_images", statistics_count_},
                    {"seed", options_.seed}};
  j["generated"] = scores_json(s, count_);
  j["real"] = scores_json(real_scores_, count_);
  j["blurred_twice"] = scores_json(blurred_scores_, count_);
  j["noise"] = scores_json(noise_scores_, count_);
  // The two ratios of issue 14's goal: Frechet against the twice-blurred real images (<= 3 is the
  // goal), classifier score against the real images' (>= 0.6).
  j["frechet_vs_blurred"] = blurred_scores_.frechet > 0 ? s.frechet / blurred_scores_.frechet : 0.0;
  j["score_vs_real"] = real_scores_.classifier_score > 0 ? s.classifier_score / real_scores_.classifier_score : 0.0;
  return j;
}

json evaluate_sample_quality(const SampleQualityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  // The data set's image size first: the samples are decoded to it (a grid PNG would be one image
  // of the wrong size: sample --out FOLDER writes one file per image).
  const data::DataSpec spec = data::parse_data_spec(o.data);
  data::Dataset probe = load(spec, data::Split::kTest, 1, 0, 0);
  const data::Dataset samples = load(data::parse_data_spec("images:" + o.samples), data::Split::kTrain,
                                     o.count, probe.height, probe.channels);
  if (samples.height != probe.height || samples.width != probe.width) {
    MRBM_THROW(InvalidArgument, o.samples << ": images of " << samples.height << "x" << samples.width
                                          << ", the data set's are " << probe.height << "x" << probe.width);
  }
  const SampleQualityJudge judge(o, samples.count);
  json j = judge.score(data::to_float_images(samples));
  j["samples"] = o.samples;
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return j;
}

}  // namespace mrbm::tools
