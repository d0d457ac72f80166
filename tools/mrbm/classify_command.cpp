// `mrbm classify`: how linearly separable the classes are in a layer's features (or in the raw
// pixels, the baseline), measured with a linear SVM (tools/mrbm/linear_svm.h; docs/cli.md).
//
// Protocol: features of the training split (the first --limit-train images) and of the test split;
// with more than one C, a random --holdout fraction of the training images (permutation seeded by
// --seed) is held out, an SVM is trained on the rest for every C and the C of the lowest held-out
// error wins (the smallest such C on a tie: the most regularized). The SVM is then retrained on the
// whole training split with that C and scored on the test split: the error in % and the confusion
// matrix (rows: true class, columns: predicted) on stdout, and with --json everything in one JSON
// object (docs/cli.md lists the fields). Standardization statistics always come from the rows the
// SVM is trained on, never from held-out or test rows.
// Warm starts (unless --cold-start): each C's training starts from the previous C's model and the
// final training from the chosen C's hold-out model (linear_svm.h: the same optimum to liblinear's
// tolerance, fewer Newton iterations; the default C lists ascend, as liblinear's own C search does).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <sys/resource.h>

#include "core/log.h"
#include "data/file_io.h"
#include "tools/mrbm/commands.h"
#include "tools/mrbm/feature_extraction.h"
#include "tools/mrbm/linear_svm.h"
#include "tools/mrbm/model_loading.h"
#include "tools/mrbm/option_checks.h"

