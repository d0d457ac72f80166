// Image-quality metrics (data/image_quality.h).
#include "data/image_quality.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/gemm.h"
#include "kernels/philox.h"

namespace mrbm::data {
namespace {

// Eigen-decomposition of a symmetric n x n matrix (row-major, overwritten) by cyclic Jacobi
// rotations: values[k] with eigenvector column k of `vectors` [n, n]. Used on small matrices
// (n = the feature dimension, <= a few hundred), where it is simple and accurate to rounding.
void symmetric_eigen(std::vector<double> a, int64_t n, std::vector<double>& values,
                     std::vector<double>& vectors) {
  vectors.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) vectors[i * n + i] = 1.0;
  auto at = [&](int64_t i, int64_t j) -> double& { return a[static_cast<size_t>(i * n + j)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      diag += at(i, i) * at(i, i);
      for (int64_t j = i + 1; j < n; ++j) off += at(i, j) * at(i, j);
    }
    if (off <= 1e-30 * std::max(diag, 1e-300)) break;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (apq == 0.0) continue;
        const double theta = (at(q, q) - at(p, p)) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          double& vkp = vectors[static_cast<size_t>(k * n + p)];
          double& vkq = vectors[static_cast<size_t>(k * n + q)];
          const double x = vkp, y = vkq;
          vkp = c * x - s * y;
          vkq = s * x + c * y;
        }
      }
    }
  }
  values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[i] = at(i, i);
}

// Orthonormalizes the columns of q [rows, cols] in place (modified Gram-Schmidt, twice for
// stability); a column that vanishes is replaced by a unit vector orthogonal to the others.
void orthonormalize_columns(std::vector<double>& q, int64_t rows, int64_t cols) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t j = 0; j < cols; ++j) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < rows; ++i) dot += q[i * cols + j] * q[i * cols + k];
        for (int64_t i = 0; i < rows; ++i) q[i * cols + j] -= dot * q[i * cols + k];
      }
      double norm = 0;
      for (int64_t i = 0; i < rows; ++i) norm += q[i * cols + j] * q[i * cols + j];
      norm = std::sqrt(norm);
      MRBM_CHECK(norm > 0, "principal directions: the images span fewer than " << cols << " dimensions");
      for (int64_t i = 0; i < rows; ++i) q[i * cols + j] /= norm;
    }
  }
}

std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int64_t m,
                           int64_t k, int64_t n, bool trans_a = false) {
  const Tensor ta = Tensor::from_vector(a, trans_a ? Shape{k, m} : Shape{m, k});
  const Tensor tb = Tensor::from_vector(b, {k, n});
  Tensor c = Tensor::empty({m, n}, DType::kFloat64);
  gemm(c, ta, tb, trans_a, false, 1.0, 0.0, nullptr);
  return c.to_vector<double>();
}

// Softmax probabilities of one image (x in 0..255) into p[classes].
void class_probabilities(const QualityReference& ref, const float* x, double* p) {
  std::vector<double> logit(ref.bias.begin(), ref.bias.end());
  for (int64_t i = 0; i < ref.pixels; ++i) {
    const double xi = x[i] / 255.0;
    if (xi == 0.0) continue;
    const float* w = ref.weights.data() + i * ref.classes;
    for (int64_t c = 0; c < ref.classes; ++c) logit[c] += xi * w[c];
  }
  const double top = *std::max_element(logit.begin(), logit.end());
  double sum = 0;
  for (int64_t c = 0; c < ref.classes; ++c) sum += (p[c] = std::exp(logit[c] - top));
  for (int64_t c = 0; c < ref.classes; ++c) p[c] /= sum;
}

