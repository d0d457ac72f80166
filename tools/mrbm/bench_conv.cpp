// `mrbm bench conv`: validates, then times the three convolutions of a conv RBM layer (core/conv.h)
// for the conv layer shapes of a preset, for each algorithm, against a GEMM ceiling measured in the
// same run (docs/benchmarks.md, "Convolutions and training steps").
//
// Ops (ConvShape of the layer, NCHW, weights [Cout, Cin, k, k]; kernels/conv_shape.h):
//   forward    y  [B, Cout, Ho, Wo] = conv2d(x [B, Cin, H, W], w)         (hidden pre-activation)
//   transpose  x' [B, Cin, H, W]    = conv_transpose2d(h [B, Cout, Ho, Wo], w)  (reconstruction,
//              and the data gradient of conv2d)
//   weight     dw [Cout, Cin, k, k] = conv2d_weight_grad(x, dy)           (the filter gradient)
// Each op does M = B Cout Ho Wo Cin k k multiply-adds, counted nominally (taps that fall on the
// zero padding included, the convention of PyTorch's flop counters and cuDNN's papers); GFLOP/s =
// 2 M / time. The same M for all three ops, so their rates compare directly.
//
// Algorithms: CPU kIm2col (im2col + OpenBLAS sgemm) on every layer, and the direct kReference loops
// (float32, single-threaded) on the ops of at most --reference-max-macs multiply-adds with
// --reference-reps runs (they are ~100x slower: timing them everywhere would dominate the run);
// CUDA kIm2col (im2col + cuBLAS, no cuDNN) and kCudnn (when the build and context have cuDNN).
// Defaults: the paper-celeba64 conv layers, batch 128 on CUDA and batch 8 on the CPU (the CPU run
// is scaled down 16x to fit 2 cores in seconds per op; every rate is per op, so the CPU and the
// GPU rows differ in batch, and the CPU rows compare with PyTorch at the same batch).
//
// Inputs: x and h uniform in [0, 255] (raw multinary values, as in training), w ~ N(0, std^2) with
// the preset's default init std (docs/models.md), dy ~ N(0, 1); fresh per layer, never constant.
//
// Validation, before any timing, of the timed path's own output (poisoned with NaN first) against
// the float64 direct reference (kernels/conv_reference.h on float64 copies of the same inputs):
//   err = max_i |got_i - ref_i| / absref_i,   absref_i = the same op on |inputs| (sum |a b| of the
//   terms of output i), so the error is relative to the scale of the terms, whatever cancellation
//   the signed weights cause. A float32 dot product of K terms has |err| <= ~sqrt(K) u sum|ab| for
//   rounding errors of random sign (u = 6e-8; K = Cin k k <= 4096 for forward/transpose, B Ho Wo
//   up to ~5e5 for the weight gradient): at most ~4e-5. Fail above kMaxRelError = 1e-4 (a wrong
//   tap, channel or sample is an O(1) error). Forward and transpose outputs are checked on a spread
//   of whole samples (all of them for batches <= --validate-samples), the weight gradient over the
//   whole batch (it sums over samples). The float64 reference is split over the bench's threads.
//
// Ceiling: sgemm C [n, n] = A B on float32 Tensors through core/gemm.h (OpenBLAS with the bench's
// threads on the CPU, n = 2048; cuBLAS SGEMM without TF32 on CUDA, n = 8192), 2 n^3 flops, median
// of the reps, checked at 16 entries against float64 dot products. Each conv row reports its
// fraction of that ceiling (issue 3: >= 50% on the CPU), and on CUDA the ratio cuDNN time / im2col
// time per layer and op (issue: >= 0.7 for the paper's layers 2-5, here 1-4, at batch 128).
// Timing: warm-up, then the median of --reps runs: steady_clock on the CPU, CUDA events on the
// context's stream (L2 warm: the ops read what the previous op of a training step just wrote).
// Paired reference: kernels/conv_reference.h (float64).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cpu_threads.h"
#include "core/conv.h"
#include "core/cuda_context.h"
#include "core/gemm.h"
#include "core/tensor.h"
#include "kernels/conv_reference.h"
#include "layers/model_spec.h"
#include "layers/rbm_layer.h"
#include "tools/mrbm/bench_timing.h"
#include "tools/mrbm/option_checks.h"

