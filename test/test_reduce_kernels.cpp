// The float64 reductions (kernels/reduce.h) and the broadcast product of their backward
// (kernels/broadcast.h): each CPU reduction against an independent long double
// loop (float and double inputs), a sum that float32 accumulation gets wrong and float64 gets
// exactly, argument validation and workspace sizes; and [cuda] each *_cuda against its *_cpu on
// sizes 0, 1, 7, 1000, 1 << 20 and shapes like (128, 64 * 16 * 16), fresh random inputs, outputs
// and workspace poisoned with NaN, and repeated GPU runs bit-identical (fixed-order trees).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/broadcast.h"
#include "kernels/reduce.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/reduce_cuda.h"
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

constexpr long double kUnitDouble = 0x1p-53L;  // unit roundoff of double

// Error model of a float64 sum of m terms, whatever the order (recursive or tree):
// |computed - exact| <= (m - 1) u sum |terms| (Higham 4.2), with u = 2^-53. Two such sums (CPU and
// GPU, or CPU and a long double reference whose own error is ~2^-64) differ by at most twice that;
// 2 m u sum |terms| is used. A missing or doubled term, or float32 accumulation (error ~ sqrt(m)
// 2^-24 sum |terms|), is far outside.
long double sum_tolerance(int64_t m, long double abs_sum) {
  return 2.0L * m * kUnitDouble * abs_sum;
}

bool within(long double got, long double ref, long double tol) {
  return std::fabs(got - ref) <= tol;  // false for NaN
}

struct Shape {
  int64_t rows, cols;
};

const std::vector<Shape> kCpuShapes = {{0, 5}, {5, 0},    {1, 1},     {1, 7},
                                       {7, 1}, {3, 1000}, {33, 4099}, {128, 257}};

}  // namespace

TEMPLATE_TEST_CASE("sum_all, row_sums and col_sums equal a long double loop", "[reduce-kernels]",
                   float, double) {
  using T = TestType;
  uint64_t seed = 10;
  for (auto [rows, cols] : kCpuShapes) {
    INFO("rows=" << rows << " cols=" << cols);
    // A nonzero mean so that the sums grow with the size.
    const auto x = random_values<T>(rows * cols, -1, 3, ++seed);

    std::vector<double> out = nan_values<double>(rows);
    REQUIRE(row_sums_cpu(out.data(), x.data(), rows, cols) == Status::kOk);
    for (int64_t r = 0; r < rows; ++r) {
      long double ref = 0, abs_sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ref += x[r * cols + c];
        abs_sum += std::fabs(static_cast<long double>(x[r * cols + c]));
      }
      INFO("row " << r);
      REQUIRE(within(out[r], ref, sum_tolerance(cols, abs_sum)));
    }

    out = nan_values<double>(cols);
    REQUIRE(col_sums_cpu(out.data(), x.data(), rows, cols) == Status::kOk);
    for (int64_t c = 0; c < cols; ++c) {
      long double ref = 0, abs_sum = 0;
      for (int64_t r = 0; r < rows; ++r) {
        ref += x[r * cols + c];
        abs_sum += std::fabs(static_cast<long double>(x[r * cols + c]));
      }
      INFO("col " << c);
      REQUIRE(within(out[c], ref, sum_tolerance(rows, abs_sum)));
    }

    double total = std::numeric_limits<double>::quiet_NaN();
    REQUIRE(sum_all_cpu(&total, x.data(), rows * cols) == Status::kOk);
    long double ref = 0, abs_sum = 0;
    for (T v : x) {
      ref += v;
      abs_sum += std::fabs(static_cast<long double>(v));
    }
    CHECK(within(total, ref, sum_tolerance(rows * cols, abs_sum)));
  }
}

