// The liblinear wrapper of tools/mrbm/linear_svm.h: input checks, standardization, liblinear's
// sparse rows, one binary problem per class (threads for the primal solver), prediction.
#include "tools/mrbm/linear_svm.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include "core/cpu_threads.h"
#include "core/error.h"
#include "core/log.h"

#if defined(MRBM_HAVE_LIBLINEAR)
#include <linear.h>
#endif

namespace mrbm::tools {

const char* svm_solver_name(SvmSolver solver) {
  switch (solver) {
    case SvmSolver::kAuto: return "auto";
    case SvmSolver::kPrimal: return "primal";
    case SvmSolver::kDual: return "dual";
  }
  return "?";
}

std::vector<double> LinearSvmModel::decision_values(const float* row) const {
  const size_t k_count = classes.size();
  std::vector<double> scores(k_count);
  for (size_t k = 0; k < k_count; ++k) {
    const double* w = weights.data() + k * static_cast<size_t>(dim);
    double s = biases[k];
    for (int64_t j = 0; j < dim; ++j) s += w[j] * ((row[j] - mean[j]) * inv_std[j]);
    scores[k] = s;
  }
  return scores;
}

int32_t LinearSvmModel::predict(const float* row) const {
  MRBM_CHECK(!classes.empty(), "linear SVM: predict with an untrained model");
  const std::vector<double> scores = decision_values(row);
  // max_element returns the first maximum: the lowest class wins a tie.
  const size_t best = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) -
                                          scores.begin());
  return classes[best];
}

std::vector<int32_t> LinearSvmModel::predict(const float* rows, int64_t count,
                                             int64_t row_dim) const {
  MRBM_CHECK(row_dim == dim, "linear SVM: rows of " << row_dim << " features for a model of "
                                                    << dim << " features");
  MRBM_CHECK(count >= 0, "linear SVM: negative row count " << count);
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = predict(rows + i * dim);
  return out;
}

double error_percent(const std::vector<int32_t>& predicted, const std::vector<int32_t>& truth) {
  MRBM_CHECK(predicted.size() == truth.size(), "error_percent: " << predicted.size()
                                                                 << " predictions for "
                                                                 << truth.size() << " labels");
  if (truth.empty()) return 0.0;
  int64_t wrong = 0;
  for (size_t i = 0; i < truth.size(); ++i) wrong += predicted[i] != truth[i];
  return 100.0 * static_cast<double>(wrong) / static_cast<double>(truth.size());
}

#if defined(MRBM_HAVE_LIBLINEAR)

bool linear_svm_available() { return true; }

namespace {

// liblinear prints through one global function pointer; each thread collects its own text so
// that concurrent trainings do not mix, and the text is inspected after each training.
thread_local std::string t_liblinear_output;
void capture_liblinear_output(const char* text) { t_liblinear_output += text; }

void silence_liblinear() {
  static std::once_flag once;
  std::call_once(once, [] { set_print_string_function(&capture_liblinear_output); });
}

// liblinear's rows: the non-zero standardized values (1-based indices), the bias feature
// (index dim + 1, value 1), and the terminator (index -1).
struct SparseRows {
  std::vector<feature_node> nodes;
  std::vector<feature_node*> rows;
};

SparseRows make_sparse_rows(const float* x, int64_t count, int64_t dim,
                            const std::vector<double>& mean, const std::vector<double>& inv_std) {
  SparseRows s;
  int64_t nonzero = 0;
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t j = 0; j < dim; ++j) {
      nonzero += (x[i * dim + j] - mean[j]) * inv_std[j] != 0.0;
    }
  }
  s.nodes.reserve(static_cast<size_t>(nonzero + 2 * count));
  std::vector<size_t> starts(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    starts[static_cast<size_t>(i)] = s.nodes.size();
    for (int64_t j = 0; j < dim; ++j) {
      const double z = (x[i * dim + j] - mean[j]) * inv_std[j];
      if (z != 0.0) s.nodes.push_back({static_cast<int>(j + 1), z});
    }
    s.nodes.push_back({static_cast<int>(dim + 1), 1.0});
    s.nodes.push_back({-1, 0.0});
  }
  // Pointers are taken after the last push_back (no reallocation can move them any more).
  s.rows.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    s.rows[static_cast<size_t>(i)] = s.nodes.data() + starts[static_cast<size_t>(i)];
  }
  return s;
}

struct BinaryResult {
  std::vector<double> w;  // dim + 1 values (the last one is the bias weight), for the +1 class
  bool hit_max_iterations = false;
  int64_t newton_iterations = 0;
};

// liblinear's primal solver prints one "iter N ..." line per Newton iteration.
int64_t count_newton_iterations(const std::string& output) {
  int64_t n = 0;
  for (size_t at = output.find("iter "); at != std::string::npos; at = output.find("iter ", at + 5)) {
    n += at == 0 || output[at - 1] == '\n';
  }
  return n;
}

