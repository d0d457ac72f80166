// Variable: a tensor value in a computation that the tape can differentiate, plus its gradient.
//
// A Variable is a shared handle (copies refer to the same value and gradient). Leaves are made by
// the user (parameters: requires_grad = true; data: false); every op returns a new Variable whose
// requires_grad is true when any input requires it and the tape is recording. The gradient has the
// value's shape, device and dtype; it is undefined until the first contribution, and backward
// contributions are accumulated with += (a variable used twice receives both).
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"

namespace mrbm::autodiff {

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor value, bool requires_grad = false, std::string name = {});

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  // Replaces the value (e.g. after an optimizer step); the shape, dtype and device must match.
  void set_value(const Tensor& value);
  bool requires_grad() const;
  const std::string& name() const;

  // The accumulated gradient; undefined (defined() == false) until something was accumulated.
  const Tensor& grad() const;
  bool has_grad() const { return grad().defined(); }
  // The gradient buffer, created zero-filled on first use (on `stream` for CUDA values): ops
  // accumulate into it.
  Tensor& grad_buffer(Stream stream);
  // Forgets the gradient (the next backward starts from zero).
  void clear_grad();

  // Identity of the underlying variable (copies of a handle compare equal).
  bool same_as(const Variable& other) const { return impl_ == other.impl_; }

 private:
  struct Impl {
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    std::string name;
  };
  std::shared_ptr<Impl> impl_;
};

}  // namespace mrbm::autodiff
