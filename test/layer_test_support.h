// Helpers shared by the layer tests that compare autodiff gradients with closed-form updates
// (test_layers_rbm.cpp, test_layers_negative.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "kernels/multinary_reference.h"
#include "layers/unit_config.h"

namespace mrbm::test {

inline layers::UnitConfig closed_unit(int32_t n) {
  layers::UnitConfig u;
  u.kind = kernels::UnitKind::kClosedForm;
  u.n = n;
  return u;
}
inline layers::UnitConfig binary_unit() {
  layers::UnitConfig u;
  u.kind = kernels::UnitKind::kBinary;
  u.n = 1;
  return u;
}

inline std::vector<double> to_doubles(const Tensor& t) {
  const auto f = t.to_vector<float>();
  return {f.begin(), f.end()};
}

// f(x) in long double for every element of a pre-activation vector.
inline std::vector<long double> unit_mean(const layers::UnitConfig& u, const std::vector<long double>& x) {
  std::vector<long double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    out[i] = kernels::unit_values_reference<long double>(u.spec(), x[i]).mean;
  return out;
}

// Max |a - b| relative to max |b|. Error model of the gradient checks: the float32 computations on
// the tape have relative error ~1e-6 per operation, and the gradients are sums of thousands of
// products with cancellation between the positive and negative phases, so 1e-4 of the largest
// entry.
inline double max_rel(const std::vector<double>& a, const std::vector<long double>& b) {
  long double scale = 0, err = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    scale = std::max(scale, std::fabs(b[i]));
    err = std::max(err, std::fabs(a[i] - b[i]));
  }
  return static_cast<double>(err / std::max(scale, 1e-30L));
}

}  // namespace mrbm::test
