// Gradient check (autodiff/gradcheck.h).
#include "autodiff/gradcheck.h"

#include <cmath>
#include <sstream>

namespace mrbm::autodiff {
namespace {

double evaluate(const ScalarFunction& f, const std::vector<Variable>& vars) {
  NoGradGuard no_grad;
  Tape tape;
  const Variable loss = f(tape, vars);
  return loss.value().to_vector<double>().at(0);
}

}  // namespace

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) {
    MRBM_CHECK(t.is_cpu() && t.dtype() == DType::kFloat64,
               "gradcheck needs float64 CPU inputs, got " << t.describe());
    vars.emplace_back(t.clone(), true);
  }
  Tape tape;
  Variable loss = f(tape, vars);
  MRBM_CHECK(loss.value().dtype() == DType::kFloat64, "gradcheck needs a float64 loss");
  tape.backward(loss);

  GradcheckResult result;
  for (size_t v = 0; v < vars.size(); ++v) {
    const Tensor& value = vars[v].value();
    const std::vector<double> analytic =
        vars[v].has_grad() ? vars[v].grad().to_vector<double>()
                           : std::vector<double>(static_cast<size_t>(value.numel()), 0.0);
    double* x = value.data<double>();
    for (int64_t i = 0; i < value.numel(); ++i) {
      const double saved = x[i];
      x[i] = saved + options.eps;
      const double plus = evaluate(f, vars);
      x[i] = saved - options.eps;
      const double minus = evaluate(f, vars);
      x[i] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double error = std::fabs(analytic[i] - numeric);
      ++result.checked;
      const bool within = error <= options.atol + options.rtol * std::fabs(numeric);
      if (!within || !std::isfinite(analytic[i])) result.ok = false;
      if (error > result.max_abs_error || !std::isfinite(analytic[i])) {
        result.max_abs_error = error;
        std::ostringstream os;
        os << "input " << v << " element " << i << ": analytic " << analytic[i] << " numeric "
           << numeric;
        result.worst = os.str();
      }
    }
  }
  return result;
}

}  // namespace mrbm::autodiff
