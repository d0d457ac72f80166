// exact_log_partition (layers/partition_exact.h).
#include "layers/partition_exact.h"

#include <algorithm>
#include <cmath>

#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "layers/unit_states.h"

namespace mrbm::layers {

using autodiff::NoGradGuard;
using autodiff::Variable;

namespace {

// Running log-sum-exp in float64.
struct LogSumExp {
  double max = -INFINITY, sum = 0;
  void add(double t) {
    if (t == -INFINITY) return;
    if (t > max) {
      sum = sum * std::exp(max - t) + 1.0;
      max = t;
    } else {
      sum += std::exp(t - max);
    }
  }
  double value() const { return max + std::log(sum); }
};

}  // namespace

ExactLogPartition exact_log_partition(const RbmLayer& layer, autodiff::Tape& tape,
                                      const std::string& side, double max_states, int64_t batch) {
  require_exact_sampler(layer.visible_unit(), layer.name() + "'s visible unit");
  require_exact_sampler(layer.hidden_unit(), layer.name() + "'s hidden unit");
  MRBM_CHECK(side == "auto" || side == "visible" || side == "hidden",
             "exact log Z: side must be auto, visible or hidden, got '" << side << "'");
  const UnitStates vs = unit_states(layer.visible_unit());
  const UnitStates hs = unit_states(layer.hidden_unit());
  const int64_t nv = shape_numel(layer.visible_shape());
  const int64_t nh = shape_numel(layer.hidden_shape());
  const double log_states_v = nv * std::log(static_cast<double>(vs.values.size()));
  const double log_states_h = nh * std::log(static_cast<double>(hs.values.size()));
  const bool visible = side == "visible" || (side == "auto" && log_states_v <= log_states_h);
  const UnitStates& states = visible ? vs : hs;
  const int64_t units = visible ? nv : nh;
  const double log_states = visible ? log_states_v : log_states_h;
  MRBM_CHECK(log_states <= std::log(max_states) + 1e-9,
             "exact log Z of " << layer.name() << ": the " << (visible ? "visible" : "hidden")
                               << " side has " << std::exp(log_states)
                               << " joint states, more than the " << max_states
                               << " that are enumerated (use AIS)");
  const int64_t total = static_cast<int64_t>(std::llround(std::exp(log_states)));
  const int64_t radix = static_cast<int64_t>(states.values.size());
  Shape shape = visible ? layer.visible_shape() : layer.hidden_shape();
  shape.insert(shape.begin(), 0);

  NoGradGuard no_grad;
  DeviceUnit visible_unit(layer.visible_unit(), layer.device(), tape.stream());
  const int64_t bias_inner = nh / layer.hidden_bias().value().numel();
  LogSumExp lse;
  std::vector<float> values;
  std::vector<double> log_base;
  for (int64_t begin = 0; begin < total; begin += batch) {
    const int64_t n = std::min(batch, total - begin);
    values.assign(static_cast<size_t>(n * units), 0.0f);
    log_base.assign(static_cast<size_t>(n), 0.0);
    for (int64_t r = 0; r < n; ++r) {
      int64_t code = begin + r;  // mixed-radix digits: the state of each unit
      for (int64_t u = 0; u < units; ++u) {
        const int64_t m = code % radix;
        code /= radix;
        values[static_cast<size_t>(r * units + u)] = static_cast<float>(states.values[m]);
        log_base[static_cast<size_t>(r)] += states.log_base[m];
      }
    }
    shape[0] = n;
    const Variable config(Tensor::from_vector(values, shape).to(layer.device(), tape.stream()));
    std::vector<double> term;
    if (visible) {
      term = layer.free_energy(tape, config).value().to_vector<double>(tape.stream());
      for (double& t : term) t = -t;
    } else {
      const std::vector<double> bh =
          autodiff::row_dot(tape, config, layer.hidden_bias(), bias_inner).value().to_vector<double>(tape.stream());
      term = autodiff::multinary_row_phi(tape, layer.visible_pre(tape, config), visible_unit.spec())
                 .value()
                 .to_vector<double>(tape.stream());
      for (int64_t r = 0; r < n; ++r) term[r] += bh[r];
    }
    for (int64_t r = 0; r < n; ++r) lse.add(log_base[r] + term[r]);
  }
  ExactLogPartition out;
  out.log_z = lse.value();
  out.enumerated = visible ? "visible" : "hidden";
  out.states = static_cast<double>(total);
  return out;
}

}  // namespace mrbm::layers
