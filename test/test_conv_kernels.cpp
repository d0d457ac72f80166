// The convolution and GEMM references and im2col/col2im [conv-kernels]: conv2d on cases computed
// by hand and against an explicitly padded formula, the adjoint identity of conv_transpose2d, the
// weight gradient against central finite differences, conv via im2col + GEMM (forward, weight
// gradient, transpose via GEMM + col2im), gemm_reference against a naive triple loop, argument
// validation; and [cuda]: im2col_cuda / col2im_cuda against the CPU versions.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv_reference.h"
#include "kernels/conv_shape.h"
#include "kernels/gemm_reference.h"
#include "kernels/im2col.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/im2col_cuda.h"
#endif

using namespace mrbm::kernels;

namespace {

template <class T>
std::vector<T> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

template <class T>
std::vector<double> abs_double(const std::vector<T>& v) {
  std::vector<double> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(static_cast<double>(v[i]));
  return a;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::string describe(const ConvShape& s) {
  return "B" + std::to_string(s.batch) + " Cin" + std::to_string(s.in_channels) + " " +
         std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " Cout" +
         std::to_string(s.out_channels) + " k" + std::to_string(s.kernel_h) + "x" +
         std::to_string(s.kernel_w) + " s" + std::to_string(s.stride_h) + "," +
         std::to_string(s.stride_w) + " p" + std::to_string(s.pad_h) + "," +
         std::to_string(s.pad_w) + " -> " + std::to_string(s.out_h) + "x" + std::to_string(s.out_w);
}

ConvShape shape(int64_t b, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw,
                int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  return make_conv_shape(b, cin, h, w, cout, kh, kw, sh, sw, ph, pw);
}

// Shapes for the CPU property tests: the paper's layer (k 4, s 2, p 1), odd sizes, strides 1/2/3,
// pads 0/1/2, sizes the windows do not tile exactly ((H + 2p - k) % s != 0: rows that no window
// reaches), non-square kernels and strides, padding as large as the kernel, several channels and
// batches of more than one sample.
std::vector<ConvShape> property_shapes() {
  return {
      shape(2, 3, 8, 8, 4, 4, 4, 2, 2, 1, 1),    // the paper's layer, scaled down
      shape(3, 2, 7, 9, 3, 4, 4, 2, 2, 1, 1),    // odd sizes with k 4 s 2 p 1
      shape(1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0),    // stride 1 pad 0
      shape(2, 3, 6, 5, 2, 3, 3, 1, 1, 1, 1),    // same-size output
      shape(2, 2, 9, 7, 3, 3, 2, 3, 3, 2, 2),    // stride 3 pad 2, non-square kernel
      shape(1, 3, 10, 11, 2, 5, 3, 2, 3, 2, 0),  // mixed strides and pads
      shape(2, 2, 6, 6, 2, 1, 1, 2, 2, 1, 1),    // pad >= kernel: outer outputs are 0
      shape(1, 2, 4, 4, 3, 4, 4, 1, 1, 0, 0),    // kernel as large as the image: 1x1 output
      shape(3, 1, 8, 6, 1, 2, 2, 2, 2, 0, 0),    // non-overlapping windows
      shape(2, 4, 5, 8, 5, 3, 4, 2, 1, 0, 2),    // (H + 2p - k) % s != 0
  };
}

// conv2d written differently from conv2d_reference: copy x into an explicitly zero-padded image,
// then take dense windows (no bounds tests inside the sum).
std::vector<double> conv2d_padded(const std::vector<double>& x, const std::vector<double>& w,
                                  const ConvShape& s) {
  const int64_t hp = s.in_h + 2 * s.pad_h, wp = s.in_w + 2 * s.pad_w;
  std::vector<double> padded(static_cast<size_t>(s.batch * s.in_channels * hp * wp), 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t c = 0; c < s.in_channels; ++c)
      for (int64_t h = 0; h < s.in_h; ++h)
        for (int64_t v = 0; v < s.in_w; ++v)
          padded[((b * s.in_channels + c) * hp + h + s.pad_h) * wp + v + s.pad_w] =
              x[((b * s.in_channels + c) * s.in_h + h) * s.in_w + v];
  std::vector<double> y(static_cast<size_t>(conv_output_count(s)));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t co = 0; co < s.out_channels; ++co)
      for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          double acc = 0.0;
          for (int64_t ci = 0; ci < s.in_channels; ++ci)
            for (int64_t i = 0; i < s.kernel_h; ++i)
              for (int64_t j = 0; j < s.kernel_w; ++j)
                acc += w[((co * s.in_channels + ci) * s.kernel_h + i) * s.kernel_w + j] *
                       padded[((b * s.in_channels + ci) * hp + oh * s.stride_h + i) * wp +
                              ow * s.stride_w + j];
          y[((b * s.out_channels + co) * s.out_h + oh) * s.out_w + ow] = acc;
        }
  return y;
}