#if defined(MRBM_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace mrbm::tools {
namespace bench {

Row sgemm_ceiling(Device device, CudaContext* cuda, int64_t n, int warmup, int reps) {
  std::mt19937_64 gen(12345);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(n * n)), b(static_cast<size_t>(n * n));
  for (auto& v : a) v = dist(gen);
  for (auto& v : b) v = dist(gen);
  const Stream stream = cuda != nullptr ? cuda->stream() : nullptr;
  const Tensor ta = Tensor::from_vector(a, {n, n}).to(device, stream);
  const Tensor tb = Tensor::from_vector(b, {n, n}).to(device, stream);
  Tensor tc = Tensor::empty({n, n}, DType::kFloat32, device, stream);
  TimingResult t;
  if (device.is_cpu()) {
    t = time_cpu([&] { gemm(tc, ta, tb, false, false, 1.0, 0.0, nullptr); }, warmup, reps);
  } else {
#if defined(MRBM_WITH_CUDA)
    t = time_cuda([&](cudaStream_t) { gemm(tc, ta, tb, false, false, 1.0, 0.0, cuda); }, {},
                  static_cast<cudaStream_t>(cuda->stream()), warmup, reps);
#else
    throw std::runtime_error("sgemm_ceiling: CUDA device in a CPU-only build");
#endif
  }
  // 16 entries against float64 dot products: a ceiling of a wrong product would be meaningless.
  const std::vector<float> c = tc.to_vector<float>(stream);
  double max_err = 0.0;
  for (int k = 0; k < 16; ++k) {
    const int64_t i = (k * 7919) % n, j = (k * 104729 + 13) % n;
    double ref = 0.0, abs_ref = 0.0;
    for (int64_t p = 0; p < n; ++p) {
      const double term = static_cast<double>(a[static_cast<size_t>(i * n + p)]) *
                          static_cast<double>(b[static_cast<size_t>(p * n + j)]);
      ref += term;
      abs_ref += std::fabs(term);
    }
    max_err = std::max(max_err, std::fabs(c[static_cast<size_t>(i * n + j)] - ref) / abs_ref);
  }
  if (!(max_err < 1e-4)) {
    throw std::runtime_error(format("sgemm ceiling: the %lldx%lld product is wrong (rel err %.3g)",
                                    (long long)n, (long long)n, max_err));
  }
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  Row r;
  r["device"] = device.is_cpu() ? "cpu" : "cuda";
  r["kind"] = device.is_cpu() ? "CPU sgemm (core/gemm.h)" : "cuBLAS SGEMM (FP32, no TF32)";
  r["n"] = n;
  r["median_ms"] = t.median_ms;
  r["min_ms"] = t.min_ms;
  r["gflops"] = flops / (t.median_ms * 1e-3) / 1e9;
  r["max_rel_err"] = max_err;
  return r;
}

int set_blas_threads(int threads) {
  set_cpu_threads(threads);  // mrbm's own CPU loops too
#if defined(MRBM_HAVE_OPENBLAS)
  return openblas_get_num_threads();
#else
  return threads;
#endif
}

}  // namespace bench

