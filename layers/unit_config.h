// UnitConfig: a layer's visible or hidden unit as a user describes it (docs/models.md), and
// DeviceUnit: the same unit ready to run on one device (the kernels' UnitSpec plus, for logit
// offset copies, the float64 offset table in that device's memory).
//
// Kinds (docs/math.md section 2): "binary" (N = 1), "closed" (N sigma(x/s), s defaults to N/4),
// "equal-copies" (N copies, offsets spaced `spacing` apart, centred), "logit-copies" (N copies at
// theta_k = s logit((k - 1/2)/N), s defaults to N/4). Values are raw: a unit takes values 0..N.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/device.h"
#include "core/tensor.h"
#include "kernels/unit_spec.h"

namespace mrbm::layers {

struct UnitConfig {
  kernels::UnitKind kind = kernels::UnitKind::kClosedForm;
  int32_t n = 255;
  double scale = 0.0;    // 0: the default N/4 (closed, logit-copies)
  double spacing = 1.0;  // equal-copies

  double effective_scale() const;
  // The kernels' spec without a table; throws InvalidArgument naming the problem.
  kernels::UnitSpec spec() const;
  // The value range of the unit: 0..n.
  double max_value() const { return n; }
  // A typical magnitude of the unit's pre-activation where it is not saturated: s (closed/logit),
  // N * spacing / 4 (equal copies), 1 (binary). Used to scale the initial weights.
  double activation_scale() const;
};

const char* unit_kind_name(kernels::UnitKind kind);
kernels::UnitKind parse_unit_kind(const std::string& name);  // InvalidArgument listing the kinds
const char* sampler_name(kernels::Sampler sampler);
kernels::Sampler parse_sampler(const std::string& name);     // "mean" | "gaussian" | "exact"

// {"kind": "closed", "n": 255, "scale": 63.75}; `where` names the JSON field in errors.
UnitConfig unit_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json unit_to_json(const UnitConfig& unit);

// The unit on one device. Owns the logit-copies table (if any) in that device's memory.
class DeviceUnit {
 public:
  DeviceUnit() = default;
  DeviceUnit(const UnitConfig& config, Device device, Stream stream);
  const kernels::UnitSpec& spec() const { return spec_; }
  const UnitConfig& config() const { return config_; }

 private:
  UnitConfig config_;
  kernels::UnitSpec spec_{};
  Tensor table_;
};

}  // namespace mrbm::layers
