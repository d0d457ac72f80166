// UnitStates (layers/unit_states.h).
#include "layers/unit_states.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "kernels/multinary_reference.h"
#include "kernels/multinary_sample.h"

namespace mrbm::layers {

using kernels::UnitKind;

std::string exact_sampler_problem(const UnitConfig& unit, const std::string& what) {
  const kernels::UnitSpec spec = unit.spec();
  if (spec.kind != UnitKind::kClosedForm || kernels::closed_form_copy_count(spec) >= 0) return {};
  // Two scales that would work: the nearest integer (N s then an integer for any N) and the
  // nearest one with the same number of binomial copies, round(N s) / N.
  const double copies = spec.n * spec.scale;
  const double integer_scale = std::max(1.0, std::round(spec.scale));
  const double same_copies = std::max(1.0, std::round(copies)) / spec.n;
  std::ostringstream os;
  os.precision(10);
  os << what << " is a closed-form unit with N = " << spec.n << " and scale s = " << spec.scale
     << ": N s = " << copies
     << " is not an integer, so it has no exact sampler (the binomial Binomial(N s, sigma(x/s)) / s)"
     << " and no lattice of states, which the log-likelihood needs; a scale with N s an integer "
        "would work, e.g. s = "
     << integer_scale << " or s = " << same_copies << " (N s = " << std::round(copies) << ")";
  return os.str();
}

void require_exact_sampler(const UnitConfig& unit, const std::string& what) {
  const std::string problem = exact_sampler_problem(unit, what);
  if (!problem.empty()) MRBM_THROW(UnsupportedError, problem);
}

namespace {

double log_add(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(-std::fabs(a - b)));
}

// log e_m(e^{-theta_1}, ..., e^{-theta_N}), m = 0..N, by the recurrence over copies
// e_m <- e_m + e^{-theta_k} e_{m-1}, in log space (the terms span hundreds of orders of magnitude).
std::vector<double> log_elementary_symmetric(const UnitConfig& unit) {
  const kernels::UnitSpec spec = unit.spec();
  std::vector<double> e(static_cast<size_t>(spec.n) + 1, -INFINITY);
  e[0] = 0.0;
  for (int32_t k = 1; k <= spec.n; ++k) {
    const double log_w = -kernels::copy_offset_reference<double>(spec, k);
    for (int32_t m = k; m >= 1; --m) e[m] = log_add(e[m], log_w + e[m - 1]);
  }
  return e;
}

}  // namespace

UnitStates unit_states(const UnitConfig& unit) {
  require_exact_sampler(unit, "the unit");
  const kernels::UnitSpec spec = unit.spec();
  UnitStates s;
  switch (spec.kind) {
    case UnitKind::kBinary:
      s.values = {0.0, 1.0};
      s.log_base = {0.0, 0.0};
      break;
    case UnitKind::kClosedForm: {
      const int64_t copies = kernels::closed_form_copy_count(spec);
      const double lc = std::lgamma(static_cast<double>(copies) + 1.0);
      for (int64_t m = 0; m <= copies; ++m) {
        s.values.push_back(static_cast<double>(m) / spec.scale);
        s.log_base.push_back(lc - std::lgamma(m + 1.0) - std::lgamma(static_cast<double>(copies - m) + 1.0));
      }
      break;
    }
    case UnitKind::kEqualCopies:
    case UnitKind::kLogitCopies:
      s.log_base = log_elementary_symmetric(unit);
      for (int32_t m = 0; m <= spec.n; ++m) s.values.push_back(m);
      break;
  }
  return s;
}

int64_t state_index(const UnitStates& states, double value, double tolerance) {
  const auto it = std::lower_bound(states.values.begin(), states.values.end(), value);
  int64_t best = -1;
  double best_distance = tolerance;
  for (auto c : {it, it == states.values.begin() ? it : it - 1}) {
    if (c == states.values.end()) continue;
    const double d = std::fabs(*c - value);
    if (d <= best_distance) {
      best_distance = d;
      best = c - states.values.begin();
    }
  }
  return best;
}

}  // namespace mrbm::layers
