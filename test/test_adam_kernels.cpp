// The Adam optimizer kernels (kernels/adam.h): the float32 CPU step against a float64 trajectory
// computed here from the algorithm's textbook definition (independent code), the hyper-parameter
// edge cases and argument checks, and [cuda] the fused multi-tensor CUDA step against the CPU
// reference, bit for bit, on many tensor lists (sizes 0, 1, odd, 1e6, sliced, more than one
// launch's worth of descriptors) with guard elements around every tensor.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/adam.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/adam_cuda.h"
#endif

using namespace mrbm::kernels;

namespace {

constexpr double kUnit = 1.0 / 16777216.0;  // u = 2^-24, float32's unit roundoff

// The textbook Adam step (Kingma & Ba, with PyTorch's L2 weight decay), in float64, written
// independently of kernels/adam.h: bias-corrected moments, eps outside the square root.
void textbook_adam_step(double& p, double& m, double& v, double grad, const AdamHyper& h, int t) {
  const double g = grad + h.weight_decay * p;
  m = h.beta1 * m + (1.0 - h.beta1) * g;
  v = h.beta2 * v + (1.0 - h.beta2) * g * g;
  const double m_hat = m / (1.0 - std::pow(h.beta1, t));
  const double v_hat = v / (1.0 - std::pow(h.beta2, t));
  p -= h.lr * m_hat / (std::sqrt(v_hat) + h.eps);
}

// One quadratic problem, loss = sum_i a_i (p_i - c_i)^2 / 2, grad_i = a_i (p_i - c_i), split into
// tensors of several sizes. The float constants a_i, c_i are exactly representable in both
// trajectories. Each p starts 1.5-2.5 away from its stationary point p* = a c / (a + wd), and Adam
// moves an element by at most about lr (1 - beta1) / sqrt(1 - beta2) = 3.2 lr per step (Kingma &
// Ba, section 2.1), <= 0.8 in 50 steps at lr 5e-3: the gradient keeps its sign, which the error
// model below needs (checked).
struct Quadratic {
  std::vector<float> a, c, p0;
};

Quadratic make_quadratic(int64_t n, double weight_decay, uint64_t seed) {
  Quadratic q;
  q.a = mrbm::test::random_floats(n, 0.5f, 2.0f, seed);
  q.p0 = mrbm::test::random_floats(n, -1.0f, 1.0f, seed + 1);
  const auto dist = mrbm::test::random_floats(n, 1.5f, 2.5f, seed + 2);
  q.c.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double sign = (i % 2 == 0) ? 1.0 : -1.0;
    const double p_star = q.p0[i] + sign * dist[i];
    q.c[i] = static_cast<float>(p_star * (q.a[i] + weight_decay) / q.a[i]);
  }
  return q;
}

uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

}  // namespace