template <class T>
std::vector<T> conv2d(const std::vector<T>& x, const std::vector<T>& w, const ConvShape& s) {
  std::vector<T> y(static_cast<size_t>(conv_output_count(s)));
  REQUIRE(conv2d_reference(y.data(), x.data(), w.data(), s) == Status::kOk);
  return y;
}

template <class T>
std::vector<T> conv_transpose2d(const std::vector<T>& y, const std::vector<T>& w,
                                const ConvShape& s) {
  std::vector<T> x(static_cast<size_t>(conv_input_count(s)));
  REQUIRE(conv_transpose2d_reference(x.data(), y.data(), w.data(), s) == Status::kOk);
  return x;
}

// [B, C, P] <-> [C, B, P]: NCHW to the [channels, batch * positions] order of a one-GEMM conv.
template <class T>
std::vector<T> nchw_to_cnhw(const std::vector<T>& a, int64_t batch, int64_t channels, int64_t p) {
  std::vector<T> out(a.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t q = 0; q < p; ++q) out[(c * batch + b) * p + q] = a[(b * channels + c) * p + q];
  return out;
}

template <class T>
std::vector<T> cnhw_to_nchw(const std::vector<T>& a, int64_t batch, int64_t channels, int64_t p) {
  std::vector<T> out(a.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t q = 0; q < p; ++q) out[(b * channels + c) * p + q] = a[(c * batch + b) * p + q];
  return out;
}

// The most terms col2im adds for one pixel: ceil(kh / sh) * ceil(kw / sw).
int64_t col2im_max_terms(const ConvShape& s) {
  return ((s.kernel_h + s.stride_h - 1) / s.stride_h) *
         ((s.kernel_w + s.stride_w - 1) / s.stride_w);
}

constexpr double kFloatEps = 1.0 / (1 << 24);  // unit roundoff of float (2^-24)

}  // namespace

TEST_CASE("ConvShape: output size, counts and validation", "[conv-kernels]") {
  const ConvShape s = shape(5, 3, 64, 64, 64, 4, 4, 2, 2, 1, 1);
  CHECK(s.out_h == 32);
  CHECK(s.out_w == 32);
  CHECK(validate_conv_shape(s) == Status::kOk);
  CHECK(conv_input_count(s) == 5 * 3 * 64 * 64);
  CHECK(conv_output_count(s) == 5 * 64 * 32 * 32);
  CHECK(conv_weight_count(s) == 64 * 3 * 16);
  CHECK(conv_col_rows(s) == 3 * 16);
  CHECK(conv_col_cols(s) == 5 * 32 * 32);
  CHECK(conv_col_count(s) == 3 * 16 * 5 * 32 * 32);
  // (7 + 2 - 4) / 2 + 1 = 3 (floor): the last input row is reached by no window.
  CHECK(shape(1, 1, 7, 7, 1, 4, 4, 2, 2, 1, 1).out_h == 3);
  CHECK(shape(1, 1, 5, 9, 1, 3, 2, 3, 2, 2, 0).out_h == 3);
  CHECK(shape(1, 1, 5, 9, 1, 3, 2, 3, 2, 2, 0).out_w == 4);
  // Empty batches and channel counts are valid.
  CHECK(validate_conv_shape(shape(0, 3, 8, 8, 4, 4, 4, 2, 2, 1, 1)) == Status::kOk);
  CHECK(validate_conv_shape(shape(2, 0, 8, 8, 0, 4, 4, 2, 2, 1, 1)) == Status::kOk);

  const Status bad = Status::kInvalidArgument;
  CHECK(validate_conv_shape(shape(-1, 3, 8, 8, 4, 4, 4, 2, 2, 1, 1)) == bad);
  CHECK(validate_conv_shape(shape(1, 3, 8, 8, 4, 0, 4, 2, 2, 1, 1)) == bad);   // kernel 0
  CHECK(validate_conv_shape(shape(1, 3, 8, 8, 4, 4, 4, 0, 2, 1, 1)) == bad);   // stride 0
  CHECK(validate_conv_shape(shape(1, 3, 8, 8, 4, 4, 4, 2, 2, -1, 1)) == bad);  // pad < 0
  CHECK(validate_conv_shape(shape(1, 3, 2, 8, 4, 5, 4, 2, 2, 1, 1)) == bad);   // 2 + 2 < 5
  ConvShape inconsistent = s;
  inconsistent.out_h = 31;  // a hand-filled shape that disagrees with the formula
  CHECK(validate_conv_shape(inconsistent) == bad);
  // Element counts that overflow int64_t.
  CHECK(validate_conv_shape(
            shape(int64_t{1} << 31, 1 << 16, 1 << 16, 1 << 16, 1, 1, 1, 1, 1, 0, 0)) == bad);
}

