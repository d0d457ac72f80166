// Dbn (layers/dbn.h).
#include "layers/dbn.h"

#include "autodiff/ops_elementwise.h"
#include "core/tensor_math.h"
#include "kernels/philox.h"
#include "layers/conv_rbm.h"
#include "layers/rbm.h"

namespace mrbm::layers {

using autodiff::NoGradGuard;
using autodiff::Tape;
using autodiff::Variable;

Dbn::Dbn(const ModelSpec& spec, Device device, CudaContext* cuda, uint64_t seed)
    : spec_(spec), device_(device), cuda_(cuda) {
  MRBM_CHECK(!device.is_cuda() || (cuda && cuda->device() == device),
             "a Dbn on " << to_string(device) << " needs the CudaContext of that device");
  LayerOptions options;
  options.sampler = spec.sampler;
  options.stop_gradient = spec.stop_gradient;
  int64_t c = spec.channels, h = spec.height, w = spec.width;
  UnitConfig visible = spec.input_unit;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const std::string name = "layers." + std::to_string(i);
    const uint64_t layer_seed = seed * 1000003ull + i;
    if (l.type == "conv") {
      ConvGeometry g;
      g.in_channels = c;
      g.in_h = h;
      g.in_w = w;
      g.out_channels = l.size;
      g.kernel = l.kernel;
      g.stride = l.stride;
      g.padding = l.padding;
      auto layer = std::make_unique<ConvRbm>(name, g, visible, l.hidden, options, l.init_std,
                                             layer_seed, device, stream());
      c = g.out_channels;
      h = g.out_h();
      w = g.out_w();
      layers_.push_back(std::move(layer));
    } else {
      layers_.push_back(std::make_unique<Rbm>(name, c * h * w, l.size, visible, l.hidden, options,
                                              l.init_std, layer_seed, device, stream()));
      c = l.size;
      h = w = 1;
    }
    visible = l.hidden;
  }
}

Stream Dbn::stream() const { return cuda_ ? cuda_->stream() : nullptr; }

Tape Dbn::make_tape() const { return cuda_ ? Tape(cuda_) : Tape(); }

std::vector<Variable> Dbn::parameters() const {
  std::vector<Variable> params;
  for (const auto& l : layers_) {
    for (const Variable& p : l->parameters()) params.push_back(p);
  }
  return params;
}

int64_t Dbn::parameter_count() const {
  int64_t n = 0;
  for (const Variable& p : parameters()) n += p.value().numel();
  return n;
}

Tensor Dbn::prepare_input(const Tensor& images) const {
  MRBM_CHECK(images.dim() == 4 && images.size(1) == spec_.channels &&
                 images.size(2) == spec_.height && images.size(3) == spec_.width,
             "model '" << spec_.name << "' takes images [B, " << spec_.channels << ", "
                       << spec_.height << ", " << spec_.width << "], got "
                       << shape_to_string(images.shape()));
  Tensor on_device = images.to(device_, stream());
  const double factor = spec_.input_unit.max_value() / 255.0;
  if (factor == 1.0) return on_device;
  Tensor out = Tensor::empty(images.shape(), DType::kFloat32, device_, stream());
  axpby(out, on_device, Tensor(), factor, 0.0, 0.0, cuda_);
  return out;
}

Tensor Dbn::to_pixels(const Tensor& v) const {
  Tensor host = v.to(Device::cpu(), stream());
  if (host.shares_storage_with(v)) host = v.clone();
  const double factor = 255.0 / spec_.input_unit.max_value();
  float* p = host.data<float>();
  for (int64_t i = 0; i < host.numel(); ++i) p[i] = static_cast<float>(p[i] * factor);
  return host;
}

