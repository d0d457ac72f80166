// Gradient check: the tape's gradient of a scalar function against central finite differences,
// in float64 on the CPU (every differentiable op has a float64 CPU path for this).
//
//   numeric_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)
//
// Error model: the central difference has truncation error ~ eps^2 |f'''| / 6 and rounding error
// ~ |f| 1e-16 / eps; with eps = 1e-6 and O(1)-scaled functions both stay near 1e-9, so the default
// tolerance |analytic - numeric| <= atol + rtol |numeric| with rtol = 1e-6, atol = 1e-8 has
// margin. Functions whose values are large (free energies of 255-level units) should pass a
// tolerance scaled to |f| (see the tests).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autodiff/tape.h"
#include "autodiff/variable.h"

namespace mrbm::autodiff {

struct GradcheckOptions {
  double eps = 1e-6;
  double rtol = 1e-6;
  double atol = 1e-8;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string worst;  // "input 1 element 7: analytic 0.25 numeric 0.2500001"
  int64_t checked = 0;
};

// f builds a one-element float64 loss from `inputs` (float64 CPU variables that require grad).
using ScalarFunction = std::function<Variable(Tape&, const std::vector<Variable>&)>;

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace mrbm::autodiff
