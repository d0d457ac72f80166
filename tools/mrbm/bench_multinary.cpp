// `mrbm bench multinary`: validates, then times the fused multinary pass (kernels/multinary.h) for
// every unit kind, output set and sampler, on the CPU (rows split over threads) and on CUDA.
//
// Cases (4 units x 5 output sets):
//   units    binary; closed form N = 255, s = N/4; equal copies N = 255, spacing 1;
//            logit copies N = 255, s = N/4 (float64 offset table, uploaded for CUDA runs)
//   outputs  mean | mean + var + row_phi (the fused pass) | mean + sample for the samplers
//            mean, gaussian, exact (the exact closed-form sampler needs N s integral: it runs at
//            s = 64, N s = 16320, and the row says so)
// Inputs: x uniform over the unit's interesting range, [theta_1 - 10, theta_N + 10] for copies and
// the same range for the closed form (its half-integer crossings), [-16, 16] for binary units;
// fresh per device and unit, never constant.
//
// Validation, before any timing, on the timed path's own output (poisoned with NaN first):
//   mean, var: max |got - ref| / max(|ref|, 1e-30) over every element of a set of whole rows
//   (all rows for small sizes), ref = unit_values_reference<double> (brute-force float64);
//   row_phi: the same relative error against the float64 sum of the reference Phi over the row.
//   The floor 1e-30 only avoids 0/0: every mean and variance in the tested ranges is > 1e-9.
//   Fail above 1e-5 (the kernels' own error model is ~1e-6: float32 rounding of a sum computed
//   to ~1e-7 relative, docs/math.md section 7).
//   Samplers, over all elements: finite and within [0, N]; exact samples integral (counts, or
//   multiples of 1/s); the mean sampler returns the mean; and the sample sum is within 5 standard
//   errors of its expectation: E = f (exact), E = E[clip(N(f, f'), 0, N)] (gaussian, closed form
//   with the normal CDF), SE = sqrt(sum f') (exact: the variance is f'; gaussian: clipping is
//   1-Lipschitz, so the variance is <= f'), plus 1e-6 * sum |E| for float32 rounding of f and the
//   windowed sampler's total-variation error (<= 3e-8). f, f' are the kernel's own outputs of a
//   second run that also writes var (they are validated against the reference above).
//   CPU only: the threaded path (multinary_forward_cpu on row pieces, MultinaryArgs::first_element
//   set) must equal one whole multinary_forward_cpu call bitwise, samples included.
//
// Timing: warm-up, then the median of --reps runs; CPU: steady_clock around the threaded pass
// (rows split into one contiguous piece per thread, a pool created before timing);
// CUDA: events on one stream around the launch, L2 flushed (memset of 2x its size) before each run.
// Bytes per case: x 4 B read per element, 4 B written per float output, 8 B per row for row_phi.
// GB/s is compared with a copy ceiling (read + write bytes) measured in the same run.
// Paired reference: multinary_forward_cpu and unit_values_reference<double> (kernels/).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cpu_threads.h"
#include "kernels/multinary.h"
#include "kernels/multinary_reference.h"
#include "kernels/multinary_table.h"
#include "layers/unit_config.h"
#include "tools/mrbm/bench_timing.h"
#include "tools/mrbm/option_checks.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/multinary_cuda.h"
#endif