DbnLoss Dbn::loss(Tape& tape, const Tensor& input, uint64_t seed, uint64_t step) const {
  DbnLoss out;
  Variable v(input);
  const NegativePhase& negative = spec_.negative;
  const int64_t chain_count = negative.chains > 0 ? negative.chains : input.size(0);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const RbmLayer& layer = *layers_[l];
    if (layer.visible_shape().size() == 1 && v.value().dim() != 2) {
      v = autodiff::reshape(tape, v, {v.value().size(0), -1});  // flatten before dense layers
    }
    const auto offset = static_cast<uint32_t>(step * 64 + l);
    Tensor start;
    NegativeChain chain{nullptr, negative.steps};
    if (negative.start == ChainStart::kNoise ||
        (negative.start == ChainStart::kPersistent && chains_.empty())) {
      start = visible_noise(l, chain_count, gibbs_step_seed(seed, kNoiseStep), offset);
      chain.start = &start;
    } else if (negative.start == ChainStart::kPersistent) {
      chain.start = &chains_[l];
    }
    ContrastiveStep s = layer.contrastive_step(tape, v, seed, offset, chain);
    if (negative.start == ChainStart::kPersistent) out.chain_ends.push_back(s.chain_end);
    out.layers.push_back(s.loss);
    out.total = l == 0 ? s.loss : autodiff::add(tape, out.total, s.loss);
    if (l == 0) {
      // A dense first layer sees the images flattened; its v' goes back to the images' shape.
      out.reconstruction = s.reconstruction.reshape(input.shape());
      out.free_energy = s.free_energy;
    }
    v = spec_.joint ? s.hidden_mean : autodiff::stop_gradient(s.hidden_mean);
  }
  return out;
}

Tensor Dbn::up(Tape& tape, const Tensor& v, size_t l) const {
  const RbmLayer& layer = *layers_[l];
  Tensor in = v;
  if (layer.visible_shape().size() == 1 && in.dim() != 2) in = in.reshape({in.size(0), -1});
  return layer.hidden_mean(tape, in);
}

Tensor Dbn::down(Tape& tape, const Tensor& h, size_t l) const {
  const RbmLayer& layer = *layers_[l];
  Tensor hid = h;
  Shape hs = layer.hidden_shape();
  hs.insert(hs.begin(), h.size(0));
  if (hid.shape() != hs) hid = hid.reshape(hs);
  Tensor v = layer.visible_mean(tape, hid);
  // A dense layer above a conv layer gives back the conv layer's hidden shape.
  if (l > 0) {
    Shape below = layers_[l - 1]->hidden_shape();
    below.insert(below.begin(), h.size(0));
    if (v.shape() != below) v = v.reshape(below);
  }
  return v;
}

Tensor Dbn::reconstruct(const Tensor& input, size_t depth) const {
  MRBM_CHECK(depth >= 1 && depth <= layers_.size(),
             "reconstruct through 1.." << layers_.size() << " layers, not " << depth);
  NoGradGuard no_grad;
  Tape tape = make_tape();
  Tensor v = input;
  for (size_t l = 0; l < depth; ++l) v = up(tape, v, l);
  for (size_t l = depth; l-- > 0;) v = down(tape, v, l);
  return v.reshape(input.shape());
}

Tensor Dbn::features(const Tensor& input, size_t layer) const {
  MRBM_CHECK(layer < layers_.size(), "features of layer " << layer << ": the model has "
                                                          << layers_.size() << " layers");
  NoGradGuard no_grad;
  Tape tape = make_tape();
  Tensor v = input;
  for (size_t l = 0; l <= layer; ++l) v = up(tape, v, l);
  return v;
}

Tensor Dbn::free_energy(const Tensor& input) const {
  NoGradGuard no_grad;
  Tape tape = make_tape();
  Tensor v = input;
  if (layers_[0]->visible_shape().size() == 1 && v.dim() != 2) v = v.reshape({v.size(0), -1});
  return layers_[0]->free_energy(tape, Variable(v)).value();
}

Tensor Dbn::top_start(int64_t count, uint64_t seed, const Tensor* start) const {
  MRBM_CHECK(count > 0, "generate: count > 0");
  const size_t top = layers_.size() - 1;
  if (!start) return visible_noise(top, count, seed, 0xFFFFFFFEu);
  MRBM_CHECK(start->size(0) == count, "generate: " << count << " images from a start of "
                                                   << start->size(0));
  NoGradGuard no_grad;
  Tape tape = make_tape();
  Tensor v = *start;
  for (size_t l = 0; l < top; ++l) v = up(tape, v, l);
  if (layers_[top]->visible_shape().size() == 1 && v.dim() != 2) v = v.reshape({count, -1});
  return v;
}

Tensor Dbn::generate(int64_t count, int64_t gibbs_steps, uint64_t seed, const Tensor* start) const {
  GibbsOptions gibbs;
  gibbs.steps = gibbs_steps;
  return generate(count, gibbs, seed, start);
}