namespace {

using bench::format;
using bench::Row;
using kernels::ConvShape;

constexpr double kMaxRelError = 1e-4;  // validation threshold (error model in the header)

struct Options {
  std::string device = "all";
  std::string preset = "paper-celeba64";
  int64_t batch = 0;  // 0: the device's default (cpu 8, cuda 128)
  int threads = 0;    // 0: all hardware threads
  int reps = 0;       // 0: the device's default
  int warmup = -1;    // -1: default
  bool quick = false;
  int reference_reps = 3;
  double reference_max_macs = 1.5e8;
  int64_t validate_samples = 8;
  uint64_t seed = 20240612;
  std::string json;
  std::string csv;
};

enum class Op { kForward, kTranspose, kWeightGrad };
const Op kOps[] = {Op::kForward, Op::kTranspose, Op::kWeightGrad};

const char* op_name(Op op) {
  switch (op) {
    case Op::kForward: return "forward";
    case Op::kTranspose: return "transpose";
    case Op::kWeightGrad: return "weight_grad";
  }
  return "?";
}

struct LayerDef {
  int index = 0;  // the preset's layer number, from 0 as in features, classify and checkpoints
  ConvShape shape;
  double init_std = 0.0;
  std::string text;  // "3x64x64 -> 64x32x32"
};

// The preset's conv layers at `batch` (the geometry Dbn builds, layers/dbn.cpp).
std::vector<LayerDef> preset_layers(const layers::ModelSpec& spec, int64_t batch) {
  std::vector<LayerDef> out;
  int64_t c = spec.channels, h = spec.height, w = spec.width;
  layers::UnitConfig visible = spec.input_unit;
  for (const layers::LayerSpec& l : spec.layers) {
    if (l.type != "conv") break;
    LayerDef d;
    d.index = static_cast<int>(out.size());
    d.shape = kernels::make_conv_shape(batch, c, h, w, l.size, l.kernel, l.kernel, l.stride,
                                       l.stride, l.padding, l.padding);
    d.init_std = l.init_std > 0 ? l.init_std
                                : layers::default_init_std(visible, l.hidden, c * l.kernel * l.kernel);
    d.text = format("%lldx%lldx%lld -> %lldx%lldx%lld", (long long)c, (long long)h, (long long)w,
                    (long long)l.size, (long long)d.shape.out_h, (long long)d.shape.out_w);
    out.push_back(d);
    c = l.size;
    h = d.shape.out_h;
    w = d.shape.out_w;
    visible = l.hidden;
  }
  if (out.empty()) throw std::runtime_error("bench conv: preset '" + spec.name + "' has no conv layer");
  return out;
}

double layer_macs(const ConvShape& s) {
  return static_cast<double>(s.batch) * s.out_channels * s.out_h * s.out_w * s.in_channels *
         s.kernel_h * s.kernel_w;
}

Shape x_shape(const ConvShape& s) { return {s.batch, s.in_channels, s.in_h, s.in_w}; }
Shape y_shape(const ConvShape& s) { return {s.batch, s.out_channels, s.out_h, s.out_w}; }
Shape w_shape(const ConvShape& s) { return {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}; }

// Host inputs of one layer (float32; the float64 reference reads exact copies).
struct LayerData {
  std::vector<float> x, h, w, dy;
};

LayerData make_layer_data(const LayerDef& d, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 255.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const ConvShape& s = d.shape;
  LayerData data;
  data.x.resize(static_cast<size_t>(shape_numel(x_shape(s))));
  data.h.resize(static_cast<size_t>(shape_numel(y_shape(s))));
  data.dy.resize(data.h.size());
  data.w.resize(static_cast<size_t>(shape_numel(w_shape(s))));
  for (auto& v : data.x) v = pixel(gen);
  for (auto& v : data.h) v = pixel(gen);
  for (auto& v : data.dy) v = normal(gen);
  for (auto& v : data.w) v = static_cast<float>(d.init_std) * normal(gen);
  return data;
}

// ---- float64 reference ----------------------------------------------------------------------

// The reference of `op` on float64 copies (or their absolute values): forward/transpose for the
// listed samples only (compact: sample k of `samples` at k * per-sample count), the weight gradient
// over the whole batch. Split over the pool's threads: samples for forward/transpose, batch ranges
// with per-thread partial sums for the weight gradient.
std::vector<double> reference(Op op, const LayerData& data, const ConvShape& s,
                              const std::vector<int64_t>& samples, bool absolute,
                              bench::ThreadPool& pool) {
  auto to_double = [absolute](const std::vector<float>& v) {
    std::vector<double> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = absolute ? std::fabs(v[i]) : v[i];
    return out;
  };
  const std::vector<double> w = to_double(data.w);
  const int64_t x_per = s.in_channels * s.in_h * s.in_w, y_per = s.out_channels * s.out_h * s.out_w;
  ConvShape one = s;
  one.batch = 1;
  auto check = [](kernels::Status st) {
    if (st != kernels::Status::kOk) throw std::runtime_error("bench conv: the reference rejected the shape");
  };
  const int64_t ns = static_cast<int64_t>(samples.size());
  if (op == Op::kForward) {
    const std::vector<double> x = to_double(data.x);
    std::vector<double> out(static_cast<size_t>(ns * y_per));
    bench::parallel_ranges(pool, ns, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        check(kernels::conv2d_reference(out.data() + k * y_per, x.data() + samples[k] * x_per,
                                        w.data(), one));
      }
    });
    return out;
  }
  if (op == Op::kTranspose) {
    const std::vector<double> h = to_double(data.h);
    std::vector<double> out(static_cast<size_t>(ns * x_per));
    bench::parallel_ranges(pool, ns, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        check(kernels::conv_transpose2d_reference(out.data() + k * x_per,
                                                  h.data() + samples[k] * y_per, w.data(), one));
      }
    });
    return out;
  }
  const std::vector<double> x = to_double(data.x), dy = to_double(data.dy);
  const int64_t nw = static_cast<int64_t>(w.size());
  std::vector<double> out(static_cast<size_t>(nw), 0.0);
  std::mutex mutex;
  bench::parallel_ranges(pool, s.batch, [&](int64_t b, int64_t e) {
    ConvShape part = s;
    part.batch = e - b;
    std::vector<double> dw(static_cast<size_t>(nw));
    check(kernels::conv2d_weight_grad_reference(dw.data(), x.data() + b * x_per,
                                                dy.data() + b * y_per, part));
    std::lock_guard<std::mutex> lock(mutex);
    for (int64_t i = 0; i < nw; ++i) out[static_cast<size_t>(i)] += dw[static_cast<size_t>(i)];
  });
  return out;
}