TEST_CASE("conv2d and conv_transpose2d references on cases computed by hand", "[conv-kernels]") {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 1 x 1 x 3 x 3
  const std::vector<double> w = {1, 2, 3, 4};                 // 1 x 1 x 2 x 2
  SECTION("stride 1, pad 0") {
    // y[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37, then shift the window by one pixel.
    const ConvShape s = shape(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0);
    CHECK(conv2d(x, w, s) == std::vector<double>{37, 47, 67, 77});
  }
  SECTION("stride 2, pad 1") {
    // Windows start at (-1, -1), (-1, 1), (1, -1), (1, 1): y[0,0] = 4*x(0,0) = 4;
    // y[0,1] = 3*x(0,1) + 4*x(0,2) = 18; y[1,0] = 2*x(1,0) + 4*x(2,0) = 36;
    // y[1,1] = 1*5 + 2*6 + 3*8 + 4*9 = 77.
    const ConvShape s = shape(1, 1, 3, 3, 1, 2, 2, 2, 2, 1, 1);
    CHECK(conv2d(x, w, s) == std::vector<double>{4, 18, 36, 77});
  }
  SECTION("1x1 kernel mixes channels per pixel; batch entries are independent") {
    // x: 2 x 2 x 1 x 2, sample 1 = 2 * sample 0; w [co][ci] = {{1, 10}, {100, 1000}}.
    const std::vector<float> xc = {1, 2, 3, 4, 2, 4, 6, 8};
    const std::vector<float> wc = {1, 10, 100, 1000};
    const ConvShape s = shape(2, 2, 1, 2, 2, 1, 1, 1, 1, 0, 0);
    CHECK(conv2d(xc, wc, s) == std::vector<float>{31, 42, 3100, 4200, 62, 84, 6200, 8400});
  }
  SECTION("the transpose of a unit impulse is the filter placed at its window") {
    const ConvShape s = shape(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0);
    CHECK(conv_transpose2d(std::vector<double>{1, 0, 0, 0}, w, s) ==
          std::vector<double>{1, 2, 0, 3, 4, 0, 0, 0, 0});
    CHECK(conv_transpose2d(std::vector<double>{0, 0, 0, 1}, w, s) ==
          std::vector<double>{0, 0, 0, 0, 1, 2, 0, 3, 4});
    // Stride 2 pad 1, impulse at output (1, 1): the window starts at (1, 1).
    const ConvShape s2 = shape(1, 1, 3, 3, 1, 2, 2, 2, 2, 1, 1);
    CHECK(conv_transpose2d(std::vector<double>{0, 0, 0, 1}, w, s2) ==
          std::vector<double>{0, 0, 0, 0, 1, 2, 0, 3, 4});
    // Impulse at output (0, 0): only the tap (1, 1) of its window lands inside the image.
    CHECK(conv_transpose2d(std::vector<double>{1, 0, 0, 0}, w, s2) ==
          std::vector<double>{4, 0, 0, 0, 0, 0, 0, 0, 0});
  }
}

TEST_CASE("conv2d reference equals an explicitly zero-padded formula", "[conv-kernels]") {
  uint64_t seed = 100;
  for (const ConvShape& s : property_shapes()) {
    INFO(describe(s));
    const auto x = random_values<double>(conv_input_count(s), ++seed);
    const auto w = random_values<double>(conv_weight_count(s), ++seed);
    const auto y = conv2d(x, w, s);
    const auto expected = conv2d_padded(x, w, s);
    const auto bound = conv2d(abs_double(x), abs_double(w), s);  // sum of |terms| per output
    // Both sum at most Cin kh kw double products; the padded version adds exact zeros in between:
    // |difference| <= 2 Cin kh kw 2^-53 sum|terms| < 1e-13 sum|terms| for these sizes.
    for (size_t i = 0; i < y.size(); ++i)
      REQUIRE(std::fabs(y[i] - expected[i]) <= 1e-13 * bound[i]);
  }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d", "[conv-kernels]") {
  uint64_t seed = 200;
  for (const ConvShape& s : property_shapes()) {
    INFO(describe(s));
    const auto x = random_values<double>(conv_input_count(s), ++seed);
    const auto w = random_values<double>(conv_weight_count(s), ++seed);
    const auto y = random_values<double>(conv_output_count(s), ++seed);
    const double lhs = dot(conv2d(x, w, s), y);
    const double rhs = dot(x, conv_transpose2d(y, w, s));
    // Both sides add the same products x w y (each once) in different orders, in double. The sum
    // of their magnitudes is <|conv2d(|x|, |w|)|, |y|>; the two roundings differ by at most
    // 2 n 2^-53 of it with n <= the number of terms (< 5e3 here): 1e-12 relative to that sum.
    const double magnitude = dot(conv2d(abs_double(x), abs_double(w), s), abs_double(y));
    REQUIRE(magnitude > 0.0);
    CHECK(std::fabs(lhs - rhs) <= 1e-12 * magnitude);
    // Not a vacuous 0 == 0: random signs leave |<conv2d(x, w), y>| near sqrt(terms) / terms of
    // the magnitude, far above 1e-6 of it.
    CHECK(std::fabs(lhs) > 1e-6 * magnitude);
  }
}

