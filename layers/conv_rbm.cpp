// ConvRbm (layers/conv_rbm.h).
#include "layers/conv_rbm.h"

#include "autodiff/ops_conv.h"
#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_reduce.h"

namespace mrbm::layers {

using autodiff::Tape;
using autodiff::Variable;

ConvRbm::ConvRbm(std::string name, const ConvGeometry& g, const UnitConfig& visible,
                 const UnitConfig& hidden, const LayerOptions& options, double init_std,
                 uint64_t seed, Device device, Stream stream)
    : RbmLayer(std::move(name), visible, hidden, options), g_(g) {
  MRBM_CHECK(g.in_channels > 0 && g.out_channels > 0 && g.kernel > 0 && g.stride > 0 &&
                 g.padding >= 0 && g.out_h() > 0 && g.out_w() > 0,
             name_ << ": invalid convolution: " << g.in_channels << "x" << g.in_h << "x" << g.in_w
                   << " -> " << g.out_channels << " channels, kernel " << g.kernel << ", stride "
                   << g.stride << ", padding " << g.padding);
  if (init_std <= 0) init_std = default_init_std(visible, hidden, g.in_channels * g.kernel * g.kernel);
  init_parameters({g.out_channels, g.in_channels, g.kernel, g.kernel}, g.in_channels,
                  g.out_channels, init_std, seed, device, stream);
}

ConvParams ConvRbm::params() const {
  ConvParams p;
  p.stride_h = p.stride_w = g_.stride;
  p.pad_h = p.pad_w = g_.padding;
  return p;
}

Variable ConvRbm::hidden_pre(Tape& tape, const Variable& v) const {
  return autodiff::add_bias(tape, autodiff::conv2d(tape, v, w_, params()), b_,
                            g_.out_h() * g_.out_w());
}

Variable ConvRbm::visible_pre(Tape& tape, const Variable& h) const {
  return autodiff::add_bias(
      tape, autodiff::conv_transpose2d(tape, h, w_, params(), g_.in_h, g_.in_w), a_,
      g_.in_h * g_.in_w);
}

Variable ConvRbm::visible_term(Tape& tape, const Variable& v) const {
  return autodiff::row_dot(tape, v, a_, g_.in_h * g_.in_w);
}

}  // namespace mrbm::layers
