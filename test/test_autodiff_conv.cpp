// Differentiable convolutions (autodiff/ops_conv.h) [autodiff-conv]: float64 CPU gradient checks
// (central finite differences, autodiff/gradcheck.h) of scalar losses L = <op(x, W), R> for a fixed
// random R, for conv2d and conv_transpose2d (stride 2 pad 1 k 4, odd sizes, stride 1 and 3,
// several channels, batch > 1), for a chain that uses W twice (the two backward rules accumulate
// into one gradient), with every CPU algorithm; recording rules. [autodiff-conv][cuda]: the ops'
// forward values and gradients on CUDA (float32, kAuto and kIm2col) equal the CPU float64 values.
//
// Error models: L is bilinear in (x, W) (the chain is quadratic in W), so the third derivatives
// vanish and the central difference has no truncation error: only rounding, ~|L| 1e-16 / eps =
// 1e-10 relative for eps = 1e-6, far inside gradcheck's default atol 1e-8 + rtol 1e-6 (for O(1)
// gradients). On CUDA each value is a sum of n float32 products, compared with the exact float64
// sum: |error| <= (n + 2) 2^-24 * (the same sum of |products|), per element; see
// test/test_core_conv.cpp. When cuDNN runs, 1e-5 of the tensor's largest |sum| is added for its
// transform-based algorithms (FFT, Winograd).
//
// The scalar reduction <v, R> is a tiny op local to this file (the elementwise and reduction ops of
// the tape are written elsewhere): forward sum_i v_i R_i, backward dv += dL * R, evaluated on the
// host for any device (test code; speed does not matter).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "autodiff/gradcheck.h"
#include "autodiff/ops_conv.h"
#include "autodiff/tape.h"
#include "autodiff/variable.h"
#include "core/conv.h"
#include "core/cuda_context.h"
#include "core/tensor.h"
#include "test/test_support.h"

namespace {

using mrbm::ConvAlgo;
using mrbm::ConvParams;
using mrbm::Device;
using mrbm::DType;
using mrbm::Shape;
using mrbm::Tensor;
using mrbm::autodiff::Tape;
using mrbm::autodiff::Variable;

ConvParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  ConvParams p;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  return p;
}

std::vector<double> random_doubles(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

std::vector<double> to_doubles(const Tensor& t, mrbm::Stream stream = nullptr) {
  if (t.dtype() == DType::kFloat64) return t.to_vector<double>(stream);
  const std::vector<float> f = t.to_vector<float>(stream);
  return std::vector<double>(f.begin(), f.end());
}

// A tensor of `dtype` on `device` holding `values`.
Tensor make_tensor(const std::vector<double>& values, const Shape& shape, DType dtype,
                   Device device = Device::cpu(), mrbm::Stream stream = nullptr) {
  const Tensor cpu =
      dtype == DType::kFloat64
          ? Tensor::from_vector(values, shape)
          : Tensor::from_vector(std::vector<float>(values.begin(), values.end()), shape);
  return cpu.to(device, stream);
}

// L = <v, r> (r: the fixed weights, host values of v's numel), a one-element tensor of v's dtype
// on v's device. Backward: dv += dL * r.
Variable inner_product(Tape& tape, const Variable& v, const std::vector<double>& r) {
  const Tensor& value = v.value();
  REQUIRE(static_cast<int64_t>(r.size()) == value.numel());
  const std::vector<double> vv = to_doubles(value, tape.stream());
  double sum = 0;
  for (size_t i = 0; i < r.size(); ++i) sum += vv[i] * r[i];
  const bool record = tape.recording() && v.requires_grad();
  Variable out(make_tensor({sum}, {1}, value.dtype(), value.device(), tape.stream()), record);
  if (record) {
    tape.record([&tape, v = Variable(v), out, r]() mutable {
      if (!out.has_grad()) return;
      const double g = to_doubles(out.grad(), tape.stream()).at(0);
      Tensor& grad = v.grad_buffer(tape.stream());
      std::vector<double> acc = to_doubles(grad, tape.stream());
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += g * r[i];
      grad.copy_from(make_tensor(acc, grad.shape(), grad.dtype()), tape.stream());
    });
  }
  return out;
}

struct ConvCase {
  int64_t batch, cin, h, w, cout, kh, kw;
  ConvParams params;
  std::string name;
  Shape x() const { return {batch, cin, h, w}; }
  Shape weight() const { return {cout, cin, kh, kw}; }
  Shape y() const { return mrbm::conv2d_output_shape(x(), weight(), params); }
};

std::vector<ConvCase> gradcheck_cases() {
  return {
      {2, 3, 7, 9, 4, 4, 4, params(2, 2, 1, 1), "k4 s2 p1, odd sizes, batch 2"},
      {3, 2, 8, 6, 3, 4, 4, params(2, 2, 1, 1), "k4 s2 p1, even sizes, batch 3"},
      {2, 2, 6, 5, 3, 3, 3, params(1, 1, 1, 1), "stride 1"},
      {2, 2, 9, 7, 2, 3, 2, params(3, 3, 2, 2), "stride 3, non-square kernel"},
  };
}

void check_gradcheck(const mrbm::autodiff::ScalarFunction& f, const std::vector<Tensor>& inputs) {
  const mrbm::autodiff::GradcheckResult result = mrbm::autodiff::gradcheck(f, inputs);
  INFO("worst: " << result.worst << " (max abs error " << result.max_abs_error << ", "
                 << result.checked << " elements)");
  CHECK(result.ok);
  int64_t expected = 0;
  for (const Tensor& t : inputs) expected += t.numel();
  CHECK(result.checked == expected);
}

}  // namespace