TEST_CASE("conv2d weight gradient equals central finite differences", "[conv-kernels]") {
  uint64_t seed = 300;
  for (const ConvShape& s : property_shapes()) {
    INFO(describe(s));
    const auto x = random_values<double>(conv_input_count(s), ++seed);
    auto w = random_values<double>(conv_weight_count(s), ++seed);
    const auto g = random_values<double>(conv_output_count(s), ++seed);
    std::vector<double> dw(w.size(), std::numeric_limits<double>::quiet_NaN());
    REQUIRE(conv2d_weight_grad_reference(dw.data(), x.data(), g.data(), s) == Status::kOk);

    // L(w) = <conv2d(x, w), g> is linear in w, so the central difference has no truncation error
    // for any step: h = 0.5 keeps the rounding error small. Each L is a double sum whose rounding
    // is at most n 2^-53 S (n < 5e3 terms, S = sum of |terms| with |w| + h): the difference
    // quotient is off by at most 2 n 2^-53 S / (2 h) < 1e-11 S.
    const double h = 0.5;
    auto wa = abs_double(w);
    for (auto& v : wa) v += h;
    const double magnitude = dot(conv2d(abs_double(x), wa, s), abs_double(g));
    for (size_t e = 0; e < w.size(); ++e) {
      const double saved = w[e];
      w[e] = saved + h;
      const double plus = dot(conv2d(x, w, s), g);
      w[e] = saved - h;
      const double minus = dot(conv2d(x, w, s), g);
      w[e] = saved;
      REQUIRE(std::fabs((plus - minus) / (2 * h) - dw[e]) <= 1e-11 * magnitude);
    }
  }
}

TEST_CASE("col2im is the adjoint of im2col", "[conv-kernels]") {
  uint64_t seed = 400;
  for (const ConvShape& s : property_shapes()) {
    INFO(describe(s));
    const auto x = random_values<double>(conv_input_count(s), ++seed);
    const auto c = random_values<double>(conv_col_count(s), ++seed);
    std::vector<double> col(c.size(), std::numeric_limits<double>::quiet_NaN());
    std::vector<double> xt(x.size(), std::numeric_limits<double>::quiet_NaN());
    REQUIRE(im2col_cpu(col.data(), x.data(), s) == Status::kOk);
    REQUIRE(col2im_cpu(xt.data(), c.data(), s) == Status::kOk);
    // Same error model as the conv adjoint: one product per col entry, two summation orders.
    const double lhs = dot(col, c), rhs = dot(x, xt);
    std::vector<double> col_abs(c.size());
    REQUIRE(im2col_cpu(col_abs.data(), abs_double(x).data(), s) == Status::kOk);
    const double magnitude = dot(col_abs, abs_double(c));
    CHECK(std::fabs(lhs - rhs) <= 1e-12 * magnitude);
  }
}

