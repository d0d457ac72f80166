// `mrbm bench train-step`: images/s of Trainer::step (layers/trainer.h) -- the summed contrastive
// loss of every layer, its backward pass and one Adam update -- on random raw images, and the FP32
// rate it reaches against an sgemm ceiling measured in the same run (docs/benchmarks.md,
// "Convolutions and training steps").
//
// FLOPs of one step, counted from the layer shapes (the GEMM-like work only; the elementwise
// multinary passes, reductions and Adam are memory-bound and not counted). With M_l the
// multiply-adds of layer l's product at batch B (conv: B Cout Ho Wo Cin k k, padding taps counted
// nominally as in `bench conv`; dense: B n_v n_h), one contrastive step of layer l runs
//   forward:  x = conv(v, W), y = convT(h, W) (no gradient), x' = conv(v', W)       3 M_l
//   backward: dW from x and from x' (weight gradients)                              2 M_l
//             dv through x, when v needs a gradient (joint training, l > 0)      +  M_l
//             dW from y and dv' through x', when stop_gradient is off              + 2 M_l
// so a step is sum_l 2 c_l M_l flops with c_l = 5 (layer 0), 6 (joint, l > 0), +2 without
// stop-gradient (layers/rbm_layer.cpp and autodiff/ops_conv.cpp record exactly these products).
//
// Inputs: random integer pixels 0..255 of the model's image shape (fixed for the run: the data
// pipeline is not timed), uploaded once to the model's device. Warm-up steps run first (cuDNN
// algorithm search, allocator caches, first-touch of Adam's state), then each timed step is timed on
// its own with steady_clock (on CUDA followed by a stream synchronization; Trainer::step already
// waits for its loss scalars); images/s = B / median step time. Validation: every warm-up and timed
// step must return a finite loss and reconstruction error, and the parameters must change.
// Paired reference: none (the step is tested in test/; PyTorch's twin is tools/bench_train_torch.py).
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cpu_threads.h"
#include "core/cuda_context.h"
#include "core/tensor.h"
#include "layers/dbn.h"
#include "layers/model_spec.h"
#include "layers/trainer.h"
#include "tools/mrbm/bench_timing.h"
#include "tools/mrbm/option_checks.h"

