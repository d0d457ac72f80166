// Tensor-level convolutions (core/conv.h) [conv]: every CPU algorithm against the direct-loop
// reference in float and double, for conv2d, conv_transpose2d and the weight gradient, on the
// paper's layer (k 4, s 2, p 1), odd sizes, strides 1 and 3, non-square kernels, several channels,
// batches > 1, empty tensors, beta 0 (output poisoned with NaN) and beta 1 (accumulate into random
// values); the batch chunking of the im2col path; the swap_outer_dims permute; argument and shape
// errors; the algorithm choice. [conv][cuda]: kIm2col (float, double) and kCudnn against the CPU
// reference with fresh random inputs and poisoned outputs, on sizes that include the paper's layer
// shapes scaled down.
//
// Error model (next to `within_bound`): the oracle is the reference evaluated in double on the
// double copies of the inputs (float inputs convert exactly, so it is the exact sum up to n 2^-53
// relative). Any algorithm that computes a sum of n products in precision u, in whatever order or
// blocking (GEMM tiles, FMAs, col2im's partial sums), is within gamma_n = n u / (1 - n u) of it,
// relative to sum |a_i b_i|: the same convolution of |x| and |w|. beta = 1 adds one rounding of
// the sum with the old value. The bound is per element and rigorous; an indexing bug produces
// errors of the order of the sum itself, far outside it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/conv.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "kernels/permute.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include "kernels/permute_cuda.h"
#endif

namespace {

using Catch::Matchers::Contains;
using mrbm::ConvAlgo;
using mrbm::ConvColumns;
using mrbm::ConvParams;
using mrbm::Device;
using mrbm::DType;
using mrbm::Shape;
using mrbm::Tensor;

enum class Op { kForward, kTranspose, kWeightGrad };

const char* op_name(Op op) {
  switch (op) {
    case Op::kForward:
      return "conv2d";
    case Op::kTranspose:
      return "conv_transpose2d";
    case Op::kWeightGrad:
      return "conv2d_weight_grad";
  }
  return "?";
}

struct ConvCase {
  int64_t batch, cin, h, w, cout, kh, kw;
  ConvParams params;
  std::string name;
};

ConvParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  ConvParams p;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  return p;
}

Shape x_shape(const ConvCase& c) { return {c.batch, c.cin, c.h, c.w}; }
Shape w_shape(const ConvCase& c) { return {c.cout, c.cin, c.kh, c.kw}; }
Shape y_shape(const ConvCase& c) {
  return mrbm::conv2d_output_shape(x_shape(c), w_shape(c), c.params);
}

// The shapes of the output and of the two inputs (a, b) of `op`: conv2d (y; x, w),
// conv_transpose2d (x; y, w), weight gradient (w; x, dy).
Shape out_shape(Op op, const ConvCase& c) {
  return op == Op::kForward ? y_shape(c) : op == Op::kTranspose ? x_shape(c) : w_shape(c);
}
Shape a_shape(Op op, const ConvCase& c) { return op == Op::kTranspose ? y_shape(c) : x_shape(c); }
Shape b_shape(Op op, const ConvCase& c) { return op == Op::kWeightGrad ? y_shape(c) : w_shape(c); }

// The number of products in one output element's sum (an upper bound for conv_transpose2d, whose
// pixels get at most cout kh kw taps).
int64_t terms(Op op, const ConvCase& c) {
  if (op == Op::kForward) return c.cin * c.kh * c.kw;
  if (op == Op::kTranspose) return c.cout * c.kh * c.kw;
  const Shape y = y_shape(c);
  return c.batch * y[2] * y[3];
}

void run(Op op, Tensor& out, const Tensor& a, const Tensor& b, const ConvParams& p, double beta,
         mrbm::CudaContext* cuda, ConvAlgo algo) {
  switch (op) {
    case Op::kForward:
      mrbm::conv2d(out, a, b, p, beta, cuda, algo);
      break;
    case Op::kTranspose:
      mrbm::conv_transpose2d(out, a, b, p, beta, cuda, algo);
      break;
    case Op::kWeightGrad:
      mrbm::conv2d_weight_grad(out, a, b, p, beta, cuda, algo);
      break;
  }
}

