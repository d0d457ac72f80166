// Gradient checks of every differentiable op except convolution (test_autodiff_conv.cpp), in
// float64 on the CPU against central finite differences, plus the tape's bookkeeping: accumulation
// into a variable used twice, no-grad mode, stop-gradient, and memory returning to its baseline.
#include <atomic>
#include <cmath>
#include <tuple>

#include "autodiff/gradcheck.h"
#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_linear.h"
#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "core/allocator.h"
#include "core/cpu_threads.h"
#include "kernels/multinary.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::autodiff;

namespace {

Tensor random_double(const Shape& shape, double lo, double hi, uint64_t seed) {
  const int64_t n = shape_numel(shape);
  const auto f = mrbm::test::random_floats(n, static_cast<float>(lo), static_cast<float>(hi), seed);
  std::vector<double> d(f.begin(), f.end());
  return Tensor::from_vector(d, shape);
}

// A scalar from any output: <y, R> for a fixed random R of y's shape (so every element of y gets
// a distinct weight and a wrong index in a backward rule shows).
Variable weighted_sum(Tape& tape, const Variable& y, uint64_t seed) {
  const Variable r(random_double(y.value().shape(), -1.0, 1.0, seed), false);
  return sum(tape, mul(tape, y, r));
}

void require_gradcheck(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                       const GradcheckOptions& options = {}) {
  const GradcheckResult r = gradcheck(f, inputs, options);
  INFO(r.worst << " (checked " << r.checked << ")");
  REQUIRE(r.checked > 0);
  REQUIRE(r.ok);
}

}  // namespace

TEST_CASE("gradcheck: add, sub, scale, mul, reshape", "[autodiff]") {
  const Shape shape = {3, 5};
  const auto a = random_double(shape, -2, 2, 1), b = random_double(shape, -2, 2, 2);
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, add(t, v[0], v[1]), 10);
  }, {a, b});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, sub(t, v[0], v[1]), 11);
  }, {a, b});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, scale(t, v[0], -2.5), 12);
  }, {a});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, mul(t, v[0], v[1]), 13);
  }, {a, b});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, reshape(t, v[0], {5, 3}), 14);
  }, {a});
  // A variable used twice receives both contributions: d(a*a) = 2a.
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, mul(t, v[0], v[0]), 15);
  }, {a});
}

TEST_CASE("gradcheck: add_bias per feature and per channel", "[autodiff]") {
  const auto x = random_double({2, 3, 4}, -1, 1, 3);
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, add_bias(t, v[0], v[1], 4), 20);
  }, {x, random_double({3}, -1, 1, 4)});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, add_bias(t, v[0], v[1], 1), 21);
  }, {x, random_double({12}, -1, 1, 5)});
}

TEST_CASE("gradcheck: sum, mean, row_sum, row_dot", "[autodiff]") {
  const auto x = random_double({4, 2, 3}, -1, 1, 6);
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) { return sum(t, v[0]); }, {x});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) { return mean(t, v[0]); }, {x});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, row_sum(t, v[0]), 30);
  }, {x});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, row_dot(t, v[0], v[1], 3), 31);
  }, {x, random_double({2}, -1, 1, 7)});
  require_gradcheck([](Tape& t, const std::vector<Variable>& v) {
    return weighted_sum(t, row_dot(t, v[0], v[1], 1), 32);
  }, {x, random_double({6}, -1, 1, 8)});
}

TEST_CASE("gradcheck: matmul with every transpose combination", "[autodiff]") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      INFO("trans_a=" << ta << " trans_b=" << tb);
      const auto a = random_double(ta ? Shape{4, 3} : Shape{3, 4}, -1, 1, 40 + ta);
      const auto b = random_double(tb ? Shape{5, 4} : Shape{4, 5}, -1, 1, 50 + tb);
      require_gradcheck([ta, tb](Tape& t, const std::vector<Variable>& v) {
        return weighted_sum(t, matmul(t, v[0], v[1], ta, tb), 41);
      }, {a, b});
    }
  }
}

TEST_CASE("gradcheck: multinary mean and row free energy for every unit kind", "[autodiff]") {
  for (const auto& uc : mrbm::test::all_unit_cases()) {
    INFO(uc.name);
    const auto x = random_double({3, 4}, uc.x_lo, uc.x_hi, 60);
    const kernels::UnitSpec unit = uc.unit;
    // Phi reaches N s softplus(x/s) ~ 1e4-1e5 at N = 255; the tolerance scales with it: the
    // central difference's rounding error is ~|f| 1e-16 / eps.
    GradcheckOptions options;
    options.eps = 1e-4 * std::max(1.0, unit.scale);
    options.rtol = 1e-5;
    options.atol = 1e-7 * std::max(1.0, static_cast<double>(unit.n) * unit.scale);
    require_gradcheck([unit](Tape& t, const std::vector<Variable>& v) {
      return weighted_sum(t, multinary_mean(t, v[0], unit), 70);
    }, {x}, options);
    require_gradcheck([unit](Tape& t, const std::vector<Variable>& v) {
      return weighted_sum(t, multinary_row_phi(t, v[0], unit), 71);
    }, {x}, options);
    require_gradcheck([unit](Tape& t, const std::vector<Variable>& v) {
      const MultinaryOutputs out = multinary(t, v[0], unit, true, true);
      return add(t, weighted_sum(t, out.mean, 72), weighted_sum(t, out.row_phi, 73));
    }, {x}, options);
  }
}