TEST_CASE("conv2d via im2col and GEMM equals the direct references", "[conv-kernels]") {
  uint64_t seed = 500;
  for (const ConvShape& s : property_shapes()) {
    INFO(describe(s));
    const int64_t k = conv_col_rows(s), n = conv_col_cols(s), p = s.out_h * s.out_w;
    const int64_t cout = s.out_channels;
    const auto x = random_values<float>(conv_input_count(s), ++seed);
    const auto w = random_values<float>(conv_weight_count(s), ++seed);
    const auto dy = random_values<float>(conv_output_count(s), ++seed);
    std::vector<float> col = mrbm::test::poisoned(conv_col_count(s));
    REQUIRE(im2col_cpu(col.data(), x.data(), s) == Status::kOk);
    for (float v : col) REQUIRE(!std::isnan(v));  // every entry written, padding included

    // Forward. conv2d_reference and gemm_reference both accumulate exact float products in
    // double and round once, so each result is the float nearest to a double sum; the two double
    // sums differ by at most 2 K 2^-53 S (S = sum of |terms|), so the floats are at most one
    // rounding apart: |gemm - ref| <= 2^-23 |ref| + 1e-12 S.
    const auto y_ref = conv2d(x, w, s);
    const auto y_abs = conv2d(abs_double(x), abs_double(w), s);
    auto check_y = [&](const std::vector<float>& y) {
      for (size_t i = 0; i < y.size(); ++i)
        REQUIRE(std::fabs(double(y[i]) - y_ref[i]) <=
                2 * kFloatEps * std::fabs(y_ref[i]) + 1e-12 * y_abs[i]);
    };
    // One GEMM over the whole batch: Y_cnhw [Cout, N] = W [Cout, K] col [K, N].
    std::vector<float> y_cnhw = mrbm::test::poisoned(conv_output_count(s));
    REQUIRE(gemm_reference(false, false, cout, n, k, 1.0f, w.data(), k, col.data(), n, 0.0f,
                           y_cnhw.data(), n) == Status::kOk);
    check_y(cnhw_to_nchw(y_cnhw, s.batch, cout, p));
    // Per sample straight into NCHW: col's column slice b has leading dimension N.
    std::vector<float> y_nchw = mrbm::test::poisoned(conv_output_count(s));
    for (int64_t b = 0; b < s.batch; ++b)
      REQUIRE(gemm_reference(false, false, cout, p, k, 1.0f, w.data(), k, col.data() + b * p, n,
                             0.0f, y_nchw.data() + b * cout * p, p) == Status::kOk);
    check_y(y_nchw);

    // Weight gradient, one GEMM: dW [Cout, K] = dY_cnhw [Cout, N] col^T. Same error model.
    std::vector<float> dw_ref(w.size());
    REQUIRE(conv2d_weight_grad_reference(dw_ref.data(), x.data(), dy.data(), s) == Status::kOk);
    std::vector<double> dw_abs(w.size());
    REQUIRE(conv2d_weight_grad_reference(dw_abs.data(), abs_double(x).data(), abs_double(dy).data(),
                                         s) == Status::kOk);
    const auto dy_cnhw = nchw_to_cnhw(dy, s.batch, cout, p);
    std::vector<float> dw = mrbm::test::poisoned(conv_weight_count(s));
    REQUIRE(gemm_reference(false, true, cout, k, n, 1.0f, dy_cnhw.data(), n, col.data(), n, 0.0f,
                           dw.data(), k) == Status::kOk);
    for (size_t i = 0; i < dw.size(); ++i)
      REQUIRE(std::fabs(double(dw[i]) - dw_ref[i]) <=
              2 * kFloatEps * std::fabs(dw_ref[i]) + 1e-12 * dw_abs[i]);

    // Transpose: col_t = W^T dY_cnhw (one GEMM), then col2im. Each col_t entry is rounded once
    // (2^-24 relative); col2im adds at most T = ceil(kh/sh) ceil(kw/sw) of them in float
    // ((T - 1) 2^-24 of the sum of their magnitudes); the reference rounds once more. So
    // |col2im - ref| <= (T + 2) 2^-24 A, A = conv_transpose2d(|dy|, |w|) in double.
    std::vector<float> col_t = mrbm::test::poisoned(conv_col_count(s));
    REQUIRE(gemm_reference(true, false, k, n, cout, 1.0f, w.data(), k, dy_cnhw.data(), n, 0.0f,
                           col_t.data(), n) == Status::kOk);
    std::vector<float> xt = mrbm::test::poisoned(conv_input_count(s));
    REQUIRE(col2im_cpu(xt.data(), col_t.data(), s) == Status::kOk);
    const auto xt_ref = conv_transpose2d(dy, w, s);
    const auto xt_abs = conv_transpose2d(abs_double(dy), abs_double(w), s);
    const double terms = static_cast<double>(col2im_max_terms(s));
    for (size_t i = 0; i < xt.size(); ++i)
      REQUIRE(std::fabs(double(xt[i]) - xt_ref[i]) <= (terms + 2) * kFloatEps * xt_abs[i]);
  }
}