// row_dot on (rows, channels * inner) with b full (kRowDotFullB) or one vector broadcast in the
// bias layout b[c / inner]. For double inputs each product also rounds (u |a b|), which the
// tolerance covers with m + 1 in place of m.
TEMPLATE_TEST_CASE("row_dot equals a long double loop, full and broadcast b", "[reduce-kernels]",
                   float, double) {
  using T = TestType;
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 3, 2}, {4, 0, 3}, {1, 1, 1}, {7, 1, 1}, {3, 1000, 1}, {5, 3, 25}, {2, 64, 256}};
  uint64_t seed = 20;
  for (auto [rows, channels, inner] : shapes) {
    const int64_t cols = channels * inner;
    const auto a = random_values<T>(rows * cols, -1, 3, ++seed);
    const auto b_full = random_values<T>(rows * cols, -2, 2, ++seed);
    const auto b_vec = random_values<T>(channels, -2, 2, ++seed);
    for (int64_t b_inner : {kRowDotFullB, int64_t(1), inner}) {
      if (b_inner == 1 && inner != 1) continue;  // b_vec has channels values, not cols
      INFO("rows=" << rows << " channels=" << channels << " inner=" << inner
                   << " b_inner=" << b_inner);
      const T* b = b_inner == kRowDotFullB ? b_full.data() : b_vec.data();
      std::vector<double> out = nan_values<double>(rows);
      REQUIRE(row_dot_cpu(out.data(), a.data(), b, rows, cols, b_inner) == Status::kOk);
      for (int64_t r = 0; r < rows; ++r) {
        long double ref = 0, abs_sum = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const long double bv = b_inner == kRowDotFullB ? b_full[r * cols + c] : b_vec[c / inner];
          const long double p = static_cast<long double>(a[r * cols + c]) * bv;
          ref += p;
          abs_sum += std::fabs(p);
        }
        INFO("row " << r);
        REQUIRE(within(out[r], ref, sum_tolerance(cols + 1, abs_sum)));
      }
    }
  }
}

// bias_grad: grad_bias[ch] = alpha S_ch + gamma old[ch], S_ch summed over rows * inner terms.
// Error: the float64 sum (|alpha| 2 m u sum |g|), the float64 combination (2 u (|alpha S| +
// |gamma old|)), and one rounding to T (u_T |ref|, with 1.001 for the reference's own error).
TEMPLATE_TEST_CASE("bias_grad equals a long double loop", "[reduce-kernels]", float, double) {
  using T = TestType;
  const long double u_t = static_cast<long double>(std::numeric_limits<T>::epsilon()) / 2;
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 3, 4}, {3, 0, 4}, {1, 1, 1}, {7, 3, 5}, {128, 100, 1}, {16, 8, 256}, {40, 3, 33}};
  const std::vector<std::pair<double, double>> coefficients = {
      {1, 0}, {-1.0 / 128, 1}, {0.5, -2}, {0, 1}};
  uint64_t seed = 30;
  for (auto [rows, channels, inner] : shapes) {
    const auto g = random_values<T>(rows * channels * inner, -1, 3, ++seed);
    const auto old = random_values<T>(channels, -5, 5, ++seed);
    for (auto [alpha_d, gamma_d] : coefficients) {
      INFO("rows=" << rows << " channels=" << channels << " inner=" << inner << " alpha=" << alpha_d
                   << " gamma=" << gamma_d);
      const T alpha = static_cast<T>(alpha_d), gamma = static_cast<T>(gamma_d);
      std::vector<T> out = gamma != T(0) ? old : nan_values<T>(channels);
      REQUIRE(bias_grad_cpu(out.data(), g.data(), rows, channels, inner, alpha, gamma) ==
              Status::kOk);
      for (int64_t ch = 0; ch < channels; ++ch) {
        long double sum = 0, abs_sum = 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t p = 0; p < inner; ++p) {
            const long double v = g[(r * channels + ch) * inner + p];
            sum += v;
            abs_sum += std::fabs(v);
          }
        const long double scaled = static_cast<long double>(alpha) * sum;
        const long double kept = static_cast<long double>(gamma) * old[ch];
        const long double ref = scaled + kept;
        const long double tol =
            std::fabs(static_cast<long double>(alpha)) * sum_tolerance(rows * inner, abs_sum) +
            2 * kUnitDouble * (std::fabs(scaled) + std::fabs(kept)) + 1.001L * u_t * std::fabs(ref);
        INFO("channel " << ch);
        REQUIRE(within(out[ch], ref, tol));
      }
    }
  }
}