std::vector<double> random_doubles(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

// A CPU tensor of `dtype` holding `values` (rounded to float for float32).
Tensor make_tensor(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (dtype == DType::kFloat64) return Tensor::from_vector(values, shape);
  return Tensor::from_vector(std::vector<float>(values.begin(), values.end()), shape);
}

std::vector<double> to_doubles(const Tensor& t, mrbm::Stream stream = nullptr) {
  if (t.dtype() == DType::kFloat64) return t.to_vector<double>(stream);
  const std::vector<float> f = t.to_vector<float>(stream);
  return std::vector<double>(f.begin(), f.end());
}

// The values as they are stored in `dtype` (float rounding applied), in double.
std::vector<double> stored(const std::vector<double>& v, DType dtype) {
  if (dtype == DType::kFloat64) return v;
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<double>(static_cast<float>(v[i]));
  return r;
}

std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(v[i]);
  return r;
}

// The oracle: op evaluated by the reference loops in double.
std::vector<double> reference(Op op, const ConvCase& c, const std::vector<double>& a,
                              const std::vector<double>& b) {
  Tensor out = Tensor::empty(out_shape(op, c), DType::kFloat64);
  Tensor at = Tensor::from_vector(a, a_shape(op, c));
  Tensor bt = Tensor::from_vector(b, b_shape(op, c));
  run(op, out, at, bt, c.params, 0.0, nullptr, ConvAlgo::kReference);
  return out.to_vector<double>();
}

// |got - (exact + old)| <= (n + 2) u (abs + |old|) + extra per element, where abs is the op on
// |a|, |b| (the sum of |products|), n the number of terms and u the unit roundoff of the dtype;
// the (n + 2) covers gamma_n plus the beta = 1 addition. `extra` widens it for cuDNN algorithms
// that transform the data (FFT, Winograd) and are not plain sums of products: their error is
// bounded relative to the largest |sum| of the tensor instead (see the CUDA test).
struct Bound {
  int64_t terms = 1;
  double unit_roundoff = 0;
  double extra = 0;
};

void check_within(const std::vector<double>& got, const std::vector<double>& exact,
                  const std::vector<double>& abs, const std::vector<double>& old,
                  const Bound& bound) {
  REQUIRE(got.size() == exact.size());
  int64_t bad = 0;
  size_t worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double o = old.empty() ? 0.0 : old[i];
    const double want = exact[i] + o;
    const double tol =
        static_cast<double>(bound.terms + 2) * bound.unit_roundoff * (abs[i] + std::fabs(o)) +
        bound.extra + 1e-300;
    const double err = std::fabs(got[i] - want);
    const double ratio = std::isnan(err) ? std::numeric_limits<double>::infinity() : err / tol;
    if (!(err <= tol)) ++bad;
    if (ratio > worst_ratio || i == 0) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  INFO("worst element " << worst << " of " << got.size() << ": got "
                        << (got.empty() ? 0.0 : got[worst]) << " want "
                        << (got.empty() ? 0.0 : exact[worst] + (old.empty() ? 0.0 : old[worst]))
                        << " (error / tolerance " << worst_ratio << ")");
  CHECK(bad == 0);
}

double unit_roundoff(DType dtype) {
  return dtype == DType::kFloat32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
}

std::vector<ConvCase> cpu_cases() {
  return {
      {2, 3, 8, 8, 4, 4, 4, params(2, 2, 1, 1), "paper layer k4 s2 p1"},
      {3, 2, 7, 9, 3, 4, 4, params(2, 2, 1, 1), "odd sizes k4 s2 p1"},
      {2, 3, 6, 5, 2, 3, 3, params(1, 1, 1, 1), "stride 1 pad 1"},
      {1, 1, 5, 5, 1, 3, 3, params(1, 1, 0, 0), "batch 1 stride 1 pad 0"},
      {2, 2, 9, 7, 3, 3, 2, params(3, 3, 2, 2), "stride 3 pad 2 non-square kernel"},
      {4, 5, 11, 10, 6, 4, 4, params(2, 2, 1, 1), "several channels, batch 4"},
      {2, 4, 5, 8, 5, 3, 4, params(2, 1, 0, 2), "mixed strides, (H + 2p - k) % s != 0"},
      {2, 2, 6, 6, 2, 1, 1, params(2, 2, 1, 1), "pad >= kernel"},
      {1, 2, 2, 2, 3, 4, 4, params(2, 2, 1, 1), "one output pixel"},
      {0, 3, 8, 8, 4, 4, 4, params(2, 2, 1, 1), "empty batch"},
      {2, 0, 8, 8, 4, 4, 4, params(2, 2, 1, 1), "no input channels: y = 0"},
      {2, 3, 8, 8, 0, 4, 4, params(2, 2, 1, 1), "no output channels: x_out = 0"},
  };
}

