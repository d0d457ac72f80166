#!/usr/bin/env python3
"""PyTorch twin of `mrbm bench train-step` (docs/benchmarks.md, "Convolutions and training steps").

A plain PyTorch implementation of the same model, loss and optimizer as mrbm's Trainer::step
(layers/rbm_layer.cpp, layers/dbn.cpp; docs/math.md sections 3-6), timed in images/s at the same
batch and thread count:

  units      closed-form multinary, N = 255, s = N/4 (every layer, as in the presets):
             f(x) = N sigmoid(x/s), f'(x) = (N/s) sigmoid'(x/s), Phi(x) = N s softplus(x/s)
  input      raw 0..255 pixel values (v = the pixel: the input unit has N = 255)
  conv RBM   x = conv2d(v, W; k 4, stride 2, padding 1) + b_c,
             y = conv_transpose2d(h, W) + a_c (output_padding restores odd sizes, e.g. 7 -> 3 -> 7)
  dense RBM  x = v W + b, y = h W^T + a (after the conv layers, flattened once)
  one Gibbs step, no gradient: h = clip(f(x) + sqrt(f'(x)) randn, 0, N) (the gaussian sampler),
             v' = f_v(y(h)), detached (stop-gradient)
  loss       sum over layers of mean_n [F(v_n) - F(v'_n)],
             F(v) = -sum_c a_c sum_p v_cp - sum_j Phi(x_j)
  joint      as the preset says: demo and the celeba presets are joint (the next layer's input is
             the hidden mean f(x), NOT detached, so every layer's loss also trains the layers
             below, spec "joint": true); the classification presets (paper-fashion, -mnist,
             -cifar10) detach it ("joint": false, docs/models.md). --joint/--detached override.
  optimizer  torch.optim.Adam, lr 1e-3 (betas 0.9/0.999, eps 1e-8: mrbm's Adam has the same
             semantics)
  init       W ~ N(0, std^2), std = s / (2 (N/2) sqrt(fan_in)) (docs/models.md), biases 0

Differences that do not change the work: mrbm accumulates F and the loss in float64 (at N = 255 the
free energy reaches 1e5-1e6 per sample); here everything is float32, which is enough for timing
(the loss value itself is not compared). mrbm draws its samples with a counter-based Philox
generator, PyTorch with its own generator. Each step also fetches the loss and layer 0's
reconstruction error to the host, as Trainer::step does for its metrics.

Timing: random integer images 0..255 (fixed, on the device), --warmup untimed steps, then each of
--steps steps timed on its own (time.perf_counter; CUDA synchronized), images/s = B / median.
FLOPs per step as in the C++ bench: sum_l 2 c_l M_l with M_l the layer's multiply-adds at batch B
and c_l = 6 for the layers above layer 0 with joint training, 5 otherwise.

Usage: /usr/bin/python3 tools/bench_train_torch.py --model demo --batch 64 --threads 2 --json t.json
"""
import argparse
import json
import math
import os
import statistics
import sys
import time


def _preset_blas_threads():
    """OpenBLAS (which torch.mm and Debian's torch use) reads its thread count when it is loaded and
    torch.set_num_threads does not change it: set it from --threads before importing torch."""
    for i, a in enumerate(sys.argv):
        value = a.split("=", 1)[1] if a.startswith("--threads=") else (
            sys.argv[i + 1] if a == "--threads" and i + 1 < len(sys.argv) else None)
        if value and value.isdigit() and int(value) > 0:
            os.environ["OPENBLAS_NUM_THREADS"] = value
            os.environ["OMP_NUM_THREADS"] = value


_preset_blas_threads()
import torch  # noqa: E402 (after the thread count is in the environment)
import torch.nn.functional as F  # noqa: E402

