// Rbm: a dense (fully connected) RBM layer: W [n_visible, n_hidden], a [n_visible], b [n_hidden].
//   x = b + v W,   y = a + h W^T,   visible term a . v          (layers/rbm_layer.h has the rest)
// v is [B, n_visible] (a DBN flattens conv activations before its dense layers).
#pragma once

#include "layers/rbm_layer.h"

namespace mrbm::layers {

class Rbm : public RbmLayer {
 public:
  // init_std <= 0 picks default_init_std(visible, hidden, n_visible).
  Rbm(std::string name, int64_t n_visible, int64_t n_hidden, const UnitConfig& visible,
      const UnitConfig& hidden, const LayerOptions& options, double init_std, uint64_t seed,
      Device device, Stream stream);

  Shape visible_shape() const override { return {n_visible_}; }
  Shape hidden_shape() const override { return {n_hidden_}; }
  const char* type() const override { return "dense"; }

  autodiff::Variable hidden_pre(autodiff::Tape& tape, const autodiff::Variable& v) const override;
  autodiff::Variable visible_pre(autodiff::Tape& tape, const autodiff::Variable& h) const override;
  autodiff::Variable visible_term(autodiff::Tape& tape, const autodiff::Variable& v) const override;

 private:
  int64_t n_visible_, n_hidden_;
};

}  // namespace mrbm::layers