// Samples checked for forward/transpose: all for small batches, else `count` spread evenly
// (first and last included).
std::vector<int64_t> check_samples(int64_t batch, int64_t count) {
  std::vector<int64_t> s;
  if (batch <= count) {
    for (int64_t b = 0; b < batch; ++b) s.push_back(b);
  } else {
    for (int64_t k = 0; k < count; ++k) s.push_back(k * (batch - 1) / (count - 1));
  }
  return s;
}

struct Reference {
  std::vector<int64_t> samples;
  std::map<Op, std::vector<double>> value, abs_value;
};

Reference compute_reference(const LayerData& data, const ConvShape& s, int64_t validate_samples,
                            bench::ThreadPool& pool) {
  Reference ref;
  ref.samples = check_samples(s.batch, std::max<int64_t>(validate_samples, 2));
  for (Op op : kOps) {
    ref.value[op] = reference(op, data, s, ref.samples, false, pool);
    ref.abs_value[op] = reference(op, data, s, ref.samples, true, pool);
  }
  return ref;
}

// max |got - ref| / absref over the checked elements (infinity for NaN or a nonzero result where
// every term is zero).
double validation_error(Op op, const std::vector<float>& got, const Reference& ref,
                        const ConvShape& s) {
  const std::vector<double>& r = ref.value.at(op);
  const std::vector<double>& a = ref.abs_value.at(op);
  const int64_t per = op == Op::kForward ? s.out_channels * s.out_h * s.out_w
                                         : s.in_channels * s.in_h * s.in_w;
  double worst = 0.0;
  auto one = [&](double g, double rv, double av) {
    if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
    const double diff = std::fabs(g - rv);
    if (av == 0.0) return diff == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
    return diff / av;
  };
  if (op == Op::kWeightGrad) {
    for (size_t i = 0; i < r.size(); ++i) worst = std::max(worst, one(got[i], r[i], a[i]));
    return worst;
  }
  for (size_t k = 0; k < ref.samples.size(); ++k) {
    for (int64_t i = 0; i < per; ++i) {
      const size_t gi = static_cast<size_t>(ref.samples[k] * per + i), ri = k * per + i;
      worst = std::max(worst, one(got[gi], r[ri], a[ri]));
    }
  }
  return worst;
}

// ---- one device -----------------------------------------------------------------------------

struct DeviceRun {
  std::string device;  // "cpu" or "cuda"
  Device dev = Device::cpu();
  CudaContext* cuda = nullptr;
  int64_t batch = 0;
  int threads = 1, reps = 1, warmup = 1;
  double ceiling_gflops = 0.0;
  std::vector<ConvAlgo> algos;
};

// Device tensors of one layer and the op bodies on them (out = op(a, b) with beta 0).
struct LayerTensors {
  Tensor x, h, w, dy;    // inputs
  Tensor y, x_out, dw;   // outputs