TEST_CASE("gradcheck of conv2d: <conv2d(x, W), R>", "[autodiff-conv]") {
  uint64_t seed = 10;
  for (const ConvCase& c : gradcheck_cases()) {
    for (ConvAlgo algo : {ConvAlgo::kAuto, ConvAlgo::kIm2col, ConvAlgo::kReference}) {
      INFO(c.name << ", algo " << mrbm::conv_algo_name(algo));
      const std::vector<double> r = random_doubles(mrbm::shape_numel(c.y()), ++seed);
      const ConvParams p = c.params;
      auto f = [r, p, algo](Tape& tape, const std::vector<Variable>& v) {
        return inner_product(tape, mrbm::autodiff::conv2d(tape, v[0], v[1], p, algo), r);
      };
      check_gradcheck(
          f, {make_tensor(random_doubles(mrbm::shape_numel(c.x()), ++seed), c.x(), DType::kFloat64),
              make_tensor(random_doubles(mrbm::shape_numel(c.weight()), ++seed), c.weight(),
                          DType::kFloat64)});
    }
  }
}

TEST_CASE("gradcheck of conv_transpose2d: <conv_transpose2d(y, W), R>", "[autodiff-conv]") {
  uint64_t seed = 20;
  for (const ConvCase& c : gradcheck_cases()) {
    for (ConvAlgo algo : {ConvAlgo::kAuto, ConvAlgo::kIm2col, ConvAlgo::kReference}) {
      INFO(c.name << ", algo " << mrbm::conv_algo_name(algo));
      const std::vector<double> r = random_doubles(mrbm::shape_numel(c.x()), ++seed);
      const ConvParams p = c.params;
      const int64_t h = c.h, w = c.w;
      auto f = [r, p, algo, h, w](Tape& tape, const std::vector<Variable>& v) {
        return inner_product(tape,
                             mrbm::autodiff::conv_transpose2d(tape, v[0], v[1], p, h, w, algo), r);
      };
      check_gradcheck(
          f, {make_tensor(random_doubles(mrbm::shape_numel(c.y()), ++seed), c.y(), DType::kFloat64),
              make_tensor(random_doubles(mrbm::shape_numel(c.weight()), ++seed), c.weight(),
                          DType::kFloat64)});
    }
  }
}

TEST_CASE("gradcheck of a reconstruction chain convT(conv2d(x, W), W) sharing W",
          "[autodiff-conv]") {
  // The conv RBM's shape of computation: W receives one contribution from each op (+=), and the
  // gradient flows from conv_transpose2d back through conv2d into x.
  const ConvCase c{2, 3, 7, 9, 4, 4, 4, params(2, 2, 1, 1), "k4 s2 p1, odd sizes"};
  const std::vector<double> r = random_doubles(mrbm::shape_numel(c.x()), 31);
  const ConvParams p = c.params;
  auto f = [r, p, c](Tape& tape, const std::vector<Variable>& v) {
    const Variable h = mrbm::autodiff::conv2d(tape, v[0], v[1], p);
    return inner_product(tape, mrbm::autodiff::conv_transpose2d(tape, h, v[1], p, c.h, c.w), r);
  };
  check_gradcheck(
      f, {make_tensor(random_doubles(mrbm::shape_numel(c.x()), 32), c.x(), DType::kFloat64),
          make_tensor(random_doubles(mrbm::shape_numel(c.weight()), 33), c.weight(),
                      DType::kFloat64)});
}