// Runs `op` with `algo` on device tensors (cuda set) or CPU tensors and checks it against the
// reference: beta 0 into a NaN-poisoned output, then beta 1 into random old values.
void check_algo(Op op, const ConvCase& c, DType dtype, ConvAlgo algo, mrbm::CudaContext* cuda,
                uint64_t seed, double extra_relative = 0.0) {
  INFO(op_name(op) << " on " << c.name << " " << mrbm::shape_to_string(x_shape(c)) << " * "
                   << mrbm::shape_to_string(w_shape(c)) << " " << mrbm::dtype_name(dtype)
                   << " algo " << mrbm::conv_algo_name(algo) << (cuda ? " cuda" : " cpu"));
  const Shape os = out_shape(op, c), as = a_shape(op, c), bs = b_shape(op, c);
  const std::vector<double> a = stored(random_doubles(mrbm::shape_numel(as), seed), dtype);
  const std::vector<double> b = stored(random_doubles(mrbm::shape_numel(bs), seed + 1), dtype);
  const std::vector<double> exact = reference(op, c, a, b);
  const std::vector<double> abs = reference(op, c, absolute(a), absolute(b));
  double largest = 0;
  for (double v : abs) largest = std::max(largest, v);
  Bound bound{terms(op, c), unit_roundoff(dtype), extra_relative * largest};

  const Device device = cuda ? cuda->device() : Device::cpu();
  const mrbm::Stream stream = cuda ? cuda->stream() : nullptr;
  const Tensor at = make_tensor(a, as, dtype).to(device, stream);
  const Tensor bt = make_tensor(b, bs, dtype).to(device, stream);

  {
    Tensor out = Tensor::full(os, std::numeric_limits<double>::quiet_NaN(), dtype, device, stream);
    run(op, out, at, bt, c.params, 0.0, cuda, algo);
    INFO("beta 0, output poisoned with NaN");
    check_within(to_doubles(out, stream), exact, abs, {}, bound);
  }
  {
    const std::vector<double> old = stored(random_doubles(mrbm::shape_numel(os), seed + 2), dtype);
    Tensor out = make_tensor(old, os, dtype).to(device, stream);
    run(op, out, at, bt, c.params, 1.0, cuda, algo);
    INFO("beta 1, accumulating into random values");
    check_within(to_doubles(out, stream), exact, abs, old, bound);
  }
}

constexpr Op kOps[] = {Op::kForward, Op::kTranspose, Op::kWeightGrad};

// Restores the im2col buffer limit when a test ends (also on failure).
struct Im2colLimitGuard {
  int64_t previous;
  explicit Im2colLimitGuard(int64_t bytes) : previous(mrbm::set_im2col_buffer_limit(bytes)) {}
  ~Im2colLimitGuard() { mrbm::set_im2col_buffer_limit(previous); }
};

struct AlgoOverrideGuard {
  explicit AlgoOverrideGuard(ConvAlgo algo) { mrbm::set_conv_algo_override(algo); }
  ~AlgoOverrideGuard() { mrbm::set_conv_algo_override(ConvAlgo::kAuto); }
};

using mrbm::test::message_of;

}  // namespace