Tensor Dbn::generate(int64_t count, const GibbsOptions& gibbs, uint64_t seed, const Tensor* start) const {
  MRBM_CHECK(gibbs.steps >= 0, "generate: gibbs_steps >= 0");
  return generate_from_top(top_start(count, seed, start), gibbs, seed);
}

Tensor Dbn::generate_from_top(const Tensor& top_start, int64_t gibbs_steps, uint64_t seed) const {
  GibbsOptions gibbs;
  gibbs.steps = gibbs_steps;
  return generate_from_top(top_start, gibbs, seed);
}

Tensor Dbn::generate_from_top(const Tensor& top_start, const GibbsOptions& gibbs, uint64_t seed) const {
  MRBM_CHECK(gibbs.steps >= 0, "generate: gibbs_steps >= 0");
  MRBM_CHECK(gibbs.beta_start > 0 && gibbs.beta_start <= 1,
             "generate: the annealing start beta must be in (0, 1], got " << gibbs.beta_start);
  NoGradGuard no_grad;
  Tape tape = make_tape();
  const size_t top = layers_.size() - 1;
  const RbmLayer& top_layer = *layers_[top];
  const int64_t count = top_start.size(0);
  const uint64_t visible_seed = gibbs_step_seed(seed, kNoiseStep + 1);
  Tensor v = top_start;
  for (int64_t s = 0; s < gibbs.steps; ++s) {
    const double beta =
        gibbs.beta_start == 1.0
            ? 1.0
            : gibbs.beta_start + (1.0 - gibbs.beta_start) * static_cast<double>(s + 1) /
                                     static_cast<double>(gibbs.steps);
    const auto offset = static_cast<uint32_t>(s);
    const Tensor h = top_layer.hidden_sample(tape, v, spec_.sampler, seed, offset, beta);
    const bool last = s + 1 == gibbs.steps;
    v = gibbs.visible_samples && !last
            ? top_layer.visible_sample(tape, h, spec_.sampler, visible_seed, offset, beta)
            : top_layer.visible_mean(tape, h, beta);
  }
  // Top-down pass of means from the top layer's visible units to the image.
  for (size_t l = top; l-- > 0;) v = down(tape, v, l);
  if (v.dim() == 2) v = v.reshape({count, spec_.channels, spec_.height, spec_.width});
  return v;
}

Tensor Dbn::visible_noise(size_t l, int64_t count, uint64_t seed, uint32_t offset) const {
  MRBM_CHECK(l < layers_.size(), "visible_noise: layer " << l << " of " << layers_.size());
  // Uniform noise over the input unit's range, image-shaped...
  const Shape shape{count, spec_.channels, spec_.height, spec_.width};
  const int64_t n = shape_numel(shape);
  const double range = spec_.input_unit.max_value();
  std::vector<float> noise(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    kernels::PhiloxStream rng(seed, static_cast<uint64_t>(i), offset);
    noise[static_cast<size_t>(i)] = static_cast<float>(range * rng.uniform());
  }
  Tensor v = Tensor::from_vector(noise, shape).to(device_, stream());
  // ...then up through the layers below by hidden means: layer l's chains start where the layers
  // below put noise, the range of states they produce (uniform noise in a hidden layer's own
  // range lies far from all of them, and the top-down pass maps it to black images).
  NoGradGuard no_grad;
  Tape tape = make_tape();
  for (size_t i = 0; i < l; ++i) v = up(tape, v, i);
  const RbmLayer& layer = *layers_[l];
  Shape want = layer.visible_shape();
  want.insert(want.begin(), count);
  return v.shape() == want ? v : v.reshape(want);
}

void Dbn::set_chains(std::vector<Tensor> chains) {
  MRBM_CHECK(chains.empty() || chains.size() == layers_.size(),
             "persistent chains: " << chains.size() << " tensors for " << layers_.size() << " layers");
  for (size_t l = 0; l < chains.size(); ++l) {
    Shape want = layers_[l]->visible_shape();
    want.insert(want.begin(), chains[l].dim() > 0 ? chains[l].size(0) : 0);
    MRBM_CHECK(chains[l].shape() == want && chains[l].dtype() == DType::kFloat32 &&
                   chains[l].size(0) == chains[0].size(0),
               "persistent chains of layer " << l << ": " << chains[l].describe() << ", expected "
                                             << shape_to_string(want) << " float32");
    if (chains[l].device() != device_) chains[l] = chains[l].to(device_, stream());
  }
  chains_ = std::move(chains);
}

}  // namespace mrbm::layers