TEST_CASE("conv ops record only when an input requires a gradient", "[autodiff-conv]") {
  const ConvCase c{2, 3, 8, 8, 4, 4, 4, params(2, 2, 1, 1), "paper layer"};
  const Variable x(
      make_tensor(random_doubles(mrbm::shape_numel(c.x()), 41), c.x(), DType::kFloat32));
  const Variable w(
      make_tensor(random_doubles(mrbm::shape_numel(c.weight()), 42), c.weight(), DType::kFloat32),
      true);
  const Variable w_const(w.value());
  Tape tape;
  {
    const Variable y = mrbm::autodiff::conv2d(tape, x, w_const, c.params);
    CHECK_FALSE(y.requires_grad());
    CHECK(tape.size() == 0);
    CHECK(y.value().shape() == Shape{2, 4, 4, 4});
    const Variable back = mrbm::autodiff::conv_transpose2d(tape, y, w_const, c.params, 8, 8);
    CHECK_FALSE(back.requires_grad());
    CHECK(back.value().shape() == c.x());
    CHECK(tape.size() == 0);
  }
  {
    mrbm::autodiff::NoGradGuard no_grad;
    const Variable y = mrbm::autodiff::conv2d(tape, x, w, c.params);
    CHECK_FALSE(y.requires_grad());
    CHECK(tape.size() == 0);
  }
  const Variable y = mrbm::autodiff::conv2d(tape, x, w, c.params);
  CHECK(y.requires_grad());
  CHECK(tape.size() == 1);
  // With stride 2, output 8 and 9 both give 4: conv_transpose2d takes either; 10 does not fit.
  CHECK(mrbm::autodiff::conv_transpose2d(tape, y, w, c.params, 9, 9).value().shape() ==
        Shape{2, 3, 9, 9});
  CHECK_THROWS_AS(mrbm::autodiff::conv_transpose2d(tape, y, w, c.params, 10, 8), mrbm::ShapeError);
  tape.clear();
}