namespace mrbm::tools {
namespace {

using bench::format;
using bench::Row;
using kernels::MultinaryArgs;
using kernels::Sampler;
using kernels::Status;
using kernels::UnitKind;
using kernels::UnitSpec;

constexpr double kMaxRelError = 1e-5;   // validation threshold (error model above)
constexpr double kRelFloor = 1e-30;     // denominator floor of the relative error
constexpr double kSamplerSigmas = 5.0;  // sample-sum check: P(false failure) ~ 6e-7 per case

struct Options {
  std::string device = "all";
  int64_t rows = 0;  // 0: the device's default
  int64_t cols = 0;
  int threads = 0;  // 0: all hardware threads
  int reps = 0;     // 0: the device's default
  int warmup = -1;  // -1: default
  bool quick = false;
  int64_t validate_elements = 1 << 17;  // budget of reference evaluations per unit and device
  uint64_t seed = 20240611;
  std::string json;
  std::string csv;
};

// ---- units and cases ------------------------------------------------------------------------

struct UnitDef {
  std::string name;
  UnitSpec unit;  // host table for kLogitCopies
  std::shared_ptr<std::vector<double>> table;
  double x_lo = 0.0, x_hi = 0.0;
  std::string note;
};

UnitDef make_unit(const std::string& name, UnitKind kind, int32_t n, double scale, double spacing) {
  UnitDef d;
  d.name = name;
  d.unit.kind = kind;
  d.unit.n = n;
  d.unit.scale = scale;
  d.unit.spacing = spacing;
  switch (kind) {
    case UnitKind::kBinary:
      d.x_lo = -16.0;
      d.x_hi = 16.0;
      break;
    case UnitKind::kClosedForm: {
      // The offsets at which N sigma(x/s) crosses the half-integers: s logit((k - 1/2) / N).
      const double theta_n = scale * std::log((n - 0.5) / 0.5);
      d.x_lo = -theta_n - 10.0;
      d.x_hi = theta_n + 10.0;
      break;
    }
    case UnitKind::kEqualCopies:
    case UnitKind::kLogitCopies:
      if (kind == UnitKind::kLogitCopies) {
        d.table =
            std::make_shared<std::vector<double>>(static_cast<size_t>(kernels::copy_table_size(n)));
        if (kernels::build_copy_table(d.table->data(), d.unit) != Status::kOk) {
          throw std::runtime_error("bench multinary: build_copy_table failed for " + name);
        }
        d.unit.table = d.table->data();
      }
      d.x_lo = kernels::copy_offset(d.unit, 1) - 10.0;
      d.x_hi = kernels::copy_offset(d.unit, n) + 10.0;
      break;
  }
  return d;
}

std::vector<UnitDef> bench_units() {
  return {
      make_unit("binary", UnitKind::kBinary, 1, 1.0, 1.0),
      make_unit("closed N=255 s=N/4", UnitKind::kClosedForm, 255, 255.0 / 4.0, 1.0),
      make_unit("equal N=255 d=1", UnitKind::kEqualCopies, 255, 1.0, 1.0),
      make_unit("logit N=255 s=N/4", UnitKind::kLogitCopies, 255, 255.0 / 4.0, 1.0),
  };
}

struct OutputSet {
  std::string name;
  bool mean, var, row_phi;
  Sampler sampler;
};

std::vector<OutputSet> output_sets() {
  return {
      {"mean", true, false, false, Sampler::kNone},
      {"mean+var+phi", true, true, true, Sampler::kNone},
      {"sample:mean", true, false, false, Sampler::kMean},
      {"sample:gaussian", true, false, false, Sampler::kGaussian},
      {"sample:exact", true, false, false, Sampler::kExact},
  };
}

const char* kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::kBinary:
      return "binary";
    case UnitKind::kClosedForm:
      return "closed_form";
    case UnitKind::kEqualCopies:
      return "equal_copies";
    case UnitKind::kLogitCopies:
      return "logit_copies";
  }
  return "?";
}

// Bytes a case moves: x read, each float output written, row_phi written.
int64_t case_bytes(const OutputSet& o, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  int64_t floats = 0;
  if (o.mean) ++floats;
  if (o.var) ++floats;
  if (o.sampler != Sampler::kNone) ++floats;
  return 4 * n + 4 * n * floats + (o.row_phi ? 8 * rows : 0);
}

// ---- host buffers, reference, validation ----------------------------------------------------

struct HostOutputs {
  std::vector<float> mean, var, sample;
  std::vector<double> row_phi;

  void poison(int64_t rows, int64_t cols) {
    const float nan_f = std::numeric_limits<float>::quiet_NaN();
    const size_t n = static_cast<size_t>(rows * cols);
    mean.assign(n, nan_f);
    var.assign(n, nan_f);
    sample.assign(n, nan_f);
    row_phi.assign(static_cast<size_t>(rows), std::numeric_limits<double>::quiet_NaN());
  }
};

void bind_outputs(MultinaryArgs& a, HostOutputs& h, const OutputSet& o, bool with_var) {
  a.mean = o.mean ? h.mean.data() : nullptr;
  a.var = (o.var || with_var) ? h.var.data() : nullptr;
  a.row_phi = o.row_phi ? h.row_phi.data() : nullptr;
  a.sample = o.sampler != Sampler::kNone ? h.sample.data() : nullptr;
  a.sampler = o.sampler;
}

// The float64 reference on whole rows (every element of check_rows, and their Phi sums).
struct Reference {
  std::vector<int64_t> check_rows;
  std::vector<double> mean, var;  // check_rows.size() x cols
  std::vector<double> row_phi;    // check_rows.size()
};

Reference compute_reference(bench::ThreadPool& pool, const UnitSpec& unit,
                            const std::vector<float>& x, int64_t rows, int64_t cols,
                            int64_t budget) {
  Reference ref;
  const int64_t count = cols == 0 ? rows : std::clamp<int64_t>(budget / cols, 1, rows);
  for (int64_t j = 0; j < count; ++j) ref.check_rows.push_back(j * rows / count);
  const int64_t nr = static_cast<int64_t>(ref.check_rows.size());
  ref.mean.assign(static_cast<size_t>(nr * cols), 0.0);
  ref.var.assign(static_cast<size_t>(nr * cols), 0.0);
  ref.row_phi.assign(static_cast<size_t>(nr), 0.0);
  std::vector<double> phi(static_cast<size_t>(nr * cols), 0.0);
  bench::parallel_ranges(pool, nr * cols, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t i = ref.check_rows[static_cast<size_t>(k / cols)] * cols + k % cols;
      const auto v = kernels::unit_values_reference<double>(unit, static_cast<double>(x[i]));
      ref.mean[k] = static_cast<double>(v.mean);
      ref.var[k] = static_cast<double>(v.var);
      phi[k] = static_cast<double>(v.phi);
    }
  });
  for (int64_t j = 0; j < nr; ++j) {
    double s = 0.0;
    for (int64_t c = 0; c < cols; ++c) s += phi[static_cast<size_t>(j * cols + c)];
    ref.row_phi[static_cast<size_t>(j)] = s;
  }
  return ref;
}

