// The exact log partition function of one RBM layer, for models small enough to enumerate: the
// oracle of the AIS tests (docs/math.md section 11).
//
// With base measures (layers/unit_states.h), Z = sum_{v,h} base(v) base(h) e^{a.v + b.h + v W h}.
// Summing one side analytically through its units' log-partition functions Phi:
//   enumerate v:  log Z = logsumexp_v [ log base(v) + a.v + sum_j Phi_h(x_j(v)) ]
//                       = logsumexp_v [ log base(v) - F(v) ]
//   enumerate h:  log Z = logsumexp_h [ log base(h) + b.h + sum_i Phi_v(y_i(h)) ]
// (x = b + vW, y = a + h W^T; conv layers through their conv2d / conv_transpose2d maps). The
// side with fewer joint states is enumerated, in batches through the layer's own maps (on its
// device), with every sum and the log-sum-exp in float64.
#pragma once

#include <cstdint>
#include <string>

#include "autodiff/tape.h"
#include "layers/rbm_layer.h"

namespace mrbm::layers {

struct ExactLogPartition {
  double log_z = 0;
  std::string enumerated;  // "visible" or "hidden"
  double states = 0;       // number of joint states summed
};

// `side`: "auto" (the smaller), "visible" or "hidden". InvalidArgument when the enumerated side has
// more than max_states joint states; UnsupportedError for a unit without a lattice of states.
ExactLogPartition exact_log_partition(const RbmLayer& layer, autodiff::Tape& tape,
                                      const std::string& side = "auto",
                                      double max_states = 4194304.0, int64_t batch = 4096);

}  // namespace mrbm::layers