  LayerTensors(const LayerData& d, const ConvShape& s, Device dev, Stream stream) {
    params_.stride_h = s.stride_h;
    params_.stride_w = s.stride_w;
    params_.pad_h = s.pad_h;
    params_.pad_w = s.pad_w;
    x = Tensor::from_vector(d.x, x_shape(s)).to(dev, stream);
    h = Tensor::from_vector(d.h, y_shape(s)).to(dev, stream);
    w = Tensor::from_vector(d.w, w_shape(s)).to(dev, stream);
    dy = Tensor::from_vector(d.dy, y_shape(s)).to(dev, stream);
    y = Tensor::empty(y_shape(s), DType::kFloat32, dev, stream);
    x_out = Tensor::empty(x_shape(s), DType::kFloat32, dev, stream);
    dw = Tensor::empty(w_shape(s), DType::kFloat32, dev, stream);
  }

  Tensor& output(Op op) { return op == Op::kForward ? y : op == Op::kTranspose ? x_out : dw; }

  void run(Op op, ConvAlgo algo, CudaContext* cuda) {
    const ConvParams p = params_;
    switch (op) {
      case Op::kForward: conv2d(y, x, w, p, 0.0, cuda, algo); break;
      case Op::kTranspose: conv_transpose2d(x_out, h, w, p, 0.0, cuda, algo); break;
      case Op::kWeightGrad: conv2d_weight_grad(dw, x, dy, p, 0.0, cuda, algo); break;
    }
  }

  ConvParams params_;
};

Row make_row(const DeviceRun& run, const std::string& preset, const LayerDef& d, Op op,
             ConvAlgo algo, double err, const bench::TimingResult* t, const std::string& status) {
  const double macs = layer_macs(d.shape);
  Row row;
  row["device"] = run.device;
  row["preset"] = preset;
  row["layer"] = d.index;
  row["shape"] = d.text;
  row["batch"] = d.shape.batch;
  row["op"] = op_name(op);
  row["algo"] = conv_algo_name(algo);
  row["threads"] = run.threads;
  row["macs"] = macs;
  row["max_rel_err"] = err;
  if (t != nullptr && t->median_ms > 0.0) {
    const double gflops = 2.0 * macs / (t->median_ms * 1e-3) / 1e9;
    row["reps"] = t->reps;
    row["median_ms"] = t->median_ms;
    row["min_ms"] = t->min_ms;
    row["max_ms"] = t->max_ms;
    if (t->median_cpu_ms > 0.0) row["median_cpu_ms"] = t->median_cpu_ms;
    row["gflops"] = gflops;
    row["ceiling_gflops"] = run.ceiling_gflops;
    row["ceiling_fraction"] = gflops / run.ceiling_gflops;
  }
  row["status"] = status;
  return row;
}

std::vector<Row> run_device(const Options& opt, const layers::ModelSpec& spec,
                            bench::ThreadPool& pool, const DeviceRun& run) {
  std::vector<Row> rows;
  const Stream stream = run.cuda != nullptr ? run.cuda->stream() : nullptr;
  uint64_t seed = opt.seed + (run.dev.is_cpu() ? 0 : 1000);
  for (const LayerDef& d : preset_layers(spec, run.batch)) {
    const LayerData data = make_layer_data(d, ++seed);
    const Reference ref = compute_reference(data, d.shape, opt.validate_samples, pool);
    LayerTensors t(data, d.shape, run.dev, stream);
    for (Op op : kOps) {
      for (ConvAlgo algo : run.algos) {
        const bool reference_algo = algo == ConvAlgo::kReference;
        if (reference_algo && layer_macs(d.shape) > opt.reference_max_macs) continue;
        // Validate the timed path's own output, poisoned first.
        Tensor& out = t.output(op);
        out.fill(std::numeric_limits<double>::quiet_NaN(), stream);
        t.run(op, algo, run.cuda);
        const double err = validation_error(op, out.to_vector<float>(stream), ref, d.shape);
        const bool ok = err <= kMaxRelError;
        const std::string status = ok ? "ok" : format("FAILED: rel err %.3g > %.0e", err, kMaxRelError);
        bench::TimingResult timing;
        if (ok) {
          const int reps = reference_algo ? std::min(run.reps, opt.reference_reps) : run.reps;
          const int warmup = reference_algo ? 0 : run.warmup;
          if (run.dev.is_cpu()) {
            timing = bench::time_cpu([&] { t.run(op, algo, nullptr); }, warmup, reps);
          } else {
#if defined(MRBM_WITH_CUDA)
            timing = bench::time_cuda([&](cudaStream_t) { t.run(op, algo, run.cuda); }, {},
                                      static_cast<cudaStream_t>(stream), warmup, reps);
#endif
          }
        }
        rows.push_back(make_row(run, spec.name, d, op, algo, err, ok ? &timing : nullptr, status));
        std::cout << format("  %s layer %d %-11s %-9s %s\n", run.device.c_str(), d.index,
                            op_name(op), conv_algo_name(algo),
                            ok ? format("%.3f ms, err %.1e", timing.median_ms, err).c_str()
                               : status.c_str())
                  << std::flush;
      }
    }
  }
  return rows;
}

