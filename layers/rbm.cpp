// Rbm (layers/rbm.h).
#include "layers/rbm.h"

#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_linear.h"
#include "autodiff/ops_reduce.h"

namespace mrbm::layers {

using autodiff::Tape;
using autodiff::Variable;

Rbm::Rbm(std::string name, int64_t n_visible, int64_t n_hidden, const UnitConfig& visible,
         const UnitConfig& hidden, const LayerOptions& options, double init_std, uint64_t seed,
         Device device, Stream stream)
    : RbmLayer(std::move(name), visible, hidden, options), n_visible_(n_visible), n_hidden_(n_hidden) {
  MRBM_CHECK(n_visible > 0 && n_hidden > 0,
             name_ << ": a dense layer needs positive sizes, got " << n_visible << " -> " << n_hidden);
  if (init_std <= 0) init_std = default_init_std(visible, hidden, n_visible);
  init_parameters({n_visible, n_hidden}, n_visible, n_hidden, init_std, seed, device, stream);
}

Variable Rbm::hidden_pre(Tape& tape, const Variable& v) const {
  return autodiff::add_bias(tape, autodiff::matmul(tape, v, w_), b_, 1);
}

Variable Rbm::visible_pre(Tape& tape, const Variable& h) const {
  return autodiff::add_bias(tape, autodiff::matmul(tape, h, w_, false, true), a_, 1);
}

Variable Rbm::visible_term(Tape& tape, const Variable& v) const {
  return autodiff::row_dot(tape, v, a_, 1);
}

}  // namespace mrbm::layers