TEST_CASE("Adam CPU trajectory equals the float64 textbook trajectory", "[adam-kernels]") {
  struct Case {
    const char* name;
    AdamHyper hyper;
  };
  std::vector<Case> cases(4);
  cases[0] = {"defaults", AdamHyper{}};
  cases[1] = {"defaults + weight decay", AdamHyper{}};
  cases[1].hyper.weight_decay = 0.1;
  cases[2] = {"lr 5e-3, betas 0.8/0.99, eps 1e-6", AdamHyper{5e-3, 0.8, 0.99, 1e-6, 0.0}};
  // beta1 = 0 (RMSProp-like with bias correction), weight decay on.
  cases[3] = {"lr 5e-3, betas 0/0.9, eps 1e-6, wd 0.05", AdamHyper{5e-3, 0.0, 0.9, 1e-6, 0.05}};
  const std::vector<int64_t> sizes = {1, 7, 0, 33, 100};
  constexpr int kSteps = 50;

  uint64_t seed = 100;
  for (const Case& cs : cases) {
    INFO(cs.name);
    const AdamHyper& h = cs.hyper;
    std::vector<Quadratic> problems;
    std::vector<std::vector<float>> p, m, v, grad;
    std::vector<std::vector<double>> pd, md, vd;  // textbook float64 trajectory
    std::vector<std::vector<double>> pt, mt, vt;  // adam_update<double> trajectory
    std::vector<std::vector<double>> tol_p, g_max, p_min_dist;
    for (int64_t n : sizes) {
      problems.push_back(make_quadratic(n, h.weight_decay, seed += 3));
      p.push_back(problems.back().p0);
      const std::vector<double> p0d(p.back().begin(), p.back().end());
      pd.push_back(p0d);
      pt.push_back(p0d);
      for (auto* z : {&md, &vd, &mt, &vt, &tol_p, &g_max}) z->emplace_back(n, 0.0);
      p_min_dist.emplace_back(n, std::numeric_limits<double>::infinity());
      m.emplace_back(n, 0.0f);
      v.emplace_back(n, 0.0f);
      grad.emplace_back(n, 0.0f);
    }
    std::vector<AdamTensor> tensors(sizes.size());
    for (size_t k = 0; k < sizes.size(); ++k) {
      tensors[k] = {p[k].data(), m[k].data(), v[k].data(), grad[k].data(), sizes[k]};
    }
    const AdamTensorList list{tensors.data(), static_cast<int64_t>(tensors.size())};

    for (int t = 1; t <= kSteps; ++t) {
      const AdamStepScalarsT<double> sd = adam_step_scalars<double>(h, t);
      for (size_t k = 0; k < sizes.size(); ++k) {
        const Quadratic& q = problems[k];
        for (int64_t i = 0; i < sizes[k]; ++i) {
          grad[k][i] = q.a[i] * (p[k][i] - q.c[i]);  // float32, from the float32 parameters
          const double p_before = pd[k][i];
          textbook_adam_step(pd[k][i], md[k][i], vd[k][i], double(q.a[i]) * (p_before - q.c[i]), h,
                             t);
          adam_update<double>(pt[k][i], mt[k][i], vt[k][i], double(q.a[i]) * (pt[k][i] - q.c[i]),
                              sd);
          // Error model of the float32 parameter, accumulated over the steps: the final fma
          // rounds to u |p|; the update itself carries <= ~10 roundings of its own plus the
          // relative errors of the float32 scalars (u each) and of m and v, which grow by a few u
          // per step (3 u t bounds them): (16 + 3 t) u |update|. The factor 4 below covers the
          // propagation of earlier errors through the gradient, which Adam damps because the
          // update m / sqrt(v) is invariant to the gradient's scale (an error of the gradient of
          // relative size (a + wd) dp / |g| <= 3 dp / 0.7 moves it by far less than dp).
          const double step = std::fabs(pd[k][i] - p_before);
          tol_p[k][i] += kUnit * (std::fabs(pd[k][i]) + (16.0 + 3.0 * t) * step);
          const double g = double(q.a[i]) * (p_before - q.c[i]) + h.weight_decay * p_before;
          g_max[k][i] = std::max(g_max[k][i], std::fabs(g));
          const double p_star = q.a[i] * double(q.c[i]) / (q.a[i] + h.weight_decay);
          p_min_dist[k][i] = std::min(p_min_dist[k][i], std::fabs(pd[k][i] - p_star));
        }
      }
      REQUIRE(adam_step_cpu(list, h, t) == Status::kOk);
    }

    for (size_t k = 0; k < sizes.size(); ++k) {
      const Quadratic& q = problems[k];
      for (int64_t i = 0; i < sizes[k]; ++i) {
        INFO("tensor " << k << " element " << i);
        // Precondition of the error model: the gradient never changed sign.
        REQUIRE(p_min_dist[k][i] > 0.5);
        // The PyTorch-ordered formula in float64 equals the textbook one (same math, different
        // order): 50 steps of ~20 float64 roundings each, relative 1e-12 is ample.
        REQUIRE(std::fabs(pt[k][i] - pd[k][i]) <= 1e-12 * (1.0 + std::fabs(pd[k][i])));
        REQUIRE(std::fabs(mt[k][i] - md[k][i]) <= 1e-12 * g_max[k][i]);
        REQUIRE(std::fabs(vt[k][i] - vd[k][i]) <= 1e-12 * g_max[k][i] * g_max[k][i]);

        const double tol = 4.0 * tol_p[k][i];
        REQUIRE(std::fabs(p[k][i] - pd[k][i]) <= tol);
        // The test must be able to fail: the tolerance is far below the distance travelled.
        REQUIRE(tol < 1e-2 * std::fabs(pd[k][i] - q.p0[i]));
        // m and v: the float32 gradient differs from the float64 one by 2 u |g| (its own
        // roundings) plus (a + wd) |dp| <= 3 tol; each step adds ~3 roundings relative to
        // max|g| (resp. max g^2) and the recursions are averages (weights sum to <= 1), so
        // |dm| <= dg + 3 u T G and |dv| <= 2 G dg + 4 u T G^2; factor 2 margin.
        const double G = g_max[k][i];
        const double dg = 2.0 * kUnit * G + 3.0 * tol;
        REQUIRE(std::fabs(m[k][i] - md[k][i]) <= 2.0 * (dg + 3.0 * kUnit * kSteps * G));
        REQUIRE(std::fabs(v[k][i] - vd[k][i]) <=
                2.0 * (2.0 * G * dg + 4.0 * kUnit * kSteps * G * G));
      }
    }
  }
}

