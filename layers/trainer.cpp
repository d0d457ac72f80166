// Trainer (layers/trainer.h).
#include "layers/trainer.h"

#include "core/tensor_math.h"

namespace mrbm::layers {

namespace {

kernels::AdamHyper hyper_of(const TrainOptions& o) {
  kernels::AdamHyper h;
  h.lr = o.lr;
  h.weight_decay = o.weight_decay;
  return h;
}

double scalar(const Tensor& t, Stream stream) { return t.to_vector<double>(stream).at(0); }

}  // namespace

Trainer::Trainer(Dbn& dbn, const TrainOptions& options)
    : dbn_(dbn), options_(options), adam_(dbn.parameters(), hyper_of(options), dbn.cuda()) {}

StepMetrics Trainer::step(const Tensor& images) {
  const Tensor input = dbn_.prepare_input(images);
  autodiff::Tape tape = dbn_.make_tape();
  const DbnLoss loss = dbn_.loss(tape, input, options_.seed, static_cast<uint64_t>(adam_.steps()));
  StepMetrics m;
  m.loss = scalar(loss.total.value(), dbn_.stream());
  for (const auto& l : loss.layers) m.layer_losses.push_back(scalar(l.value(), dbn_.stream()));
  m.recon_mse = mean_squared_error(input, loss.reconstruction,
                                   255.0 / dbn_.spec().input_unit.max_value(), dbn_.cuda());
  tape.backward(loss.total);
  adam_.step();
  if (!loss.chain_ends.empty()) dbn_.set_chains(std::move(loss.chain_ends));
  return m;
}

double mean_squared_error(const Tensor& a, const Tensor& b, double unit_to_pixels,
                          CudaContext* cuda) {
  check_same_shape(a, b, "mean_squared_error");
  if (a.numel() == 0) return 0.0;
  Tensor diff = Tensor::empty(a.shape(), DType::kFloat32, a.device(), cuda ? cuda->stream() : nullptr);
  axpby(diff, a, b, unit_to_pixels, -unit_to_pixels, 0.0, cuda);
  mul(diff, diff, diff, 1.0, 0.0, cuda);
  Tensor total = Tensor::empty({}, DType::kFloat64, a.device(), cuda ? cuda->stream() : nullptr);
  sum_all(total, diff, cuda);
  return scalar(total, cuda ? cuda->stream() : nullptr) / static_cast<double>(a.numel());
}

}  // namespace mrbm::layers
