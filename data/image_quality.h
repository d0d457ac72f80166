// How much a set of images looks like real ones, measured by mrbm itself (no external weights):
// the generation metrics of docs/results.md (issue 14).
//
//   Frechet distance  d^2 = |mu_g - mu_r|^2 + tr(S_g + S_r - 2 (S_r^1/2 S_g S_r^1/2)^1/2) between
//                     Gaussians fitted to the images' coordinates in a feature space: the top
//                     `dims` principal directions of the training pixels (FID's recipe with PCA
//                     in place of Inception features, which need weights from outside)
//   classifier score  exp(E_x KL(p(y|x) || p(y))), p(y) = E_x p(y|x), with a softmax classifier
//                     (multinomial logistic regression) trained on the training pixels: high when
//                     each image is confidently one class and the classes are diverse (the
//                     Inception score's recipe with an in-domain classifier)
//   mean confidence   E_x max_y p(y|x);  class entropy: entropy (nats) of the argmax histogram
//                     (reported, not ranked: far from the data the logits grow, so uniform noise
//                     gets confident predictions, all of one class, i.e. a low class entropy)
//
// Images are float32 [count, C*H*W] with values 0..255 (CPU). Every figure is reported beside the
// same figure for real test images, blurred real images and uniform noise (QualityReport), so a
// reader can judge the scale. Deterministic for a given seed (the classifier's batch order).
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace mrbm::data {

struct QualityReference {
  int64_t pixels = 0, dims = 0, classes = 0;
  std::vector<double> mean;        // [pixels], of the training pixels
  std::vector<double> components;  // [dims, pixels], orthonormal rows (principal directions)
  std::vector<float> weights;      // [pixels, classes]: logits = (x / 255) W + bias
  std::vector<float> bias;         // [classes]
  double train_accuracy = 0.0;     // of the classifier on its training images
};

// Fits the feature space (`dims` principal directions, by subspace iteration on the covariance of
// the images) and the classifier (`epochs` of mini-batch Adam) on a labelled data set.
QualityReference fit_quality_reference(const Dataset& train, int64_t dims, int64_t epochs,
                                       uint64_t seed);

// Mean and covariance of the images' coordinates in the reference's feature space.
struct FeatureGaussian {
  std::vector<double> mean;  // [dims]
  std::vector<double> cov;   // [dims, dims]
};
FeatureGaussian feature_gaussian(const QualityReference& ref, const std::vector<float>& images);

// d^2 of the formula above (>= 0).
double frechet_distance(const FeatureGaussian& a, const FeatureGaussian& b);

struct QualityScores {
  double frechet = 0, classifier_score = 0, mean_confidence = 0, class_entropy = 0;
  double accuracy = -1;  // when labels are given: the classifier's accuracy on the images
};
QualityScores score_images(const QualityReference& ref, const std::vector<float>& images,
                           const FeatureGaussian& real, const std::vector<int32_t>& labels = {});

// The 3x3 box filter (the mean over the neighbours inside the image), `times` times, per channel.
std::vector<float> box_blur(const std::vector<float>& images, int64_t channels, int64_t height,
                            int64_t width, int times);
// Uniform noise over 0..255, [count, pixels].
std::vector<float> uniform_noise_images(int64_t count, int64_t pixels, uint64_t seed);
// The images of a data set as float32 0..255, [count, C*H*W].
std::vector<float> to_float_images(const Dataset& dataset);

}  // namespace mrbm::data