namespace mrbm::tools {
namespace {

using Clock = std::chrono::steady_clock;

struct ClassifyOptions {
  std::string checkpoint;
  bool raw_pixels = false;
  std::string data;
  std::vector<int64_t> layers{-1};
  int64_t limit_train = -1;
  int64_t limit_test = -1;
  std::vector<double> c_values{0.01, 0.1, 1, 10};
  double holdout = 0.1;
  std::string solver = "auto";
  int threads = 0;
  int64_t batch = 256;
  std::string device = "auto";
  std::string json;
  uint64_t seed = 1;
  bool cold_start = false;
  bool no_standardize = false;
};

// The process's peak resident memory so far in MiB (Linux: getrusage reports KiB), for the JSON:
// the number a user sizing a machine for a bigger data set needs.
double peak_rss_mib() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0) return -1;
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Fisher-Yates with mt19937_64 written out (std::shuffle's algorithm is implementation-defined),
// so a seed selects the same held-out images with every standard library.
std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  std::mt19937_64 gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(gen() % static_cast<uint64_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

// m's columns followed by more's (the same rows, in order): several layers' features side by side.
void append_columns(FeatureMatrix& m, FeatureMatrix more) {
  if (m.dim == 0) {
    m = std::move(more);
    return;
  }
  const int64_t dim = m.dim + more.dim;
  std::vector<float> values(static_cast<size_t>(m.count * dim));
  for (int64_t i = 0; i < m.count; ++i) {
    std::copy_n(m.values.begin() + i * m.dim, m.dim, values.begin() + i * dim);
    std::copy_n(more.values.begin() + i * more.dim, more.dim, values.begin() + i * dim + m.dim);
  }
  m.values = std::move(values);
  m.dim = dim;
}

// The rows `rows` of m (in that order).
FeatureMatrix select_rows(const FeatureMatrix& m, const std::vector<int64_t>& rows) {
  FeatureMatrix out;
  out.count = static_cast<int64_t>(rows.size());
  out.dim = m.dim;
  out.values.resize(static_cast<size_t>(out.count * m.dim));
  out.labels.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t r = rows[i];
    std::copy(m.values.begin() + r * m.dim, m.values.begin() + (r + 1) * m.dim,
              out.values.begin() + static_cast<int64_t>(i) * m.dim);
    out.labels[i] = m.labels[static_cast<size_t>(r)];
  }
  return out;
}

std::string format_c(double c) {
  std::ostringstream os;
  os << c;
  return os.str();
}

// One SVM training with a progress line counting its one-vs-rest problems (the classes), so the
// minutes of a large C are not silent.
LinearSvmModel train_with_progress(const std::string& label, const FeatureMatrix& m,
                                   LinearSvmOptions svm) {
  Progress progress(label, 0, "classes");
  svm.on_problem_done = [&](size_t done, size_t total) {
    progress.set_total(static_cast<int64_t>(total));
    progress.update(static_cast<int64_t>(done));
  };
  LinearSvmModel model = train_linear_svm(m.values.data(), m.count, m.dim, m.labels, svm);
  progress.finish();
  return model;
}

SvmSolver parse_solver(const std::string& text) {
  if (text == "primal") return SvmSolver::kPrimal;
  if (text == "dual") return SvmSolver::kDual;
  return SvmSolver::kAuto;
}

void run_classify(const ClassifyOptions& o) {
  const auto t_start = Clock::now();
  if (!linear_svm_available()) {
    MRBM_THROW(UnsupportedError, "classify needs liblinear, and this build has none (install "
                                 "Debian's liblinear-dev and reconfigure)");
  }
  if (o.c_values.size() > 1 && !(o.holdout > 0.0 && o.holdout < 1.0)) {
    std::ostringstream os;
    os << "choosing among " << o.c_values.size() << " C values needs a fraction in (0, 1), got "
       << o.holdout;
    throw CLI::ValidationError("--holdout", os.str());
  }
  if (!o.json.empty()) check_output_path(o.json, "--json");
  const data::DataSpec spec = data::parse_data_spec(o.data);
  if (spec.kind == "images" || spec.kind == "celeba") {
    MRBM_THROW(InvalidArgument, "classify needs a labelled data set with train and test splits "
                                "(fashion-mnist, mnist, cifar10); "
                                    << o.data << " has no labels");
  }

  // The model first: a bad checkpoint fails before the data is read.
  LoadedModel model;
  std::vector<size_t> layers;
  Device device = Device::cpu();
  std::string device_note;
  if (!o.raw_pixels) {
    device = resolve_device_quietly(o.device, &device_note);
    model = load_model(o.checkpoint, device);
    for (const int64_t requested : o.layers) {
      const size_t l = resolve_feature_layer(*model.dbn, requested);
      if (std::find(layers.begin(), layers.end(), l) != layers.end()) {
        throw CLI::ValidationError("--layer", "layer " + std::to_string(l) + " is given twice");
      }
      layers.push_back(l);
    }
  }
  const layers::ModelSpec* model_spec = o.raw_pixels ? nullptr : &model.info.spec;
  // Each split is checked as soon as it is read, so that its problem is the only message.
  auto check_split = [&](const data::Dataset& d) {
    if (!d.has_labels()) {
      MRBM_THROW(InvalidArgument, "classify needs labels; " << d.name << " (" << d.description
                                                            << ") has none");
    }
    if (model_spec) check_data_fits_model(d, o.data, *model_spec);
  };
  const data::Dataset train = load_split(spec, data::Split::kTrain, o.limit_train, model_spec);
  check_split(train);
  const data::Dataset test = load_split(spec, data::Split::kTest, o.limit_test, model_spec);
  check_split(test);
  const double load_s = seconds_since(t_start);
  if (!device_note.empty()) MRBM_LOG_INFO(device_note);
  MRBM_LOG_INFO("classify: " << data::describe_dataset(train));
  MRBM_LOG_INFO("classify: " << data::describe_dataset(test));

  // Features.
  const auto t_features = Clock::now();
  FeatureMatrix train_f, test_f;
  if (o.raw_pixels) {
    train_f = pixel_features(train);
    test_f = pixel_features(test);
  } else {
    for (const size_t l : layers) {
      const std::string which = layers.size() > 1 ? ", layer " + std::to_string(l) : "";
      Progress p_train("features (train" + which + ")", train.count, "img");
      append_columns(train_f, model_features(*model.dbn, train, l, o.batch, &p_train));
      Progress p_test("features (test" + which + ")", test.count, "img");
      append_columns(test_f, model_features(*model.dbn, test, l, o.batch, &p_test));
    }
  }
  const double features_s = seconds_since(t_features);
  std::string layer_text;
  for (const size_t l : layers) layer_text += (layer_text.empty() ? "" : "+") + std::to_string(l);
  const std::string feature_text =
      o.raw_pixels ? std::string("raw pixels")
                   : "model '" + model.info.spec.name + "' layer" + (layers.size() > 1 ? "s " : " ") +
                         layer_text;

  LinearSvmOptions svm;
  svm.solver = parse_solver(o.solver);
  svm.threads = o.threads;
  svm.seed = o.seed;
  svm.standardize = !o.no_standardize;

  // C selection on a held-out part of the training split.
  const auto t_select = Clock::now();
  nlohmann::json validation = nlohmann::json::array();
  double best_c = o.c_values.front();
  LinearSvmModel best_model;  // the hold-out model of best_c: the final training's warm start
  int64_t holdout_count = 0;
  if (o.c_values.size() > 1) {
    MRBM_CHECK(train_f.count >= 2, "classify: choosing C needs at least 2 training images, got "
                                       << train_f.count);
    holdout_count = static_cast<int64_t>(std::llround(o.holdout * static_cast<double>(train_f.count)));
    holdout_count = std::clamp<int64_t>(holdout_count, 1, train_f.count - 1);
    const std::vector<int64_t> order = permutation(train_f.count, o.seed);
    const std::vector<int64_t> fit_rows(order.begin() + holdout_count, order.end());
    const std::vector<int64_t> held_rows(order.begin(), order.begin() + holdout_count);
    const FeatureMatrix fit = select_rows(train_f, fit_rows);
    const FeatureMatrix held = select_rows(train_f, held_rows);
    double best_error = 0;
    LinearSvmModel previous;
    std::printf("C selection: %lld training images, %lld held out (%s, %lld features)\n",
                static_cast<long long>(fit.count), static_cast<long long>(held.count),
                feature_text.c_str(), static_cast<long long>(train_f.dim));
    for (size_t i = 0; i < o.c_values.size(); ++i) {
      const auto t_c = Clock::now();
      svm.c = o.c_values[i];
      svm.warm_start = o.cold_start || i == 0 ? nullptr : &previous;
      LinearSvmModel m = train_with_progress("SVM C=" + format_c(svm.c), fit, svm);
      const double err = error_percent(m.predict(held.values.data(), held.count, held.dim), held.labels);
      const double secs = seconds_since(t_c);
      std::printf("  C = %-8g validation error %6.2f%%  (%.1f s, %lld Newton iterations)\n", svm.c,
                  err, secs, static_cast<long long>(m.newton_iterations));
      std::fflush(stdout);
      validation.push_back({{"c", svm.c}, {"error_percent", err}, {"seconds", secs},
                            {"hit_max_iterations", m.hit_max_iterations},
                            {"newton_iterations", m.newton_iterations},
                            {"warm_start", svm.warm_start != nullptr}});
      if (i == 0 || err < best_error || (err == best_error && svm.c < best_c)) {
        best_error = err;
        best_c = svm.c;
        best_model = m;
      }
      previous = std::move(m);
    }
  }
  const double select_s = seconds_since(t_select);

  // The final model on the whole training split.
  const auto t_train = Clock::now();
  svm.c = best_c;
  // (The hold-out rows may hold a class the fitted rows lack, on a tiny --limit-train: no warm start.)
  std::vector<int32_t> train_classes = train_f.labels;
  std::sort(train_classes.begin(), train_classes.end());
  train_classes.erase(std::unique(train_classes.begin(), train_classes.end()), train_classes.end());
  const bool warm_final = !o.cold_start && best_model.classes == train_classes;
  svm.warm_start = warm_final ? &best_model : nullptr;
  const LinearSvmModel final_model = train_with_progress("SVM C=" + format_c(best_c) + " (final)", train_f, svm);
  const double train_s = seconds_since(t_train);
  const auto t_test = Clock::now();
  const std::vector<int32_t> predicted =
      final_model.predict(test_f.values.data(), test_f.count, test_f.dim);
  const double test_s = seconds_since(t_test);
  const double test_error = error_percent(predicted, test_f.labels);

  const int32_t classes = std::max(data::num_classes(train), data::num_classes(test));
  std::vector<std::vector<int64_t>> confusion(static_cast<size_t>(classes),
                                              std::vector<int64_t>(static_cast<size_t>(classes), 0));
  int64_t wrong = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    confusion[static_cast<size_t>(test_f.labels[i])][static_cast<size_t>(predicted[i])] += 1;
    wrong += predicted[i] != test_f.labels[i];
  }

  std::printf("chosen C = %g (%s solver)\n", best_c, svm_solver_name(final_model.solver));
  std::printf("test error: %.2f%% (%lld of %lld test images; SVM trained on %lld images, %s, %lld features)\n",
              test_error, static_cast<long long>(wrong), static_cast<long long>(test_f.count),
              static_cast<long long>(train_f.count), feature_text.c_str(),
              static_cast<long long>(train_f.dim));
  std::printf("confusion matrix (rows: true class, columns: predicted class):\n     ");
  for (int32_t k = 0; k < classes; ++k) std::printf(" %6d", k);
  std::printf("\n");
  for (int32_t r = 0; r < classes; ++r) {
    std::printf("  %2d:", r);
    for (int32_t k = 0; k < classes; ++k) {
      std::printf(" %6lld", static_cast<long long>(confusion[static_cast<size_t>(r)][static_cast<size_t>(k)]));
    }
    std::printf("\n");
  }
  std::fflush(stdout);

  if (!o.json.empty()) {
    nlohmann::ordered_json j;
    j["mrbm_version"] = MRBM_VERSION;
    j["data"] = o.data;
    j["features"] = o.raw_pixels ? "raw-pixels" : "layer";
    j["checkpoint"] = o.raw_pixels ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(o.checkpoint);
    // One layer: its index (as before several were allowed); several: the list.
    j["layer"] = o.raw_pixels       ? nlohmann::ordered_json(nullptr)
                 : layers.size() == 1 ? nlohmann::ordered_json(layers[0])
                                      : nlohmann::ordered_json(layers);
    j["device"] = to_string(device);
    j["feature_dim"] = train_f.dim;
    j["train_count"] = train_f.count;
    j["holdout_count"] = holdout_count;
    j["test_count"] = test_f.count;
    j["classes"] = classes;
    j["seed"] = o.seed;
    j["holdout_fraction"] = o.holdout;
    j["solver"] = svm_solver_name(final_model.solver);
    j["standardized"] = svm.standardize;
    j["c_values"] = o.c_values;
    j["validation"] = validation;
    j["chosen_c"] = best_c;
    j["final_warm_start"] = warm_final;
    j["final_newton_iterations"] = final_model.newton_iterations;
    j["test_error_percent"] = test_error;
    j["test_errors"] = wrong;
    j["timings_s"] = {{"load", load_s},          {"features", features_s}, {"selection", select_s},
                      {"final_train", train_s}, {"test", test_s},         {"total", seconds_since(t_start)}};
    j["peak_rss_mib"] = peak_rss_mib();
    // The matrix one row per line (dump(2) would put every count on its own line).
    std::string text = j.dump(2);
    text.resize(text.size() - 2);  // the final "\n}"
    text += ",\n  \"confusion_matrix\": [";
    for (size_t r = 0; r < confusion.size(); ++r) {
      text += (r ? ",\n    " : "\n    ") + nlohmann::json(confusion[r]).dump();
    }
    text += "\n  ]\n}\n";
    data::write_file_atomically(o.json, std::vector<uint8_t>(text.begin(), text.end()));
    MRBM_LOG_INFO("classify: wrote " << o.json);
  }
}

}  // namespace