namespace {

// C = alpha op(A) op(B) + beta C by the definition, in double, with A and B addressed through
// their (row, column) in op() terms, independently of gemm_reference's loop.
template <class T>
std::vector<double> naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                               const std::vector<T>& a, int64_t lda, const std::vector<T>& b,
                               int64_t ldb, double beta, const std::vector<T>& c, int64_t ldc,
                               std::vector<double>* magnitude) {
  auto op_a = [&](int64_t i, int64_t l) { return double(ta ? a[l * lda + i] : a[i * lda + l]); };
  auto op_b = [&](int64_t l, int64_t j) { return double(tb ? b[j * ldb + l] : b[l * ldb + j]); };
  std::vector<double> out(static_cast<size_t>(m * n));
  magnitude->assign(out.size(), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0, mag = 0.0;
      for (int64_t l = 0; l < k; ++l) {
        acc += op_a(i, l) * op_b(l, j);
        mag += std::fabs(op_a(i, l) * op_b(l, j));
      }
      const double cij = beta != 0.0 ? double(c[i * ldc + j]) : 0.0;
      out[i * n + j] = alpha * acc + beta * cij;
      (*magnitude)[i * n + j] = std::fabs(alpha) * mag + std::fabs(beta * cij);
    }
  return out;
}

template <class T>
void check_gemm_all_transposes(double tolerance, uint64_t seed) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const int64_t m = 7, n = 5, k = 9;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, -0.75}) {
        INFO("trans_a=" << ta << " trans_b=" << tb << " beta=" << beta);
        // Leading dimensions larger than the rows, with NaN in the gaps: reading a gap (a wrong
        // stride or a wrong transpose) poisons the result.
        const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
        const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
        const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 4;
        std::vector<T> a(static_cast<size_t>(a_rows * lda), nan);
        std::vector<T> b(static_cast<size_t>(b_rows * ldb), nan);
        std::vector<T> c(static_cast<size_t>(m * ldc), nan);
        const auto av = random_values<T>(a_rows * a_cols, ++seed);
        const auto bv = random_values<T>(b_rows * b_cols, ++seed);
        const auto cv = random_values<T>(m * n, ++seed);
        for (int64_t r = 0; r < a_rows; ++r)
          for (int64_t q = 0; q < a_cols; ++q) a[r * lda + q] = av[r * a_cols + q];
        for (int64_t r = 0; r < b_rows; ++r)
          for (int64_t q = 0; q < b_cols; ++q) b[r * ldb + q] = bv[r * b_cols + q];
        // beta == 0: C stays NaN and must be ignored; otherwise C holds values.
        if (beta != 0.0)
          for (int64_t r = 0; r < m; ++r)
            for (int64_t q = 0; q < n; ++q) c[r * ldc + q] = cv[r * n + q];
        const std::vector<T> c_in = c;
        const T alpha = T(1.25);
        std::vector<double> magnitude;
        const auto expected =
            naive_gemm(ta, tb, m, n, k, double(alpha), a, lda, b, ldb, beta, c_in, ldc, &magnitude);
        REQUIRE(gemm_reference(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, T(beta),
                               c.data(), ldc) == Status::kOk);
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t q = 0; q < n; ++q)
            REQUIRE(std::fabs(double(c[r * ldc + q]) - expected[r * n + q]) <=
                    tolerance * magnitude[r * n + q]);
          for (int64_t q = n; q < ldc; ++q) REQUIRE(std::isnan(c[r * ldc + q]));  // gaps untouched
        }
      }
}

}  // namespace

TEST_CASE("gemm_reference equals the definition for every transpose and leading dimension",
          "[conv-kernels]") {
  // float: both accumulate exact float products in double; the result is rounded to float once
  // (2^-24 relative), plus the double summation difference: 2^-23 of the sum of |terms|.
  check_gemm_all_transposes<float>(2 * kFloatEps, 600);
  // double: two double evaluations of the same k = 9 term sums (in the same order, but a build
  // that contracts to FMA rounds differently): at most 2 k 2^-53 = 2e-15 of the sum of |terms|.
  check_gemm_all_transposes<double>(2.5e-15, 700);

  SECTION("alpha == 0 reads neither A nor B; empty sizes are no-ops") {
    std::vector<double> c = {1, 2, 3, 4};
    REQUIRE(gemm_reference<double>(false, false, 2, 2, 3, 0.0, nullptr, 3, nullptr, 2, 2.0,
                                   c.data(), 2) == Status::kOk);
    CHECK(c == std::vector<double>{2, 4, 6, 8});
    // k == 0: C = beta C.
    REQUIRE(gemm_reference<double>(false, false, 2, 2, 0, 1.0, nullptr, 1, nullptr, 2, 0.5,
                                   c.data(), 2) == Status::kOk);
    CHECK(c == std::vector<double>{1, 2, 3, 4});
    REQUIRE(gemm_reference<double>(false, false, 0, 0, 5, 1.0, nullptr, 5, nullptr, 1, 0.0, nullptr,
                                   1) == Status::kOk);
  }
  SECTION("invalid arguments are rejected without writing") {
    std::vector<float> a(12, 1.0f), b(12, 1.0f), c(12, -7.0f);
    const Status bad = Status::kInvalidArgument;
    CHECK(gemm_reference(false, false, 3, 4, 3, 1.0f, a.data(), 2, b.data(), 4, 0.0f, c.data(),
                         4) == bad);  // lda < k
    CHECK(gemm_reference(true, false, 3, 4, 3, 1.0f, a.data(), 3, b.data(), 3, 0.0f, c.data(),
                         4) == bad);  // ldb < n
    CHECK(gemm_reference(false, true, 3, 4, 3, 1.0f, a.data(), 3, b.data(), 3, 0.0f, c.data(),
                         3) == bad);  // ldc < n
    CHECK(gemm_reference(false, false, -1, 4, 3, 1.0f, a.data(), 3, b.data(), 4, 0.0f, c.data(),
                         4) == bad);
    CHECK(gemm_reference<float>(false, false, 3, 4, 3, 1.0f, nullptr, 3, b.data(), 4, 0.0f,
                                c.data(), 4) == bad);
    CHECK(gemm_reference<float>(false, false, 3, 4, 3, 1.0f, a.data(), 3, b.data(), 4, 0.0f,
                                nullptr, 4) == bad);
    CHECK(c == std::vector<float>(12, -7.0f));
  }
}