TEST_CASE("float32 multinary op equals the fused kernel and its float64 twin", "[autodiff]") {
  const auto uc = mrbm::test::make_unit_case("logit", kernels::UnitKind::kLogitCopies, 255,
                                             255.0 / 4, 1.0);
  const auto xf = mrbm::test::random_floats(6 * 7, uc.x_lo, uc.x_hi, 80);
  Tape tape;
  const Variable x32(Tensor::from_vector(xf, {6, 7}), true);
  const std::vector<double> xd(xf.begin(), xf.end());
  const Variable x64(Tensor::from_vector(xd, {6, 7}), true);
  const auto o32 = multinary(tape, x32, uc.unit, true, true);
  const auto o64 = multinary(tape, x64, uc.unit, true, true);
  const auto m32 = o32.mean.value().to_vector<float>();
  const auto m64 = o64.mean.value().to_vector<double>();
  for (size_t i = 0; i < m32.size(); ++i) REQUIRE(std::fabs(m32[i] - m64[i]) <= 1e-6 * m64[i] + 1e-30);
  const auto p32 = o32.row_phi.value().to_vector<double>();
  const auto p64 = o64.row_phi.value().to_vector<double>();
  for (size_t i = 0; i < p32.size(); ++i) REQUIRE(std::fabs(p32[i] - p64[i]) <= 1e-6 * std::fabs(p64[i]));
}

// The CPU pass is split over rows on cpu_threads() threads (autodiff/ops_multinary.cpp): mean,
// row sums and samples must not depend on the split. 64 x 2048 = 4 parts of 2^15 elements at
// most; the threaded outputs are compared bit for bit with one-thread outputs, and against the
// fused kernel called once on the whole pass.
TEST_CASE("the CPU multinary op gives the same bits on 1 and 4 threads", "[autodiff]") {
  const auto uc = mrbm::test::make_unit_case("closed", kernels::UnitKind::kClosedForm, 255, 255.0 / 4, 1.0);
  const int64_t rows = 64, cols = 2048;
  const auto xf = mrbm::test::random_floats(rows * cols, uc.x_lo, uc.x_hi, 81);
  const SampleRequest request{kernels::Sampler::kGaussian, 1234, 5};
  const auto wf = mrbm::test::random_floats(cols, -1, 1, 82);
  auto run = [&](int threads) {
    set_cpu_threads(threads);
    Tape tape;
    const Variable x(Tensor::from_vector(xf, {rows, cols}), true);
    const auto o = multinary(tape, x, uc.unit, true, true, request);
    // The backward too: d/dx of sum(row_phi) + sum_r <mean_r, w> uses both saved outputs.
    const Variable w(Tensor::from_vector(wf, {cols}), false);
    tape.backward(add(tape, sum(tape, o.row_phi), sum(tape, row_dot(tape, o.mean, w, 1))));
    return std::make_tuple(o.mean.value().to_vector<float>(), o.row_phi.value().to_vector<double>(),
                           o.sample.to_vector<float>(), x.grad().to_vector<float>());
  };
  const int restore = cpu_threads();
  const auto one = run(1);
  const auto four = run(4);
  set_cpu_threads(restore);
  REQUIRE(std::get<0>(one) == std::get<0>(four));
  REQUIRE(std::get<1>(one) == std::get<1>(four));
  REQUIRE(std::get<2>(one) == std::get<2>(four));
  REQUIRE(std::get<3>(one) == std::get<3>(four));
  // And both equal one kernel call over the whole pass.
  std::vector<float> mean(xf.size()), sample(xf.size());
  std::vector<double> phi(rows);
  kernels::MultinaryArgs a;
  a.mean = mean.data();
  a.sample = sample.data();
  a.row_phi = phi.data();
  a.x = xf.data();
  a.rows = rows;
  a.cols = cols;
  a.unit = uc.unit;
  a.sampler = request.sampler;
  a.seed = request.seed;
  a.offset = request.offset;
  REQUIRE(kernels::multinary_forward_cpu(a) == kernels::Status::kOk);
  REQUIRE(std::get<0>(four) == mean);
  REQUIRE(std::get<1>(four) == phi);
  REQUIRE(std::get<2>(four) == sample);
}

