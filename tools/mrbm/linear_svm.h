// A multi-class linear SVM (L2-regularized, squared hinge loss) trained with liblinear, behind a
// C++ API that throws mrbm errors instead of printing: the classifier of `mrbm classify`.
//
// Model: one weight vector per class (one-vs-rest, as liblinear does for more than two classes;
// one liblinear problem for two classes), score_k(x) = w_k . z(x) + b_k with z the standardized
// features, z_j = (x_j - mean_j) * inv_std_j, mean and std measured on the training rows (a feature
// that is constant there gets inv_std 0, so it is ignored rather than amplified at test time).
// The prediction is the class of the largest score (the lowest class on a tie). The bias is
// liblinear's: a constant feature 1 appended to every row, regularized like the other weights.
//
// Solvers (liblinear 2.x; R.-E. Fan et al., "LIBLINEAR: A library for large linear
// classification", JMLR 2008; their practical guide, appendix L):
//   kPrimal  L2R_L2LOSS_SVC (-s 2), trust-region Newton on the primal; its cost is a few dozen
//            passes over the data largely independent of C, and it uses no random numbers, so the
//            classes are trained in parallel threads with an identical result for any thread count.
//   kDual    L2R_L2LOSS_SVC_DUAL (-s 1), dual coordinate descent; liblinear's guide suggests it when
//            there are more features than rows, but on dense standardized features it is slow for
//            large C. It permutes with the C library's rand(), so the classes are trained one after
//            another, each after srand(seed): the result is reproducible.
//   kAuto    primal, whatever the shape. Measured (2 cores, demo checkpoint's 3136 features, C grid
//            0.01..10): 2000 rows 42 s primal vs 108 s dual, 500 rows 7.6 s vs 30 s, the dual one
//            stopping at liblinear's iteration limit for C >= 0.1 and the errors equal within 0.3%.
// Stopping tolerance: liblinear's defaults, 0.01 (primal) and 0.1 (dual), unless given.
// Warm start (primal only; liblinear's init_sol): each class's Newton iterations start from the
// decision function of an earlier model instead of w = 0. liblinear's primal stopping test compares
// the gradient with the one at w = 0 whatever the start (|g(w)| <= eps |g(0)|, tron.cpp), so a warm
// start reaches the same optimum to the same tolerance, in fewer iterations when the start is near:
// `mrbm classify` chains its C values and starts the final training from the chosen C's model.
//
// Data layout: rows are float32, row-major [count, dim]; liblinear's sparse rows (index, double
// value) are built from them with zeros skipped (after standardization), so liblinear's copy takes
// about 16 bytes per non-zero value (60000 x 784 raw pixels: about 0.75 GB), and only during training.
// liblinear's progress output (stdout) is captured per thread: its "reaching max number of
// iterations" warnings become one mrbm warning per training naming the classes, the rest is dropped.
//
// Without liblinear in the build (MRBM_HAVE_LIBLINEAR undefined: the GPU machine has no Debian
// -dev packages) train_linear_svm throws UnsupportedError saying so; predict still works.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mrbm::tools {

enum class SvmSolver { kAuto, kPrimal, kDual };

// "auto", "primal", "dual".
const char* svm_solver_name(SvmSolver solver);

struct LinearSvmModel;

struct LinearSvmOptions {
  double c = 1.0;                        // the cost of the squared hinge loss; > 0
  SvmSolver solver = SvmSolver::kAuto;
  double tolerance = 0.0;                // liblinear's eps; 0: its default for the solver
  bool standardize = true;               // z-score the features with the training rows' statistics
  int threads = 0;                       // primal solver: classes trained at once; 0: available_cpus()
  uint64_t seed = 1;                     // dual solver: srand(seed) before each class
  // Primal solver: start from this model's decision function (it must have the same dim and
  // classes), re-expressed in this training's standardization (exactly the same scores); nullptr:
  // start from w = 0. Ignored by the dual solver (liblinear has no initial solution for it).
  const LinearSvmModel* warm_start = nullptr;
  // Called after each one-vs-rest problem with the number done and the total (from the training
  // threads, one call at a time), e.g. for a progress line; may be empty.
  std::function<void(size_t done, size_t total)> on_problem_done;
};

struct LinearSvmModel {
  int64_t dim = 0;                 // features per row
  std::vector<int32_t> classes;    // the distinct training labels, ascending
  std::vector<double> weights;     // [classes.size(), dim], for standardized features
  std::vector<double> biases;      // [classes.size()]
  std::vector<double> mean;        // [dim] (zeros without standardization)
  std::vector<double> inv_std;     // [dim] (ones without standardization)
  SvmSolver solver = SvmSolver::kAuto;  // the solver used (never kAuto after training)
  double c = 0.0;
  bool hit_max_iterations = false;  // liblinear stopped at its iteration limit for some class
  int64_t newton_iterations = 0;    // primal solver: liblinear's Newton iterations, all classes

  // score_k for every class of one row of `dim` values.
  std::vector<double> decision_values(const float* row) const;
  // The predicted class of one row of `dim` values.
  int32_t predict(const float* row) const;
  // The predicted classes of `count` rows [count, row_dim]; InvalidArgument unless row_dim == dim.
  std::vector<int32_t> predict(const float* rows, int64_t count, int64_t row_dim) const;
};

// True when this build has liblinear (train_linear_svm works).
bool linear_svm_available();

// Trains on `count` rows [count, dim] with one label each. InvalidArgument (message starting
// "linear SVM:") for no rows, dim < 1, labels.size() != count, fewer than two distinct labels, a
// non-finite value (naming its row and column), C <= 0 or sizes beyond liblinear's int indices;
// the message of liblinear's check_parameter otherwise. UnsupportedError without liblinear.
LinearSvmModel train_linear_svm(const float* rows, int64_t count, int64_t dim,
                                const std::vector<int32_t>& labels,
                                const LinearSvmOptions& options);

// Percentage of positions where predicted != truth (0 for empty inputs); sizes must agree.
double error_percent(const std::vector<int32_t>& predicted, const std::vector<int32_t>& truth);

}  // namespace mrbm::tools