namespace mrbm::tools {
namespace {

using bench::format;
using bench::Row;

struct Options {
  std::string model = "demo";
  std::string device;  // empty: cuda when available, else cpu
  int64_t batch = 0;   // 0: the spec's training batch
  int threads = 0;     // 0: all hardware threads
  int steps = 0;       // 0: cpu 5, cuda 20
  int warmup = 2;
  uint64_t seed = 1;
  std::string json;
};

struct LayerFlops {
  std::string text;  // "conv 1x28x28 -> 32x14x14" or "dense 3136 -> 200"
  double macs = 0;   // M_l
  int products = 0;  // c_l
};

// M_l and c_l of every layer (the formula in the file header).
std::vector<LayerFlops> step_flops(const layers::ModelSpec& spec, int64_t batch) {
  std::vector<LayerFlops> out;
  int64_t c = spec.channels, h = spec.height, w = spec.width;
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    const layers::LayerSpec& ls = spec.layers[l];
    LayerFlops f;
    if (ls.type == "conv") {
      const int64_t ho = (h + 2 * ls.padding - ls.kernel) / ls.stride + 1;
      const int64_t wo = (w + 2 * ls.padding - ls.kernel) / ls.stride + 1;
      f.macs = static_cast<double>(batch) * ls.size * ho * wo * c * ls.kernel * ls.kernel;
      f.text = format("conv %lldx%lldx%lld -> %lldx%lldx%lld", (long long)c, (long long)h,
                      (long long)w, (long long)ls.size, (long long)ho, (long long)wo);
      c = ls.size;
      h = ho;
      w = wo;
    } else {
      const int64_t nv = c * h * w;
      f.macs = static_cast<double>(batch) * nv * ls.size;
      f.text = format("dense %lld -> %lld", (long long)nv, (long long)ls.size);
      c = ls.size;
      h = w = 1;
    }
    f.products = 5 + ((spec.joint && l > 0) ? 1 : 0) + (spec.stop_gradient ? 0 : 2);
    out.push_back(f);
  }
  return out;
}

void run_train_step_bench(const Options& opt) {
  const int hw = available_cpus();
  const int threads = opt.threads > 0 ? opt.threads : hw;
  const int blas_threads = bench::set_blas_threads(threads);
  const int cuda_devices = bench::cuda_device_count();
  std::string device = opt.device.empty() ? (cuda_devices > 0 ? "cuda" : "cpu") : opt.device;
  if (device == "cuda" && cuda_devices == 0) {
#if defined(MRBM_WITH_CUDA)
    throw std::runtime_error("--device cuda: no usable CUDA device (driver missing or no GPU)");
#else
    throw std::runtime_error("--device cuda: this mrbm was built without CUDA (MRBM_WITH_CUDA=OFF)");
#endif
  }
  const layers::ModelSpec spec = layers::load_model_spec(opt.model);
  const int64_t batch = opt.batch > 0 ? opt.batch : spec.training.batch;
  const bool on_cuda = device == "cuda";
  const int steps = opt.steps > 0 ? opt.steps : (on_cuda ? 20 : 5);

  const bench::BenchHeader header =
      bench::print_gemm_bench_header(std::cout, "train-step", threads, hw, blas_threads, cuda_devices);
  const std::string& load_before = header.load_average;

  std::unique_ptr<CudaContext> cuda;
  Device dev = Device::cpu();
  if (on_cuda) {
    cuda = std::make_unique<CudaContext>(0);
    dev = cuda->device();
  }
  const Stream stream = cuda ? cuda->stream() : nullptr;

  // Ceiling first, on an idle device.
  const Row ceiling = bench::sgemm_ceiling(dev, cuda.get(), on_cuda ? 8192 : 2048, on_cuda ? 2 : 1,
                                           on_cuda ? 10 : 5);
  const double ceiling_gflops = ceiling["gflops"].get<double>();

  layers::Dbn dbn(spec, dev, cuda.get(), opt.seed);
  layers::TrainOptions topt;
  topt.lr = spec.training.lr;
  topt.seed = opt.seed;
  layers::Trainer trainer(dbn, topt);

  std::mt19937_64 gen(opt.seed + 77);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::vector<float> pixels(static_cast<size_t>(batch * spec.channels * spec.height * spec.width));
  for (auto& p : pixels) p = static_cast<float>(pixel(gen));
  const Tensor images =
      Tensor::from_vector(pixels, {batch, spec.channels, spec.height, spec.width}).to(dev, stream);

  const std::vector<float> w0 = dbn.layer(0).weights().value().to_vector<float>(stream);
  int bad_steps = 0;
  layers::StepMetrics last;
  auto body = [&] {
    last = trainer.step(images);
    if (cuda) cuda->synchronize();
    if (!std::isfinite(last.loss) || !std::isfinite(last.recon_mse)) ++bad_steps;
  };
  const bench::TimingResult t = bench::time_cpu(body, opt.warmup, steps);
  const std::vector<float> w1 = dbn.layer(0).weights().value().to_vector<float>(stream);
  std::string status = "ok";
  if (bad_steps > 0) status = format("FAILED: %d step(s) gave a non-finite loss or error", bad_steps);
  else if (w0 == w1) status = "FAILED: the parameters did not change";

  const std::vector<LayerFlops> layer_flops = step_flops(spec, batch);
  double step_flop = 0.0;
  for (const LayerFlops& f : layer_flops) step_flop += 2.0 * f.products * f.macs;
  const double sec = t.median_ms * 1e-3;
  const double images_per_s = static_cast<double>(batch) / sec;
  const double gflops = step_flop / sec / 1e9;

  std::cout << format("\nmodel %s, batch %lld, %s, %lld parameters, %d timed step(s) after %d "
                      "warm-up\n",
                      spec.name.c_str(), (long long)batch, device.c_str(),
                      (long long)dbn.parameter_count(), steps, opt.warmup);
  std::vector<std::vector<std::string>> cells;
  for (size_t l = 0; l < layer_flops.size(); ++l) {
    const LayerFlops& f = layer_flops[l];
    cells.push_back({std::to_string(l), f.text, format("%.1f", f.macs * 1e-6),
                     std::to_string(f.products), format("%.3f", 2.0 * f.products * f.macs * 1e-9)});
  }
  bench::print_table(std::cout, {"layer", "shape", "MMAC (M_l)", "products (c_l)", "GFLOP/step"},
                     cells);
  std::cout << format("\nsgemm ceiling (%s, %lld^3): %.1f GFLOP/s\n",
                      ceiling["kind"].get<std::string>().c_str(),
                      (long long)ceiling["n"].get<int64_t>(), ceiling_gflops);
  std::cout << format("step: median %.2f ms (min %.2f, max %.2f; cpu time %.2f ms), %.1f images/s, "
                      "%.3f GFLOP/step, %.1f GFLOP/s = %.1f%% of the sgemm ceiling\n",
                      t.median_ms, t.min_ms, t.max_ms, t.median_cpu_ms, images_per_s,
                      step_flop * 1e-9, gflops, 100.0 * gflops / ceiling_gflops);
  std::cout << format("last loss %.6g, reconstruction MSE %.2f; check: %s\n", last.loss,
                      last.recon_mse, status.c_str());
  const std::string load_after = bench::load_average();
  std::cout << "load average after the run: " << load_after << "\n";

  if (!opt.json.empty()) {
    nlohmann::ordered_json doc;
    doc["bench"] = "train-step";
    doc["timestamp"] = bench::utc_timestamp();
    doc["build"] = bench::build_info();
    doc["cpu"] = bench::cpu_model();
    doc["cpu_threads"] = threads;
    doc["load_average_before"] = load_before;
    doc["load_average_after"] = load_after;
    doc["cuda_device"] = header.cuda_device;
    doc["blas"] = header.blas;
    doc["ceiling"] = ceiling;
    Row r;
    r["model"] = spec.name;
    r["device"] = device;
    r["batch"] = batch;
    r["threads"] = threads;
    r["parameters"] = dbn.parameter_count();
    r["steps"] = steps;
    r["warmup"] = opt.warmup;
    r["median_ms"] = t.median_ms;
    r["min_ms"] = t.min_ms;
    r["max_ms"] = t.max_ms;
    r["median_cpu_ms"] = t.median_cpu_ms;
    r["images_per_s"] = images_per_s;
    r["flop_per_step"] = step_flop;
    r["gflops"] = gflops;
    r["ceiling_gflops"] = ceiling_gflops;
    r["ceiling_fraction"] = gflops / ceiling_gflops;
    r["last_loss"] = last.loss;
    r["last_recon_mse"] = last.recon_mse;
    r["status"] = status;
    doc["result"] = r;
    Row layers_json = Row::array();
    for (const LayerFlops& f : layer_flops) {
      layers_json.push_back(Row{{"shape", f.text}, {"macs", f.macs}, {"products", f.products}});
    }
    doc["layers"] = layers_json;
    bench::write_json_file(opt.json, doc);
    std::cout << "wrote " << opt.json << "\n";
  }
  std::cout << std::flush;
  if (status != "ok") throw std::runtime_error("bench train-step: " + status);
}

}  // namespace

void register_bench_train_step(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "train-step",
      "Images/s of a whole training step (every layer's contrastive loss, backward, Adam) on "
      "random images, and its FP32 rate vs an sgemm ceiling");
  cmd->add_option("--model", opt->model, "model preset or JSON spec")->capture_default_str();
  cmd->add_option("--device", opt->device, "cpu or cuda (default: cuda when available)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--batch", opt->batch, "batch size (default: the spec's training batch)")
      ->check(integer_in(0));
  cmd->add_option("--threads", opt->threads, "CPU threads of every CPU loop, GEMMs included (default: all cores the process may use)")
      ->check(integer_in(0, 4096));
  cmd->add_option("--steps", opt->steps, "timed steps, the median is reported (default: cpu 5, cuda 20)")
      ->check(integer_in(0));
  cmd->add_option("--warmup", opt->warmup, "untimed steps first")
      ->check(integer_in(0))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the parameters, samples and images")
      ->capture_default_str()
      ->check(integer_in(0));
  cmd->add_option("--json", opt->json, "write the result as JSON to this file");
  cmd->callback([opt] { run_train_step_bench(*opt); });
}

}  // namespace mrbm::tools