TEST_CASE("swap_outer_dims_cpu permutes [d0, d1, inner] to [d1, d0, inner]", "[conv]") {
  // Exact: a permute moves values, and beta = 1 adds one small integer to another.
  const int64_t d0 = 3, d1 = 4, inner = 5;
  std::vector<double> in(static_cast<size_t>(d0 * d1 * inner));
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<double>(i);
  std::vector<double> out(in.size(), std::numeric_limits<double>::quiet_NaN());
  REQUIRE(mrbm::kernels::swap_outer_dims_cpu(out.data(), in.data(), d0, d1, inner, 0.0) ==
          mrbm::kernels::Status::kOk);
  for (int64_t b = 0; b < d0; ++b)
    for (int64_t c = 0; c < d1; ++c)
      for (int64_t q = 0; q < inner; ++q)
        CHECK(out[static_cast<size_t>((c * d0 + b) * inner + q)] ==
              in[static_cast<size_t>((b * d1 + c) * inner + q)]);
  // Swapping back with beta = 1 into a copy of `in` doubles it.
  std::vector<double> back = in;
  REQUIRE(mrbm::kernels::swap_outer_dims_cpu(back.data(), out.data(), d1, d0, inner, 1.0) ==
          mrbm::kernels::Status::kOk);
  for (size_t i = 0; i < in.size(); ++i) CHECK(back[i] == 2 * in[i]);
  // Row ranges (as core/conv.cpp splits them over threads) build the same result, also for
  // dim0 = 1 (a flat copy); beta = 0 ignores NaN in out.
  for (int64_t rows0 : {d0, int64_t{1}}) {
    const int64_t rows1 = static_cast<int64_t>(in.size()) / (rows0 * inner);
    std::vector<double> whole(in.size(), std::numeric_limits<double>::quiet_NaN()), parts = whole;
    REQUIRE(mrbm::kernels::swap_outer_dims_cpu(whole.data(), in.data(), rows0, rows1, inner, 0.0) ==
            mrbm::kernels::Status::kOk);
    for (int64_t c0 = 0; c0 < rows1; c0 += 3) {
      REQUIRE(mrbm::kernels::swap_outer_dims_cpu_rows(parts.data(), in.data(), rows0, rows1, inner,
                                                      0.0, c0, std::min(rows1, c0 + 3)) ==
              mrbm::kernels::Status::kOk);
    }
    CHECK(parts == whole);
    if (rows0 == 1) CHECK(whole == in);
    CHECK(mrbm::kernels::swap_outer_dims_cpu_rows(parts.data(), in.data(), rows0, rows1, inner, 0.0,
                                                  0, rows1 + 1) ==
          mrbm::kernels::Status::kInvalidArgument);
  }
  // Invalid arguments.
  CHECK(mrbm::kernels::swap_outer_dims_cpu(out.data(), in.data(), -1, d1, inner, 0.0) ==
        mrbm::kernels::Status::kInvalidArgument);
  CHECK(mrbm::kernels::swap_outer_dims_cpu<double>(nullptr, in.data(), d0, d1, inner, 0.0) ==
        mrbm::kernels::Status::kInvalidArgument);
  CHECK(mrbm::kernels::swap_outer_dims_cpu<double>(nullptr, nullptr, 0, d1, inner, 0.0) ==
        mrbm::kernels::Status::kOk);
  CHECK(mrbm::kernels::swap_outer_dims_cpu(out.data(), in.data(), INT64_MAX, 2, 1, 0.0) ==
        mrbm::kernels::Status::kInvalidArgument);
}

TEST_CASE("CPU conv algorithms equal the reference (float and double, beta 0 and 1)", "[conv]") {
  uint64_t seed = 100;
  for (const ConvCase& c : cpu_cases()) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (ConvAlgo algo : {ConvAlgo::kIm2col, ConvAlgo::kAuto, ConvAlgo::kReference}) {
        for (Op op : kOps) {
          check_algo(op, c, dtype, algo, nullptr, seed += 3);
        }
      }
    }
  }
}

TEST_CASE("the im2col path processes the batch in chunks", "[conv]") {
  // One sample per chunk (limit 1 byte), then 2 samples per chunk with an uneven last chunk: the
  // weight gradient must add the chunks' sums, the other ops must place each chunk's rows.
  const ConvCase c{5, 3, 9, 8, 4, 4, 4, params(2, 2, 1, 1), "batch 5"};
  const Shape y = y_shape(c);
  const int64_t per_sample_float = c.cin * c.kh * c.kw * y[2] * y[3] * 4;
  uint64_t seed = 900;
  for (int64_t limit : {int64_t{1}, 2 * per_sample_float + 1}) {
    INFO("im2col buffer limit " << limit << " bytes");
    Im2colLimitGuard guard(limit);
    for (Op op : kOps) {
      check_algo(op, c, DType::kFloat32, ConvAlgo::kIm2col, nullptr, seed += 3);
    }
  }
}