// ---- the command ----------------------------------------------------------------------------

std::string num(const Row& r, const char* key, const char* fmt, double scale = 1.0) {
  const auto it = r.find(key);
  return it == r.end() ? "-" : format(fmt, it->get<double>() * scale);
}

const Row* find_row(const std::vector<Row>& rows, const std::string& device, int layer,
                    const std::string& op, const std::string& algo) {
  for (const Row& r : rows) {
    if (r["device"] == device && r["layer"] == layer && r["op"] == op && r["algo"] == algo &&
        r.contains("median_ms"))
      return &r;
  }
  return nullptr;
}

void run_conv_bench(const Options& opt) {
  const int hw = available_cpus();
  const int threads = opt.threads > 0 ? opt.threads : hw;
  const layers::ModelSpec spec = layers::load_model_spec(opt.preset);
  const int cuda_devices = bench::cuda_device_count();
  const bool want_cpu = opt.device == "cpu" || opt.device == "all";
  if (opt.device == "cuda" && cuda_devices == 0) {
#if defined(MRBM_WITH_CUDA)
    throw std::runtime_error("--device cuda: no usable CUDA device (driver missing or no GPU)");
#else
    throw std::runtime_error("--device cuda: this mrbm was built without CUDA (MRBM_WITH_CUDA=OFF)");
#endif
  }
  const bool want_cuda = (opt.device == "cuda" || opt.device == "all") && cuda_devices > 0;
  const int blas_threads = bench::set_blas_threads(threads);

  bench::ThreadPool pool(threads);
  const bench::BenchHeader header =
      bench::print_gemm_bench_header(std::cout, "conv", threads, hw, blas_threads, cuda_devices);
  const std::string& load_before = header.load_average;
  std::cout << "preset " << spec.name << "; validation: max |got - ref| / sum|terms| vs the float64 "
            << "direct reference, fail above " << kMaxRelError << "\n" << std::flush;

  std::vector<Row> rows, ceilings;
  std::vector<DeviceRun> runs;
  if (want_cpu) {
    DeviceRun run;
    run.device = "cpu";
    run.dev = Device::cpu();
    run.batch = opt.batch > 0 ? opt.batch : (opt.quick ? 2 : 8);
    run.threads = threads;
    run.reps = opt.reps > 0 ? opt.reps : (opt.quick ? 2 : 7);
    run.warmup = opt.warmup >= 0 ? opt.warmup : 1;
    run.algos = {ConvAlgo::kIm2col, ConvAlgo::kReference};
    Row c = bench::sgemm_ceiling(run.dev, nullptr, opt.quick ? 512 : 2048, 1, opt.quick ? 2 : 5);
    c["threads"] = threads;
    run.ceiling_gflops = c["gflops"].get<double>();
    std::cout << format("\ncpu sgemm ceiling (core/gemm.h, %lld^3, %d threads): %.1f GFLOP/s\n",
                        (long long)c["n"].get<int64_t>(), threads, run.ceiling_gflops)
              << std::flush;
    ceilings.push_back(c);
    auto r = run_device(opt, spec, pool, run);
    rows.insert(rows.end(), r.begin(), r.end());
    runs.push_back(run);
  }
#if defined(MRBM_WITH_CUDA)
  std::unique_ptr<CudaContext> cuda;
  if (want_cuda) {
    cuda = std::make_unique<CudaContext>(0);
    DeviceRun run;
    run.device = "cuda";
    run.dev = cuda->device();
    run.cuda = cuda.get();
    run.batch = opt.batch > 0 ? opt.batch : (opt.quick ? 4 : 128);
    run.threads = 1;
    run.reps = opt.reps > 0 ? opt.reps : (opt.quick ? 2 : 25);
    run.warmup = opt.warmup >= 0 ? opt.warmup : 3;
    run.algos = {ConvAlgo::kIm2col};
    if (cuda->has_cudnn()) run.algos.push_back(ConvAlgo::kCudnn);
    Row c = bench::sgemm_ceiling(run.dev, cuda.get(), opt.quick ? 1024 : 8192, 2, opt.quick ? 2 : 10);
    run.ceiling_gflops = c["gflops"].get<double>();
    std::cout << format("\ncuda sgemm ceiling (cuBLAS, %lld^3, FP32): %.1f GFLOP/s%s\n",
                        (long long)c["n"].get<int64_t>(), run.ceiling_gflops,
                        cuda->has_cudnn() ? "" : "; no cuDNN in this build/context: im2col only")
              << std::flush;
    ceilings.push_back(c);
    auto r = run_device(opt, spec, pool, run);
    rows.insert(rows.end(), r.begin(), r.end());
    runs.push_back(run);
  }
#else
  (void)want_cuda;
#endif
  if (runs.empty()) throw std::runtime_error("bench conv: no device to run on");

  // Totals over the layers per (device, op, algo) where every layer was timed.
  for (const DeviceRun& run : runs) {
    const auto defs = preset_layers(spec, run.batch);
    for (Op op : kOps) {
      for (ConvAlgo algo : run.algos) {
        double ms = 0.0, macs = 0.0;
        bool all = true;
        for (const LayerDef& d : defs) {
          const Row* r = find_row(rows, run.device, d.index, op_name(op), conv_algo_name(algo));
          if (r == nullptr) {
            all = false;
            break;
          }
          ms += (*r)["median_ms"].get<double>();
          macs += layer_macs(d.shape);
        }
        if (!all) continue;
        Row t;
        t["device"] = run.device;
        t["preset"] = spec.name;
        t["layer"] = "all";
        t["batch"] = run.batch;
        t["op"] = op_name(op);
        t["algo"] = conv_algo_name(algo);
        t["threads"] = run.threads;
        t["macs"] = macs;
        t["median_ms"] = ms;
        t["gflops"] = 2.0 * macs / (ms * 1e-3) / 1e9;
        t["ceiling_fraction"] = t["gflops"].get<double>() / run.ceiling_gflops;
        t["status"] = "ok";
        rows.push_back(t);
      }
    }
  }

  std::cout << "\nload average after the run: " << bench::load_average() << "\n";
  for (const DeviceRun& run : runs) {
    std::cout << format("%s: batch %lld, %d thread(s), median of %d after %d warm-up (reference: "
                        "median of <= %d, ops of <= %.0e MACs)\n",
                        run.device.c_str(), (long long)run.batch, run.threads, run.reps,
                        run.warmup, opt.reference_reps, opt.reference_max_macs);
  }
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows) {
    const std::string layer = r["layer"].is_string() ? "all" : std::to_string(r["layer"].get<int>());
    cells.push_back({r["device"].get<std::string>(), layer,
                     r.contains("shape") ? r["shape"].get<std::string>() : "",
                     r["op"].get<std::string>(), r["algo"].get<std::string>(),
                     format("%.1f", r["macs"].get<double>() * 1e-6), num(r, "median_ms", "%.3f"),
                     num(r, "gflops", "%.1f"), num(r, "ceiling_fraction", "%.1f%%", 100.0),
                     num(r, "max_rel_err", "%.1e"), r["status"].get<std::string>()});
  }
  bench::print_table(std::cout,
                     {"device", "layer", "shape", "op", "algo", "MMAC", "median ms", "GFLOP/s",
                      "of sgemm", "max rel err", "check"},
                     cells);

  // Ratios: CUDA cuDNN time / im2col time (>= 0.7 wanted), CPU reference time / im2col time.
  std::vector<Row> ratios;
  std::vector<std::vector<std::string>> ratio_cells;
  for (const DeviceRun& run : runs) {
    const std::string other = run.dev.is_cpu() ? "reference" : "cudnn";
    for (const LayerDef& d : preset_layers(spec, run.batch)) {
      for (Op op : kOps) {
        const Row* a = find_row(rows, run.device, d.index, op_name(op), "im2col");
        const Row* b = find_row(rows, run.device, d.index, op_name(op), other);
        if (a == nullptr || b == nullptr) continue;
        const double ratio = (*b)["median_ms"].get<double>() / (*a)["median_ms"].get<double>();
        ratios.push_back(Row{{"device", run.device}, {"layer", d.index}, {"op", op_name(op)},
                             {"vs", other}, {"ratio", ratio}});
        ratio_cells.push_back({run.device, std::to_string(d.index), op_name(op),
                               other + " ms / im2col ms", format("%.2f", ratio)});
      }
    }
  }
  if (!ratio_cells.empty()) {
    std::cout << "\nratios (im2col speed relative to the other algorithm; cuda goal >= 0.70 for "
                 "layers 1-4 at batch 128)\n";
    bench::print_table(std::cout, {"device", "layer", "op", "ratio of", "value"}, ratio_cells);
  }

  int failures = 0;
  std::string failed;
  for (const Row& r : rows) {
    if (r["status"].get<std::string>() != "ok") {
      ++failures;
      failed += "\n  " + r["device"].get<std::string>() + " layer " + r["layer"].dump() + " " +
                r["op"].get<std::string>() + " " + r["algo"].get<std::string>() + ": " +
                r["status"].get<std::string>();
    }
  }
  if (!opt.json.empty()) {
    nlohmann::ordered_json doc;
    doc["bench"] = "conv";
    doc["timestamp"] = bench::utc_timestamp();
    doc["build"] = bench::build_info();
    doc["cpu"] = bench::cpu_model();
    doc["cpu_threads"] = threads;
    doc["load_average_before"] = load_before;
    doc["load_average_after"] = bench::load_average();
    doc["cuda_device"] = header.cuda_device;
    doc["blas"] = header.blas;
    doc["preset"] = spec.name;
    doc["validation"] = {{"max_rel_error", kMaxRelError},
                         {"metric", "max |got - ref| / (same op on |inputs|), float64 reference"}};
    doc["ceilings"] = ceilings;
    doc["results"] = rows;
    doc["ratios"] = ratios;
    doc["failures"] = failures;
    bench::write_json_file(opt.json, doc);
    std::cout << "wrote " << opt.json << "\n";
  }
  if (!opt.csv.empty()) {
    bench::write_csv_file(opt.csv, rows);
    std::cout << "wrote " << opt.csv << "\n";
  }
  std::cout << std::flush;
  if (failures > 0) {
    throw std::runtime_error(format("bench conv: %d of %zu cases failed validation:", failures,
                                    rows.size()) + failed);
  }
}

}  // namespace