double rel_error(double got, double ref) {
  if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
  return std::fabs(got - ref) / std::max(std::fabs(ref), kRelFloor);
}

struct Check {
  double max_rel_mean = -1.0;  // -1: not checked
  double max_rel_var = -1.0;
  double max_rel_phi = -1.0;
  int64_t validated_elements = 0;
  double sampler_z = 0.0;  // (sample sum - expected) / SE
  std::vector<std::string> failures;

  bool ok() const { return failures.empty(); }
  double max_rel() const { return std::max({max_rel_mean, max_rel_var, max_rel_phi}); }
  void fail(const std::string& what) { failures.push_back(what); }
};

void check_against_reference(Check& check, const Reference& ref, const HostOutputs& out,
                             const OutputSet& o, bool var_written, int64_t cols) {
  for (size_t j = 0; j < ref.check_rows.size(); ++j) {
    const int64_t r = ref.check_rows[j];
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c), k = j * static_cast<size_t>(cols) + c;
      if (o.mean)
        check.max_rel_mean = std::max(check.max_rel_mean, rel_error(out.mean[i], ref.mean[k]));
      if (var_written)
        check.max_rel_var = std::max(check.max_rel_var, rel_error(out.var[i], ref.var[k]));
    }
    if (o.row_phi) {
      check.max_rel_phi = std::max(check.max_rel_phi,
                                   rel_error(out.row_phi[static_cast<size_t>(r)], ref.row_phi[j]));
    }
  }
  check.validated_elements = static_cast<int64_t>(ref.check_rows.size()) * cols;
  if (check.max_rel_mean > kMaxRelError)
    check.fail(format("mean rel err %.3g", check.max_rel_mean));
  if (check.max_rel_var > kMaxRelError) check.fail(format("var rel err %.3g", check.max_rel_var));
  if (check.max_rel_phi > kMaxRelError)
    check.fail(format("row_phi rel err %.3g", check.max_rel_phi));
}

// E[clip(m + sqrt(v) xi, 0, n)] for xi ~ N(0, 1).
double clipped_normal_mean(double m, double v, double n) {
  const double sd = std::sqrt(std::max(v, 0.0));
  if (sd == 0.0) return std::clamp(m, 0.0, n);
  const double a = (0.0 - m) / sd, b = (n - m) / sd;
  const double cdf_a = 0.5 * std::erfc(-a / std::sqrt(2.0));
  const double cdf_b = 0.5 * std::erfc(-b / std::sqrt(2.0));
  constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
  const double pdf_a = std::exp(-0.5 * a * a) * kInvSqrt2Pi;
  const double pdf_b = std::exp(-0.5 * b * b) * kInvSqrt2Pi;
  // P(X > n) n + E[X; 0 < X < n]  (the mass below 0 contributes 0)
  return n * (1.0 - cdf_b) + m * (cdf_b - cdf_a) + sd * (pdf_a - pdf_b);
}

// Sampler sanity over all elements: range, integrality, and the sample sum against its
// expectation (error model in the file header). mean and var come from the kernel.
void check_samples(Check& check, const UnitSpec& unit, Sampler sampler, const float* sample,
                   const float* mean, const float* var, int64_t n_elems) {
  const double n = unit.n;
  int64_t bad_range = 0, bad_int = 0, bad_mean = 0;
  double sum = 0.0, expected = 0.0, variance = 0.0, abs_expected = 0.0;
  for (int64_t i = 0; i < n_elems; ++i) {
    const double h = sample[i];
    if (!(h >= 0.0 && h <= n)) {  // also catches NaN
      ++bad_range;
      continue;
    }
    sum += h;
    const double m = mean[i], v = var[i];
    double e = m;
    switch (sampler) {
      case Sampler::kMean:
        if (sample[i] != mean[i]) ++bad_mean;
        break;
      case Sampler::kGaussian:
        e = clipped_normal_mean(m, v, n);
        break;
      case Sampler::kExact: {
        const double scale = unit.kind == UnitKind::kClosedForm ? unit.scale : 1.0;
        const double m_count = h * scale;  // copies: a count; closed form: m / s with m a count
        if (std::fabs(m_count - std::nearbyint(m_count)) > 1e-3) ++bad_int;
        break;
      }
      case Sampler::kNone:
        break;
    }
    expected += e;
    abs_expected += std::fabs(e);
    variance += std::max(v, 0.0);
  }
  if (bad_range) check.fail(format("%lld samples outside [0, N] or NaN", (long long)bad_range));
  if (bad_int) check.fail(format("%lld exact samples not integral", (long long)bad_int));
  if (bad_mean)
    check.fail(format("%lld mean-sampler samples differ from the mean", (long long)bad_mean));
  if (sampler == Sampler::kMean || bad_range) return;
  const double se = std::sqrt(variance);
  const double diff = sum - expected;
  check.sampler_z = se > 0.0 ? diff / se : 0.0;
  if (std::fabs(diff) > kSamplerSigmas * se + 1e-6 * abs_expected) {
    check.fail(format("sample sum off by %.3g (%.1f standard errors)", diff, check.sampler_z));
  }
}