// ConvColumns: conv2d keeps im2col(x) for the weight gradient of the same x on the CPU when the
// batch is one chunk. Columns kept for another input x2 give that input's gradient, which shows
// they are used (not recomputed); columns of the wrong shape are ignored; with several chunks
// nothing is kept.
TEST_CASE("conv2d keeps its columns for the weight gradient of the same input", "[conv]") {
  const ConvParams p = params(2, 2, 1, 1);
  const auto xv = mrbm::test::random_floats(4 * 3 * 9 * 8, -1, 1, 31);
  const auto x2v = mrbm::test::random_floats(4 * 3 * 9 * 8, -1, 1, 32);
  const auto wv = mrbm::test::random_floats(5 * 3 * 4 * 4, -1, 1, 33);
  const Tensor x = Tensor::from_vector(xv, {4, 3, 9, 8}), x2 = Tensor::from_vector(x2v, {4, 3, 9, 8});
  const Tensor w = Tensor::from_vector(wv, {5, 3, 4, 4});
  const Shape ys = mrbm::conv2d_output_shape(x.shape(), w.shape(), p);
  const Tensor dy = Tensor::from_vector(mrbm::test::random_floats(mrbm::shape_numel(ys), -1, 1, 34), ys);
  auto weight_grad = [&](const Tensor& input, const ConvColumns* columns) {
    Tensor dw = Tensor::from_vector(mrbm::test::poisoned(w.numel()), w.shape());
    mrbm::conv2d_weight_grad(dw, input, dy, p, 0.0, nullptr, ConvAlgo::kIm2col, columns);
    return dw.to_vector<float>();
  };
  ConvColumns kept, kept2;
  Tensor y = Tensor::empty(ys), y_plain = Tensor::empty(ys);
  mrbm::conv2d(y, x, w, p, 0.0, nullptr, ConvAlgo::kIm2col, &kept);
  mrbm::conv2d(y_plain, x, w, p, 0.0, nullptr, ConvAlgo::kIm2col);
  REQUIRE(y.to_vector<float>() == y_plain.to_vector<float>());
  REQUIRE(kept.col.defined());
  CHECK(kept.col.shape() == Shape{3 * 4 * 4, 4 * ys[2] * ys[3]});
  CHECK(weight_grad(x, &kept) == weight_grad(x, nullptr));
  mrbm::conv2d(y, x2, w, p, 0.0, nullptr, ConvAlgo::kIm2col, &kept2);
  CHECK(weight_grad(x, &kept2) == weight_grad(x2, nullptr));  // the kept columns are what is used
  ConvColumns wrong;
  wrong.col = Tensor::zeros({7, 11});
  CHECK(weight_grad(x, &wrong) == weight_grad(x, nullptr));
  {
    Im2colLimitGuard guard(1);  // one sample per chunk: nothing kept
    ConvColumns none;
    none.col = Tensor::zeros({1});  // cleared by the call
    mrbm::conv2d(y, x, w, p, 0.0, nullptr, ConvAlgo::kIm2col, &none);
    CHECK_FALSE(none.col.defined());
    CHECK(weight_grad(x, &kept2) == weight_grad(x, nullptr));  // several chunks: never reused
  }
}