TEST_CASE("Adam step 1: the bias corrections make the first update lr * g / (|g| + eps)",
          "[adam-kernels]") {
  for (const AdamHyper h : {AdamHyper{}, AdamHyper{1e-2, 0.5, 0.5, 1e-3, 0.0}}) {
    const int64_t n = 257;
    auto p = mrbm::test::random_floats(n, -3.0f, 3.0f, 7);
    const auto grad = mrbm::test::random_floats(n, -2.0f, 2.0f, 8);
    const auto p0 = p;
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    const AdamTensor tensor{p.data(), m.data(), v.data(), grad.data(), n};
    REQUIRE(adam_step_cpu({&tensor, 1}, h, 1) == Status::kOk);
    for (int64_t i = 0; i < n; ++i) {
      const double g = grad[i];
      // m = (1 - beta1) g, v = (1 - beta2) g^2: the float32 scalar and each product round once
      // (u each): 2 u relative for m, 3 u for v.
      REQUIRE(std::fabs(m[i] - (1.0 - h.beta1) * g) <=
              2.0 * kUnit * std::fabs((1.0 - h.beta1) * g));
      REQUIRE(std::fabs(v[i] - (1.0 - h.beta2) * g * g) <= 3.0 * kUnit * (1.0 - h.beta2) * g * g);
      // m_hat = g and v_hat = g^2 exactly in real arithmetic, so the step is lr g / (|g| + eps),
      // about lr in size whatever |g| is. Error: ~12 roundings of the update (12 u lr) plus the
      // final rounding of p (u |p|).
      const double expected = p0[i] - h.lr * g / (std::fabs(g) + h.eps);
      REQUIRE(std::fabs(p[i] - expected) <= 12.0 * kUnit * h.lr + kUnit * std::fabs(expected));
    }
  }
}