template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---- one device -----------------------------------------------------------------------------

struct DeviceRun {
  std::string device;  // "cpu" or "cuda"
  int64_t rows = 0, cols = 0;
  int threads = 1, reps = 1, warmup = 1;
  bench::CeilingResult ceiling;
};

std::vector<float> random_inputs(const UnitDef& u, int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(u.x_lo, u.x_hi);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = static_cast<float>(dist(gen));
  return x;
}

// The exact closed-form sampler needs N s integral: run it at s = 64 (N s = 16320) instead.
UnitDef unit_for_case(const UnitDef& u, const OutputSet& o) {
  if (o.sampler == Sampler::kExact && u.unit.kind == UnitKind::kClosedForm &&
      kernels::closed_form_copy_count(u.unit) < 0) {
    UnitDef v = make_unit("closed N=255 s=64", UnitKind::kClosedForm, u.unit.n, 64.0, 1.0);
    v.x_lo = u.x_lo;
    v.x_hi = u.x_hi;
    v.note = format("exact sampler needs N s integral (s=N/4 gives %.2f): s=64",
                    u.unit.n * u.unit.scale);
    return v;
  }
  return u;
}

Row make_row(const DeviceRun& run, const UnitDef& u, const OutputSet& o, const Check& check,
             const bench::TimingResult* t) {
  Row row;
  row["device"] = run.device;
  row["unit"] = u.name;
  row["kind"] = kind_name(u.unit.kind);
  row["n"] = u.unit.n;
  row["scale"] = u.unit.scale;
  row["spacing"] = u.unit.spacing;
  row["outputs"] = o.name;
  row["sampler"] = layers::sampler_name(o.sampler);
  row["rows"] = run.rows;
  row["cols"] = run.cols;
  row["elements"] = run.rows * run.cols;
  row["threads"] = run.threads;
  row["reps"] = run.reps;
  const int64_t bytes = case_bytes(o, run.rows, run.cols);
  row["bytes"] = bytes;
  if (t != nullptr && t->median_ms > 0.0) {
    const double sec = t->median_ms * 1e-3;
    row["median_ms"] = t->median_ms;
    row["min_ms"] = t->min_ms;
    row["max_ms"] = t->max_ms;
    row["elements_per_s"] = static_cast<double>(run.rows * run.cols) / sec;
    row["ns_per_element"] =
        sec * 1e9 / static_cast<double>(std::max<int64_t>(run.rows * run.cols, 1));
    if (t->median_cpu_ms > 0.0) {
      row["median_cpu_ms"] = t->median_cpu_ms;
      row["cpu_ns_per_element"] =
          t->median_cpu_ms * 1e6 / static_cast<double>(std::max<int64_t>(run.rows * run.cols, 1));
    }
    row["gbps"] = static_cast<double>(bytes) / sec / 1e9;
    row["ceiling_gbps"] = run.ceiling.gbps;
    row["ceiling_fraction"] = static_cast<double>(bytes) / sec / 1e9 / run.ceiling.gbps;
  }
  // Every row has every column (null where a check does not apply), so CSV columns line up.
  auto put_err = [&](const char* key, double v) {
    if (v >= 0.0) {
      row[key] = v;
    } else {
      row[key] = nullptr;
    }
  };
  put_err("max_rel_err_mean", check.max_rel_mean);
  put_err("max_rel_err_var", check.max_rel_var);
  put_err("max_rel_err_phi", check.max_rel_phi);
  row["validated_elements"] = check.validated_elements;
  if (o.sampler == Sampler::kGaussian || o.sampler == Sampler::kExact) {
    row["sampler_z"] = check.sampler_z;
  } else {
    row["sampler_z"] = nullptr;
  }
  std::string status = "ok";
  if (!check.ok()) {
    status = "FAIL:";
    for (const auto& f : check.failures) status += " " + f + ";";
  }
  row["status"] = status;
  row["note"] = u.note;
  return row;
}

// The CPU path that is timed: multinary_forward_cpu on contiguous row ranges, one per pool thread.
// first_element keeps each piece's generator counters global, so the samples do not depend on
// the split (checked against one whole call in run_cpu).
MultinaryArgs row_piece(const MultinaryArgs& a, int64_t r0, int64_t r1) {
  MultinaryArgs p = a;
  const int64_t offset = r0 * a.cols;
  p.x = a.x + offset;
  if (a.mean) p.mean = a.mean + offset;
  if (a.var) p.var = a.var + offset;
  if (a.sample) p.sample = a.sample + offset;
  if (a.row_phi) p.row_phi = a.row_phi + r0;
  p.rows = r1 - r0;
  p.first_element = a.first_element + offset;
  return p;
}