TEST_CASE("conv shape and argument errors name the shapes", "[conv]") {
  const ConvParams p;  // k 4 s 2 p 1 from the weights below
  Tensor x = Tensor::zeros({2, 3, 8, 8});
  Tensor w = Tensor::zeros({4, 3, 4, 4});
  Tensor y = Tensor::zeros({2, 4, 4, 4});
  Tensor w_bad = Tensor::zeros({4, 2, 4, 4});
  Tensor y_bad = Tensor::zeros({2, 4, 5, 4});

  std::string m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv2d(y, x, w_bad, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 3, 8, 8]") && Contains("[4, 2, 4, 4]"));
  m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv2d(y_bad, x, w, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 4, 5, 4]") && Contains("[2, 4, 4, 4]"));
  m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv_transpose2d(x, y_bad, w, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 4, 5, 4]") && Contains("[2, 3, 8, 8]"));
  m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv2d_weight_grad(w, x, y_bad, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 4, 5, 4]"));
  Tensor x3 = Tensor::zeros({2, 3, 8});
  m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv2d(y, x3, w, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 3, 8]"));
  // A kernel larger than the padded image.
  Tensor x_small = Tensor::zeros({2, 3, 1, 1});
  m = message_of<mrbm::ShapeError>(
      [&] { mrbm::conv2d(y, x_small, w, p, 0.0, nullptr, ConvAlgo::kAuto); });
  CHECK_THAT(m, Contains("[2, 3, 1, 1]") && Contains("[4, 3, 4, 4]"));

  CHECK_THROWS_AS(mrbm::conv2d(y, x, w, params(0, 2, 1, 1), 0.0, nullptr, ConvAlgo::kAuto),
                  mrbm::InvalidArgument);
  CHECK_THROWS_AS(mrbm::conv2d(y, x, w, p, 0.5, nullptr, ConvAlgo::kAuto), mrbm::InvalidArgument);
  Tensor x64 = Tensor::zeros({2, 3, 8, 8}, DType::kFloat64);
  CHECK_THROWS_AS(mrbm::conv2d(y, x64, w, p, 0.0, nullptr, ConvAlgo::kAuto), mrbm::InvalidArgument);
  CHECK_THROWS_AS(mrbm::conv2d(y, x, w, p, 0.0, nullptr, ConvAlgo::kCudnn), mrbm::UnsupportedError);
  CHECK(mrbm::conv2d_output_shape({2, 3, 8, 8}, {4, 3, 4, 4}, p) == Shape{2, 4, 4, 4});
  CHECK(mrbm::conv2d_output_shape({1, 3, 7, 9}, {5, 3, 3, 2}, params(3, 2, 2, 0)) ==
        Shape{1, 5, 3, 4});
}

TEST_CASE("conv algorithm names, override and resolution", "[conv]") {
  for (ConvAlgo a : {ConvAlgo::kAuto, ConvAlgo::kReference, ConvAlgo::kIm2col, ConvAlgo::kCudnn})
    CHECK(mrbm::parse_conv_algo(mrbm::conv_algo_name(a)) == a);
  CHECK_THROWS_AS(mrbm::parse_conv_algo("fast"), mrbm::InvalidArgument);

  const Device cpu = Device::cpu();
  // Explicit choices are returned unchanged.
  CHECK(mrbm::resolve_conv_algo(ConvAlgo::kReference, cpu, DType::kFloat32, nullptr) ==
        ConvAlgo::kReference);
  CHECK(mrbm::resolve_conv_algo(ConvAlgo::kCudnn, cpu, DType::kFloat32, nullptr) ==
        ConvAlgo::kCudnn);
  {
    AlgoOverrideGuard guard(ConvAlgo::kReference);
    CHECK(mrbm::conv_algo_override() == ConvAlgo::kReference);
    CHECK(mrbm::resolve_conv_algo(ConvAlgo::kAuto, cpu, DType::kFloat64, nullptr) ==
          ConvAlgo::kReference);
    // An override that cannot serve the device is skipped: no reference on CUDA.
    CHECK(mrbm::resolve_conv_algo(ConvAlgo::kAuto, Device::cuda(0), DType::kFloat32, nullptr) ==
          ConvAlgo::kIm2col);
  }
  {
    AlgoOverrideGuard guard(ConvAlgo::kCudnn);  // not on the CPU
    CHECK(mrbm::resolve_conv_algo(ConvAlgo::kAuto, cpu, DType::kFloat32, nullptr) ==
          ConvAlgo::kIm2col);
  }
  const char* env = std::getenv("MRBM_CONV_ALGO");
  if (env == nullptr || *env == '\0') {
    CHECK(mrbm::conv_algo_override() == ConvAlgo::kAuto);
    CHECK(mrbm::resolve_conv_algo(ConvAlgo::kAuto, cpu, DType::kFloat32, nullptr) ==
          ConvAlgo::kIm2col);
    // Without a context (or without cuDNN) CUDA falls back to im2col.
    CHECK(mrbm::resolve_conv_algo(ConvAlgo::kAuto, Device::cuda(0), DType::kFloat32, nullptr) ==
          ConvAlgo::kIm2col);
  }
}

// ---- [cuda] ----

