// Annealed importance sampling (AIS; Neal 2001, Salakhutdinov & Murray 2008) of the log partition
// function of one RBM layer, and the test log-likelihood it gives (docs/math.md section 11).
//
// Start model A: visible biases a_A (one per visible element, fitted to the data's mean: the base
// rate), zero weights, zero hidden biases; log Z_A = sum_i Phi_v(a_A_i) + n_h Phi_h(0).
// Tempered models, beta in [0, 1] (beta = 1 is the layer, beta = 0 is A):
//   p*_beta(v, h) = base(v) base(h) exp( (1 - beta) a_A.v + beta (a.v + b.h + v W h) )
//   log p*_beta(v) = log base(v) + (1 - beta) a_A.v + beta a.v + sum_j Phi_h(beta x_j(v))
// whose conditionals are the layer's own units at scaled pre-activations:
//   h | v ~ hidden unit at beta x,   x = b + vW           (conv: conv2d(v, W) + b)
//   v | h ~ visible unit at (1 - beta) a_A + beta y,  y = a + h W^T   (conv: conv_transpose2d)
// M chains start from v_1 ~ A; for k = 1..K (0 = beta_0 < ... < beta_K = 1)
//   log w += log p*_{beta_k}(v_k) - log p*_{beta_{k-1}}(v_k)   (log base(v) cancels)
//   v_{k+1} ~ one Gibbs step at beta_k from v_k                  (k < K)
// and log Z = log Z_A + log mean_m w_m (log-mean-exp in float64), with the delta-method standard
// error se = sqrt(var(w) / M) / mean(w) (the relative error of mean(w), i.e. the error of log Z).
// The units must be sampled exactly (require_exact_sampler, layers/unit_states.h): binary, copies,
// closed form with N s an integer.
//
// Every step runs through the layer's maps and the multinary pass on the layer's device (CPU or
// CUDA); draws are counter based from (seed, offset = step number, element = chain * units + unit),
// so an estimate is a function of (model, base rate, schedule, seed) and chain m's draws do not
// depend on the number of chains.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "autodiff/tape.h"
#include "core/tensor.h"
#include "layers/rbm_layer.h"

namespace mrbm::layers {

struct AisOptions {
  int64_t chains = 100;         // M
  int64_t temperatures = 14500; // K: intermediate distributions, beta_1 .. beta_K
  uint64_t seed = 1;
};

// beta_0 = 0 < beta_1 < ... < beta_K = 1 (K + 1 values) in the three linear pieces of Salakhutdinov
// & Murray (2008): K/29 steps over [0, 0.5], 8K/29 over [0.5, 0.9], the other 20K/29 over
// [0.9, 1] (their 500 + 4000 + 10000 for K = 14500), where most of log Z changes.
std::vector<double> ais_schedule(int64_t temperatures);

struct BaseRateModel {
  Tensor visible_bias;  // a_A, float32 [n_v elements] on the host (AIS copies it to the layer's device)
  double log_z = 0;     // log Z_A of the float32 a_A
};

// a_A_i = f_v^{-1}(mean_i) with mean_i the smoothed data mean of visible element i:
// (sum_b v_bi / N + 1/2) / (B + 1) times N, so that a pixel never on in B images still has a finite
// bias. `data` is [B, visible shape...] in the unit's range 0..N (any device).
BaseRateModel base_rate_model(const RbmLayer& layer, const Tensor& data);

struct AisEstimate {
  double log_z = 0;
  double std_error = 0;            // delta method; infinite for one chain
  double log_z_base = 0;           // log Z_A
  double effective_chains = 0;     // (sum w)^2 / sum w^2
  std::vector<double> log_weights; // log w_m, m = 1..M
  int64_t chains = 0, temperatures = 0;
  uint64_t seed = 0;
};

// log-mean-exp of log weights and its delta-method standard error (the estimate's own parts).
AisEstimate summarize_log_weights(std::vector<double> log_weights);

// Called after each temperature with (k, K).
using AisProgress = std::function<void(int64_t done, int64_t total)>;

AisEstimate ais_log_partition(const RbmLayer& layer, autodiff::Tape& tape,
                              const BaseRateModel& base, const AisOptions& options,
                              const AisProgress& progress = {});

// log p(v) = log base(v) - F(v) - log Z per sample (float64), v [B, ...] (B rows of the visible
// elements, e.g. images [B, 1, 28, 28] for a dense layer of 784) on any
// device. InvalidArgument when a value of v is not a state of the visible unit (e.g. grey levels
// for a binary unit: binarize them first).
std::vector<double> log_likelihood(const RbmLayer& layer, autodiff::Tape& tape, const Tensor& v,
                                   double log_z);

// Stochastic binarization of values in [0, 1]: 1 with probability v, element i drawn from
// (seed, first_element + i), so a data set binarized batch by batch does not depend on the batch
// size. The result is on v's device.
Tensor binarize(const Tensor& v, uint64_t seed, int64_t first_element = 0);

}  // namespace mrbm::layers