void register_bench_conv(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "conv",
      "conv2d, conv_transpose2d and the weight gradient for a preset's conv layers, per algorithm; "
      "validated against the float64 reference, then timed (GFLOP/s vs an sgemm ceiling)");
  cmd->add_option("--device", opt->device, "cpu, cuda or all (all available devices)")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}))
      ->capture_default_str();
  cmd->add_option("--preset", opt->preset, "model preset (or JSON spec) whose conv layers to time")
      ->capture_default_str();
  cmd->add_option("--batch", opt->batch, "batch size (default: cpu 8, cuda 128; --quick 2/4)")
      ->check(integer_in(0));
  cmd->add_option("--threads", opt->threads, "CPU threads of every CPU loop: GEMMs, im2col, the float64 reference (default: all cores the process may use)")
      ->check(integer_in(0, 4096));
  cmd->add_option("--reps", opt->reps, "timed runs, the median is reported (default: cpu 7, cuda 25)")
      ->check(integer_in(0));
  cmd->add_option("--warmup", opt->warmup, "untimed runs before timing (default: cpu 1, cuda 3)")
      ->check(integer_in(0));
  cmd->add_option("--reference-reps", opt->reference_reps, "timed runs of the direct reference")
      ->check(integer_in(1))
      ->capture_default_str();
  cmd->add_option("--reference-max-macs", opt->reference_max_macs,
                  "time the direct reference only on ops of at most this many multiply-adds")
      ->check(number_in(0, 1e30))
      ->capture_default_str();
  cmd->add_option("--validate-samples", opt->validate_samples,
                  "samples checked for forward/transpose (all when the batch is smaller)")
      ->check(integer_in(2, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the inputs")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->add_flag("--quick", opt->quick, "small batch and few runs (a smoke test)");
  cmd->add_option("--json", opt->json, "write the results as JSON to this file");
  cmd->add_option("--csv", opt->csv, "write the results as CSV to this file");
  cmd->callback([opt] { run_conv_bench(*opt); });
}

}  // namespace mrbm::tools
