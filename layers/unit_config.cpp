// UnitConfig and DeviceUnit (layers/unit_config.h).
#include "layers/unit_config.h"

#include "kernels/multinary_table.h"
#include "kernels/multinary_sample.h"

namespace mrbm::layers {

using kernels::UnitKind;

double UnitConfig::effective_scale() const {
  return scale > 0 ? scale : (kind == UnitKind::kBinary ? 1.0 : n / 4.0);
}

double UnitConfig::activation_scale() const {
  switch (kind) {
    case UnitKind::kBinary: return 1.0;
    case UnitKind::kEqualCopies: return n * spacing / 4.0;
    default: return effective_scale();
  }
}

kernels::UnitSpec UnitConfig::spec() const {
  kernels::UnitSpec s;
  s.kind = kind;
  s.n = kind == UnitKind::kBinary ? 1 : n;
  s.scale = effective_scale();
  s.spacing = spacing;
  kernels::UnitSpec check = s;
  double dummy = 0;
  if (kind == UnitKind::kLogitCopies) check.table = &dummy;  // the table comes with DeviceUnit
  MRBM_CHECK(kernels::validate_unit_spec(check) == kernels::Status::kOk,
             "invalid " << unit_kind_name(kind) << " unit: n = " << n << ", scale = " << s.scale
                        << ", spacing = " << spacing
                        << " (n in 1..65535, n = 1 for binary, scale and spacing > 0)");
  return s;
}

const char* unit_kind_name(UnitKind kind) {
  switch (kind) {
    case UnitKind::kBinary: return "binary";
    case UnitKind::kClosedForm: return "closed";
    case UnitKind::kEqualCopies: return "equal-copies";
    case UnitKind::kLogitCopies: return "logit-copies";
  }
  return "unknown";
}

UnitKind parse_unit_kind(const std::string& name) {
  for (UnitKind k : {UnitKind::kBinary, UnitKind::kClosedForm, UnitKind::kEqualCopies,
                     UnitKind::kLogitCopies}) {
    if (name == unit_kind_name(k)) return k;
  }
  MRBM_THROW(InvalidArgument, "unknown unit kind '" << name
                                                    << "' (binary, closed, equal-copies, logit-copies)");
}

const char* sampler_name(kernels::Sampler sampler) {
  switch (sampler) {
    case kernels::Sampler::kMean: return "mean";
    case kernels::Sampler::kGaussian: return "gaussian";
    case kernels::Sampler::kExact: return "exact";
    case kernels::Sampler::kNone: return "none";
  }
  return "unknown";
}

kernels::Sampler parse_sampler(const std::string& name) {
  for (auto s : {kernels::Sampler::kMean, kernels::Sampler::kGaussian, kernels::Sampler::kExact}) {
    if (name == sampler_name(s)) return s;
  }
  MRBM_THROW(InvalidArgument, "unknown sampler '" << name << "' (mean, gaussian, exact)");
}

UnitConfig unit_from_json(const nlohmann::json& j, const std::string& where) {
  MRBM_CHECK(j.is_object(), where << ": a unit must be an object like {\"kind\": \"closed\", \"n\": 255}");
  for (const auto& [key, value] : j.items()) {
    MRBM_CHECK(key == "kind" || key == "n" || key == "scale" || key == "spacing",
               where << "." << key << ": unknown field (kind, n, scale, spacing)");
    (void)value;
  }
  UnitConfig u;
  MRBM_CHECK(j.contains("kind") && j["kind"].is_string(), where << ".kind: missing or not a string");
  try {
    u.kind = parse_unit_kind(j["kind"].get<std::string>());
  } catch (const InvalidArgument&) {
    MRBM_THROW(InvalidArgument, where << ".kind: unknown unit kind '" << j["kind"].get<std::string>()
                                      << "' (binary, closed, equal-copies, logit-copies)");
  }
  if (u.kind == UnitKind::kBinary) u.n = 1;
  if (j.contains("n")) {
    MRBM_CHECK(j["n"].is_number_integer() && j["n"].get<int64_t>() >= 1 && j["n"].get<int64_t>() <= 65535,
               where << ".n: must be an integer in 1..65535");
    u.n = j["n"].get<int32_t>();
  }
  MRBM_CHECK(u.kind != UnitKind::kBinary || u.n == 1, where << ".n: binary units have n = 1");
  if (j.contains("scale")) {
    MRBM_CHECK(j["scale"].is_number() && j["scale"].get<double>() > 0,
               where << ".scale: must be a number > 0");
    u.scale = j["scale"].get<double>();
  }
  if (j.contains("spacing")) {
    MRBM_CHECK(j["spacing"].is_number() && j["spacing"].get<double>() > 0,
               where << ".spacing: must be a number > 0");
    u.spacing = j["spacing"].get<double>();
  }
  (void)u.spec();  // validates the combination
  return u;
}

nlohmann::json unit_to_json(const UnitConfig& u) {
  nlohmann::json j = {{"kind", unit_kind_name(u.kind)}, {"n", u.n}};
  if (u.kind == UnitKind::kClosedForm || u.kind == UnitKind::kLogitCopies) j["scale"] = u.effective_scale();
  if (u.kind == UnitKind::kEqualCopies) j["spacing"] = u.spacing;
  return j;
}

DeviceUnit::DeviceUnit(const UnitConfig& config, Device device, Stream stream)
    : config_(config), spec_(config.spec()) {
  if (spec_.kind == UnitKind::kLogitCopies) {
    std::vector<double> table(static_cast<size_t>(kernels::copy_table_size(spec_.n)));
    MRBM_KERNEL_CHECK(kernels::build_copy_table(table.data(), spec_));
    table_ = Tensor::from_vector(table).to(device, stream);
    spec_.table = table_.data<double>();
  }
}

}  // namespace mrbm::layers
