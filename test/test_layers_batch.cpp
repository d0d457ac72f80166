// Features and free energies do not depend on the batch size beyond float32 rounding, on any CPU.
//
// Why not bit for bit: OpenBLAS picks its kernel, and so the order of a product's additions, by the
// shape of the call and by the CPU, so a batch of 7 and a batch of 23 may round one pre-activation
// differently (issue 11: features differed by up to 4.6e-5 on 0..255 across batch sizes on an Intel
// AVX-512 machine, not at all on AMD Zen 4). mrbm does not fix that order, so it promises only what
// holds everywhere: every batch's outputs lie within the float32 error bound of the exact values,
// which this test computes in float64 with direct loops, so two batch sizes agree within twice it.
//
// Error model (u = 2^-24, gamma_n = n u / (1 - n u), Higham's bound for a sum of n float32 terms in
// any order, with or without FMA):
//   pre-activation  x = b + sum_k w_k v_k over K products:
//                   |x~ - x| <= gamma_{K+1} (|b| + sum_k |w_k| (|v_k| + dv_k)) + sum_k |w_k| dv_k
//                   where dv_k bounds the error of the layer's input (0 for the pixels)
//   hidden mean     h = N sigma(x / s): |h~ - h| <= L |x~ - x| + 2e-6 |h| + 1e-30, L = N / (4 s) the
//                   largest slope, 2e-6 twice the mean's tested relative accuracy
//                   (test_multinary_math.cpp), 1e-30 for a mean flushed to zero below FLT_MIN
//   free energy     F = -(sum_i a_i v_i + sum_j Phi(x_j)), Phi = N s softplus(x / s) >= 0, Phi' = h:
//                   |F~ - F| <= sum_j (h_j + L dx_j) dx_j + 2e-6 sum_j Phi(x_j) + 1e-12 sum |a v|
//                   (the visible term and the row sum are float64 in a fixed order)
#include <algorithm>
#include <cmath>

#include "layers/dbn.h"
#include "layers/model_spec.h"
#include "layers/rbm_layer.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::layers;

namespace {

constexpr double kU = 1.0 / 16777216.0;  // 2^-24
double gamma_n(int64_t n) { return static_cast<double>(n) * kU / (1.0 - static_cast<double>(n) * kU); }

// The model of test/cli's tiny_model: 1x28x28 pixels (closed N = 255), conv 4 channels (k4 s2 p1)
// of closed N = 15 units, dense 8 closed N = 15 units.
ModelSpec tiny_conv_dense() {
  return model_spec_from_json(nlohmann::json::parse(R"({"name": "tiny",
    "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "closed", "n": 255}},
    "layers": [{"type": "conv", "channels": 4, "kernel": 4, "stride": 2, "padding": 1,
                "hidden": {"kind": "closed", "n": 15}},
               {"type": "dense", "units": 8, "hidden": {"kind": "closed", "n": 15}}]})"),
                              "tiny");
}

// Exact values and their float32 error bounds, per image.
struct Exact {
  std::vector<double> value, bound;
};

double closed_mean(double x, double n, double s) { return n / (1.0 + std::exp(-x / s)); }
double closed_phi(double x, double n, double s) {
  const double z = x / s;
  return n * s * (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)));
}

// Hidden means of one layer from pre-activations x (with bounds dx), and layer 0's free energy.
struct LayerExact {
  Exact mean;
  std::vector<double> x, dx;
};

LayerExact means_of(std::vector<double> x, std::vector<double> dx, double n, double s) {
  LayerExact out;
  const double slope = n / (4.0 * s);
  for (size_t i = 0; i < x.size(); ++i) {
    const double h = closed_mean(x[i], n, s);
    out.mean.value.push_back(h);
    out.mean.bound.push_back(slope * dx[i] + 2e-6 * h + 1e-30);
  }
  out.x = std::move(x);
  out.dx = std::move(dx);
  return out;
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

}  // namespace