void forward_threaded_cpu(bench::ThreadPool& pool, const MultinaryArgs& a) {
  // Arguments were validated once before timing; a piece of valid arguments is valid.
  bench::parallel_ranges(pool, a.rows, [&](int64_t r0, int64_t r1) {
    (void)kernels::multinary_forward_cpu(row_piece(a, r0, r1));
  });
}

void require_ok(Status s, const std::string& what) {
  if (s != Status::kOk) throw std::runtime_error(what + ": " + kernels::status_string(s));
}

std::vector<Row> run_cpu(const Options& opt, bench::ThreadPool& pool, DeviceRun& run) {
  std::vector<Row> rows_out;
  const int64_t n = run.rows * run.cols;
  uint64_t unit_seed = opt.seed;
  for (const UnitDef& base : bench_units()) {
    const std::vector<float> x = random_inputs(base, n, ++unit_seed);
    const Reference ref_base =
        compute_reference(pool, base.unit, x, run.rows, run.cols, opt.validate_elements);
    for (const OutputSet& o : output_sets()) {
      const UnitDef u = unit_for_case(base, o);
      std::unique_ptr<Reference> ref_own;  // a case whose unit differs from the base unit
      if (u.name != base.name) {
        ref_own = std::make_unique<Reference>(
            compute_reference(pool, u.unit, x, run.rows, run.cols, opt.validate_elements));
      }
      const Reference& ref = ref_own ? *ref_own : ref_base;
      Check check;
      MultinaryArgs a;
      a.x = x.data();
      a.rows = run.rows;
      a.cols = run.cols;
      a.unit = u.unit;
      a.seed = opt.seed;
      a.offset = 7;
      // 1. the timed configuration, poisoned first, through the threaded path
      HostOutputs out;
      out.poison(run.rows, run.cols);
      bind_outputs(a, out, o, false);
      require_ok(kernels::validate_multinary_args(a), "bench multinary: " + u.name + " " + o.name);
      forward_threaded_cpu(pool, a);
      check_against_reference(check, ref, out, o, o.var, run.cols);
      // 2. the same arguments through multinary_forward_cpu (one call): must match bitwise
      HostOutputs single;
      single.poison(run.rows, run.cols);
      MultinaryArgs b = a;
      bind_outputs(b, single, o, false);
      require_ok(kernels::multinary_forward_cpu(b), "multinary_forward_cpu");
      if (!(bitwise_equal(out.mean, single.mean) && bitwise_equal(out.var, single.var) &&
            bitwise_equal(out.sample, single.sample) &&
            bitwise_equal(out.row_phi, single.row_phi))) {
        // NaN payloads of untouched outputs are identical (both poisoned the same way).
        check.fail("threaded pass differs from multinary_forward_cpu");
      }
      // 3. samplers: a run that also writes var, for the expectation and standard error
      if (o.sampler != Sampler::kNone) {
        HostOutputs with_var;
        with_var.poison(run.rows, run.cols);
        MultinaryArgs c = a;
        bind_outputs(c, with_var, o, true);
        forward_threaded_cpu(pool, c);
        check_samples(check, u.unit, o.sampler, out.sample.data(), out.mean.data(),
                      with_var.var.data(), n);
      }
      // 4. timing
      const bench::TimingResult t =
          bench::time_cpu([&] { forward_threaded_cpu(pool, a); }, run.warmup, run.reps);
      rows_out.push_back(make_row(run, u, o, check, &t));
    }
  }
  return rows_out;
}