# The presets of layers/model_spec.cpp with closed N = 255 units: input (C, H, W), conv channels,
# dense units, batch, joint.
PRESETS = {
    "demo": ((1, 28, 28), [32, 64], [], 64, True),
    "paper-fashion": ((1, 28, 28), [64, 128, 256], [], 128, False),
    "paper-mnist": ((1, 28, 28), [64, 128, 256], [], 128, False),
    "paper-cifar10": ((3, 32, 32), [64, 128, 256], [], 128, False),
    "paper-celeba64": ((3, 64, 64), [64, 128, 256, 256], [1000, 500, 200, 100], 128, True),
    "paper-celeba128": ((3, 128, 128), [64, 128, 256, 256, 256], [1000, 500, 200, 100], 128, True),
    # tools/models/conv-1-64-128.json: the paper's first two conv layers on 28x28 (issue 18's
    # denormal case)
    "conv-1-64-128": ((1, 28, 28), [64, 128], [], 128, True),
}
N = 255.0
S = N / 4.0
K, STRIDE, PAD = 4, 2, 1


def init_std(fan_in):
    return S / (2.0 * (N / 2.0) * math.sqrt(fan_in))


def unit_mean(x):
    return N * torch.sigmoid(x / S)


def unit_var(x):
    sig = torch.sigmoid(x / S)
    return (N / S) * sig * (1.0 - sig)


def row_phi(x):
    return (N * S * F.softplus(x / S)).flatten(1).sum(1)


class ConvRbm(torch.nn.Module):
    def __init__(self, cin, h, w, cout):
        super().__init__()
        self.ho = (h + 2 * PAD - K) // STRIDE + 1
        self.wo = (w + 2 * PAD - K) // STRIDE + 1
        self.out_pad = (h - ((self.ho - 1) * STRIDE - 2 * PAD + K), w - ((self.wo - 1) * STRIDE - 2 * PAD + K))
        self.W = torch.nn.Parameter(torch.randn(cout, cin, K, K) * init_std(cin * K * K))
        self.a = torch.nn.Parameter(torch.zeros(cin))
        self.b = torch.nn.Parameter(torch.zeros(cout))
        self.macs_per_sample = cout * self.ho * self.wo * cin * K * K

    def hidden_pre(self, v):
        return F.conv2d(v, self.W, stride=STRIDE, padding=PAD) + self.b.view(1, -1, 1, 1)

    def visible_pre(self, h):
        return F.conv_transpose2d(h, self.W, stride=STRIDE, padding=PAD,
                                  output_padding=self.out_pad) + self.a.view(1, -1, 1, 1)

    def visible_term(self, v):
        return (v.sum((2, 3)) * self.a).sum(1)


class Rbm(torch.nn.Module):
    def __init__(self, nv, nh):
        super().__init__()
        self.W = torch.nn.Parameter(torch.randn(nv, nh) * init_std(nv))
        self.a = torch.nn.Parameter(torch.zeros(nv))
        self.b = torch.nn.Parameter(torch.zeros(nh))
        self.macs_per_sample = nv * nh

    def hidden_pre(self, v):
        return torch.addmm(self.b, v, self.W)

    def visible_pre(self, h):
        return torch.addmm(self.a, h, self.W.t())

    def visible_term(self, v):
        return v @ self.a


def build(preset):
    (c, h, w), convs, denses, batch, _ = PRESETS[preset]
    layers = []
    for cout in convs:
        layer = ConvRbm(c, h, w, cout)
        layers.append(layer)
        c, h, w = cout, layer.ho, layer.wo
    nv = c * h * w
    for nh in denses:
        layers.append(Rbm(nv, nh))
        nv = nh
    return torch.nn.ModuleList(layers), (PRESETS[preset][0]), batch


