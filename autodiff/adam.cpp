// Adam (autodiff/adam.h).
#include "autodiff/adam.h"

#include <cmath>

#if defined(MRBM_WITH_CUDA)
#include "kernels/adam_cuda.h"
#endif

namespace mrbm::autodiff {

Adam::Adam(std::vector<Variable> params, const kernels::AdamHyper& hyper, CudaContext* cuda)
    : params_(std::move(params)), hyper_(hyper), cuda_(cuda) {
  MRBM_KERNEL_CHECK(kernels::validate_adam_hyper(hyper_, 1));
  for (const Variable& p : params_) {
    const Tensor& t = p.value();
    MRBM_CHECK(t.dtype() == DType::kFloat32, "Adam updates float32 parameters, got " << t.describe());
    MRBM_CHECK(t.device() == params_.front().value().device(),
               "Adam: parameters on different devices (" << t.describe() << ")");
    const Stream stream = cuda_ ? cuda_->stream() : nullptr;
    m_.push_back(Tensor::zeros(t.shape(), DType::kFloat32, t.device(), stream));
    v_.push_back(Tensor::zeros(t.shape(), DType::kFloat32, t.device(), stream));
  }
  if (!params_.empty() && params_.front().value().is_cuda()) {
    MRBM_CHECK(cuda_ && cuda_->device() == params_.front().value().device(),
               "Adam on CUDA parameters needs the CudaContext of their device");
  }
}

void Adam::set_lr(double lr) {
  kernels::AdamHyper h = hyper_;
  h.lr = lr;
  MRBM_KERNEL_CHECK(kernels::validate_adam_hyper(h, 1));
  hyper_ = h;
}

void Adam::step() {
  std::vector<kernels::AdamTensor> list;
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.has_grad()) continue;
    kernels::AdamTensor t;
    t.param = p.value().data<float>();
    t.m = m_[i].data<float>();
    t.v = v_[i].data<float>();
    t.grad = p.grad().data<float>();
    t.size = p.value().numel();
    list.push_back(t);
  }
  ++step_;
  const kernels::AdamTensorList tensors{list.data(), static_cast<int64_t>(list.size())};
  if (params_.empty() || params_.front().value().is_cpu()) {
    MRBM_KERNEL_CHECK(kernels::adam_step_cpu(tensors, hyper_, step_));
  } else {
#if defined(MRBM_WITH_CUDA)
    CudaDeviceGuard device_guard(cuda_->device_index());  // the stream's device must be current
    MRBM_LAUNCH_CHECK(kernels::adam_step_cuda(tensors, hyper_, step_, cuda_->stream()));
#endif
  }
  for (Variable& p : params_) p.clear_grad();
}

std::string Adam::key(size_t i) const {
  const std::string& name = params_[i].name();
  return name.empty() ? std::to_string(i) : name;
}

std::map<std::string, Tensor> Adam::state() const {
  std::map<std::string, Tensor> s;
  s["step"] = Tensor::from_vector(std::vector<double>{static_cast<double>(step_)}, {1});
  for (size_t i = 0; i < params_.size(); ++i) {
    s[key(i) + ".m"] = m_[i];
    s[key(i) + ".v"] = v_[i];
  }
  return s;
}

void Adam::load_state(const std::map<std::string, Tensor>& state) {
  auto find = [&](const std::string& name) -> const Tensor& {
    const auto it = state.find(name);
    if (it == state.end()) MRBM_THROW(InvalidArgument, "Adam state has no entry '" << name << "'");
    return it->second;
  };
  const Tensor& step = find("step");
  MRBM_CHECK(step.numel() == 1 && step.dtype() == DType::kFloat64,
             "Adam state 'step' must be one float64, got " << step.describe());
  const double steps = step.to_vector<double>()[0];
  // The range is checked before the cast (a double beyond int64 does not convert: undefined).
  MRBM_CHECK(steps >= 0 && steps <= 9007199254740992.0 && steps == std::floor(steps),
             "Adam state 'step' must be a non-negative integer, got " << steps);
  // Check everything before changing anything.
  for (size_t i = 0; i < params_.size(); ++i) {
    check_same_shape(find(key(i) + ".m"), m_[i], "Adam state '" + key(i) + ".m'");
    check_same_shape(find(key(i) + ".v"), v_[i], "Adam state '" + key(i) + ".v'");
  }
  const Stream stream = cuda_ ? cuda_->stream() : nullptr;
  for (size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_from(find(key(i) + ".m"), stream);
    v_[i].copy_from(find(key(i) + ".v"), stream);
  }
  step_ = static_cast<int64_t>(steps);
}

}  // namespace mrbm::autodiff