TEST_CASE("features and free energies stay within the float32 bound of exact values at every batch size",
          "[layers]") {
  const ModelSpec spec = tiny_conv_dense();
  const Dbn dbn(spec, Device::cpu(), nullptr, 3);
  // Biases away from zero, so that the bound's |b| term and both tails of the mean are exercised.
  std::vector<Tensor> params;
  for (const auto& p : dbn.parameters()) params.push_back(p.value());
  for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}}) {
    Tensor t = params[i];
    const auto r = test::random_floats(t.numel(), -4.0f, 4.0f, 100 + i);
    std::copy(r.begin(), r.end(), t.data<float>());
  }
  const auto w1 = values(params[0]), a1 = values(params[1]), b1 = values(params[2]);
  const auto w2 = values(params[3]), b2 = values(params[5]);
  const int64_t count = 23, pixels = 28 * 28, ch = 4, side = 14, hidden1 = ch * side * side,
                hidden2 = 8;
  const auto pix = test::random_floats(count * pixels, 0.0f, 255.0f, 7);
  const Tensor images = Tensor::from_vector(pix, {count, 1, 28, 28});

  // Exact layer 0: conv k4 s2 p1, then layer 1: dense; each with its error bound.
  std::vector<Exact> feat0(count), feat1(count), energy(count);
  for (int64_t b = 0; b < count; ++b) {
    const float* v = pix.data() + b * pixels;
    std::vector<double> x(hidden1), dx(hidden1);
    for (int64_t c = 0; c < ch; ++c) {
      for (int64_t oy = 0; oy < side; ++oy) {
        for (int64_t ox = 0; ox < side; ++ox) {
          double sum = b1[c], abs_sum = std::fabs(b1[c]);
          for (int64_t i = 0; i < 4; ++i) {
            for (int64_t j = 0; j < 4; ++j) {
              const int64_t y = oy * 2 - 1 + i, xx = ox * 2 - 1 + j;
              if (y < 0 || y >= 28 || xx < 0 || xx >= 28) continue;
              const double term = double{w1[(c * 4 + i) * 4 + j]} * v[y * 28 + xx];
              sum += term;
              abs_sum += std::fabs(term);
            }
          }
          const size_t k = static_cast<size_t>((c * side + oy) * side + ox);
          x[k] = sum;
          dx[k] = gamma_n(17) * abs_sum;
        }
      }
    }
    LayerExact l0 = means_of(x, dx, 15.0, 3.75);
    // Free energy of layer 0.
    double visible = 0.0, visible_abs = 0.0, phi = 0.0, dphi = 0.0;
    for (int64_t i = 0; i < pixels; ++i) {
      visible += double{a1[0]} * v[i];
      visible_abs += std::fabs(double{a1[0]} * v[i]);
    }
    for (int64_t k = 0; k < hidden1; ++k) {
      const double p = closed_phi(l0.x[k], 15.0, 3.75);
      phi += p;
      dphi += (l0.mean.value[k] + 1.0 * l0.dx[k]) * l0.dx[k] + 2e-6 * p;
    }
    energy[b].value = {-(visible + phi)};
    energy[b].bound = {dphi + 1e-12 * visible_abs};
    // Layer 1 on layer 0's means (flattened in C order).
    std::vector<double> x2(hidden2), dx2(hidden2);
    for (int64_t j = 0; j < hidden2; ++j) {
      double sum = b2[j], abs_sum = std::fabs(b2[j]), propagated = 0.0;
      for (int64_t k = 0; k < hidden1; ++k) {
        const double w = w2[static_cast<size_t>(k * hidden2 + j)];
        sum += w * l0.mean.value[k];
        abs_sum += std::fabs(w) * (l0.mean.value[k] + l0.mean.bound[k]);
        propagated += std::fabs(w) * l0.mean.bound[k];
      }
      x2[j] = sum;
      dx2[j] = gamma_n(hidden1 + 1) * abs_sum + propagated;
    }
    feat0[b] = l0.mean;
    feat1[b] = means_of(x2, dx2, 15.0, 3.75).mean;
  }

  // The bound must be far below the features' range (else the test could not fail) and the
  // features must not be saturated (else any error would vanish in a flat tail).
  double worst_bound = 0.0, spread = 0.0;
  for (int64_t b = 0; b < count; ++b) {
    for (double e : feat1[b].bound) worst_bound = std::max(worst_bound, e);
    const auto [lo, hi] = std::minmax_element(feat1[b].value.begin(), feat1[b].value.end());
    spread = std::max(spread, *hi - *lo);
  }
  INFO("largest bound on a top feature " << worst_bound << ", spread " << spread);
  REQUIRE(worst_bound < 1e-2);
  REQUIRE(spread > 1.0);

  for (int64_t batch : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{23}}) {
    for (int64_t start = 0; start < count; start += batch) {
      const int64_t n = std::min(batch, count - start);
      const Tensor in = images.rows(start, start + n);
      const auto f0 = values(dbn.features(in, 0)), f1 = values(dbn.features(in, 1));
      const auto fe = dbn.free_energy(in).to_vector<double>();
      for (int64_t i = 0; i < n; ++i) {
        const int64_t b = start + i;
        INFO("batch " << batch << " image " << b);
        for (int64_t k = 0; k < hidden1; ++k) {
          REQUIRE(std::fabs(f0[static_cast<size_t>(i * hidden1 + k)] - feat0[b].value[k]) <=
                  feat0[b].bound[k]);
        }
        for (int64_t j = 0; j < hidden2; ++j) {
          REQUIRE(std::fabs(f1[static_cast<size_t>(i * hidden2 + j)] - feat1[b].value[j]) <=
                  feat1[b].bound[j]);
        }
        REQUIRE(std::fabs(fe[static_cast<size_t>(i)] - energy[b].value[0]) <= energy[b].bound[0]);
      }
    }
  }
}