// 2^24 + 1000 ones: float32 accumulation stops growing at 2^24 (2^24 + 1 rounds back to 2^24), so
// it would return 16777216; float64 returns 16778216 exactly (every partial sum is an integer
// below 2^53, exact in any order). 16778216 is also a float (even, below 2^25).
TEST_CASE("reductions accumulate in float64", "[reduce-kernels]") {
  const int64_t m = 1001;
  std::vector<float> x(m, 1.0f);
  x[0] = 16777216.0f;
  const std::vector<float> ones(m, 1.0f);
  const double expected = 16778216.0;
  double out = 0;
  REQUIRE(sum_all_cpu(&out, x.data(), m) == Status::kOk);
  CHECK(out == expected);
  REQUIRE(row_sums_cpu(&out, x.data(), 1, m) == Status::kOk);
  CHECK(out == expected);
  REQUIRE(col_sums_cpu(&out, x.data(), m, 1) == Status::kOk);
  CHECK(out == expected);
  REQUIRE(row_dot_cpu(&out, x.data(), ones.data(), 1, m, kRowDotFullB) == Status::kOk);
  CHECK(out == expected);
  REQUIRE(row_dot_cpu(&out, x.data(), ones.data(), 1, m, 1) == Status::kOk);
  CHECK(out == expected);
  float grad = 0;
  REQUIRE(bias_grad_cpu(&grad, x.data(), m, 1, 1, 1.0, 0.0) == Status::kOk);
  CHECK(grad == 16778216.0f);
  REQUIRE(bias_grad_cpu(&grad, x.data(), 1, 1, m, 1.0, 0.0) == Status::kOk);
  CHECK(grad == 16778216.0f);
}

