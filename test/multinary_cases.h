// Unit specs shared by the fused-pass tests (CPU and CUDA): every unit kind at small and large N,
// with the kLogitCopies table owned by the case.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/multinary_sample.h"
#include "kernels/multinary_table.h"
#include "kernels/unit_spec.h"

namespace mrbm::test {

struct UnitCase {
  std::string name;
  kernels::UnitSpec unit;
  std::shared_ptr<std::vector<double>> table;  // kLogitCopies only
  float x_lo, x_hi;                            // interesting pre-activation range
};

inline UnitCase make_unit_case(const std::string& name, kernels::UnitKind kind, int32_t n,
                               double scale, double spacing) {
  UnitCase c{name, {}, nullptr, 0.0f, 0.0f};
  c.unit.kind = kind;
  c.unit.n = n;
  c.unit.scale = scale;
  c.unit.spacing = spacing;
  double lo = -10.0, hi = 10.0;
  if (kind == kernels::UnitKind::kClosedForm) {
    lo = -12.0 * scale;
    hi = 12.0 * scale;
  } else if (kind == kernels::UnitKind::kEqualCopies || kind == kernels::UnitKind::kLogitCopies) {
    if (kind == kernels::UnitKind::kLogitCopies) {
      c.table = std::make_shared<std::vector<double>>(kernels::copy_table_size(n));
      kernels::build_copy_table(c.table->data(), c.unit);
      c.unit.table = c.table->data();
    }
    lo = kernels::copy_offset(c.unit, 1) - 12.0;
    hi = kernels::copy_offset(c.unit, n) + 12.0;
  }
  c.x_lo = static_cast<float>(lo);
  c.x_hi = static_cast<float>(hi);
  return c;
}

inline std::vector<UnitCase> all_unit_cases() {
  using kernels::UnitKind;
  return {
      make_unit_case("binary", UnitKind::kBinary, 1, 1.0, 1.0),
      make_unit_case("closed N=255 s=N/4", UnitKind::kClosedForm, 255, 255.0 / 4, 1.0),
      make_unit_case("closed N=255 s=64", UnitKind::kClosedForm, 255, 64.0, 1.0),
      make_unit_case("closed N=2 s=1", UnitKind::kClosedForm, 2, 1.0, 1.0),
      make_unit_case("equal N=16 d=1", UnitKind::kEqualCopies, 16, 1.0, 1.0),
      make_unit_case("equal N=255 d=1", UnitKind::kEqualCopies, 255, 1.0, 1.0),
      make_unit_case("logit N=16 s=4", UnitKind::kLogitCopies, 16, 4.0, 1.0),
      make_unit_case("logit N=255 s=N/4", UnitKind::kLogitCopies, 255, 255.0 / 4, 1.0),
  };
}

// The exact sampler of the closed form needs an integral copy count N s (255 * 255/4 is not).
inline bool supports_sampler(const kernels::UnitSpec& unit, kernels::Sampler sampler) {
  return !(sampler == kernels::Sampler::kExact && unit.kind == kernels::UnitKind::kClosedForm &&
           kernels::closed_form_copy_count(unit) < 0);
}

}  // namespace mrbm::test