void fit_classifier(QualityReference& ref, const Dataset& train, int64_t epochs, uint64_t seed) {
  const int64_t n = train.count, d = ref.pixels, k = ref.classes, batch = 128;
  ref.weights.assign(static_cast<size_t>(d * k), 0.0f);
  ref.bias.assign(static_cast<size_t>(k), 0.0f);
  // Adam (lr 1e-3) on the mean cross-entropy plus 1e-4 |W|^2 / 2.
  std::vector<double> mw(d * k, 0), vw(d * k, 0), mb(k, 0), vb(k, 0), gw(d * k), gb(k), p(k);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 gen(seed);
  int64_t step = 0;
  for (int64_t e = 0; e < epochs; ++e) {
    std::shuffle(order.begin(), order.end(), gen);
    for (int64_t start = 0; start < n; start += batch) {
      const int64_t end = std::min(n, start + batch);
      std::fill(gw.begin(), gw.end(), 0.0);
      std::fill(gb.begin(), gb.end(), 0.0);
      std::vector<float> x(static_cast<size_t>(d));
      for (int64_t r = start; r < end; ++r) {
        const uint8_t* img = train.image(order[r]);
        for (int64_t i = 0; i < d; ++i) x[i] = img[i];
        class_probabilities(ref, x.data(), p.data());
        p[train.labels[order[r]]] -= 1.0;  // d(cross-entropy)/d(logit)
        for (int64_t c = 0; c < k; ++c) gb[c] += p[c];
        for (int64_t i = 0; i < d; ++i) {
          if (img[i] == 0) continue;
          const double xi = img[i] / 255.0;
          for (int64_t c = 0; c < k; ++c) gw[i * k + c] += xi * p[c];
        }
      }
      ++step;
      const double scale = 1.0 / static_cast<double>(end - start);
      const double c1 = 1.0 - std::pow(0.9, static_cast<double>(step));
      const double c2 = 1.0 - std::pow(0.999, static_cast<double>(step));
      auto adam = [&](double g, double& m, double& v, float& w) {
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        w = static_cast<float>(w - 1e-3 * (m / c1) / (std::sqrt(v / c2) + 1e-8));
      };
      for (int64_t i = 0; i < d * k; ++i) adam(gw[i] * scale + 1e-4 * ref.weights[i], mw[i], vw[i], ref.weights[i]);
      for (int64_t c = 0; c < k; ++c) adam(gb[c] * scale, mb[c], vb[c], ref.bias[c]);
    }
  }
  int64_t right = 0;
  std::vector<float> x(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* img = train.image(r);
    for (int64_t i = 0; i < d; ++i) x[i] = img[i];
    class_probabilities(ref, x.data(), p.data());
    right += std::max_element(p.begin(), p.end()) - p.begin() == train.labels[r];
  }
  ref.train_accuracy = static_cast<double>(right) / static_cast<double>(std::max<int64_t>(n, 1));
}

}  // namespace

std::vector<float> to_float_images(const Dataset& dataset) {
  return std::vector<float>(dataset.pixels.begin(), dataset.pixels.end());
}

