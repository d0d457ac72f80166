// UnitStates: the values one unit can take and its base measure, for the log-likelihood code
// (layers/partition_exact.h, layers/ais.h; docs/math.md section 11).
//
// Every mrbm unit is an exponential family in its pre-activation x:
//   p(h | x) = base(h) e^{x h} / e^{Phi(x)},   Phi(x) = log sum_h base(h) e^{x h},
// with Phi the free-energy term of kernels/multinary_math.h. The states and base measures are
//   binary        h in {0, 1},           base = 1                     (Phi = sp(x))
//   closed form   h = m / s, m = 0..N s,  base = C(N s, m)             (Phi = N s sp(x/s); N s an
//                                                                       integer: the binomial RBM)
//   copies        h = m, m = 0..N,        base = e_m(e^{-theta_1}, ..., e^{-theta_N})
//                 (the elementary symmetric polynomial: the configurations of N offset copies
//                  with m copies on; Phi = sum_k sp(x - theta_k))
// A closed-form unit with N s not an integer is no RBM over a lattice of states: it has no exact
// sampler and no base measure, and is refused with a message naming a scale that would work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/unit_config.h"

namespace mrbm::layers {

struct UnitStates {
  std::vector<double> values;    // the states h_m, increasing
  std::vector<double> log_base;  // log base(h_m), float64
};

// Empty string when `unit` can be sampled exactly and has a lattice of states; else why not,
// with a scale that would work (`what` names the unit in the message, e.g. "layer0's hidden unit").
std::string exact_sampler_problem(const UnitConfig& unit, const std::string& what);
// Throws UnsupportedError with exact_sampler_problem's message when it is not empty.
void require_exact_sampler(const UnitConfig& unit, const std::string& what);

// The states of `unit` (require_exact_sampler first). O(N^2) for copies, O(N s) otherwise.
UnitStates unit_states(const UnitConfig& unit);

// Index m of the state nearest to `value`, or -1 when no state is within `tolerance` of it.
int64_t state_index(const UnitStates& states, double value, double tolerance);

}  // namespace mrbm::layers
