// Brute-force reference of one multinary unit (docs/math.md sections 2.1 and 2.2): the oracle of the
// fast unit math of kernels/multinary_math.h, used by the tests (Real = long double) and by the
// benchmark tool (Real = double). Host-only (std:: math on Real); never used in a kernel.
//
//   kBinary       mean = sigma(x), var = sigma'(x), phi = sp(x)
//   kClosedForm   mean = N sigma(x/s), var = (N/s) sigma'(x/s), phi = N s sp(x/s)
//   kEqualCopies  mean = sum_k sigma(x - theta_k), var = sum_k sigma'(x - theta_k),
//                 phi = sum_k sp(x - theta_k),  theta_k = d (k - (N+1)/2),  k = 1..N
//   kLogitCopies  the same sums with theta_k = s logit((k - 1/2)/N) = s log((k - 1/2)/(N - k + 1/2))
//
// All N copies are summed directly in Real, with the offsets computed here in Real (not from
// build_copy_table's table and not by the window-plus-tails method), so this is an independent oracle.
// Stable forms: sigma(z) = 1/(1+e^-z) or e^z/(1+e^z) by sign, sp(z) = max(z,0) + log1p(e^{-|z|}),
// sigma'(z) = e^{-|z|}/(1+e^{-|z|})^2. Non-finite x follows from these forms: NaN -> NaN,
// +inf -> (N, 0, +inf), -inf -> (0, 0, 0), the convention of kernels/multinary_math.h.
// The spec is not validated here (call validate_unit_spec first); u.table is ignored.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/unit_spec.h"

namespace mrbm::kernels {

template <typename Real>
struct UnitReference {
  Real mean;  // f(x)
  Real var;   // f'(x)
  Real phi;   // Phi(x)
};

// theta_k (1-based) of a copy unit, computed in Real from the definition.
template <typename Real>
Real copy_offset_reference(const UnitSpec& u, int32_t k) {
  const Real n = static_cast<Real>(u.n);
  if (u.kind == UnitKind::kEqualCopies) {
    return static_cast<Real>(u.spacing) * (static_cast<Real>(k) - (n + 1) / 2);
  }
  // kLogitCopies: logit(p) = log(p / (1 - p)) with p = (k - 1/2)/N, 1 - p = (N - k + 1/2)/N.
  const Real num = static_cast<Real>(k) - Real(0.5);
  const Real den = n - static_cast<Real>(k) + Real(0.5);
  return static_cast<Real>(u.scale) * std::log(num / den);
}

template <typename Real>
Real logistic_reference(Real z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const Real e = std::exp(z);  // NaN falls through here and stays NaN
  return e / (1 + e);
}

template <typename Real>
Real softplus_reference(Real z) {
  return (z > 0 ? z : Real(0)) + std::log1p(std::exp(-std::fabs(z)));  // NaN stays NaN via exp
}

template <typename Real>
Real logistic_derivative_reference(Real z) {
  const Real u = std::exp(-std::fabs(z));
  return u / ((1 + u) * (1 + u));
}

template <typename Real>
UnitReference<Real> unit_values_reference(const UnitSpec& u, Real x) {
  UnitReference<Real> r{0, 0, 0};
  switch (u.kind) {
    case UnitKind::kBinary:
      r.mean = logistic_reference(x);
      r.var = logistic_derivative_reference(x);
      r.phi = softplus_reference(x);
      return r;
    case UnitKind::kClosedForm: {
      const Real n = static_cast<Real>(u.n);
      const Real s = static_cast<Real>(u.scale);
      const Real z = x / s;
      r.mean = n * logistic_reference(z);
      r.var = n / s * logistic_derivative_reference(z);
      r.phi = n * s * softplus_reference(z);
      return r;
    }
    case UnitKind::kEqualCopies:
    case UnitKind::kLogitCopies:
      for (int32_t k = 1; k <= u.n; ++k) {
        const Real z = x - copy_offset_reference<Real>(u, k);
        r.mean += logistic_reference(z);
        r.var += logistic_derivative_reference(z);
        r.phi += softplus_reference(z);
      }
      return r;
  }
  return r;
}

}  // namespace mrbm::kernels