QualityReference fit_quality_reference(const Dataset& train, int64_t dims, int64_t epochs,
                                       uint64_t seed) {
  check_dataset(train);
  MRBM_CHECK(train.has_labels() && train.count > dims,
             "image quality: the reference needs labelled images, more than " << dims);
  QualityReference ref;
  ref.pixels = train.image_numel();
  ref.dims = dims;
  ref.classes = num_classes(train);
  MRBM_CHECK(dims >= 1 && dims <= ref.pixels, "image quality: " << dims << " feature dimensions for "
                                                                 << ref.pixels << " pixels");
  const int64_t n = train.count, p = ref.pixels;
  // Centered pixels and their covariance C = X^T X / (n - 1).
  ref.mean.assign(static_cast<size_t>(p), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < p; ++i) ref.mean[i] += train.image(r)[i];
  for (double& m : ref.mean) m /= static_cast<double>(n);
  std::vector<double> x(static_cast<size_t>(n * p));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < p; ++i) x[r * p + i] = train.image(r)[i] - ref.mean[i];
  std::vector<double> cov = matmul(x, x, p, n, p, true);
  for (double& c : cov) c /= static_cast<double>(n - 1);
  x.clear();
  x.shrink_to_fit();
  // Subspace iteration with 8 extra columns, then Rayleigh-Ritz; any orthonormal basis of a
  // dominant subspace is a valid feature space, so convergence to rounding is not needed.
  const int64_t cols = std::min(p, dims + 8);
  std::vector<double> q(static_cast<size_t>(p * cols));
  for (int64_t i = 0; i < p * cols; ++i) {
    kernels::PhiloxStream rng(seed, static_cast<uint64_t>(i), 0x51u);
    q[i] = rng.normal();
  }
  orthonormalize_columns(q, p, cols);
  for (int it = 0; it < 60; ++it) {
    q = matmul(cov, q, p, p, cols);
    orthonormalize_columns(q, p, cols);
  }
  const std::vector<double> t = matmul(q, matmul(cov, q, p, p, cols), cols, p, cols, true);
  std::vector<double> values, vectors;
  symmetric_eigen(t, cols, values, vectors);
  std::vector<int64_t> rank(static_cast<size_t>(cols));
  std::iota(rank.begin(), rank.end(), 0);
  std::sort(rank.begin(), rank.end(), [&](int64_t a, int64_t b) { return values[a] > values[b]; });
  ref.components.assign(static_cast<size_t>(dims * p), 0.0);
  for (int64_t k = 0; k < dims; ++k)
    for (int64_t i = 0; i < p; ++i) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += q[i * cols + j] * vectors[j * cols + rank[k]];
      ref.components[k * p + i] = s;
    }
  fit_classifier(ref, train, epochs, seed);
  return ref;
}

FeatureGaussian feature_gaussian(const QualityReference& ref, const std::vector<float>& images) {
  const int64_t p = ref.pixels, d = ref.dims;
  MRBM_CHECK(p > 0 && images.size() % static_cast<size_t>(p) == 0,
             "image quality: " << images.size() << " values are not whole images of " << p);
  const int64_t n = static_cast<int64_t>(images.size()) / p;
  MRBM_CHECK(n >= 2, "image quality: a Gaussian needs at least 2 images, got " << n);
  std::vector<double> x(images.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < p; ++i) x[r * p + i] = images[r * p + i] - ref.mean[i];
  // Coordinates z = x C^T, [n, d].
  const Tensor tx = Tensor::from_vector(x, {n, p});
  const Tensor tc = Tensor::from_vector(ref.components, {d, p});
  Tensor z = Tensor::empty({n, d}, DType::kFloat64);
  gemm(z, tx, tc, false, true, 1.0, 0.0, nullptr);
  std::vector<double> zv = z.to_vector<double>();
  FeatureGaussian g;
  g.mean.assign(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < d; ++k) g.mean[k] += zv[r * d + k] / static_cast<double>(n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < d; ++k) zv[r * d + k] -= g.mean[k];
  g.cov = matmul(zv, zv, d, n, d, true);
  for (double& c : g.cov) c /= static_cast<double>(n - 1);
  return g;
}

double frechet_distance(const FeatureGaussian& a, const FeatureGaussian& b) {
  const int64_t d = static_cast<int64_t>(a.mean.size());
  MRBM_CHECK(b.mean.size() == a.mean.size(), "frechet_distance: dimensions differ");
  double dist = 0;
  for (int64_t k = 0; k < d; ++k) dist += (a.mean[k] - b.mean[k]) * (a.mean[k] - b.mean[k]);
  for (int64_t k = 0; k < d; ++k) dist += a.cov[k * d + k] + b.cov[k * d + k];
  // tr (S_b^1/2 S_a S_b^1/2)^1/2 from the eigenvalues of the symmetric middle matrix.
  std::vector<double> values, vectors;
  symmetric_eigen(b.cov, d, values, vectors);
  std::vector<double> root(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k)
        root[i * d + j] += vectors[i * d + k] * std::sqrt(std::max(values[k], 0.0)) * vectors[j * d + k];
  const std::vector<double> middle = matmul(root, matmul(a.cov, root, d, d, d), d, d, d);
  std::vector<double> sym(middle.size());
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) sym[i * d + j] = 0.5 * (middle[i * d + j] + middle[j * d + i]);
  symmetric_eigen(sym, d, values, vectors);
  double trace_root = 0;
  for (double v : values) trace_root += std::sqrt(std::max(v, 0.0));
  return std::max(0.0, dist - 2.0 * trace_root);
}