TEST_CASE("conv references and im2col reject invalid arguments without writing", "[conv-kernels]") {
  const Status bad = Status::kInvalidArgument;
  const ConvShape s = shape(1, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1);
  std::vector<float> x(conv_input_count(s), 1.0f), w(conv_weight_count(s), 1.0f);
  std::vector<float> y(conv_output_count(s), -7.0f), col(conv_col_count(s), -7.0f);
  CHECK(conv2d_reference(y.data(), x.data(), static_cast<const float*>(nullptr), s) == bad);
  CHECK(conv2d_reference(static_cast<float*>(nullptr), x.data(), w.data(), s) == bad);
  ConvShape wrong = s;
  wrong.out_w += 1;
  CHECK(conv2d_reference(y.data(), x.data(), w.data(), wrong) == bad);
  CHECK(conv_transpose2d_reference(x.data(), y.data(), w.data(), wrong) == bad);
  CHECK(conv2d_weight_grad_reference(w.data(), x.data(), y.data(), wrong) == bad);
  CHECK(im2col_cpu(col.data(), x.data(), wrong) == bad);
  CHECK(im2col_cpu(col.data(), static_cast<const float*>(nullptr), s) == bad);
  CHECK(col2im_cpu(static_cast<float*>(nullptr), col.data(), s) == bad);
  CHECK(y == std::vector<float>(y.size(), -7.0f));
  CHECK(col == std::vector<float>(col.size(), -7.0f));
  CHECK(x == std::vector<float>(x.size(), 1.0f));
  CHECK(w == std::vector<float>(w.size(), 1.0f));
  // Empty tensors need no pointers.
  const ConvShape empty = shape(0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1);
  CHECK(conv2d_reference<float>(nullptr, nullptr, w.data(), empty) == Status::kOk);
  CHECK(im2col_cpu<float>(nullptr, nullptr, empty) == Status::kOk);
  CHECK(col2im_cpu<float>(nullptr, nullptr, empty) == Status::kOk);
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

// Sizes 0 (empty batch, no channels, an image no window reads from), 1, odd, the paper's layers
// (3-64-128-256-256, k 4, s 2, p 1) with the image scaled from 128 to 64 and the batch from 128
// to 4, and two large ones with more elements than one grid pass of 65535 x 256 = 16.8M threads
// covers (im2col: col entries; col2im: pixels), so the grid-stride loops run more than once.
// The two large ones run on GPUs only (mrbm::test::gpu_scale_cases): 40M fibers would take
// minutes in the simulator.
std::vector<ConvShape> cuda_shapes() {
  std::vector<ConvShape> shapes = {
      shape(0, 3, 8, 8, 4, 4, 4, 2, 2, 1, 1),        // empty batch
      shape(2, 0, 8, 8, 4, 4, 4, 2, 2, 1, 1),        // no input channels: col has no rows
      shape(2, 3, 0, 0, 4, 1, 1, 1, 1, 1, 1),        // empty image, all-padding windows
      shape(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),        // one element
      shape(3, 5, 7, 9, 2, 3, 3, 1, 1, 1, 1),        // odd sizes
      shape(2, 3, 13, 11, 2, 5, 4, 3, 2, 2, 1),      // stride 3/2, uneven tiling
      shape(2, 2, 9, 9, 1, 2, 2, 2, 2, 2, 2),        // pad >= kernel
      shape(4, 3, 64, 64, 64, 4, 4, 2, 2, 1, 1),     // paper layer 1 (scaled)
      shape(4, 64, 32, 32, 128, 4, 4, 2, 2, 1, 1),   // paper layer 2
      shape(4, 128, 16, 16, 256, 4, 4, 2, 2, 1, 1),  // paper layer 3
      shape(4, 256, 8, 8, 256, 4, 4, 2, 2, 1, 1),    // paper layer 4
  };
  if (mrbm::test::gpu_scale_cases()) {
    shapes.push_back(shape(36, 32, 64, 64, 8, 4, 4, 2, 2, 1, 1));    // 18.9M col entries
    shapes.push_back(shape(1, 5, 2048, 2048, 1, 1, 1, 1, 1, 0, 0));  // 21M pixels (and col entries)
  }
  return shapes;
}

template <class T>
void check_im2col_cuda(uint64_t seed) {
  for (const ConvShape& s : cuda_shapes()) {
    INFO(describe(s));
    const int64_t nx = conv_input_count(s), ncol = conv_col_count(s);
    const auto x = random_values<T>(nx, ++seed);
    const auto col_in = random_values<T>(ncol, ++seed);
    std::vector<T> col(ncol), xt(nx);
    REQUIRE(im2col_cpu(col.data(), x.data(), s) == Status::kOk);
    REQUIRE(col2im_cpu(xt.data(), col_in.data(), s) == Status::kOk);

    DeviceBuffer<T> d_x(nx), d_col(ncol), d_col_in(ncol), d_xt(nx);
    d_x.upload(x);
    d_col_in.upload(col_in);
    d_col.upload(std::vector<T>(ncol, std::numeric_limits<T>::quiet_NaN()));
    d_xt.upload(std::vector<T>(nx, std::numeric_limits<T>::quiet_NaN()));
    REQUIRE(im2col_cuda(d_col.ptr, d_x.ptr, s, nullptr) == cudaSuccess);
    REQUIRE(col2im_cuda(d_xt.ptr, d_col_in.ptr, s, nullptr) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);

    // im2col copies values: bit-exact (NaN poison would also fail this).
    const auto g_col = d_col.download();
    for (int64_t i = 0; i < ncol; ++i) REQUIRE(g_col[i] == col[i]);
    // col2im: both devices run col2im_element, adding the same <= T terms in the same order in T,
    // so equality is expected; the bound allowed is the summation error of T terms,
    // (T - 1) u sum|terms| with u the unit roundoff of T (sum|terms| = col2im of |col|).
    std::vector<T> col_abs(col_in.size()), xt_abs(nx);
    for (size_t i = 0; i < col_in.size(); ++i) col_abs[i] = std::fabs(col_in[i]);
    REQUIRE(col2im_cpu(xt_abs.data(), col_abs.data(), s) == Status::kOk);
    const double u = std::numeric_limits<T>::epsilon() / 2;
    const double terms = static_cast<double>(col2im_max_terms(s));
    const auto g_xt = d_xt.download();
    for (int64_t i = 0; i < nx; ++i)
      REQUIRE(std::fabs(double(g_xt[i]) - double(xt[i])) <= terms * u * double(xt_abs[i]));
  }
}

}  // namespace
#endif

