// ConvRbm: a strided convolutional RBM layer (docs/math.md section 4). Filters W
// [C_out, C_in, k, k], visible bias a [C_in] and hidden bias b [C_out], one value per channel:
//   x = conv2d(v, W; stride, pad) + b[c],   y = conv_transpose2d(h, W) + a[c],
//   visible term sum_c a_c sum_p v_cp.
// Defaults: kernel 4, stride 2, padding 1, which halves the image size exactly (the paper's
// strided convolution in place of pooling). v is [B, C_in, H, W], h is [B, C_out, H', W'].
#pragma once

#include "core/conv.h"
#include "layers/rbm_layer.h"

namespace mrbm::layers {

struct ConvGeometry {
  int64_t in_channels = 1, in_h = 28, in_w = 28;
  int64_t out_channels = 32;
  int64_t kernel = 4, stride = 2, padding = 1;

  int64_t out_h() const { return (in_h + 2 * padding - kernel) / stride + 1; }
  int64_t out_w() const { return (in_w + 2 * padding - kernel) / stride + 1; }
};

class ConvRbm : public RbmLayer {
 public:
  // init_std <= 0 picks default_init_std(visible, hidden, C_in * k * k).
  ConvRbm(std::string name, const ConvGeometry& geometry, const UnitConfig& visible,
          const UnitConfig& hidden, const LayerOptions& options, double init_std, uint64_t seed,
          Device device, Stream stream);

  Shape visible_shape() const override { return {g_.in_channels, g_.in_h, g_.in_w}; }
  Shape hidden_shape() const override { return {g_.out_channels, g_.out_h(), g_.out_w()}; }
  const char* type() const override { return "conv"; }
  const ConvGeometry& geometry() const { return g_; }

  autodiff::Variable hidden_pre(autodiff::Tape& tape, const autodiff::Variable& v) const override;
  autodiff::Variable visible_pre(autodiff::Tape& tape, const autodiff::Variable& h) const override;
  autodiff::Variable visible_term(autodiff::Tape& tape, const autodiff::Variable& v) const override;

 private:
  ConvParams params() const;
  ConvGeometry g_;
};

}  // namespace mrbm::layers