def loss_of(layers, images, joint):
    """The summed contrastive loss; also layer 0's v' for the reconstruction metric."""
    v = images
    total = 0.0
    recon = None
    for layer in layers:
        if isinstance(layer, Rbm) and v.dim() != 2:
            v = v.flatten(1)
        x = layer.hidden_pre(v)
        f = unit_mean(x)
        free_v = -(layer.visible_term(v) + row_phi(x))
        with torch.no_grad():
            h = (f + torch.sqrt(unit_var(x)) * torch.randn_like(f)).clamp_(0.0, N)
            v_neg = unit_mean(layer.visible_pre(h))
        free_neg = -(layer.visible_term(v_neg) + row_phi(layer.hidden_pre(v_neg)))
        total = total + (free_v - free_neg).mean()
        if recon is None:
            recon = v_neg
        # joint: the hidden mean carries the gradient into the layer below; detached: a constant
        v = f if joint else f.detach()
    return total, recon


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(PRESETS), default="demo")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch", type=int, default=0, help="default: the preset's training batch")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument("--steps", type=int, default=0, help="timed steps (default: cpu 5, cuda 20)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--joint", dest="joint", action="store_true", default=None,
                   help="gradient between layers (default: the preset's choice)")
    g.add_argument("--detached", dest="joint", action="store_false", help="no gradient between layers")
    p.add_argument("--json", help="write the result as JSON to this file")
    args = p.parse_args()

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    dev = args.device
    if dev == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench_train_torch: --device cuda: no CUDA device visible to torch")
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as mrbm's default context
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    layers, (c, h, w), default_batch = build(args.model)
    joint = PRESETS[args.model][4] if args.joint is None else args.joint
    layers = layers.to(dev)
    batch = args.batch or default_batch
    steps = args.steps or (5 if dev == "cpu" else 20)
    opt = torch.optim.Adam(layers.parameters(), lr=1e-3)
    images = torch.randint(0, 256, (batch, c, h, w), generator=torch.Generator().manual_seed(args.seed + 77))
    images = images.to(torch.float32).to(dev)

    def step():
        total, recon = loss_of(layers, images, joint)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        loss = total.item()  # the host reads the metrics every step, as Trainer::step does
        mse = float(((images - recon) ** 2).mean())
        if dev == "cuda":
            torch.cuda.synchronize()
        return loss, mse

    load_before = load_average()
    for _ in range(args.warmup):
        step()
    ms = []
    last = None
    for _ in range(steps):
        t0 = time.perf_counter()
        last = step()
        ms.append((time.perf_counter() - t0) * 1e3)
    if not all(math.isfinite(v) for v in last):
        sys.exit(f"bench_train_torch: non-finite loss or error {last}")
    med = statistics.median(ms)
    flop = 0.0
    for i, layer in enumerate(layers):
        flop += 2.0 * (6 if joint and i > 0 else 5) * layer.macs_per_sample * batch
    images_per_s = batch / (med * 1e-3)
    load_after = load_average()
    print(f"bench_train_torch  torch {torch.__version__}, model {args.model}, device {dev}, "
          f"batch {batch}, {'joint' if joint else 'detached'}, {threads} thread(s), {steps} timed step(s) after {args.warmup} warm-up")
    print(f"step: median {med:.2f} ms (min {min(ms):.2f}, max {max(ms):.2f}), {images_per_s:.1f} images/s, "
          f"{flop * 1e-9:.3f} GFLOP/step, {flop / (med * 1e-3) / 1e9:.1f} GFLOP/s; "
          f"last loss {last[0]:.6g}, reconstruction MSE {last[1]:.2f}")
    print(f"load average: before {load_before}, after {load_after}")
    if args.json:
        doc = dict(bench="train_torch", torch=torch.__version__, model=args.model, device=dev,
                   batch=batch, joint=joint, threads=threads, steps=steps, warmup=args.warmup,
                   median_ms=med, min_ms=min(ms), max_ms=max(ms), images_per_s=images_per_s,
                   flop_per_step=flop, gflops=flop / (med * 1e-3) / 1e9,
                   last_loss=last[0], last_recon_mse=last[1],
                   load_average_before=load_before, load_average_after=load_after)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
