// The elementwise and bias kernels (kernels/elementwise.h): each CPU op against an independent
// long double loop (float and double), the coefficient rule (zero removes a term, so NaN in an
// unread operand never propagates), aliasing of out with the inputs, argument validation; and
// [cuda] each *_cuda against its *_cpu on sizes 0, 1, 7, 1000, 1 << 20 and dense / NCHW bias
// shapes, fresh random inputs, outputs poisoned with NaN: bit for bit, since both sides perform the
// same IEEE operations in the same order with no FMA contraction.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/elementwise.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/elementwise_cuda.h"
#endif

using namespace mrbm::kernels;

namespace {

template <typename T>
std::vector<T> random_values(int64_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

template <typename T>
std::vector<T> nan_values(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
}

// Unit roundoff of T: a correctly rounded operation has relative error <= u.
template <typename T>
constexpr long double unit_roundoff() {
  return static_cast<long double>(std::numeric_limits<T>::epsilon()) / 2;
}

// Index of the first element with |got - ref| > tol[i] (or a NaN), -1 when all are within.
template <typename T>
int64_t first_outside(const std::vector<T>& got, const std::vector<long double>& ref,
                      const std::vector<long double>& tol) {
  for (size_t i = 0; i < got.size(); ++i) {
    const long double err = std::fabs(static_cast<long double>(got[i]) - ref[i]);
    if (!(err <= tol[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

// Index of the first element whose bits differ, -1 when the buffers are identical.
template <typename T>
int64_t first_bit_difference(const std::vector<T>& x, const std::vector<T>& y) {
  if (x.size() != y.size()) return 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::memcmp(&x[i], &y[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

const std::vector<int64_t> kSizes = {0, 1, 7, 1000, 4099};

}  // namespace

// Error model: out = fl(fl(fl(alpha a) + fl(beta b)) + fl(gamma out)) has at most three
// roundings on the path of each term, so |out - exact| <= gamma_3 sum |terms| < 3.01 u sum |terms|
// (Higham, Accuracy and Stability, 3.1); 4 u leaves room for the long double reference's own
// rounding (2^-64 relative). A wrong sign, coefficient or skipped term is off by O(|term|).
TEMPLATE_TEST_CASE("axpby, mul, scale and fill equal a long double loop", "[elementwise-kernels]",
                   float, double) {
  using T = TestType;
  const long double u = unit_roundoff<T>();
  const std::vector<std::tuple<double, double, double>> axpby_coefficients = {
      {1, 1, 0},     {1, -1, 0}, {0.75, -2.5, 1}, {-3, 0, 0},
      {0, 1.5, 0.5}, {1, 0, 1},  {0.1, 0.2, -0.3}};
  const std::vector<std::pair<double, double>> mul_coefficients = {
      {1, 0}, {-0.5, 1}, {2, 0.25}, {0.1, -0.7}};
  uint64_t seed = 100;
  for (int64_t n : kSizes) {
    const auto a = random_values<T>(n, -2, 2, ++seed);
    const auto b = random_values<T>(n, -2, 2, ++seed);
    const auto old = random_values<T>(n, -2, 2, ++seed);
    std::vector<long double> ref(n), tol(n);
    for (auto [alpha_d, beta_d, gamma_d] : axpby_coefficients) {
      INFO("axpby n=" << n << " alpha=" << alpha_d << " beta=" << beta_d << " gamma=" << gamma_d);
      const T alpha = static_cast<T>(alpha_d), beta = static_cast<T>(beta_d),
              gamma = static_cast<T>(gamma_d);
      // gamma = 0 must overwrite: start from NaN; otherwise out is an input.
      std::vector<T> out = gamma != T(0) ? old : nan_values<T>(n);
      REQUIRE(axpby_cpu(out.data(), a.data(), b.data(), n, alpha, beta, gamma) == Status::kOk);
      for (int64_t i = 0; i < n; ++i) {
        long double r = 0, abs_sum = 0;
        const long double terms[3] = {static_cast<long double>(alpha) * a[i],
                                      static_cast<long double>(beta) * b[i],
                                      static_cast<long double>(gamma) * old[i]};
        for (long double t : terms) {
          r += t;
          abs_sum += std::fabs(t);
        }
        ref[i] = r;
        tol[i] = 4 * u * abs_sum;
      }
      const int64_t bad = first_outside(out, ref, tol);
      INFO("first bad index " << bad);
      CHECK(bad == -1);
    }
    for (auto [alpha_d, gamma_d] : mul_coefficients) {
      INFO("mul n=" << n << " alpha=" << alpha_d << " gamma=" << gamma_d);
      const T alpha = static_cast<T>(alpha_d), gamma = static_cast<T>(gamma_d);
      std::vector<T> out = gamma != T(0) ? old : nan_values<T>(n);
      REQUIRE(mul_cpu(out.data(), a.data(), b.data(), n, alpha, gamma) == Status::kOk);
      for (int64_t i = 0; i < n; ++i) {
        const long double p = static_cast<long double>(alpha) * a[i] * b[i];
        const long double q = static_cast<long double>(gamma) * old[i];
        ref[i] = p + q;
        tol[i] = 4 * u * (std::fabs(p) + std::fabs(q));
      }
      const int64_t bad = first_outside(out, ref, tol);
      INFO("first bad index " << bad);
      CHECK(bad == -1);
    }
    {
      // scale: one rounding (|out - exact| <= u |exact|); alpha = 1 is an exact copy.
      INFO("scale n=" << n);
      std::vector<T> out = nan_values<T>(n);
      const T alpha = static_cast<T>(-0.3);
      REQUIRE(scale_cpu(out.data(), a.data(), n, alpha) == Status::kOk);
      for (int64_t i = 0; i < n; ++i) {
        ref[i] = static_cast<long double>(alpha) * a[i];
        tol[i] = 1.001L * u * std::fabs(ref[i]);
      }
      CHECK(first_outside(out, ref, tol) == -1);
      REQUIRE(scale_cpu(out.data(), a.data(), n, 1.0) == Status::kOk);
      CHECK(out == a);
    }
    {
      INFO("fill n=" << n);
      std::vector<T> out = nan_values<T>(n);
      REQUIRE(fill_cpu(out.data(), n, 0.1) == Status::kOk);
      CHECK(out == std::vector<T>(static_cast<size_t>(n), static_cast<T>(0.1)));
    }
  }
}

TEMPLATE_TEST_CASE("a zero coefficient removes its term: the operand is not read",
                   "[elementwise-kernels]", float, double) {
  using T = TestType;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  const int64_t n = 5;
  const std::vector<T> a = {1, -2, 3, 0.5, -0.25};
  const std::vector<T> b = {4, 5, -6, 2, 8};
  const std::vector<T> nans(n, nan);
  const std::vector<T> infs(n, inf);

  // gamma = 0 overwrites NaN or inf in out (0 * inf would be NaN); small integers are exact.
  std::vector<T> out = nans;
  REQUIRE(axpby_cpu(out.data(), a.data(), b.data(), n, 2.0, -1.0, 0.0) == Status::kOk);
  CHECK(out == std::vector<T>{-2, -9, 12, -1, -8.5});
  out = infs;
  REQUIRE(axpby_cpu(out.data(), a.data(), b.data(), n, 1.0, 1.0, 0.0) == Status::kOk);
  CHECK(out == std::vector<T>{5, 3, -3, 2.5, 7.75});
  // beta = 0: b may be null, and NaN in b does not propagate.
  REQUIRE(axpby_cpu(out.data(), a.data(), nullptr, n, 4.0, 0.0, 0.0) == Status::kOk);
  CHECK(out == std::vector<T>{4, -8, 12, 2, -1});
  REQUIRE(axpby_cpu(out.data(), a.data(), nans.data(), n, 4.0, 0.0, 1.0) == Status::kOk);
  CHECK(out == std::vector<T>{8, -16, 24, 4, -2});
  // alpha = 0: a may be null; out = beta b + gamma out (the accumulate of a scaled gradient).
  REQUIRE(axpby_cpu(out.data(), nullptr, b.data(), n, 0.0, 0.5, 1.0) == Status::kOk);
  CHECK(out == std::vector<T>{10, -13.5, 21, 5, 2});
  // mul with alpha = 0 reads neither factor: gamma = 1 keeps out, gamma = 0 writes zeros.
  REQUIRE(mul_cpu(out.data(), nullptr, nullptr, n, 0.0, 1.0) == Status::kOk);
  CHECK(out == std::vector<T>{10, -13.5, 21, 5, 2});
  out = nans;
  REQUIRE(mul_cpu(out.data(), nullptr, nullptr, n, 0.0, 0.0) == Status::kOk);
  CHECK(out == std::vector<T>(n, T(0)));
  // mul accumulating: out = -a b + out.
  out = {1, 1, 1, 1, 1};
  REQUIRE(mul_cpu(out.data(), a.data(), b.data(), n, -1.0, 1.0) == Status::kOk);
  CHECK(out == std::vector<T>{-3, 11, 19, 0, 3});
  // scale by 0 writes zeros without reading NaN in a.
  REQUIRE(scale_cpu(out.data(), nans.data(), n, 0.0) == Status::kOk);
  CHECK(out == std::vector<T>(n, T(0)));
  // A nonzero coefficient does read: NaN propagates (the rule is about zero, not about NaN).
  REQUIRE(axpby_cpu(out.data(), a.data(), nans.data(), n, 1.0, 1.0, 0.0) == Status::kOk);
  for (T v : out) CHECK(std::isnan(v));
}

TEMPLATE_TEST_CASE("out may alias the inputs", "[elementwise-kernels]", float, double) {
  using T = TestType;
  const int64_t n = 1001;
  const auto a = random_values<T>(n, -3, 3, 7);
  const auto b = random_values<T>(n, -3, 3, 8);
  const auto old = random_values<T>(n, -3, 3, 9);
  const T alpha = static_cast<T>(0.7), beta = static_cast<T>(-1.3), gamma = static_cast<T>(0.9);

  // axpby: out == a (gamma then weighs a itself), out == b, out == a == b.
  std::vector<T> expected = a, aliased = a;
  REQUIRE(axpby_cpu(expected.data(), a.data(), b.data(), n, alpha, beta, gamma) == Status::kOk);
  REQUIRE(axpby_cpu(aliased.data(), aliased.data(), b.data(), n, alpha, beta, gamma) ==
          Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
  expected = b;
  aliased = b;
  REQUIRE(axpby_cpu(expected.data(), a.data(), b.data(), n, alpha, beta, gamma) == Status::kOk);
  REQUIRE(axpby_cpu(aliased.data(), a.data(), aliased.data(), n, alpha, beta, gamma) ==
          Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
  expected = a;
  aliased = a;
  REQUIRE(axpby_cpu(expected.data(), a.data(), a.data(), n, alpha, beta, gamma) == Status::kOk);
  REQUIRE(axpby_cpu(aliased.data(), aliased.data(), aliased.data(), n, alpha, beta, gamma) ==
          Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
  // The aliased call really computed something: (alpha + beta + gamma) a, not a.
  CHECK(first_bit_difference(aliased, a) != -1);

  // mul: out == a (squares when b == a too).
  expected = old;
  aliased = a;
  REQUIRE(mul_cpu(expected.data(), a.data(), b.data(), n, alpha, 0.0) == Status::kOk);
  REQUIRE(mul_cpu(aliased.data(), aliased.data(), b.data(), n, alpha, 0.0) == Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
  expected = a;
  aliased = a;
  REQUIRE(mul_cpu(expected.data(), a.data(), a.data(), n, 1.0, 1.0) == Status::kOk);
  REQUIRE(mul_cpu(aliased.data(), aliased.data(), aliased.data(), n, 1.0, 1.0) == Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);

  // scale and add_bias in place.
  expected = old;
  aliased = a;
  REQUIRE(scale_cpu(expected.data(), a.data(), n, alpha) == Status::kOk);
  REQUIRE(scale_cpu(aliased.data(), aliased.data(), n, alpha) == Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
  const int64_t rows = 7, channels = 11, inner = 13;
  const auto x = random_values<T>(rows * channels * inner, -1, 1, 10);
  const auto bias = random_values<T>(channels, -1, 1, 11);
  expected = nan_values<T>(rows * channels * inner);
  aliased = x;
  REQUIRE(add_bias_cpu(expected.data(), x.data(), bias.data(), rows, channels, inner) ==
          Status::kOk);
  REQUIRE(add_bias_cpu(aliased.data(), aliased.data(), bias.data(), rows, channels, inner) ==
          Status::kOk);
  CHECK(first_bit_difference(aliased, expected) == -1);
}

// Error model: one correctly rounded addition, |out - exact| <= u |exact|; the long double
// reference adds with 2^-64 relative error, covered by the factor 1.001. The reference indexes the
// bias as the brief states it, bias[c / inner % channels], independently of bias_channel().
TEMPLATE_TEST_CASE("add_bias equals a long double loop for dense and NCHW layouts",
                   "[elementwise-kernels]", float, double) {
  using T = TestType;
  const long double u = unit_roundoff<T>();
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 3, 4}, {3, 0, 4},    {1, 1, 1},    {2, 3, 1},
      {7, 3, 5}, {5, 1000, 1}, {4, 64, 256}, {3, 2, 4099}};
  uint64_t seed = 500;
  for (auto [rows, channels, inner] : shapes) {
    INFO("rows=" << rows << " channels=" << channels << " inner=" << inner);
    const int64_t cols = channels * inner, n = rows * cols;
    const auto x = random_values<T>(n, -4, 4, ++seed);
    // Biases of a very different scale, so that a wrong channel is never within tolerance.
    auto bias = random_values<T>(channels, -1, 1, ++seed);
    for (int64_t ch = 0; ch < channels; ++ch) bias[ch] += static_cast<T>(10 * ch);
    std::vector<T> out = nan_values<T>(n);
    REQUIRE(add_bias_cpu(out.data(), x.data(), bias.data(), rows, channels, inner) == Status::kOk);
    std::vector<long double> ref(n), tol(n);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = r * cols + c;
        ref[i] = static_cast<long double>(x[i]) + bias[c / inner % channels];
        tol[i] = 1.001L * u * std::fabs(ref[i]);
      }
    }
    const int64_t bad = first_outside(out, ref, tol);
    INFO("first bad index " << bad);
    CHECK(bad == -1);
  }
}

TEST_CASE("elementwise CPU ops reject invalid arguments", "[elementwise-kernels]") {
  float buf[4] = {1, 2, 3, 4};
  float out[4] = {0, 0, 0, 0};
  CHECK(axpby_cpu(out, buf, buf, -1, 1.0, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(axpby_cpu<float>(nullptr, buf, buf, 4, 1.0, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(axpby_cpu<float>(out, nullptr, buf, 4, 1.0, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(axpby_cpu<float>(out, buf, nullptr, 4, 1.0, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(mul_cpu<float>(out, buf, nullptr, 4, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(mul_cpu(out, buf, buf, -2, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(scale_cpu<float>(out, nullptr, 4, 2.0) == Status::kInvalidArgument);
  CHECK(fill_cpu<float>(nullptr, 4, 1.0) == Status::kInvalidArgument);
  CHECK(fill_cpu(out, -1, 1.0) == Status::kInvalidArgument);
  CHECK(add_bias_cpu(out, buf, buf, 1, 2, 0) == Status::kInvalidArgument);   // inner < 1
  CHECK(add_bias_cpu(out, buf, buf, -1, 2, 2) == Status::kInvalidArgument);  // rows < 0
  CHECK(add_bias_cpu(out, buf, buf, 1, -2, 2) == Status::kInvalidArgument);  // channels < 0
  CHECK(add_bias_cpu<float>(out, buf, nullptr, 1, 2, 2) == Status::kInvalidArgument);
  CHECK(add_bias_cpu(out, buf, buf, int64_t(1) << 40, int64_t(1) << 20, int64_t(1) << 10) ==
        Status::kInvalidArgument);  // rows * cols overflows int64
  // Nothing was written by a rejected call.
  CHECK(out[0] == 0.0f);
  // Empty calls are valid with null pointers.
  CHECK(axpby_cpu<float>(nullptr, nullptr, nullptr, 0, 1.0, 1.0, 1.0) == Status::kOk);
  CHECK(add_bias_cpu<float>(nullptr, nullptr, nullptr, 0, 5, 3) == Status::kOk);
}

#if defined(MRBM_WITH_CUDA)
namespace {

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&ptr), sizeof(T) * (n > 0 ? n : 1)) == cudaSuccess);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr); }
  void upload(const std::vector<T>& v) {
    REQUIRE(v.size() == count);
    REQUIRE(cudaMemcpy(ptr, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> v(count);
    REQUIRE(cudaMemcpy(v.data(), ptr, sizeof(T) * count, cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
};

void sync_ok() { REQUIRE(cudaDeviceSynchronize() == cudaSuccess); }

}  // namespace
#endif

TEST_CASE("CUDA elementwise ops equal the CPU bit for bit", "[elementwise-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const std::vector<std::tuple<float, float, float>> axpby_coefficients = {
      {1, 1, 0}, {1, -1, 0}, {0.75f, -2.5f, 1}, {-3, 0, 0}, {0, 1.5f, 0.5f}, {0.1f, 0.2f, -0.3f}};
  const std::vector<std::pair<float, float>> mul_coefficients = {{1, 0}, {-0.5f, 1}, {0.1f, -0.7f}};
  uint64_t seed = 1000;
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(1000), int64_t(1) << 20}) {
    // Fresh inputs per size; exponents spread over [2^-20, 2^20] so that products and sums round.
    auto a = random_values<float>(n, -2, 2, ++seed);
    auto b = random_values<float>(n, -2, 2, ++seed);
    const auto scales = random_values<float>(n, -20, 20, ++seed);
    for (int64_t i = 0; i < n; ++i) b[i] *= std::exp2(std::round(scales[i]));
    const auto old = random_values<float>(n, -2, 2, ++seed);
    DeviceBuffer<float> d_a(n), d_b(n), d_out(n);
    d_a.upload(a);
    d_b.upload(b);
    for (auto [alpha, beta, gamma] : axpby_coefficients) {
      INFO("axpby n=" << n << " alpha=" << alpha << " beta=" << beta << " gamma=" << gamma);
      std::vector<float> out = gamma != 0 ? old : nan_values<float>(n);
      d_out.upload(out);  // poisoned when gamma = 0
      REQUIRE(axpby_cpu(out.data(), a.data(), b.data(), n, alpha, beta, gamma) == Status::kOk);
      REQUIRE(axpby_cuda(d_out.ptr, d_a.ptr, d_b.ptr, n, alpha, beta, gamma, nullptr) ==
              cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
    }
    for (auto [alpha, gamma] : mul_coefficients) {
      INFO("mul n=" << n << " alpha=" << alpha << " gamma=" << gamma);
      std::vector<float> out = gamma != 0 ? old : nan_values<float>(n);
      d_out.upload(out);
      REQUIRE(mul_cpu(out.data(), a.data(), b.data(), n, alpha, gamma) == Status::kOk);
      REQUIRE(mul_cuda(d_out.ptr, d_a.ptr, d_b.ptr, n, alpha, gamma, nullptr) == cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
    }
    {
      INFO("scale and fill n=" << n);
      std::vector<float> out(n);
      d_out.upload(nan_values<float>(n));
      REQUIRE(scale_cpu(out.data(), b.data(), n, -0.3) == Status::kOk);
      REQUIRE(scale_cuda(d_out.ptr, d_b.ptr, n, -0.3f, nullptr) == cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
      d_out.upload(nan_values<float>(n));
      REQUIRE(fill_cpu(out.data(), n, 0.1) == Status::kOk);
      REQUIRE(fill_cuda(d_out.ptr, n, 0.1f, nullptr) == cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
    }
    {
      // In place on the device (out == a == b, gamma = 1): the same bits as the CPU in place.
      INFO("aliased n=" << n);
      std::vector<float> out = a;
      d_out.upload(a);
      REQUIRE(axpby_cpu(out.data(), out.data(), out.data(), n, 0.7, -1.3, 1.0) == Status::kOk);
      REQUIRE(axpby_cuda(d_out.ptr, d_out.ptr, d_out.ptr, n, 0.7f, -1.3f, 1.0f, nullptr) ==
              cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
      out = a;
      d_out.upload(a);
      REQUIRE(mul_cpu(out.data(), out.data(), b.data(), n, 1.0, 0.0) == Status::kOk);
      REQUIRE(mul_cuda(d_out.ptr, d_out.ptr, d_b.ptr, n, 1.0f, 0.0f, nullptr) == cudaSuccess);
      sync_ok();
      CHECK(first_bit_difference(d_out.download(), out) == -1);
    }
  }
#endif
}

TEST_CASE("CUDA add_bias equals the CPU bit for bit", "[elementwise-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 3, 4},      {3, 0, 4},          {1, 1, 1},       {1, 7, 1},       {7, 3, 5},
      {128, 1000, 1}, {128, 64, 16 * 16}, {1, 1 << 20, 1}, {1 << 17, 1, 1}, {3, 5, 99999}};
  uint64_t seed = 2000;
  for (auto [rows, channels, inner] : shapes) {
    INFO("rows=" << rows << " channels=" << channels << " inner=" << inner);
    const int64_t n = rows * channels * inner;
    const auto x = random_values<float>(n, -4, 4, ++seed);
    const auto bias = random_values<float>(channels, -100, 100, ++seed);
    std::vector<float> out = nan_values<float>(n);
    REQUIRE(add_bias_cpu(out.data(), x.data(), bias.data(), rows, channels, inner) == Status::kOk);
    DeviceBuffer<float> d_x(n), d_bias(channels), d_out(n);
    d_x.upload(x);
    d_bias.upload(bias);
    d_out.upload(nan_values<float>(n));
    REQUIRE(add_bias_cuda(d_out.ptr, d_x.ptr, d_bias.ptr, rows, channels, inner, nullptr) ==
            cudaSuccess);
    sync_ok();
    CHECK(first_bit_difference(d_out.download(), out) == -1);
    // In place (out == x).
    d_out.upload(x);
    REQUIRE(add_bias_cuda(d_out.ptr, d_out.ptr, d_bias.ptr, rows, channels, inner, nullptr) ==
            cudaSuccess);
    sync_ok();
    CHECK(first_bit_difference(d_out.download(), out) == -1);
  }
#endif
}

TEST_CASE("CUDA elementwise launchers reject invalid arguments", "[elementwise-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  DeviceBuffer<float> d(4);
  CHECK(axpby_cuda(d.ptr, d.ptr, d.ptr, -1, 1, 1, 0, nullptr) == cudaErrorInvalidValue);
  CHECK(axpby_cuda(d.ptr, d.ptr, nullptr, 4, 1, 1, 0, nullptr) == cudaErrorInvalidValue);
  CHECK(mul_cuda(nullptr, d.ptr, d.ptr, 4, 1, 0, nullptr) == cudaErrorInvalidValue);
  CHECK(scale_cuda(d.ptr, nullptr, 4, 2, nullptr) == cudaErrorInvalidValue);
  CHECK(fill_cuda(d.ptr, -4, 2, nullptr) == cudaErrorInvalidValue);
  CHECK(add_bias_cuda(d.ptr, d.ptr, d.ptr, 1, 2, 0, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);  // nothing was launched
  // Size 0 launches nothing and succeeds, even with null pointers.
  CHECK(axpby_cuda(nullptr, nullptr, nullptr, 0, 1, 1, 1, nullptr) == cudaSuccess);
  CHECK(add_bias_cuda(nullptr, nullptr, nullptr, 0, 3, 3, nullptr) == cudaSuccess);
#endif
}