TEST_CASE("bias_grad coefficient rule and reduction argument checks", "[reduce-kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> g = {1, 2, 3, 4, 5, 6};  // 2 rows x (1 channel x 3)... or 3 channels
  // gamma = 0 ignores NaN in the old gradient; alpha = 0 does not read g (null is fine).
  std::vector<float> grad = {nan, nan, nan};
  REQUIRE(bias_grad_cpu(grad.data(), g.data(), 2, 3, 1, 1.0, 0.0) == Status::kOk);
  CHECK(grad == std::vector<float>{5, 7, 9});
  REQUIRE(bias_grad_cpu(grad.data(), g.data(), 2, 3, 1, 2.0, 1.0) == Status::kOk);
  CHECK(grad == std::vector<float>{15, 21, 27});
  REQUIRE(bias_grad_cpu<float>(grad.data(), nullptr, 2, 3, 1, 0.0, -1.0) == Status::kOk);
  CHECK(grad == std::vector<float>{-15, -21, -27});
  // NCHW: 2 rows x (1 channel x 3 positions): one value, the sum of all.
  REQUIRE(bias_grad_cpu(grad.data(), g.data(), 2, 1, 3, 1.0, 0.0) == Status::kOk);
  CHECK(grad[0] == 21.0f);
  // 1 row x (2 channels x 3 positions).
  REQUIRE(bias_grad_cpu(grad.data(), g.data(), 1, 2, 3, 1.0, 0.0) == Status::kOk);
  CHECK(grad[0] == 6.0f);
  CHECK(grad[1] == 15.0f);

  double out[4] = {0, 0, 0, 0};
  CHECK(row_sums_cpu(out, g.data(), -1, 2) == Status::kInvalidArgument);
  CHECK(row_sums_cpu<float>(out, nullptr, 2, 3) == Status::kInvalidArgument);
  CHECK(row_sums_cpu(nullptr, g.data(), 2, 3) == Status::kInvalidArgument);
  CHECK(col_sums_cpu(out, g.data(), 2, -3) == Status::kInvalidArgument);
  CHECK(col_sums_cpu(nullptr, g.data(), 2, 3) == Status::kInvalidArgument);
  CHECK(sum_all_cpu(out, g.data(), -6) == Status::kInvalidArgument);
  CHECK(sum_all_cpu(nullptr, g.data(), 6) == Status::kInvalidArgument);
  CHECK(row_dot_cpu(out, g.data(), g.data(), 2, 3, 2) == Status::kInvalidArgument);  // 3 % 2
  CHECK(row_dot_cpu(out, g.data(), g.data(), 2, 3, -1) == Status::kInvalidArgument);
  CHECK(row_dot_cpu<float>(out, g.data(), nullptr, 2, 3, 1) == Status::kInvalidArgument);
  CHECK(bias_grad_cpu(grad.data(), g.data(), 2, 3, 0, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(bias_grad_cpu<float>(grad.data(), nullptr, 2, 3, 1, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(bias_grad_cpu<float>(nullptr, g.data(), 2, 3, 1, 1.0, 0.0) == Status::kInvalidArgument);
  CHECK(row_sums_cpu(out, g.data(), int64_t(1) << 40, int64_t(1) << 30) ==
        Status::kInvalidArgument);  // rows * cols overflows int64
  CHECK(out[0] == 0.0);             // nothing written by a rejected call
  // Empty reductions: a sum of nothing is 0.
  double total = 7;
  REQUIRE(sum_all_cpu<float>(&total, nullptr, 0) == Status::kOk);
  CHECK(total == 0.0);
  REQUIRE(row_sums_cpu<float>(out, nullptr, 3, 0) == Status::kOk);
  CHECK((out[0] == 0.0 && out[1] == 0.0 && out[2] == 0.0));
}

TEST_CASE("reduction workspace sizes follow the launch plan", "[reduce-kernels]") {
  // One block per row up to 4096 columns: no workspace.
  CHECK(row_sums_workspace_bytes(128, 4096) == 0);
  CHECK(row_sums_workspace_bytes(128, 4097) == 128 * 2 * sizeof(double));
  CHECK(row_dot_workspace_bytes(3, 64 * 256) == 3 * 4 * sizeof(double));
  CHECK(sum_all_workspace_bytes(1 << 20) == 256 * sizeof(double));
  CHECK(sum_all_workspace_bytes(int64_t(1) << 40) == 1024 * sizeof(double));  // split capped
  CHECK(sum_all_workspace_bytes(0) == 0);
  // Columns: a single slice (rows <= 16) reads the input directly.
  CHECK(col_sums_workspace_bytes(16, 1000) == 0);
  CHECK(col_sums_workspace_bytes(128, 1000) == 8 * 1000 * sizeof(double));
  CHECK(bias_grad_workspace_bytes(128, 64, 256) == 8 * 64 * 256 * sizeof(double));
  CHECK(bias_grad_workspace_bytes(128, 64, 0) == 0);
  // Every row belongs to exactly one nonempty slice, and there are never more than 512 slices.
  for (int64_t rows : {1, 15, 16, 17, 100, 128, 1000, 65537, 1 << 20}) {
    for (int64_t cols : {1, 255, 1000, 16384, 1 << 20}) {
      const ColReducePlan plan = col_reduce_plan(rows, cols);
      INFO("rows=" << rows << " cols=" << cols);
      CHECK(plan.slices >= 1);
      CHECK(plan.slices <= kColReduceTargetBlocks);
      CHECK(plan.rows_per_slice * plan.slices >= rows);
      CHECK(plan.rows_per_slice * (plan.slices - 1) < rows);
    }
  }
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

// The caller-owned workspace, with its contents poisoned (all bits set: a NaN double) before each
// run, so a result can never depend on what a previous call left there.
struct Workspace {
  DeviceBuffer<unsigned char> buffer;
  size_t bytes;
  explicit Workspace(size_t n) : buffer(n), bytes(n) {}
  void* poisoned() {
    REQUIRE(cudaMemset(buffer.ptr, 0xff, bytes > 0 ? bytes : 1) == cudaSuccess);
    return buffer.ptr;
  }
};

template <typename T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() &&
         (x.empty() || std::memcmp(x.data(), y.data(), sizeof(T) * x.size()) == 0);
}

// Runs `call` (which writes d_out) three times, each time after poisoning d_out and the workspace,
// and requires identical bits each time; returns the result.
template <typename T, typename Call>
std::vector<T> run_deterministic(DeviceBuffer<T>& d_out, const std::vector<T>& poison,
                                 Call&& call) {
  std::vector<T> first;
  for (int run = 0; run < 3; ++run) {
    d_out.upload(poison);
    REQUIRE(call() == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<T> result = d_out.download();
    if (run == 0) {
      first = result;
    } else {
      INFO("run " << run);
      REQUIRE(same_bits(result, first));
    }
  }
  return first;
}

}  // namespace
#endif

TEST_CASE("CUDA sum_all, row_sums and row_dot equal the CPU and repeat bit for bit",
          "[reduce-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  uint64_t seed = 3000;
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(1000), int64_t(1) << 20,
                    (int64_t(1) << 22) + 3}) {
    INFO("sum_all n=" << n);
    const auto x = random_values<float>(n, -1, 3, ++seed);
    double cpu = 0;
    REQUIRE(sum_all_cpu(&cpu, x.data(), n) == Status::kOk);
    long double abs_sum = 0;
    for (float v : x) abs_sum += std::fabs(v);
    DeviceBuffer<float> d_x(n);
    DeviceBuffer<double> d_out(1);
    d_x.upload(x);
    Workspace ws(sum_all_workspace_bytes(n));
    const auto gpu = run_deterministic(d_out, nan_values<double>(1), [&] {
      return sum_all_cuda(d_out.ptr, d_x.ptr, n, ws.poisoned(), ws.bytes, nullptr);
    });
    CHECK(within(gpu[0], cpu, sum_tolerance(n, abs_sum)));
  }

  // (rows, channels, inner): cols = channels * inner; row_dot's broadcast b has channels values.
  std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 5, 1},    {5, 0, 1},       {1, 1, 1},      {1, 7, 1},     {7, 1, 1},    {1, 1000, 1},
      {3, 1000, 1}, {1, 1 << 20, 1}, {128, 64, 256}, {33, 3, 4099}, {2, 1, 5000000}};
  // More rows than grid.y holds (65535): GPUs only (mrbm::test::gpu_scale_cases), since its
  // 65535 blocks of 256 threads are 16.8M fibers per launch in the simulator.
  if (mrbm::test::gpu_scale_cases()) shapes.push_back({70000, 3, 1});
  for (auto [rows, channels, inner] : shapes) {
    const int64_t cols = channels * inner;
    INFO("rows=" << rows << " channels=" << channels << " inner=" << inner);
    const auto a = random_values<float>(rows * cols, -1, 3, ++seed);
    const auto b_full = random_values<float>(rows * cols, -2, 2, ++seed);
    const auto b_vec = random_values<float>(channels, -2, 2, ++seed);
    DeviceBuffer<float> d_a(rows * cols), d_b_full(rows * cols), d_b_vec(channels);
    DeviceBuffer<double> d_out(rows);
    d_a.upload(a);
    d_b_full.upload(b_full);
    d_b_vec.upload(b_vec);
    Workspace ws(row_sums_workspace_bytes(rows, cols));
    REQUIRE(row_dot_workspace_bytes(rows, cols) == ws.bytes);

    std::vector<double> cpu(rows);
    REQUIRE(row_sums_cpu(cpu.data(), a.data(), rows, cols) == Status::kOk);
    auto gpu = run_deterministic(d_out, nan_values<double>(rows), [&] {
      return row_sums_cuda(d_out.ptr, d_a.ptr, rows, cols, ws.poisoned(), ws.bytes, nullptr);
    });
    for (int64_t r = 0; r < rows; ++r) {
      long double abs_sum = 0;
      for (int64_t c = 0; c < cols; ++c) abs_sum += std::fabs(a[r * cols + c]);
      INFO("row_sums row " << r);
      REQUIRE(within(gpu[r], cpu[r], sum_tolerance(cols, abs_sum)));
    }

    for (int64_t b_inner : {kRowDotFullB, inner}) {
      INFO("row_dot b_inner=" << b_inner);
      const bool full = b_inner == kRowDotFullB;
      REQUIRE(row_dot_cpu(cpu.data(), a.data(), full ? b_full.data() : b_vec.data(), rows, cols,
                          b_inner) == Status::kOk);
      const float* d_b = full ? d_b_full.ptr : d_b_vec.ptr;
      gpu = run_deterministic(d_out, nan_values<double>(rows), [&] {
        return row_dot_cuda(d_out.ptr, d_a.ptr, d_b, rows, cols, b_inner, ws.poisoned(), ws.bytes,
                            nullptr);
      });
      for (int64_t r = 0; r < rows; ++r) {
        long double abs_sum = 0;
        for (int64_t c = 0; c < cols; ++c)
          abs_sum += std::fabs(static_cast<long double>(a[r * cols + c]) *
                               (full ? b_full[r * cols + c] : b_vec[c / inner]));
        INFO("row_dot row " << r);
        REQUIRE(within(gpu[r], cpu[r], sum_tolerance(cols, abs_sum)));
      }
    }
  }
#endif
}