#if defined(MRBM_WITH_CUDA)
std::vector<Row> run_cuda(const Options& opt, bench::ThreadPool& pool, DeviceRun& run,
                          cudaStream_t stream) {
  using bench::cuda_check;
  using bench::DeviceBuffer;
  std::vector<Row> rows_out;
  const int64_t n = run.rows * run.cols;
  const size_t fbytes = static_cast<size_t>(n) * sizeof(float);
  const size_t dbytes = static_cast<size_t>(run.rows) * sizeof(double);
  DeviceBuffer d_x(static_cast<int64_t>(fbytes)), d_mean(static_cast<int64_t>(fbytes)),
      d_var(static_cast<int64_t>(fbytes)), d_sample(static_cast<int64_t>(fbytes)),
      d_phi(static_cast<int64_t>(dbytes));
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const int64_t flush_bytes =
      std::max<int64_t>(2 * static_cast<int64_t>(prop.l2CacheSize), 1 << 20);
  DeviceBuffer d_flush(flush_bytes);
  int flush_value = 0;
  auto flush_l2 = [&](cudaStream_t s) {
    cuda_check(
        cudaMemsetAsync(d_flush.get(), ++flush_value & 0xff, static_cast<size_t>(flush_bytes), s),
        "L2 flush");
  };

  uint64_t unit_seed = opt.seed + 1000;
  for (const UnitDef& base : bench_units()) {
    const std::vector<float> x = random_inputs(base, n, ++unit_seed);
    cuda_check(cudaMemcpyAsync(d_x.get(), x.data(), fbytes, cudaMemcpyHostToDevice, stream),
               "upload x");
    const Reference ref_base =
        compute_reference(pool, base.unit, x, run.rows, run.cols, opt.validate_elements);
    for (const OutputSet& o : output_sets()) {
      const UnitDef u = unit_for_case(base, o);
      std::unique_ptr<Reference> ref_own;
      if (u.name != base.name) {
        ref_own = std::make_unique<Reference>(
            compute_reference(pool, u.unit, x, run.rows, run.cols, opt.validate_elements));
      }
      const Reference& ref = ref_own ? *ref_own : ref_base;
      DeviceBuffer d_table;
      UnitSpec dev_unit = u.unit;
      if (u.table) {
        d_table = DeviceBuffer(static_cast<int64_t>(u.table->size() * sizeof(double)));
        cuda_check(cudaMemcpyAsync(d_table.get(), u.table->data(), u.table->size() * sizeof(double),
                                   cudaMemcpyHostToDevice, stream),
                   "upload copy table");
        dev_unit.table = static_cast<const double*>(d_table.get());
      }
      MultinaryArgs a;
      a.x = static_cast<const float*>(d_x.get());
      a.rows = run.rows;
      a.cols = run.cols;
      a.unit = dev_unit;
      a.seed = opt.seed;
      a.offset = 7;
      auto bind = [&](MultinaryArgs& args, bool with_var) {
        args.mean = o.mean ? static_cast<float*>(d_mean.get()) : nullptr;
        args.var = (o.var || with_var) ? static_cast<float*>(d_var.get()) : nullptr;
        args.row_phi = o.row_phi ? static_cast<double*>(d_phi.get()) : nullptr;
        args.sample = o.sampler != Sampler::kNone ? static_cast<float*>(d_sample.get()) : nullptr;
        args.sampler = o.sampler;
      };
      auto poison = [&] {  // 0xff bytes are NaN as float and as double
        for (const DeviceBuffer* b : {&d_mean, &d_var, &d_sample, &d_phi}) {
          cuda_check(cudaMemsetAsync(b->get(), 0xff, static_cast<size_t>(b->bytes()), stream),
                     "poison");
        }
      };
      auto download = [&](HostOutputs& h, bool var_too) {
        h.poison(run.rows, run.cols);
        if (o.mean)
          cuda_check(
              cudaMemcpyAsync(h.mean.data(), d_mean.get(), fbytes, cudaMemcpyDeviceToHost, stream),
              "download");
        if (o.var || var_too)
          cuda_check(
              cudaMemcpyAsync(h.var.data(), d_var.get(), fbytes, cudaMemcpyDeviceToHost, stream),
              "download");
        if (o.sampler != Sampler::kNone)
          cuda_check(cudaMemcpyAsync(h.sample.data(), d_sample.get(), fbytes,
                                     cudaMemcpyDeviceToHost, stream),
                     "download");
        if (o.row_phi)
          cuda_check(cudaMemcpyAsync(h.row_phi.data(), d_phi.get(), dbytes, cudaMemcpyDeviceToHost,
                                     stream),
                     "download");
        cuda_check(cudaStreamSynchronize(stream), "download");
      };
      const std::string what = "bench multinary: " + u.name + " " + o.name;
      Check check;
      bind(a, false);
      require_ok(kernels::validate_multinary_args(a), what);
      poison();
      cuda_check(kernels::multinary_forward_cuda(a, stream), (what + " (cuda)").c_str());
      HostOutputs out;
      download(out, false);
      check_against_reference(check, ref, out, o, o.var, run.cols);
      if (o.sampler != Sampler::kNone) {
        MultinaryArgs c = a;
        bind(c, true);
        poison();
        cuda_check(kernels::multinary_forward_cuda(c, stream),
                   (what + " (cuda, with var)").c_str());
        HostOutputs with_var;
        download(with_var, true);
        check_samples(check, u.unit, o.sampler, out.sample.data(), out.mean.data(),
                      with_var.var.data(), n);
      }
      const bench::TimingResult t = bench::time_cuda(
          [&](cudaStream_t s) { cuda_check(kernels::multinary_forward_cuda(a, s), what.c_str()); },
          flush_l2, stream, run.warmup, run.reps);
      rows_out.push_back(make_row(run, u, o, check, &t));
    }
  }
  return rows_out;
}
#endif

// ---- the command ----------------------------------------------------------------------------

std::vector<std::string> table_cells(const Row& r) {
  auto num = [&](const char* key, const char* fmt, double scale = 1.0) -> std::string {
    const auto it = r.find(key);
    return it == r.end() || !it->is_number() ? "-" : format(fmt, it->get<double>() * scale);
  };
  std::string err = "-";
  double worst = -1.0;
  for (const char* k : {"max_rel_err_mean", "max_rel_err_var", "max_rel_err_phi"}) {
    const auto it = r.find(k);
    if (it != r.end() && it->is_number()) worst = std::max(worst, it->get<double>());
  }
  if (worst >= 0.0) err = format("%.2e", worst);
  std::string status = r["status"].get<std::string>();
  if (r["sampler_z"].is_number() && status == "ok") {
    status = format("ok (z=%+.2f)", r["sampler_z"].get<double>());
  }
  return {r["device"].get<std::string>(),
          r["unit"].get<std::string>(),
          r["outputs"].get<std::string>(),
          num("median_ms", "%.3f"),
          num("ns_per_element", "%.2f"),
          num("cpu_ns_per_element", "%.2f"),
          num("elements_per_s", "%.1f", 1e-6),
          num("gbps", "%.2f"),
          num("ceiling_fraction", "%.1f%%", 100.0),
          err,
          status};
}