TEST_CASE("parallel_for covers every index once, in contiguous parts", "[core]") {
  const int restore = cpu_threads();
  for (int threads : {1, 2, 3, 8}) {
    set_cpu_threads(threads);
    for (int64_t n : {0, 1, 5, 64, 1000}) {
      for (int64_t min_part : {1, 7, 2000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> parts{0};
        parallel_for(n, min_part, [&](int64_t begin, int64_t end) {
          ++parts;
          for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
        });
        INFO("threads " << threads << " n " << n << " min_part " << min_part);
        for (const auto& h : hits) REQUIRE(h.load() == 1);
        REQUIRE(parts.load() <= threads);
        if (n > 0) REQUIRE(parts.load() == std::max<int64_t>(1, std::min<int64_t>(threads, n / min_part)));
      }
    }
    // parallel_for_kernel: a failing part throws after all parts ran; all OK parts do not.
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(parallel_for_kernel(100, 1,
                                        [&](int64_t begin, int64_t) {
                                          ++ran;
                                          return begin == 0 ? kernels::Status::kInvalidArgument
                                                            : kernels::Status::kOk;
                                        }),
                    InvalidArgument);
    CHECK(ran.load() == threads);
    CHECK_NOTHROW(parallel_for_kernel(100, 1, [](int64_t, int64_t) { return kernels::Status::kOk; }));
  }
  set_cpu_threads(restore);
}

TEST_CASE("no-grad mode records nothing and stop_gradient blocks the gradient", "[autodiff]") {
  Tape tape;
  const Variable a(Tensor::full({2, 2}, 3.0, DType::kFloat64), true);
  {
    NoGradGuard guard;
    const Variable y = mul(tape, a, a);
    CHECK_FALSE(y.requires_grad());
    CHECK(tape.size() == 0);
  }
  // loss = sum(a * sg(a)): the gradient is sg(a) = 3, not 2a = 6.
  const Variable loss = sum(tape, mul(tape, a, stop_gradient(a)));
  tape.backward(loss);
  CHECK(tape.size() == 0);
  for (double g : a.grad().to_vector<double>()) CHECK(g == 3.0);
  CHECK_THROWS_AS(tape.backward(sum(tape, stop_gradient(a))), InvalidArgument);
}

TEST_CASE("200 taped steps return host memory to its baseline", "[autodiff]") {
  const auto uc = mrbm::test::make_unit_case("closed", kernels::UnitKind::kClosedForm, 255, 64, 1);
  Variable w(Tensor::from_vector(mrbm::test::random_floats(20 * 8, -0.1f, 0.1f, 90), {20, 8}), true);
  Variable b(Tensor::zeros({8}), true);
  const Variable v(Tensor::from_vector(mrbm::test::random_floats(16 * 20, 0, 255, 91), {16, 20}));
  auto step = [&] {
    Tape tape;
    const Variable x = add_bias(tape, matmul(tape, v, w), b, 1);
    const Variable loss = mean(tape, multinary_row_phi(tape, x, uc.unit));
    tape.backward(loss);
    w.clear_grad();
    b.clear_grad();
  };
  step();  // first-use allocations (none are cached on the host, but keep the pattern)
  const int64_t baseline = host_allocator_stats().bytes_in_use;
  for (int i = 0; i < 200; ++i) step();
  CHECK(host_allocator_stats().bytes_in_use == baseline);
}

TEST_CASE("200 taped CUDA steps return device memory to its baseline", "[autodiff][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  CudaContext cuda(0);
  const auto uc = mrbm::test::make_unit_case("closed", kernels::UnitKind::kClosedForm, 255, 64, 1);
  auto on_gpu = [&](const Tensor& t) { return t.to(cuda.device(), cuda.stream()); };
  Variable w(on_gpu(Tensor::from_vector(mrbm::test::random_floats(20 * 8, -0.1f, 0.1f, 90), {20, 8})), true);
  Variable b(on_gpu(Tensor::zeros({8})), true);
  const Variable v(on_gpu(Tensor::from_vector(mrbm::test::random_floats(16 * 20, 0, 255, 91), {16, 20})));
  auto step = [&] {
    Tape tape(&cuda);
    const Variable x = add_bias(tape, matmul(tape, v, w), b, 1);
    const Variable loss = mean(tape, multinary_row_phi(tape, x, uc.unit));
    tape.backward(loss);
    w.clear_grad();
    b.clear_grad();
  };
  step();  // the first step fills the caching allocator and the context's workspace
  cuda.synchronize();
  const DeviceAllocatorStats before = device_allocator_stats(0);
  for (int i = 0; i < 200; ++i) step();
  cuda.synchronize();
  const DeviceAllocatorStats after = device_allocator_stats(0);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.num_device_mallocs == before.num_device_mallocs);  // every block came from the cache
}