// One liblinear problem with y = +1 for `positive`, -1 otherwise; `init` (dim + 1 values for the
// +1 class, or empty) is the primal solver's starting point.
BinaryResult train_binary(const SparseRows& sparse, const std::vector<int32_t>& labels,
                          int32_t positive, int64_t dim, parameter param,
                          const std::vector<double>& init) {
  std::vector<double> y(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) y[i] = labels[i] == positive ? 1.0 : -1.0;
  problem prob{};
  prob.l = static_cast<int>(labels.size());
  prob.n = static_cast<int>(dim + 1);
  prob.y = y.data();
  prob.x = const_cast<feature_node**>(sparse.rows.data());  // liblinear reads them only
  prob.bias = 1.0;
  // liblinear's w (and its init_sol) is positive for its label[0]. Labels come in the order of
  // their first row, except that liblinear 2.x swaps a two-class -1/+1 problem so that +1 is first
  // (linear.cpp, group_classes): the +1 orientation of `init` is liblinear's.
  param.init_sol = init.empty() ? nullptr : const_cast<double*>(init.data());  // read only
  if (const char* problem_text = check_parameter(&prob, &param)) {
    MRBM_THROW(InvalidArgument, "linear SVM: liblinear rejects the parameters: " << problem_text);
  }
  t_liblinear_output.clear();
  model* m = train(&prob, &param);
  if (m == nullptr) MRBM_THROW(Error, "linear SVM: liblinear's train returned no model");
  BinaryResult r;
  r.w.assign(m->w, m->w + dim + 1);
  const bool flipped = m->label[0] != 1;
  if (flipped) {
    for (double& v : r.w) v = -v;
  }
  free_and_destroy_model(&m);
  // A liblinear without that swap would have started from the negated decision function.
  MRBM_CHECK(!(flipped && param.init_sol != nullptr),
             "linear SVM: this liblinear orders the classes -1, +1; a warm start needs +1 first");
  r.hit_max_iterations = t_liblinear_output.find("max number of iterations") != std::string::npos;
  r.newton_iterations = count_newton_iterations(t_liblinear_output);
  t_liblinear_output.clear();
  return r;
}

}  // namespace