void run_multinary_bench(const Options& opt_in) {
  Options opt = opt_in;
  const int hw = available_cpus();
  const int threads = opt.threads > 0 ? opt.threads : hw;
  if (opt.rows < 0 || opt.cols < 0) throw std::runtime_error("--rows and --cols must be >= 0");
  if (opt.quick) opt.validate_elements = std::numeric_limits<int64_t>::max();  // every element

  const int cuda_devices = bench::cuda_device_count();
  const bool want_cpu = opt.device == "cpu" || opt.device == "all";
  bool want_cuda = opt.device == "cuda" || opt.device == "all";
  if (opt.device == "cuda" && cuda_devices == 0) {
#if defined(MRBM_WITH_CUDA)
    throw std::runtime_error("--device cuda: no usable CUDA device (driver missing or no GPU)");
#else
    throw std::runtime_error(
        "--device cuda: this mrbm was built without CUDA (MRBM_WITH_CUDA=OFF)");
#endif
  }
  want_cuda = want_cuda && cuda_devices > 0;

  bench::ThreadPool pool(threads);
  std::cout << "mrbm bench multinary  " << bench::utc_timestamp() << "\n";
  std::cout << "build: " << bench::build_line() << "\n";
  const std::string load_before = bench::load_average();
  std::cout << "cpu:   " << bench::cpu_model() << ", " << threads << " thread(s) of " << hw
            << ", load average " << load_before << "\n";
  bench::print_blas_lines(std::cout);  // the multinary pass runs no GEMM; for the record
  std::string cuda_line = "none";
#if defined(MRBM_WITH_CUDA)
  if (cuda_devices > 0)
    cuda_line = bench::cuda_device_line(0);
  else
    cuda_line = "no usable device";
#else
  cuda_line = "not built (CPU-only build)";
#endif
  std::cout << "cuda:  " << cuda_line << "\n";
  std::cout << "validation: max relative error vs float64 reference (floor " << kRelFloor
            << "), fail above " << kMaxRelError << "; samplers: sum within " << kSamplerSigmas
            << " standard errors\n"
            << std::flush;

  std::vector<Row> rows;
  Row ceilings = Row::array();
  std::vector<DeviceRun> runs;
  if (want_cpu) {
    DeviceRun run;
    run.device = "cpu";
    run.rows = opt.rows > 0 ? opt.rows : (opt.quick ? 5 : 64);
    run.cols = opt.cols > 0 ? opt.cols : (opt.quick ? 1000 : 16384);
    run.threads = threads;
    run.reps = opt.reps > 0 ? opt.reps : (opt.quick ? 2 : 7);
    run.warmup = opt.warmup >= 0 ? opt.warmup : 1;
    // Copy ceiling: 256 MiB (quick: 16 MiB) per buffer, far beyond the last-level cache.
    run.ceiling =
        bench::cpu_copy_ceiling(pool, opt.quick ? (16 << 20) : (256 << 20), 1, opt.quick ? 2 : 7);
    std::cout << format("\ncpu copy ceiling (memcpy, %d threads, read+write): %.2f GB/s\n", threads,
                        run.ceiling.gbps)
              << std::flush;
    ceilings.push_back(Row{{"device", "cpu"},
                           {"kind", "memcpy"},
                           {"bytes", run.ceiling.bytes},
                           {"threads", threads},
                           {"gbps", run.ceiling.gbps},
                           {"median_ms", run.ceiling.timing.median_ms}});
    auto r = run_cpu(opt, pool, run);
    rows.insert(rows.end(), r.begin(), r.end());
    runs.push_back(run);
  }
#if defined(MRBM_WITH_CUDA)
  if (want_cuda) {
    bench::cuda_check(cudaSetDevice(0), "cudaSetDevice");
    cudaStream_t stream = nullptr;
    bench::cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                      "cudaStreamCreate");
    struct StreamGuard {
      cudaStream_t s;
      ~StreamGuard() { cudaStreamDestroy(s); }
    } guard{stream};
    DeviceRun run;
    run.device = "cuda";
    run.rows = opt.rows > 0 ? opt.rows : (opt.quick ? 5 : 128);
    run.cols = opt.cols > 0 ? opt.cols : (opt.quick ? 1000 : 65536);
    run.threads = 1;
    run.reps = opt.reps > 0 ? opt.reps : (opt.quick ? 2 : 25);
    run.warmup = opt.warmup >= 0 ? opt.warmup : 3;
    run.ceiling = bench::cuda_copy_ceiling(opt.quick ? (16 << 20) : (int64_t{1} << 30), 2,
                                           opt.quick ? 2 : 20, stream);
    std::cout << format("\ncuda copy ceiling (cudaMemcpyAsync D2D, read+write): %.1f GB/s\n",
                        run.ceiling.gbps)
              << std::flush;
    ceilings.push_back(Row{{"device", "cuda"},
                           {"kind", "cudaMemcpyAsync D2D"},
                           {"bytes", run.ceiling.bytes},
                           {"gbps", run.ceiling.gbps},
                           {"median_ms", run.ceiling.timing.median_ms}});
    auto r = run_cuda(opt, pool, run, stream);
    rows.insert(rows.end(), r.begin(), r.end());
    runs.push_back(run);
  }