TEST_CASE("Adam with a zero gradient: eps keeps 0/0 away, the moments decay", "[adam-kernels]") {
  const int64_t n = 64;
  const std::vector<float> zero(n, 0.0f);

  SECTION("zero state: the parameters stay bit-identical, m and v stay 0") {
    auto p = mrbm::test::random_floats(n, -2.0f, 2.0f, 11);
    const auto p0 = p;
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    const AdamTensor tensor{p.data(), m.data(), v.data(), zero.data(), n};
    for (int t = 1; t <= 3; ++t)
      REQUIRE(adam_step_cpu({&tensor, 1}, AdamHyper{}, t) == Status::kOk);
    for (int64_t i = 0; i < n; ++i) {
      REQUIRE(bits(p[i]) == bits(p0[i]));  // 0 / (0 + eps) = 0
      REQUIRE(m[i] == 0.0f);
      REQUIRE(v[i] == 0.0f);
    }
    // Without eps the same step is 0 / 0: eps is what keeps it defined (PyTorch gives NaN too).
    AdamHyper no_eps;
    no_eps.eps = 0.0;
    REQUIRE(adam_step_cpu({&tensor, 1}, no_eps, 4) == Status::kOk);
    for (int64_t i = 0; i < n; ++i) REQUIRE(std::isnan(p[i]));
  }

  SECTION("non-zero state: m *= beta1, v *= beta2, the parameters keep moving") {
    const AdamHyper h{1e-2, 0.9, 0.999, 1e-8, 0.0};
    auto p = mrbm::test::random_floats(n, -2.0f, 2.0f, 12);
    auto m = mrbm::test::random_floats(n, 0.2f, 1.0f, 13);
    for (int64_t i = 1; i < n; i += 2) m[i] = -m[i];
    auto v = mrbm::test::random_floats(n, 0.5f, 2.0f, 14);
    const auto p0 = p, m0 = m, v0 = v;
    const AdamTensor tensor{p.data(), m.data(), v.data(), zero.data(), n};
    const int t = 5;
    REQUIRE(adam_step_cpu({&tensor, 1}, h, t) == Status::kOk);
    for (int64_t i = 0; i < n; ++i) {
      // One rounding of the float32 beta and one of the product: 2 u relative.
      REQUIRE(std::fabs(m[i] - h.beta1 * m0[i]) <= 2.0 * kUnit * std::fabs(h.beta1 * m0[i]));
      REQUIRE(std::fabs(v[i] - h.beta2 * v0[i]) <= 2.0 * kUnit * h.beta2 * v0[i]);
      double pd = p0[i], md = m0[i], vd = v0[i];
      textbook_adam_step(pd, md, vd, 0.0, h, t);
      // ~12 roundings on the update, one on p.
      REQUIRE(std::fabs(p[i] - pd) <= 12.0 * kUnit * std::fabs(pd - p0[i]) + kUnit * std::fabs(pd));
      REQUIRE(std::fabs(pd - p0[i]) > 1e-4);  // >= 2.2e-4 here: not negligible
    }
  }

  SECTION("eps is added after the square root") {
    // sqrt(v_hat) ~ 1e-8 ~ eps: after the root the step is lr * 0.9e-8 / (1e-8 sqrt(0.999) +
    // 1e-8) ~ 0.45 lr; eps inside the root would give lr * 0.9e-8 / sqrt(1e-16 + 1e-8) ~ 9e-5 lr.
    const AdamHyper h{1e-2, 0.9, 0.999, 1e-8, 0.0};
    std::vector<float> p(n, 0.0f), m(n, 1e-8f), v(n, 1e-16f);
    const AdamTensor tensor{p.data(), m.data(), v.data(), zero.data(), n};
    const int64_t t = 1000000;  // bias corrections 1 to within 1e-300 and 1e-434 (both exactly 1)
    REQUIRE(adam_step_cpu({&tensor, 1}, h, t) == Status::kOk);
    const double md = h.beta1 * double(1e-8f), vd = h.beta2 * double(1e-16f);
    const double expected = -h.lr * md / (std::sqrt(vd) + h.eps);
    REQUIRE(expected < -0.4 * h.lr);
    for (int64_t i = 0; i < n; ++i)
      REQUIRE(std::fabs(p[i] - expected) <= 12.0 * kUnit * std::fabs(expected));
  }
}