TEST_CASE("CUDA col_sums and bias_grad equal the CPU and repeat bit for bit",
          "[reduce-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  uint64_t seed = 4000;
  std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {0, 5, 1},     {5, 0, 1},      {1, 1, 1},      {1, 7, 1},      {7, 1, 1},
      {16, 1000, 1}, {128, 1000, 1}, {128, 64, 256}, {1 << 20, 1, 1}, {33, 3, 4099},
      {1000, 7, 1},  {70000, 3, 1},  {17, 64, 256}};
  // 2^20 channels: bias_grad runs one block per channel, 268M fibers in the simulator; GPUs only
  // (mrbm::test::gpu_scale_cases).
  if (mrbm::test::gpu_scale_cases()) shapes.push_back({1, 1 << 20, 1});
  const std::vector<std::pair<float, float>> coefficients = {{1, 0}, {-1.0f / 128, 1}, {0, 1}};
  for (auto [rows, channels, inner] : shapes) {
    const int64_t cols = channels * inner;
    INFO("rows=" << rows << " channels=" << channels << " inner=" << inner);
    const auto g = random_values<float>(rows * cols, -1, 3, ++seed);
    const auto old = random_values<float>(channels, -5, 5, ++seed);
    DeviceBuffer<float> d_g(rows * cols), d_grad(channels);
    DeviceBuffer<double> d_out(cols);
    d_g.upload(g);

    {
      Workspace ws(col_sums_workspace_bytes(rows, cols));
      std::vector<double> cpu(cols);
      REQUIRE(col_sums_cpu(cpu.data(), g.data(), rows, cols) == Status::kOk);
      const auto gpu = run_deterministic(d_out, nan_values<double>(cols), [&] {
        return col_sums_cuda(d_out.ptr, d_g.ptr, rows, cols, ws.poisoned(), ws.bytes, nullptr);
      });
      for (int64_t c = 0; c < cols; ++c) {
        long double abs_sum = 0;
        for (int64_t r = 0; r < rows; ++r) abs_sum += std::fabs(g[r * cols + c]);
        INFO("col_sums col " << c);
        REQUIRE(within(gpu[c], cpu[c], sum_tolerance(rows, abs_sum)));
      }
    }

    Workspace ws(bias_grad_workspace_bytes(rows, channels, inner));
    for (auto [alpha, gamma] : coefficients) {
      INFO("bias_grad alpha=" << alpha << " gamma=" << gamma);
      std::vector<float> cpu = gamma != 0 ? old : nan_values<float>(channels);
      REQUIRE(bias_grad_cpu(cpu.data(), g.data(), rows, channels, inner, alpha, gamma) ==
              Status::kOk);
      const auto gpu =
          run_deterministic(d_grad, gamma != 0 ? old : nan_values<float>(channels), [&] {
            return bias_grad_cuda(d_grad.ptr, d_g.ptr, rows, channels, inner, alpha, gamma,
                                  ws.poisoned(), ws.bytes, nullptr);
          });
      // Both round a float64 value to float once; the two float64 values differ by at most
      // |alpha| times the sum tolerance (plus 2 u of the combination), so the floats differ by that
      // plus one float ulp (<= 2^-23 |value|).
      for (int64_t ch = 0; ch < channels; ++ch) {
        long double abs_sum = 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t p = 0; p < inner; ++p)
            abs_sum += std::fabs(g[(r * channels + ch) * inner + p]);
        const long double tol =
            std::fabs(alpha) * sum_tolerance(rows * inner, abs_sum) +
            4 * kUnitDouble * (std::fabs(alpha) * abs_sum + std::fabs(old[ch])) +
            0x1p-23L * std::fabs(static_cast<long double>(cpu[ch])) + 1e-30L;
        INFO("bias_grad channel " << ch);
        REQUIRE(within(gpu[ch], cpu[ch], tol));
      }
    }
  }