TEST_CASE("swap_outer_dims_cuda equals swap_outer_dims_cpu", "[conv][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  // Exact: the same element function moves the same values; beta = 1 adds in the same rounding.
  mrbm::CudaContext cuda;
  const Device dev = cuda.device();
  uint64_t seed = 7;
  for (auto [d0, d1, inner] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {0, 3, 4}, {1, 1, 1}, {3, 5, 7}, {128, 64, 16}, {7, 257, 33}, {1, 100003, 1}}) {
    for (double beta : {0.0, 1.0}) {
      INFO("d0 " << d0 << " d1 " << d1 << " inner " << inner << " beta " << beta);
      const int64_t n = d0 * d1 * inner;
      const std::vector<float> in = mrbm::test::random_floats(n, -1, 1, ++seed);
      const std::vector<float> old =
          beta == 0.0 ? mrbm::test::poisoned(n) : mrbm::test::random_floats(n, -1, 1, ++seed);
      std::vector<float> want = old;
      REQUIRE(mrbm::kernels::swap_outer_dims_cpu(want.data(), in.data(), d0, d1, inner,
                                                 static_cast<float>(beta)) ==
              mrbm::kernels::Status::kOk);
      const Tensor in_d = Tensor::from_vector(in, {n}).to(dev, cuda.stream());
      Tensor out_d = Tensor::from_vector(old, {n}).to(dev, cuda.stream());
      REQUIRE(mrbm::kernels::swap_outer_dims_cuda(out_d.data<float>(), in_d.data<float>(), d0, d1,
                                                  inner, static_cast<float>(beta),
                                                  cuda.stream()) == cudaSuccess);
      const std::vector<float> got = out_d.to_vector<float>(cuda.stream());
      CHECK(got == want);
    }
  }
  CHECK(mrbm::kernels::swap_outer_dims_cuda(static_cast<float*>(nullptr), nullptr, 2, 2, 2, 0.0f,
                                            cuda.stream()) == cudaErrorInvalidValue);
#endif
}

TEST_CASE("CUDA conv algorithms equal the CPU reference", "[conv][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  mrbm::CudaContext cuda;
  REQUIRE_FALSE(cuda.allow_tf32());  // the float32 error model assumes full float32 products
  std::vector<ConvCase> cases = {
      {2, 3, 16, 16, 8, 4, 4, params(2, 2, 1, 1), "layer 1 scaled down (3 -> 8)"},
      {2, 64, 16, 16, 128, 4, 4, params(2, 2, 1, 1), "layer 2 channels (64 -> 128), 16x16"},
      {2, 128, 8, 8, 256, 4, 4, params(2, 2, 1, 1), "layer 3 channels (128 -> 256), 8x8"},
      {3, 256, 4, 4, 256, 4, 4, params(2, 2, 1, 1), "layer 5 channels (256 -> 256), 4x4"},
      {3, 16, 15, 13, 12, 4, 4, params(2, 2, 1, 1), "odd sizes"},
      {1, 1, 2, 2, 1, 4, 4, params(2, 2, 1, 1), "one pixel out"},
      {2, 3, 9, 9, 5, 3, 3, params(1, 1, 1, 1), "stride 1"},
      {2, 2, 10, 11, 3, 3, 3, params(3, 3, 0, 0), "stride 3"},
      {2, 4, 5, 8, 5, 3, 4, params(2, 1, 0, 2), "mixed strides"},
      {0, 3, 8, 8, 4, 4, 4, params(2, 2, 1, 1), "empty batch"},
  };
  // 67M products per op: GPUs only (mrbm::test::gpu_scale_cases); the simulator's cuBLAS and the
  // float64 reference would take minutes. The cases above cover the same code paths.
  if (mrbm::test::gpu_scale_cases()) cases.push_back({16, 32, 32, 32, 64, 4, 4, params(2, 2, 1, 1), "batch 16, 32x32"});
  uint64_t seed = 5000;
  for (const ConvCase& c : cases) {
    for (Op op : kOps) {
      check_algo(op, c, DType::kFloat32, ConvAlgo::kIm2col, &cuda, seed += 3);
      check_algo(op, c, DType::kFloat64, ConvAlgo::kIm2col, &cuda, seed += 3);
      if (cuda.has_cudnn()) {
        // cuDNN may pick FFT or Winograd algorithms, whose rounding is bounded relative to the
        // tensor's largest |sum| rather than per element: 1e-5 of it (~170 float ulps) on top of
        // the per-element bound, still 5 orders of magnitude below an indexing error.
        check_algo(op, c, DType::kFloat32, ConvAlgo::kCudnn, &cuda, seed += 3, 1e-5);
      } else {
        CHECK_THROWS_AS(check_algo(op, c, DType::kFloat32, ConvAlgo::kCudnn, &cuda, seed),
                        mrbm::UnsupportedError);
      }
      check_algo(op, c, DType::kFloat32, ConvAlgo::kAuto, &cuda, seed += 3,
                 cuda.has_cudnn() ? 1e-5 : 0.0);
    }
  }
  {
    Im2colLimitGuard guard(1);  // one sample per chunk on the device
    const ConvCase c{5, 8, 12, 10, 6, 4, 4, params(2, 2, 1, 1), "batch 5 in 1-sample chunks"};
    for (Op op : kOps) check_algo(op, c, DType::kFloat32, ConvAlgo::kIm2col, &cuda, seed += 3);
  }
  Tensor x = Tensor::zeros({1, 1, 4, 4}, DType::kFloat32, cuda.device(), cuda.stream());
  Tensor w = Tensor::zeros({1, 1, 4, 4}, DType::kFloat32, cuda.device(), cuda.stream());
  Tensor y = Tensor::zeros({1, 1, 2, 2}, DType::kFloat32, cuda.device(), cuda.stream());
  CHECK_THROWS_AS(mrbm::conv2d(y, x, w, ConvParams{}, 0.0, &cuda, ConvAlgo::kReference),
                  mrbm::UnsupportedError);
  CHECK_THROWS_AS(mrbm::conv2d(y, x, w, ConvParams{}, 0.0, nullptr, ConvAlgo::kIm2col),
                  mrbm::InvalidArgument);
  cuda.synchronize();
#endif
}

