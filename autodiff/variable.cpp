// Variable (autodiff/variable.h).
#include "autodiff/variable.h"

#include <utility>

namespace mrbm::autodiff {

Variable::Variable(Tensor value, bool requires_grad, std::string name)
    : impl_(std::make_shared<Impl>()) {
  MRBM_CHECK(value.defined(), "a Variable needs a defined tensor");
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
  impl_->name = std::move(name);
}

const Tensor& Variable::value() const {
  MRBM_CHECK(impl_, "use of an undefined Variable");
  return impl_->value;
}

void Variable::set_value(const Tensor& value) {
  MRBM_CHECK(impl_, "use of an undefined Variable");
  check_same_shape(impl_->value, value, "Variable::set_value " + impl_->name);
  MRBM_CHECK(value.dtype() == impl_->value.dtype() && value.device() == impl_->value.device(),
             "Variable::set_value " << impl_->name << ": " << value.describe() << " replaces "
                                    << impl_->value.describe());
  impl_->value = value;
}

bool Variable::requires_grad() const { return impl_ && impl_->requires_grad; }

const std::string& Variable::name() const {
  MRBM_CHECK(impl_, "use of an undefined Variable");
  return impl_->name;
}

const Tensor& Variable::grad() const {
  MRBM_CHECK(impl_, "use of an undefined Variable");
  return impl_->grad;
}

Tensor& Variable::grad_buffer(Stream stream) {
  MRBM_CHECK(impl_, "use of an undefined Variable");
  if (!impl_->grad.defined()) {
    const Tensor& v = impl_->value;
    impl_->grad = Tensor::zeros(v.shape(), v.dtype(), v.device(), stream);
  }
  return impl_->grad;
}

void Variable::clear_grad() {
  if (impl_) impl_->grad = Tensor();
}

}  // namespace mrbm::autodiff