#endif
}

TEST_CASE("CUDA reductions accumulate in float64", "[reduce-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  // 2^24 followed by ones (see the CPU test): exact in float64 in any order, 2^24 in float32.
  // Long enough (1 << 20 elements) that every GPU path splits it over several blocks or slices.
  const int64_t m = int64_t(1) << 20;
  std::vector<float> x(m, 1.0f);
  x[0] = 16777216.0f;
  const double expected = 16777216.0 + (m - 1);
  DeviceBuffer<float> d_x(m), d_ones(m);
  d_x.upload(x);
  d_ones.upload(std::vector<float>(m, 1.0f));
  DeviceBuffer<double> d_out(1);
  Workspace ws(sum_all_workspace_bytes(m) + col_sums_workspace_bytes(m, 1));
  REQUIRE(sum_all_cuda(d_out.ptr, d_x.ptr, m, ws.poisoned(), ws.bytes, nullptr) == cudaSuccess);
  CHECK(d_out.download()[0] == expected);
  REQUIRE(row_sums_cuda(d_out.ptr, d_x.ptr, 1, m, ws.poisoned(), ws.bytes, nullptr) == cudaSuccess);
  CHECK(d_out.download()[0] == expected);
  REQUIRE(row_dot_cuda(d_out.ptr, d_x.ptr, d_ones.ptr, 1, m, kRowDotFullB, ws.poisoned(), ws.bytes,
                       nullptr) == cudaSuccess);
  CHECK(d_out.download()[0] == expected);
  REQUIRE(col_sums_cuda(d_out.ptr, d_x.ptr, m, 1, ws.poisoned(), ws.bytes, nullptr) == cudaSuccess);
  CHECK(d_out.download()[0] == expected);
  DeviceBuffer<float> d_grad(1);
  REQUIRE(bias_grad_cuda(d_grad.ptr, d_x.ptr, m, 1, 1, 1.0f, 0.0f, ws.poisoned(), ws.bytes,
                         nullptr) == cudaSuccess);
  CHECK(d_grad.download()[0] == static_cast<float>(expected));  // 2^24 + 2^20 - 1 rounds to even
  REQUIRE(bias_grad_cuda(d_grad.ptr, d_x.ptr, 1, 1, m, 1.0f, 0.0f, ws.poisoned(), ws.bytes,
                         nullptr) == cudaSuccess);
  CHECK(d_grad.download()[0] == static_cast<float>(expected));
#endif
}