#endif
  if (runs.empty()) throw std::runtime_error("bench multinary: no device to run on");

  std::cout << "\nload average after the run: " << bench::load_average() << "\n";
  for (const DeviceRun& run : runs) {
    std::cout << format("%s: %lld x %lld elements, %d thread(s), median of %d after %d warm-up\n",
                        run.device.c_str(), (long long)run.rows, (long long)run.cols, run.threads,
                        run.reps, run.warmup);
  }
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows) cells.push_back(table_cells(r));
  bench::print_table(std::cout,
                     {"device", "unit", "outputs", "median ms", "ns/elem", "cpu ns/elem", "Melem/s",
                      "GB/s", "of ceiling", "max rel err", "check"},
                     cells);
  for (const Row& r : rows) {
    if (!r["note"].get<std::string>().empty()) {
      std::cout << "note: " << r["device"].get<std::string>() << " " << r["unit"].get<std::string>()
                << " " << r["outputs"].get<std::string>() << ": " << r["note"].get<std::string>()
                << "\n";
    }
  }

  int failures = 0;
  std::string failed;
  for (const Row& r : rows) {
    if (r["status"].get<std::string>() != "ok") {
      ++failures;
      failed += "\n  " + r["device"].get<std::string>() + " " + r["unit"].get<std::string>() + " " +
                r["outputs"].get<std::string>() + ": " + r["status"].get<std::string>();
    }
  }

  if (!opt.json.empty()) {
    nlohmann::ordered_json doc;
    doc["bench"] = "multinary";
    doc["timestamp"] = bench::utc_timestamp();
    doc["build"] = bench::build_info();
    doc["cpu"] = bench::cpu_model();
    doc["cpu_threads"] = threads;
    doc["load_average_before"] = load_before;
    doc["load_average_after"] = bench::load_average();
    doc["cuda_device"] = cuda_line;
    doc["validation"] = {{"max_rel_error", kMaxRelError},
                         {"rel_floor", kRelFloor},
                         {"sampler_sigmas", kSamplerSigmas}};
    doc["ceilings"] = ceilings;
    doc["results"] = rows;
    doc["failures"] = failures;
    bench::write_json_file(opt.json, doc);
    std::cout << "wrote " << opt.json << "\n";
  }
  if (!opt.csv.empty()) {
    bench::write_csv_file(opt.csv, rows);
    std::cout << "wrote " << opt.csv << "\n";
  }
  std::cout << std::flush;
  if (failures > 0) {
    throw std::runtime_error(
        format("bench multinary: %d of %zu cases failed validation:", failures, rows.size()) +
        failed);
  }
}

}  // namespace

void register_bench_multinary(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "multinary",
      "The fused multinary pass: every unit kind, output set and sampler; validated against the "
      "float64 reference, then timed (elements/s, GB/s vs a copy ceiling)");
  cmd->add_option("--device", opt->device, "cpu, cuda or all (all available devices)")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}))
      ->capture_default_str();
  cmd->add_option("--rows", opt->rows, "rows (default: cpu 64, cuda 128; --quick 5)")
      ->check(integer_in(0));
  cmd->add_option("--cols", opt->cols, "columns (default: cpu 16384, cuda 65536; --quick 1000)")
      ->check(integer_in(0));
  cmd->add_option("--threads", opt->threads, "CPU threads splitting the rows (default: all cores the process may use)")
      ->check(integer_in(0, 4096));
  cmd->add_option("--reps", opt->reps,
                  "timed runs, the median is reported (default: cpu 7, cuda 25)")
      ->check(integer_in(0));
  cmd->add_option("--warmup", opt->warmup, "untimed runs before timing (default: cpu 1, cuda 3)")
      ->check(integer_in(0));
  cmd->add_option("--validate-elements", opt->validate_elements,
                  "reference evaluations per unit (whole rows; --quick checks all)")
      ->check(integer_in(1))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the inputs and samplers")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->add_flag("--quick", opt->quick, "small sizes and few runs (e.g. under compute-sanitizer)");
  cmd->add_option("--json", opt->json, "write the results as JSON to this file");
  cmd->add_option("--csv", opt->csv, "write the results as CSV to this file");
  cmd->callback([opt] { run_multinary_bench(*opt); });
}

}  // namespace mrbm::tools