LinearSvmModel train_linear_svm(const float* x, int64_t count, int64_t dim,
                                const std::vector<int32_t>& labels,
                                const LinearSvmOptions& options) {
  MRBM_CHECK(count > 0, "linear SVM: no training rows");
  MRBM_CHECK(dim > 0, "linear SVM: rows of " << dim << " features");
  MRBM_CHECK(x != nullptr, "linear SVM: no feature values");
  MRBM_CHECK(static_cast<int64_t>(labels.size()) == count,
             "linear SVM: " << labels.size() << " labels for " << count << " rows");
  MRBM_CHECK(count < INT_MAX && dim < INT_MAX - 1,
             "linear SVM: " << count << " rows x " << dim
                            << " features exceed liblinear's int indices");
  MRBM_CHECK(options.c > 0.0 && std::isfinite(options.c),
             "linear SVM: C must be a positive number, got " << options.c);
  MRBM_CHECK(options.tolerance >= 0.0, "linear SVM: negative tolerance " << options.tolerance);
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t j = 0; j < dim; ++j) {
      if (!std::isfinite(x[i * dim + j])) {
        MRBM_THROW(InvalidArgument, "linear SVM: feature " << j << " of row " << i
                                                           << " is not finite (" << x[i * dim + j]
                                                           << ")");
      }
    }
  }
  LinearSvmModel model;
  model.dim = dim;
  model.c = options.c;
  model.classes = labels;
  std::sort(model.classes.begin(), model.classes.end());
  model.classes.erase(std::unique(model.classes.begin(), model.classes.end()),
                      model.classes.end());
  MRBM_CHECK(model.classes.size() >= 2, "linear SVM: the training labels hold only one class ("
                                            << model.classes[0] << "); two or more are needed");

  model.mean.assign(static_cast<size_t>(dim), 0.0);
  model.inv_std.assign(static_cast<size_t>(dim), 1.0);
  if (options.standardize) {
    // Two passes in float64: the mean, then the variance around it (no cancellation).
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t j = 0; j < dim; ++j) model.mean[j] += x[i * dim + j];
    }
    for (double& m : model.mean) m /= static_cast<double>(count);
    std::vector<double> var(static_cast<size_t>(dim), 0.0);
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t j = 0; j < dim; ++j) {
        const double d = x[i * dim + j] - model.mean[j];
        var[j] += d * d;
      }
    }
    for (int64_t j = 0; j < dim; ++j) {
      const double sd = std::sqrt(var[j] / static_cast<double>(count));
      model.inv_std[j] = sd > 0.0 ? 1.0 / sd : 0.0;
    }
  }

  model.solver = options.solver;
  // auto is the primal solver for every shape: measured faster than the dual one on mrbm's dense
  // features even with fewer rows than features, where liblinear's guide suggests the dual
  // (linear_svm.h; docs/cli.md).
  if (model.solver == SvmSolver::kAuto) model.solver = SvmSolver::kPrimal;
  parameter param{};
  param.solver_type = model.solver == SvmSolver::kPrimal ? L2R_L2LOSS_SVC : L2R_L2LOSS_SVC_DUAL;
  param.eps = options.tolerance > 0.0 ? options.tolerance
                                      : (model.solver == SvmSolver::kPrimal ? 0.01 : 0.1);
  param.C = options.c;
  param.p = 0.1;  // unused by classification solvers, set as liblinear's train does
  param.nr_weight = 0;
  param.weight_label = nullptr;
  param.weight = nullptr;
  param.init_sol = nullptr;

  // The warm start's decision function re-expressed in this standardization: with z = (x - m) s,
  // sum_j w_j s_j (x_j - m_j) + b = sum_j w'_j s'_j (x_j - m'_j) + b' for w'_j = w_j s_j / s'_j and
  // b' = b + sum_j w_j s_j (m'_j - m_j) (w'_j = 0 for a feature constant here, s'_j = 0).
  std::vector<std::vector<double>> init(model.classes.size());
  const LinearSvmModel* warm = model.solver == SvmSolver::kPrimal ? options.warm_start : nullptr;
  if (warm != nullptr) {
    MRBM_CHECK(warm->dim == dim && warm->classes == model.classes,
               "linear SVM: the warm start has " << warm->dim << " features and "
                                                 << warm->classes.size() << " classes, not " << dim
                                                 << " and " << model.classes.size());
    for (size_t k = 0; k < model.classes.size(); ++k) {
      std::vector<double>& w = init[k];
      w.assign(static_cast<size_t>(dim) + 1, 0.0);
      double b = warm->biases[k];
      for (int64_t j = 0; j < dim; ++j) {
        const double ws = warm->weights[k * static_cast<size_t>(dim) + j] * warm->inv_std[j];
        b += ws * (model.mean[j] - warm->mean[j]);
        w[j] = model.inv_std[j] > 0.0 ? ws / model.inv_std[j] : 0.0;
      }
      w[static_cast<size_t>(dim)] = b;  // the bias feature's value is 1
    }
  }

  silence_liblinear();
  const SparseRows sparse = make_sparse_rows(x, count, dim, model.mean, model.inv_std);
  // Two classes: one problem (the second class's weights are the negation). More: one per class.
  const size_t problems = model.classes.size() == 2 ? 1 : model.classes.size();
  std::vector<BinaryResult> results(problems);
  std::mutex progress_mutex;
  size_t problems_done = 0;
  auto problem_done = [&] {
    if (!options.on_problem_done) return;
    std::lock_guard<std::mutex> lock(progress_mutex);
    options.on_problem_done(++problems_done, problems);
  };
  if (model.solver == SvmSolver::kDual) {
    for (size_t k = 0; k < problems; ++k) {
      std::srand(static_cast<unsigned>(options.seed));
      results[k] = train_binary(sparse, labels, model.classes[k], dim, param, {});
      problem_done();
    }
  } else {
    int threads = options.threads > 0 ? options.threads
                                      : available_cpus();
    threads = std::max(1, std::min<int>(threads, static_cast<int>(problems)));
    std::atomic<size_t> next{0};
    std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
    auto work = [&](int t) {
      try {
        for (size_t k = next++; k < problems; k = next++) {
          results[k] = train_binary(sparse, labels, model.classes[k], dim, param, init[k]);
          problem_done();
        }
      } catch (...) {
        errors[static_cast<size_t>(t)] = std::current_exception();
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

  const size_t k_count = model.classes.size();
  model.weights.assign(k_count * static_cast<size_t>(dim), 0.0);
  model.biases.assign(k_count, 0.0);
  for (size_t k = 0; k < k_count; ++k) {
    const bool negated = problems == 1 && k == 1;
    const BinaryResult& r = results[negated ? 0 : k];
    const double sign = negated ? -1.0 : 1.0;
    for (int64_t j = 0; j < dim; ++j) model.weights[k * static_cast<size_t>(dim) + j] = sign * r.w[j];
    model.biases[k] = sign * r.w[static_cast<size_t>(dim)];  // bias feature value 1
  }
  // One line for the whole training, however many classes stopped at the limit.
  std::string limited;
  size_t limited_count = 0;
  for (size_t k = 0; k < problems; ++k) {
    model.newton_iterations += results[k].newton_iterations;
    if (results[k].hit_max_iterations) {
      model.hit_max_iterations = true;
      limited += (limited.empty() ? "" : ", ") + std::to_string(model.classes[k]);
      ++limited_count;
    }
  }
  if (limited_count > 0) {
    MRBM_LOG_WARN("linear SVM: liblinear reached its iteration limit for "
                  << (limited_count == 1 ? "class " : "classes ") << limited << " of " << problems
                  << " (C = " << options.c << ", " << svm_solver_name(model.solver)
                  << " solver); their weights are less converged");
  }
  return model;
}

#else  // !MRBM_HAVE_LIBLINEAR

bool linear_svm_available() { return false; }

LinearSvmModel train_linear_svm(const float*, int64_t, int64_t, const std::vector<int32_t>&,
                                const LinearSvmOptions&) {
  MRBM_THROW(UnsupportedError,
             "linear SVM: this build has no liblinear (install Debian's liblinear-dev and "
             "reconfigure)");
}

#endif

}  // namespace mrbm::tools
