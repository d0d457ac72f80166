// Image-quality metrics (data/image_quality.h): the Frechet distance against closed forms, and on
// real Fashion-MNIST the ranking every generation figure relies on: real test images score better
// than blurred ones, and blurred ones better than uniform noise, on every metric.
#include <cmath>
#include <filesystem>
#include <numeric>

#include "data/idx_reader.h"
#include "data/image_quality.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::data;

TEST_CASE("Frechet distance equals its closed forms", "[data][quality]") {
  // Diagonal covariances: d^2 = |mu_a - mu_b|^2 + sum_k (sqrt(a_k) - sqrt(b_k))^2.
  FeatureGaussian a, b;
  const int64_t d = 5;
  a.mean = {1, 2, 3, 4, 5};
  b.mean = {1.5, 2, 2, 4, 5};
  a.cov.assign(d * d, 0.0);
  b.cov.assign(d * d, 0.0);
  const double va[] = {1, 4, 9, 0.25, 2}, vb[] = {4, 4, 1, 1, 3};
  double want = 0.25 + 1.0;
  for (int64_t k = 0; k < d; ++k) {
    a.cov[k * d + k] = va[k];
    b.cov[k * d + k] = vb[k];
    want += (std::sqrt(va[k]) - std::sqrt(vb[k])) * (std::sqrt(va[k]) - std::sqrt(vb[k]));
  }
  // Double rounding in the Jacobi rotations and products of 5 x 5 matrices: 1e-9 is ample.
  CHECK(std::fabs(frechet_distance(a, b) - want) <= 1e-9 * want);
  CHECK(frechet_distance(a, a) <= 1e-9);
  // A rotation of both covariances changes nothing; a full (non-diagonal) matrix exercises the
  // square root: rotate by 30 degrees in the (0, 1) plane.
  const double c = std::cos(0.5235987755982988), s = std::sin(0.5235987755982988);
  auto rotate = [&](FeatureGaussian g) {
    std::vector<double> r(d * d, 0.0), out(d * d, 0.0);
    for (int64_t k = 0; k < d; ++k) r[k * d + k] = 1;
    r[0] = c, r[1] = -s, r[d] = s, r[d + 1] = c;
    std::vector<double> tmp(d * d, 0.0);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        for (int64_t k = 0; k < d; ++k) tmp[i * d + j] += r[i * d + k] * g.cov[k * d + j];
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        for (int64_t k = 0; k < d; ++k) out[i * d + j] += tmp[i * d + k] * r[j * d + k];
    g.cov = out;
    const double m0 = g.mean[0], m1 = g.mean[1];
    g.mean[0] = c * m0 - s * m1;
    g.mean[1] = s * m0 + c * m1;
    return g;
  };
  CHECK(std::fabs(frechet_distance(rotate(a), rotate(b)) - want) <= 1e-9 * want);
}

TEST_CASE("box blur keeps constants and averages neighbours", "[data][quality]") {
  std::vector<float> img(2 * 3 * 4, 7.0f);
  CHECK(box_blur(img, 2, 3, 4, 2) == img);
  std::vector<float> dot(9, 0.0f);
  dot[4] = 9.0f;  // the centre of a 3x3 image
  const auto once = box_blur(dot, 1, 3, 3, 1);
  CHECK(once[4] == 1.0f);           // 9 / 9 neighbours
  CHECK(once[0] == 9.0f / 4.0f);    // a corner has 4 in-image neighbours
  CHECK(once[1] == 9.0f / 6.0f);    // an edge has 6
}

TEST_CASE("quality metrics rank real > blurred > noise on Fashion-MNIST", "[data][quality]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist); test skipped");
    return;
  }
  const Dataset train_all = read_mnist_like(dir, Split::kTrain, "fashion-mnist");
  const Dataset test_all = read_mnist_like(dir, Split::kTest, "fashion-mnist");
  const QualityReference ref = fit_quality_reference(take_first(train_all, 6000), 32, 2, 1);
  CHECK(ref.train_accuracy > 0.75);  // softmax regression reaches ~85% on Fashion-MNIST
  // Real statistics from test images 1000..2999; the scored sets have 1000 images each.
  std::vector<int64_t> tail(2000);
  std::iota(tail.begin(), tail.end(), 1000);
  const FeatureGaussian real = feature_gaussian(ref, to_float_images(select(test_all, tail)));
  const Dataset head = take_first(test_all, 1000);
  const std::vector<float> real_images = to_float_images(head);
  const QualityScores r = score_images(ref, real_images, real, head.labels);
  const QualityScores b = score_images(ref, box_blur(real_images, 1, 28, 28, 2), real);
  const QualityScores n = score_images(ref, uniform_noise_images(1000, 784, 3), real);
  INFO("frechet real " << r.frechet << " blurred " << b.frechet << " noise " << n.frechet);
  INFO("score real " << r.classifier_score << " blurred " << b.classifier_score << " noise "
                     << n.classifier_score);
  CHECK(r.accuracy > 0.7);
  CHECK(r.frechet < b.frechet);
  CHECK(b.frechet < n.frechet);
  CHECK(r.classifier_score > b.classifier_score);
  CHECK(b.classifier_score > n.classifier_score);
  // Real test images cover the 10 classes about evenly (entropy near log 10 = 2.30); noise falls
  // into few classes. (Mean confidence does not rank noise: far from the data the logits are
  // large, so the classifier is confidently wrong; it is reported, not ranked.)
  CHECK(r.class_entropy > 2.2);
  CHECK(n.class_entropy < b.class_entropy);
}