TEST_CASE("Adam CPU step rejects invalid arguments and changes nothing", "[adam-kernels]") {
  const int64_t n = 5;
  auto p = mrbm::test::random_floats(n, -1.0f, 1.0f, 21);
  auto m = mrbm::test::random_floats(n, -1.0f, 1.0f, 22);
  auto v = mrbm::test::random_floats(n, 0.0f, 1.0f, 23);
  const auto grad = mrbm::test::random_floats(n, -1.0f, 1.0f, 24);
  const auto p0 = p, m0 = m, v0 = v;
  const AdamTensor good{p.data(), m.data(), v.data(), grad.data(), n};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();

  std::vector<AdamHyper> bad_hypers;
  auto with = [&](auto change) {
    AdamHyper h;
    change(h);
    bad_hypers.push_back(h);
  };
  with([](AdamHyper& h) { h.lr = -1e-3; });
  with([&](AdamHyper& h) { h.lr = nan; });
  with([&](AdamHyper& h) { h.lr = inf; });
  with([](AdamHyper& h) { h.beta1 = -0.1; });
  with([](AdamHyper& h) { h.beta1 = 1.0; });
  with([&](AdamHyper& h) { h.beta1 = nan; });
  with([](AdamHyper& h) { h.beta2 = -1e-9; });
  with([](AdamHyper& h) { h.beta2 = 1.0; });
  with([](AdamHyper& h) { h.beta2 = 1.5; });
  with([](AdamHyper& h) { h.eps = -1e-8; });
  with([&](AdamHyper& h) { h.eps = nan; });
  with([](AdamHyper& h) { h.weight_decay = -0.1; });
  with([&](AdamHyper& h) { h.weight_decay = inf; });
  for (const AdamHyper& h : bad_hypers) {
    CHECK(validate_adam_hyper(h, 1) == Status::kInvalidArgument);
    CHECK(adam_step_cpu({&good, 1}, h, 1) == Status::kInvalidArgument);
  }
  CHECK(adam_step_cpu({&good, 1}, AdamHyper{}, 0) == Status::kInvalidArgument);
  CHECK(adam_step_cpu({&good, 1}, AdamHyper{}, -3) == Status::kInvalidArgument);

  // Bad lists; the valid first tensor must stay untouched (validation precedes every write).
  AdamTensor bad_size = good;
  bad_size.size = -1;
  AdamTensor no_grad = good;
  no_grad.grad = nullptr;
  AdamTensor no_v = good;
  no_v.v = nullptr;
  for (const AdamTensor& bad : {bad_size, no_grad, no_v}) {
    const AdamTensor pair[2] = {good, bad};
    CHECK(adam_step_cpu({pair, 2}, AdamHyper{}, 1) == Status::kInvalidArgument);
  }
  CHECK(adam_step_cpu({nullptr, 1}, AdamHyper{}, 1) == Status::kInvalidArgument);
  CHECK(adam_step_cpu({&good, -1}, AdamHyper{}, 1) == Status::kInvalidArgument);
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE(bits(p[i]) == bits(p0[i]));
    REQUIRE(bits(m[i]) == bits(m0[i]));
    REQUIRE(bits(v[i]) == bits(v0[i]));
  }

  // Valid edge cases: an empty list, zero-size tensors with null pointers, lr = 0 (parameters
  // unchanged, moments updated), beta1 = beta2 = 0 and eps = 0 are accepted (as by PyTorch).
  CHECK(adam_step_cpu({nullptr, 0}, AdamHyper{}, 1) == Status::kOk);
  const AdamTensor empty{nullptr, nullptr, nullptr, nullptr, 0};
  CHECK(adam_step_cpu({&empty, 1}, AdamHyper{}, 1) == Status::kOk);
  CHECK(adam_step_cpu({&good, 1}, AdamHyper{0.0, 0.9, 0.999, 1e-8, 0.0}, 1) == Status::kOk);
  for (int64_t i = 0; i < n; ++i) REQUIRE(bits(p[i]) == bits(p0[i]));
  CHECK(m != m0);
  CHECK(validate_adam_hyper(AdamHyper{1e-3, 0.0, 0.0, 0.0, 0.0}, 1) == Status::kOk);
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
    REQUIRE(cudaMemcpy(ptr, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> v(count);
    REQUIRE(cudaMemcpy(v.data(), ptr, sizeof(T) * count, cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
};

// Distance in float32 ulps (for the failure message only; the check is on bits).
int64_t ulp_distance(float a, float b) {
  auto ordered = [](float x) {
    const int32_t i = static_cast<int32_t>(bits(x));
    return i < 0 ? int64_t{INT32_MIN} - i : int64_t{i};
  };
  return std::llabs(ordered(a) - ordered(b));
}

// All tensors of a list live in one buffer per array, each preceded by kGuard NaN elements (and
// the buffer ends with kGuard more): a write outside a tensor changes a guard, and odd offsets
// make the tensors start unaligned. These are in-place outputs, so the NaN guards take the place
// of the poisoned outputs of other tests.
constexpr int64_t kGuard = 3;

struct PackedList {
  std::vector<int64_t> offsets;
  int64_t total = kGuard;
  explicit PackedList(const std::vector<int64_t>& sizes) {
    for (int64_t n : sizes) {
      offsets.push_back(total);
      total += n + kGuard;
    }
  }
  std::vector<AdamTensor> tensors(const std::vector<int64_t>& sizes, float* p, float* m, float* v,
                                  const float* g) const {
    std::vector<AdamTensor> t;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const int64_t o = offsets[k];
      t.push_back({p + o, m + o, v + o, g + o, sizes[k]});
    }
    return t;
  }
};

std::vector<float> guarded_random(const PackedList& pl, const std::vector<int64_t>& sizes, float lo,
                                  float hi, double zero_fraction, uint64_t seed) {
  std::vector<float> out(pl.total, std::numeric_limits<float>::quiet_NaN());
  const auto r = mrbm::test::random_floats(pl.total, lo, hi, seed);
  const auto z = mrbm::test::random_floats(pl.total, 0.0f, 1.0f, seed + 1);
  for (size_t k = 0; k < sizes.size(); ++k) {
    for (int64_t i = pl.offsets[k]; i < pl.offsets[k] + sizes[k]; ++i) {
      out[i] = z[i] < zero_fraction ? 0.0f : r[i];
    }
  }
  return out;
}

}  // namespace
#endif

TEST_CASE("CUDA fused Adam step equals the CPU reference bit for bit", "[adam-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  std::vector<std::vector<int64_t>> lists = {{}, {0}, {1}, {0, 1, 7, 1031, 0, 4099}, {1000000, 3}};
  // A tensor of 2^24 + 3 elements is split into two slices (kernels/adam.cuh). GPUs only
  // (mrbm::test::gpu_scale_cases): 100M fibers would take minutes in the simulator.
  if (mrbm::test::gpu_scale_cases()) lists.push_back({(int64_t{1} << 24) + 3, 5});
  // 64 descriptors fill exactly one launch; 65 and 150 need two and three.
  for (int count : {64, 65, 150}) {
    const auto r = mrbm::test::random_floats(count, 0.0f, 300.0f, 1000 + count);
    std::vector<int64_t> sizes;
    for (float x : r) sizes.push_back(static_cast<int64_t>(x));
    sizes[count / 2] = 0;
    lists.push_back(sizes);
  }
  const std::vector<AdamHyper> hypers = {AdamHyper{}, AdamHyper{1e-2, 0.8, 0.99, 1e-6, 0.1},
                                         AdamHyper{3e-3, 0.0, 0.9, 0.0, 0.0},
                                         AdamHyper{1e-3, 0.3, 0.5, 1e-8, 1e-2}};
  const std::vector<int64_t> first_steps = {1, 7, 1000, 2};
  uint64_t seed = 5000;
  size_t variant = 0;
  for (const auto& sizes : lists) {
    for (size_t hv = 0; hv < 2; ++hv, ++variant) {
      const AdamHyper& h = hypers[variant % hypers.size()];
      const int64_t t0 = first_steps[variant % first_steps.size()];
      INFO("list of " << sizes.size() << " tensors, hyper " << variant % hypers.size()
                      << ", first step " << t0);
      const PackedList pl(sizes);
      // Parameters, a gradient with some exact zeros, moments with some zeros (v >= 0).
      auto p = guarded_random(pl, sizes, -2.0f, 2.0f, 0.0, seed += 4);
      auto m = guarded_random(pl, sizes, -0.5f, 0.5f, 0.05, seed += 4);
      auto v = guarded_random(pl, sizes, 0.0f, 1.0f, 0.05, seed += 4);
      DeviceBuffer<float> d_p(pl.total), d_m(pl.total), d_v(pl.total), d_g(pl.total);
      d_p.upload(p);
      d_m.upload(m);
      d_v.upload(v);
      // Three consecutive steps with a fresh gradient each: the state carries over.
      for (int64_t t = t0; t < t0 + 3; ++t) {
        const auto g = guarded_random(pl, sizes, -1.0f, 1.0f, 0.05, seed += 4);
        d_g.upload(g);
        auto cpu_tensors = pl.tensors(sizes, p.data(), m.data(), v.data(), g.data());
        auto gpu_tensors = pl.tensors(sizes, d_p.ptr, d_m.ptr, d_v.ptr, d_g.ptr);
        const AdamTensorList cpu_list{cpu_tensors.data(), static_cast<int64_t>(sizes.size())};
        const AdamTensorList gpu_list{gpu_tensors.data(), static_cast<int64_t>(sizes.size())};
        REQUIRE(adam_step_cpu(cpu_list, h, t) == Status::kOk);
        REQUIRE(adam_step_cuda(gpu_list, h, t, nullptr) == cudaSuccess);
        gpu_tensors.assign(gpu_tensors.size(), AdamTensor{});  // descriptors are read at launch
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
      }
      // Same IEEE operations in the same order on both sides (kernels/adam.h): identical bits,
      // guards included (still NaN: nothing written outside the tensors). NaN equals NaN
      // (same_bits): hyper-parameter set 2 has eps = 0 and exact zeros in g and v, so 0/0 is NaN,
      // and a GPU returns the canonical NaN 0x7fffffff where x86 gives 0xffc00000 (issue 12, 6a).
      struct Output {
        const char* name;
        const std::vector<float>* cpu;
        const DeviceBuffer<float>* gpu;
      };
      const Output outputs[] = {{"param", &p, &d_p}, {"m", &m, &d_m}, {"v", &v, &d_v}};
      for (const Output& out : outputs) {
        const std::vector<float>& cpu = *out.cpu;
        const std::vector<float> gpu = out.gpu->download();
        int64_t mismatches = 0, worst = 0, first_bad = -1;
        for (int64_t i = 0; i < pl.total; ++i) {
          if (!mrbm::test::same_bits(gpu[i], cpu[i])) {
            if (first_bad < 0) first_bad = i;
            ++mismatches;
            worst = std::max(worst, ulp_distance(gpu[i], cpu[i]));
          }
        }
        INFO(out.name << ": " << mismatches << " mismatches, worst " << worst << " ulp, first at "
                      << first_bad);
        CHECK(mismatches == 0);
      }
    }
  }
#endif
}

TEST_CASE("CUDA Adam launcher rejects invalid arguments", "[adam-kernels][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const int64_t n = 5;
  const auto p0 = mrbm::test::random_floats(n, -1.0f, 1.0f, 31);
  DeviceBuffer<float> d_p(n), d_m(n), d_v(n), d_g(n);
  d_p.upload(p0);
  d_m.upload(std::vector<float>(n, 0.0f));
  d_v.upload(std::vector<float>(n, 0.0f));
  d_g.upload(std::vector<float>(n, 1.0f));
  const AdamTensor good{d_p.ptr, d_m.ptr, d_v.ptr, d_g.ptr, n};
  AdamHyper bad_lr;
  bad_lr.lr = -1.0;
  AdamHyper bad_beta;
  bad_beta.beta2 = 1.0;
  AdamTensor no_param = good;
  no_param.param = nullptr;
  const AdamTensor pair[2] = {good, no_param};
  CHECK(adam_step_cuda({&good, 1}, bad_lr, 1, nullptr) == cudaErrorInvalidValue);
  CHECK(adam_step_cuda({&good, 1}, bad_beta, 1, nullptr) == cudaErrorInvalidValue);
  CHECK(adam_step_cuda({&good, 1}, AdamHyper{}, 0, nullptr) == cudaErrorInvalidValue);
  CHECK(adam_step_cuda({pair, 2}, AdamHyper{}, 1, nullptr) == cudaErrorInvalidValue);
  CHECK(adam_step_cuda({nullptr, 1}, AdamHyper{}, 1, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);  // nothing was launched
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  const auto p = d_p.download();
  for (int64_t i = 0; i < n; ++i) REQUIRE(bits(p[i]) == bits(p0[i]));
  // Empty list and zero-size tensors: success, no launch.
  const AdamTensor empty{nullptr, nullptr, nullptr, nullptr, 0};
  CHECK(adam_step_cuda({nullptr, 0}, AdamHyper{}, 1, nullptr) == cudaSuccess);
  CHECK(adam_step_cuda({&empty, 1}, AdamHyper{}, 1, nullptr) == cudaSuccess);
#endif
}
