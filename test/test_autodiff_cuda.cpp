// Every differentiable op on CUDA against the same op on the CPU [cuda]: fresh random float32
// inputs, the forward value and every input gradient compared. Tolerances: the elementwise kernels
// are bit-identical by construction (explicit rounding); reductions are float64 with a different
// summation order (1e-12 relative); matmul runs cuBLAS against OpenBLAS with different summation
// orders (float32: a few 1e-7 times the sum of |terms|, bounded here by 1e-5 relative to the
// largest value); the multinary pass differs in the last float bits of exp/log (2e-6).
#include <cmath>
#include <functional>

#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_linear.h"
#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::autodiff;

namespace {

using OpFn = std::function<Variable(Tape&, const std::vector<Variable>&)>;

std::vector<double> values(const Tensor& t, Stream stream) {
  if (t.dtype() == DType::kFloat64) return t.to_vector<double>(stream);
  const auto f = t.to_vector<float>(stream);
  return {f.begin(), f.end()};
}

void compare(const std::vector<double>& gpu, const std::vector<double>& cpu, double rel) {
  REQUIRE(gpu.size() == cpu.size());
  double scale = 0;
  for (double c : cpu) scale = std::max(scale, std::fabs(c));
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("element " << i << " gpu " << gpu[i] << " cpu " << cpu[i]);
    REQUIRE(std::fabs(gpu[i] - cpu[i]) <= rel * scale + 1e-30);
  }
}

// Runs `op` on both devices from the same inputs; a weighted sum makes the loss.
void check_op(const char* name, const OpFn& op, const std::vector<Tensor>& inputs, double rel,
              CudaContext& cuda) {
  INFO(name);
  std::vector<Variable> cpu_vars, gpu_vars;
  for (const Tensor& t : inputs) {
    cpu_vars.emplace_back(t.clone(), true);
    gpu_vars.emplace_back(t.to(cuda.device(), cuda.stream()), true);
  }
  Tape cpu_tape, gpu_tape(&cuda);
  const Variable y_cpu = op(cpu_tape, cpu_vars), y_gpu = op(gpu_tape, gpu_vars);
  compare(values(y_gpu.value(), cuda.stream()), values(y_cpu.value(), nullptr), rel);
  const Tensor weights = y_cpu.value().dtype() == DType::kFloat64
                             ? Tensor::full(y_cpu.value().shape(), 0.75, DType::kFloat64)
                             : Tensor::full(y_cpu.value().shape(), 0.75);
  cpu_tape.backward(sum(cpu_tape, mul(cpu_tape, y_cpu, Variable(weights))));
  gpu_tape.backward(sum(gpu_tape, mul(gpu_tape, y_gpu, Variable(weights.to(cuda.device(), cuda.stream())))));
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("gradient of input " << i);
    compare(values(gpu_vars[i].grad(), cuda.stream()), values(cpu_vars[i].grad(), nullptr), rel);
  }
}

Tensor rnd(const Shape& shape, float lo, float hi, uint64_t seed) {
  return Tensor::from_vector(mrbm::test::random_floats(shape_numel(shape), lo, hi, seed), shape);
}

}  // namespace

TEST_CASE("CUDA autodiff ops equal their CPU twins", "[autodiff][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  CudaContext cuda(0);
  const Shape s = {37, 129};
  const auto a = rnd(s, -2, 2, 1), b = rnd(s, -2, 2, 2);
  check_op("add", [](Tape& t, const auto& v) { return add(t, v[0], v[1]); }, {a, b}, 0, cuda);
  check_op("sub", [](Tape& t, const auto& v) { return sub(t, v[0], v[1]); }, {a, b}, 0, cuda);
  check_op("scale", [](Tape& t, const auto& v) { return scale(t, v[0], 0.3); }, {a}, 0, cuda);
  check_op("mul", [](Tape& t, const auto& v) { return mul(t, v[0], v[1]); }, {a, b}, 0, cuda);
  check_op("add_bias per channel", [](Tape& t, const auto& v) { return add_bias(t, v[0], v[1], 43); },
           {a, rnd({3}, -1, 1, 3)}, 1e-6, cuda);
  check_op("sum", [](Tape& t, const auto& v) { return sum(t, v[0]); }, {a}, 1e-12, cuda);
  check_op("mean", [](Tape& t, const auto& v) { return mean(t, v[0]); }, {a}, 1e-12, cuda);
  check_op("row_sum", [](Tape& t, const auto& v) { return row_sum(t, v[0]); }, {a}, 1e-12, cuda);
  check_op("row_dot", [](Tape& t, const auto& v) { return row_dot(t, v[0], v[1], 1); },
           {a, rnd({129}, -1, 1, 4)}, 1e-6, cuda);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const auto ma = rnd(ta ? Shape{65, 33} : Shape{33, 65}, -1, 1, 5);
      const auto mb = rnd(tb ? Shape{17, 65} : Shape{65, 17}, -1, 1, 6);
      check_op("matmul", [ta, tb](Tape& t, const auto& v) { return matmul(t, v[0], v[1], ta, tb); },
               {ma, mb}, 1e-5, cuda);
    }
  }
  for (const auto& uc : mrbm::test::all_unit_cases()) {
    std::shared_ptr<Tensor> table;
    kernels::UnitSpec unit = uc.unit;
    if (uc.table) {
      table = std::make_shared<Tensor>(Tensor::from_vector(*uc.table).to(cuda.device(), cuda.stream()));
      unit.table = table->data<double>();
    }
    const auto x = rnd({9, 31}, uc.x_lo, uc.x_hi, 7);
    // The CPU tape runs with the host table, the CUDA tape with the device copy.
    check_op(uc.name.c_str(), [unit, host = uc.unit](Tape& t, const auto& v) {
      const auto out = multinary(t, v[0], t.device().is_cuda() ? unit : host, true, true);
      return add(t, sum(t, out.mean), sum(t, out.row_phi));
    }, {x}, 2e-6, cuda);
  }
}