void register_classify_command(CLI::App& app) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "classify", "Test error of a linear SVM (liblinear) on a layer's features or on raw pixels");
  auto* checkpoint =
      cmd->add_option("--checkpoint", o->checkpoint, "Trained model (checkpoint.safetensors)")
          ->check(CLI::ExistingFile);
  auto* raw = cmd->add_flag("--raw-pixels", o->raw_pixels,
                            "Classify the raw pixels instead of a model's features (the baseline; no checkpoint)");
  checkpoint->excludes(raw);
  cmd->add_option("--data", o->data,
                  "Data set with labels and train/test splits: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR")
      ->required()
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
  cmd->add_option("--layer", o->layers,
                  "Layer whose hidden means are the features (0-based; -1: the top); a comma-separated "
                  "list concatenates those layers' features, in that order")
      ->delimiter(',')
      ->check(integer_in(-1, 1000))
      ->excludes(raw)
      ->capture_default_str();
  cmd->add_option("--limit-train", o->limit_train, "Only the first K training images (-1: all)")
      ->check(count_or_all())
      ->capture_default_str();
  cmd->add_option("--limit-test", o->limit_test, "Only the first K test images (-1: all)")
      ->check(count_or_all())
      ->capture_default_str();
  cmd->add_option("--c-values", o->c_values, "Comma-separated SVM costs C to choose from on the held-out part")
      ->delimiter(',')
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--holdout", o->holdout,
                  "Fraction of the training images held out to choose C (unused with one C value)")
      ->check(number_in(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--solver", o->solver,
                  "liblinear solver for the L2-regularized squared hinge loss: auto (= primal, "
                  "measured faster for every shape mrbm produces), primal, dual")
      ->check(CLI::IsMember({"auto", "primal", "dual"}))
      ->capture_default_str();
  cmd->add_flag("--cold-start", o->cold_start,
               "Start every SVM training from zero weights (default: each C from the previous C's "
               "model, the final one from the chosen C's: the same optimum, usually sooner)");
  cmd->add_flag("--no-standardize", o->no_standardize,
               "Give the SVM the features as they are (default: z-scored with the training "
               "images' mean and standard deviation per feature; an ablation of that choice)");
  cmd->add_option("--threads", o->threads, "Classes trained at once by the primal solver (0: all cores the process may use)")
      ->check(integer_in(0, 4096))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per batch for the features")
      ->check(integer_in(1, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "auto (a usable GPU, else the CPU), cpu, cuda or cuda:<i>")
      ->check(CLI::Validator(check_device_syntax, "DEVICE"))
      ->capture_default_str();
  cmd->add_option("--json", o->json, "Also write the results as one JSON object to this file");
  cmd->add_option("--seed", o->seed, "Seed of the held-out selection (and of the dual solver)")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->callback([o, cmd] {
    if (o->raw_pixels == (cmd->count("--checkpoint") > 0)) {
      throw CLI::ValidationError("--checkpoint",
                                 "give a checkpoint, or --raw-pixels for the pixel baseline");
    }
    run_classify(*o);
  });
}

}  // namespace mrbm::tools