TEST_CASE("CUDA reductions reject invalid arguments and short workspaces",
          "[reduce-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const int64_t rows = 128, cols = 64 * 256;
  DeviceBuffer<float> d_x(rows * cols);
  DeviceBuffer<double> d_out(cols);
  const size_t row_bytes = row_sums_workspace_bytes(rows, cols);
  const size_t col_bytes = col_sums_workspace_bytes(rows, cols);
  REQUIRE(row_bytes > 0);
  REQUIRE(col_bytes > 0);
  Workspace ws(row_bytes + col_bytes + 8);
  void* w = ws.poisoned();
  void* misaligned = static_cast<unsigned char*>(w) + 4;
  CHECK(row_sums_cuda(d_out.ptr, d_x.ptr, rows, cols, w, row_bytes - 1, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(row_sums_cuda(d_out.ptr, d_x.ptr, rows, cols, nullptr, row_bytes, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(row_sums_cuda(d_out.ptr, d_x.ptr, rows, cols, misaligned, row_bytes, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(row_dot_cuda(d_out.ptr, d_x.ptr, d_x.ptr, rows, cols, 3, w, ws.bytes, nullptr) ==
        cudaErrorInvalidValue);  // 3 does not divide cols
  CHECK(col_sums_cuda(d_out.ptr, d_x.ptr, rows, cols, w, col_bytes - 8, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(bias_grad_cuda(reinterpret_cast<float*>(d_out.ptr), d_x.ptr, rows, 64, 256, 1, 0, nullptr,
                       0, nullptr) == cudaErrorInvalidValue);
  CHECK(bias_grad_cuda(reinterpret_cast<float*>(d_out.ptr), d_x.ptr, rows, 64, 0, 1, 0, w, ws.bytes,
                       nullptr) == cudaErrorInvalidValue);
  CHECK(sum_all_cuda(nullptr, d_x.ptr, 10, w, ws.bytes, nullptr) == cudaErrorInvalidValue);
  CHECK(sum_all_cuda(d_out.ptr, d_x.ptr, -1, w, ws.bytes, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);  // nothing was launched
  // Shapes that need no workspace accept a null one.
  CHECK(row_sums_workspace_bytes(rows, 1000) == 0);
  CHECK(row_sums_cuda(d_out.ptr, d_x.ptr, rows, 1000, nullptr, 0, nullptr) == cudaSuccess);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
#endif
}

// broadcast_product_cpu walks rows and channel runs; it must give exactly what the per-element
// formula (broadcast_product_element, the CUDA kernel's) gives, and that must be the product
// formed in double and rounded once (long double check, 1 ulp of T), for every combination of the
// optional factors, both gamma modes (gamma = 0 must ignore NaN in out), and odd sizes.
TEMPLATE_TEST_CASE("broadcast_product_cpu equals the per-element formula", "[reduce-kernels]", float,
                   double) {
  using T = TestType;
  for (const auto& [rows, channels, inner] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{0, 3, 2}, {1, 1, 1}, {3, 5, 1}, {4, 3, 7}}) {
    const int64_t cols = channels * inner, n = rows * cols;
    const auto row = random_values<double>(rows, -2.0, 2.0, 1);
    const auto col = random_values<T>(channels, -2.0, 2.0, 2);
    const auto elem = random_values<T>(n, -2.0, 2.0, 3);
    const auto start = random_values<T>(n, -2.0, 2.0, 4);
    for (int mask = 0; mask < 16; ++mask) {  // bits: row, col, elem, gamma = 1
      INFO("rows " << rows << " channels " << channels << " inner " << inner << " mask " << mask);
      BroadcastProductArgs<T> a;
      a.row = (mask & 1) ? row.data() : nullptr;
      a.col = (mask & 2) ? col.data() : nullptr;
      a.elem = (mask & 4) ? elem.data() : nullptr;
      a.gamma = (mask & 8) ? 1.0 : 0.0;
      a.alpha = 0.75;
      a.rows = rows;
      a.cols = cols;
      a.inner = inner;
      std::vector<T> out = (mask & 8) ? start : nan_values<T>(n), per_element = out;
      a.out = out.data();
      REQUIRE(broadcast_product_cpu(a) == Status::kOk);
      BroadcastProductArgs<T> e = a;
      e.out = per_element.data();
      for (int64_t i = 0; i < n; ++i) broadcast_product_element(e, i);
      for (int64_t i = 0; i < n; ++i) {
        REQUIRE(std::memcmp(&out[i], &per_element[i], sizeof(T)) == 0);
        const int64_t r = i / cols, ch = (i % cols) / inner;
        long double ref = 0.75L * (a.row ? row[r] : 1.0L) * (a.col ? col[ch] : 1.0L) *
                          (a.elem ? elem[i] : 1.0L);
        if (mask & 8) ref += start[i];
        REQUIRE(std::fabs(static_cast<long double>(out[i]) - ref) <=
                std::numeric_limits<T>::epsilon() * (std::fabs(ref) + 4.0L));
      }
    }
  }
}