// Issue 12, 6d: cudnnFind ranks algorithms by time alone, and the fastest backward-data and
// backward-filter algorithms of some shapes add with atomics, so two identical calls could differ
// in the last bits and a resumed run would leave the uninterrupted one. mrbm picks deterministic
// algorithms only: the same call twice gives the same bits. cuDNN builds on a GPU only (the
// simulator has no cuDNN).
TEST_CASE("cuDNN convolutions give the same bits on every call", "[conv][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  mrbm::CudaContext cuda;
  if (!cuda.has_cudnn()) {
    std::printf("note: no cuDNN in this build: nothing to check\n");
    return;
  }
  const std::vector<ConvCase> cases = {
      {128, 1, 28, 28, 64, 4, 4, params(2, 2, 1, 1), "paper layer 1, batch 128"},
      {128, 64, 14, 14, 128, 4, 4, params(2, 2, 1, 1), "paper layer 2, batch 128"},
      {128, 128, 7, 7, 256, 4, 4, params(2, 2, 1, 1), "paper layer 3, batch 128"},
  };
  uint64_t seed = 7000;
  for (const ConvCase& c : cases) {
    for (Op op : kOps) {
      INFO(c.name << ", " << op_name(op));
      const Tensor a = make_tensor(random_doubles(mrbm::shape_numel(a_shape(op, c)), ++seed), a_shape(op, c), DType::kFloat32).to(cuda.device(), cuda.stream());
      const Tensor b = make_tensor(random_doubles(mrbm::shape_numel(b_shape(op, c)), ++seed), b_shape(op, c), DType::kFloat32).to(cuda.device(), cuda.stream());
      Tensor first = Tensor::empty(out_shape(op, c), DType::kFloat32, cuda.device(), cuda.stream());
      Tensor second = Tensor::empty(out_shape(op, c), DType::kFloat32, cuda.device(), cuda.stream());
      for (int call = 0; call < 3; ++call) {  // the first call searches; later calls reuse it
        run(op, call == 0 ? first : second, a, b, c.params, 0.0, &cuda, ConvAlgo::kCudnn);
        if (call == 0) continue;
        const std::vector<float> x = first.to_vector<float>(cuda.stream());
        const std::vector<float> y = second.to_vector<float>(cuda.stream());
        int64_t differ = 0;
        for (size_t i = 0; i < x.size(); ++i) differ += !mrbm::test::same_bits(x[i], y[i]);
        CHECK(differ == 0);
      }
    }
  }
#endif
}