QualityScores score_images(const QualityReference& ref, const std::vector<float>& images,
                           const FeatureGaussian& real, const std::vector<int32_t>& labels) {
  QualityScores s;
  s.frechet = frechet_distance(feature_gaussian(ref, images), real);
  const int64_t n = static_cast<int64_t>(images.size()) / ref.pixels, k = ref.classes;
  MRBM_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == n,
             "image quality: " << labels.size() << " labels for " << n << " images");
  std::vector<double> probs(static_cast<size_t>(n * k)), marginal(static_cast<size_t>(k), 0.0);
  std::vector<double> histogram(static_cast<size_t>(k), 0.0);
  int64_t right = 0;
  for (int64_t r = 0; r < n; ++r) {
    double* p = probs.data() + r * k;
    class_probabilities(ref, images.data() + r * ref.pixels, p);
    const int64_t top = std::max_element(p, p + k) - p;
    s.mean_confidence += p[top] / static_cast<double>(n);
    histogram[top] += 1.0 / static_cast<double>(n);
    if (!labels.empty()) right += top == labels[r];
    for (int64_t c = 0; c < k; ++c) marginal[c] += p[c] / static_cast<double>(n);
  }
  double kl = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const double p = probs[r * k + c];
      if (p > 0) kl += p * std::log(p / marginal[c]) / static_cast<double>(n);
    }
  s.classifier_score = std::exp(kl);
  for (double h : histogram)
    if (h > 0) s.class_entropy -= h * std::log(h);
  // One class only: the sum of h log h over rounded shares can end a few ulps below 0.
  s.class_entropy = std::max(0.0, s.class_entropy);
  if (!labels.empty()) s.accuracy = static_cast<double>(right) / static_cast<double>(n);
  return s;
}

std::vector<float> box_blur(const std::vector<float>& images, int64_t channels, int64_t height,
                            int64_t width, int times) {
  const int64_t plane = height * width;
  MRBM_CHECK(plane > 0 && images.size() % static_cast<size_t>(plane * channels) == 0,
             "box_blur: " << images.size() << " values are not whole images");
  std::vector<float> cur = images, next(images.size());
  const int64_t planes = static_cast<int64_t>(images.size()) / plane;
  for (int t = 0; t < times; ++t) {
    for (int64_t q = 0; q < planes; ++q) {
      const float* in = cur.data() + q * plane;
      float* out = next.data() + q * plane;
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          double sum = 0;
          int count = 0;
          for (int64_t dy = -1; dy <= 1; ++dy)
            for (int64_t dx = -1; dx <= 1; ++dx) {
              const int64_t yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
              sum += in[yy * width + xx];
              ++count;
            }
          out[y * width + x] = static_cast<float>(sum / count);
        }
    }
    std::swap(cur, next);
  }
  return cur;
}

std::vector<float> uniform_noise_images(int64_t count, int64_t pixels, uint64_t seed) {
  std::vector<float> out(static_cast<size_t>(count * pixels));
  for (int64_t i = 0; i < count * pixels; ++i) {
    kernels::PhiloxStream rng(seed, static_cast<uint64_t>(i), 0x52u);
    out[i] = static_cast<float>(255.0 * rng.uniform());
  }
  return out;
}

}  // namespace mrbm::data