TEST_CASE("conv ops on CUDA equal the CPU: forward values and gradients", "[autodiff-conv][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  mrbm::CudaContext cuda;
  REQUIRE_FALSE(cuda.allow_tf32());
  const std::vector<ConvCase> cases = {
      {2, 3, 7, 9, 4, 4, 4, params(2, 2, 1, 1), "k4 s2 p1, odd sizes"},
      // Batch 1 in the simulator (mrbm::test::gpu_scale_cases): its float64 reference loops
      // dominate the simulated suite at batch 4.
      {mrbm::test::gpu_scale_cases() ? 4 : 1, 64, 16, 16, 128, 4, 4, params(2, 2, 1, 1), "layer 2 channels, 16x16"},
      {3, 5, 9, 9, 6, 3, 3, params(1, 1, 1, 1), "stride 1"},
  };
  const double u = std::ldexp(1.0, -24);
  uint64_t seed = 50;
  for (const ConvCase& c : cases) {
    for (ConvAlgo algo : {ConvAlgo::kAuto, ConvAlgo::kIm2col}) {
      const bool maybe_cudnn =
          mrbm::resolve_conv_algo(algo, cuda.device(), DType::kFloat32, &cuda) == ConvAlgo::kCudnn;
      const double extra = maybe_cudnn ? 1e-5 : 0.0;
      for (bool transpose : {false, true}) {
        INFO(c.name << ", algo " << mrbm::conv_algo_name(algo)
                    << (transpose ? ", conv_transpose2d" : ", conv2d"));
        // Inputs rounded to float once; the CPU oracle runs in float64 on the same values.
        const Shape in_shape = transpose ? c.y() : c.x();
        const Shape out_shape = transpose ? c.x() : c.y();
        auto rounded = [](std::vector<double> v) {
          for (double& e : v) e = static_cast<double>(static_cast<float>(e));
          return v;
        };
        const std::vector<double> in = rounded(random_doubles(mrbm::shape_numel(in_shape), ++seed));
        const std::vector<double> wv =
            rounded(random_doubles(mrbm::shape_numel(c.weight()), ++seed));
        const std::vector<double> r = random_doubles(mrbm::shape_numel(out_shape), ++seed);

        // Device pass (float32).
        Tape tape(&cuda);
        Variable in_d(make_tensor(in, in_shape, DType::kFloat32, cuda.device(), cuda.stream()),
                      true);
        Variable w_d(make_tensor(wv, c.weight(), DType::kFloat32, cuda.device(), cuda.stream()),
                     true);
        const Variable out_d =
            transpose ? mrbm::autodiff::conv_transpose2d(tape, in_d, w_d, c.params, c.h, c.w, algo)
                      : mrbm::autodiff::conv2d(tape, in_d, w_d, c.params, algo);
        tape.backward(inner_product(tape, out_d, r));
        const std::vector<double> out_got = to_doubles(out_d.value(), cuda.stream());
        const std::vector<double> din_got = to_doubles(in_d.grad(), cuda.stream());
        const std::vector<double> dw_got = to_doubles(w_d.grad(), cuda.stream());

        // CPU float64 oracle of the same values, and the sums of |products| for the bounds,
        // through the reference loops: out, d in = adjoint(R, W), dW = weight_grad.
        auto cpu = [&](const std::vector<double>& a, const std::vector<double>& w,
                       const std::vector<double>& rr, bool abs_values) {
          auto fix = [abs_values](std::vector<double> v) {
            if (abs_values)
              for (double& e : v) e = std::fabs(e);
            return v;
          };
          const Tensor at = make_tensor(fix(a), in_shape, DType::kFloat64);
          const Tensor wt = make_tensor(fix(w), c.weight(), DType::kFloat64);
          const Tensor rt = make_tensor(fix(rr), out_shape, DType::kFloat64);
          Tensor out = Tensor::empty(out_shape, DType::kFloat64);
          Tensor din = Tensor::empty(in_shape, DType::kFloat64);
          Tensor dw = Tensor::empty(c.weight(), DType::kFloat64);
          const ConvAlgo ref = ConvAlgo::kReference;
          if (!transpose) {
            mrbm::conv2d(out, at, wt, c.params, 0.0, nullptr, ref);
            mrbm::conv_transpose2d(din, rt, wt, c.params, 0.0, nullptr, ref);
            mrbm::conv2d_weight_grad(dw, at, rt, c.params, 0.0, nullptr, ref);
          } else {
            mrbm::conv_transpose2d(out, at, wt, c.params, 0.0, nullptr, ref);
            mrbm::conv2d(din, rt, wt, c.params, 0.0, nullptr, ref);
            mrbm::conv2d_weight_grad(dw, rt, at, c.params, 0.0, nullptr, ref);
          }
          return std::vector<std::vector<double>>{out.to_vector<double>(), din.to_vector<double>(),
                                                  dw.to_vector<double>()};
        };
        const auto exact = cpu(in, wv, r, false);
        const auto abs = cpu(in, wv, r, true);
        // Terms per element: conv2d sums cin kh kw products, its adjoint at most cout kh kw, the
        // weight gradient batch * Ho * Wo. r is not float-rounded, which the device does: one more
        // relative rounding of each R factor, covered by the + 2 (and the extra 1 below).
        const Shape ys = c.y();
        const int64_t n_conv = c.cin * c.kh * c.kw, n_adj = c.cout * c.kh * c.kw,
                      n_wgrad = c.batch * ys[2] * ys[3];
        const int64_t n_out = transpose ? n_adj : n_conv, n_din = transpose ? n_conv : n_adj;
        const std::vector<std::pair<const char*, int64_t>> parts = {
            {"forward value", n_out}, {"input gradient", n_din}, {"weight gradient", n_wgrad}};
        const std::vector<const std::vector<double>*> got = {&out_got, &din_got, &dw_got};
        for (size_t k = 0; k < 3; ++k) {
          INFO(parts[k].first);
          REQUIRE(got[k]->size() == exact[k].size());
          double largest = 0;
          for (double v : abs[k]) largest = std::max(largest, v);
          int64_t bad = 0;
          double worst = 0;
          for (size_t i = 0; i < exact[k].size(); ++i) {
            const double tol =
                static_cast<double>(parts[k].second + 3) * u * abs[k][i] + extra * largest + 1e-300;
            const double err = std::fabs((*got[k])[i] - exact[k][i]);
            if (!(err <= tol)) ++bad;
            worst = std::max(worst, std::isnan(err) ? 1e300 : err / tol);
          }
          INFO("worst error / tolerance " << worst);
          CHECK(bad == 0);
        }
      }
    }
  }
#endif
}