TEST_CASE("CUDA im2col and col2im equal the CPU versions", "[conv-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  check_im2col_cuda<float>(800);
  check_im2col_cuda<double>(900);
#endif
}

TEST_CASE("CUDA im2col and col2im reject invalid arguments", "[conv-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const ConvShape s = shape(1, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1);
  DeviceBuffer<float> d_x(conv_input_count(s)), d_col(conv_col_count(s));
  ConvShape wrong = s;
  wrong.out_h += 1;
  CHECK(im2col_cuda(d_col.ptr, d_x.ptr, wrong, nullptr) == cudaErrorInvalidValue);
  CHECK(col2im_cuda(d_x.ptr, d_col.ptr, wrong, nullptr) == cudaErrorInvalidValue);
  CHECK(im2col_cuda(static_cast<float*>(nullptr), d_x.ptr, s, nullptr) == cudaErrorInvalidValue);
  CHECK(col2im_cuda(d_x.ptr, static_cast<const float*>(nullptr), s, nullptr) ==
        cudaErrorInvalidValue);
  // Empty tensors launch nothing and need no pointers.
  const ConvShape empty = shape(0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1);
  CHECK(im2col_cuda(static_cast<float*>(nullptr), nullptr, empty, nullptr) == cudaSuccess);
  CHECK(col2im_cuda(static_cast<float*>(nullptr), nullptr, empty, nullptr) == cudaSuccess);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
#endif
}
