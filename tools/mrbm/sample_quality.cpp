#include "tools/mrbm/sample_quality.h"

#include <chrono>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "data/data_spec.h"
#include "data/dataset.h"
#include "data/image_quality.h"

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

}  // namespace

json evaluate_sample_quality(const SampleQualityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const data::DataSpec spec = data::parse_data_spec(o.data);
  const data::Dataset test = load(spec, data::Split::kTest, -1, 0, 0);
  const data::Dataset train = load(spec, data::Split::kTrain, o.reference_images, test.height, test.channels);
  // The samples, decoded to the data set's size and channels (a grid PNG would be one image of
  // the wrong size: sample --out FOLDER writes one file per image).
  const data::Dataset samples =
      load(data::parse_data_spec("images:" + o.samples), data::Split::kTrain, o.count, test.height, test.channels);
  const int64_t k = samples.count;
  if (samples.height != test.height || samples.width != test.width) {
    MRBM_THROW(InvalidArgument, o.samples << ": images of " << samples.height << "x" << samples.width
                                          << ", the data set's are " << test.height << "x" << test.width);
  }
  constexpr int64_t kMinStatisticsImages = 2000;
  if (test.count - k < kMinStatisticsImages) {
    MRBM_THROW(InvalidArgument, o.samples << ": " << k << " samples; at most " << test.count - kMinStatisticsImages
                                          << " (the real statistics need " << kMinStatisticsImages << " of the "
                                          << test.count << " test images that are not scored); use --count");
  }
  if (!train.has_labels()) MRBM_THROW(InvalidArgument, o.data << ": the classifier score needs labelled training images");
  MRBM_LOG_INFO("evaluate: fitting the feature space (" << o.dims << " principal directions) and the classifier on "
                                                         << train.count << " training images");
  const data::QualityReference ref = data::fit_quality_reference(train, o.dims, o.classifier_epochs, o.seed);
  std::vector<int64_t> rest(static_cast<size_t>(test.count - k));
  std::iota(rest.begin(), rest.end(), k);
  const data::FeatureGaussian real = data::feature_gaussian(ref, data::to_float_images(data::select(test, rest)));
  const data::Dataset real_scored = data::take_first(test, k);
  const std::vector<float> real_images = data::to_float_images(real_scored);
  const auto s = data::score_images(ref, data::to_float_images(samples), real);
  const auto r = data::score_images(ref, real_images, real, real_scored.labels);
  const auto b = data::score_images(
      ref, data::box_blur(real_images, test.channels, test.height, test.width, 2), real);
  const auto n = data::score_images(ref, data::uniform_noise_images(k, test.image_numel(), o.seed + 1), real);
  json j;
  j["samples"] = o.samples;
  j["data"] = o.data;
  j["reference"] = {{"train_images", train.count},
                    {"dims", o.dims},
                    {"classifier_epochs", o.classifier_epochs},
                    {"classifier_train_accuracy", ref.train_accuracy},
                    {"statistics_test_images", test.count - k},
                    {"seed", o.seed}};
  j["generated"] = scores_json(s, k);
  j["real"] = scores_json(r, k);
  j["blurred_twice"] = scores_json(b, k);
  j["noise"] = scores_json(n, k);
  // The two ratios of issue 14's goal: Frechet against the twice-blurred real images (<= 3 is the
  // goal), classifier score against the real images' (>= 0.6).
  j["frechet_vs_blurred"] = b.frechet > 0 ? s.frechet / b.frechet : 0.0;
  j["score_vs_real"] = r.classifier_score > 0 ? s.classifier_score / r.classifier_score : 0.0;
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return j;
}

}  // namespace mrbm::tools
