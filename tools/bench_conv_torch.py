#!/usr/bin/env python3
"""PyTorch twin of `mrbm bench conv` (docs/benchmarks.md, "Convolutions and training steps").

Times the three convolutions of a conv RBM layer for the conv layer shapes of an mrbm preset, the
way PyTorch's autograd runs them, on the same batch and thread count as the C++ bench, so the two
can be compared side by side:

  forward    y  = F.conv2d(x, w, stride=2, padding=1)                        [B, Cout, Ho, Wo]
  transpose  x' = F.conv_transpose2d(h, w, stride=2, padding=1, output_padding=op)  [B, Cin, H, W]
             (op = the rows no window reaches, e.g. 1 for 7 -> 3 -> 7; the adjoint of conv2d)
  weight     dw = torch.nn.grad.conv2d_weight(x, w.shape, dy, stride=2, padding=1)
             (in torch 1.13 this is aten.convolution_backward with only the weight output: the
             call autograd makes for conv2d's filter gradient)

Each op does M = B Cout Ho Wo Cin k k multiply-adds (padding taps counted, as in the C++ bench);
GFLOP/s = 2 M / time. Inputs as in the C++ bench: x, h uniform in [0, 255], w ~ N(0, std^2) with
mrbm's default init std (docs/models.md), dy ~ N(0, 1). The layer tables below mirror
layers/model_spec.cpp's presets (kernel 4, stride 2, padding 1 everywhere).

Validation before timing, same metric as the C++ bench: max |got - ref| / absref with ref the same
op in float64 (on the CPU) and absref the op on |inputs|; forward/transpose on up to
--validate-samples samples, the weight gradient on the whole batch. Reported, and a failure above
1e-4 (an O(1) error means a wrong op) stops the script.

Ceiling: torch.mm of two n x n float32 matrices (n = 2048 on the CPU, 8192 on CUDA; TF32 off, as in
mrbm's FP32 ceiling), 2 n^3 flops. Timing: warm-up, then the median of --reps runs
(time.perf_counter; on CUDA, CUDA events around each op). Threads: torch.set_num_threads(--threads)
and one inter-op thread.

Usage: /usr/bin/python3 tools/bench_conv_torch.py --device cpu --threads 2 --batch 8 --json t.json
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

# Conv layers of the presets: input (C, H, W) and the output channels of each conv layer.
PRESETS = {
    "demo": ((1, 28, 28), [32, 64]),
    "paper-fashion": ((1, 28, 28), [64, 128, 256]),
    "paper-mnist": ((1, 28, 28), [64, 128, 256]),
    "paper-cifar10": ((3, 32, 32), [64, 128, 256]),
    "paper-celeba64": ((3, 64, 64), [64, 128, 256, 256]),
    "paper-celeba128": ((3, 128, 128), [64, 128, 256, 256, 256]),
}
KERNEL, STRIDE, PAD = 4, 2, 1
N_UNIT = 255.0
S_UNIT = N_UNIT / 4.0
MAX_REL_ERROR = 1e-4


def layer_shapes(preset):
    (c, h, w), outs = PRESETS[preset]
    layers = []
    for cout in outs:
        ho = (h + 2 * PAD - KERNEL) // STRIDE + 1
        wo = (w + 2 * PAD - KERNEL) // STRIDE + 1
        # mrbm's default init: std = s_h / (2 (N_v / 2) sqrt(fan_in)), closed N = 255 units.
        std = S_UNIT / (2.0 * (N_UNIT / 2.0) * math.sqrt(c * KERNEL * KERNEL))
        layers.append(dict(cin=c, h=h, w=w, cout=cout, ho=ho, wo=wo, std=std))
        c, h, w = cout, ho, wo
    return layers


def output_padding(L):
    return (L["h"] - ((L["ho"] - 1) * STRIDE - 2 * PAD + KERNEL),
            L["w"] - ((L["wo"] - 1) * STRIDE - 2 * PAD + KERNEL))


def run_op(op, L, t):
    if op == "forward":
        return F.conv2d(t["x"], t["w"], stride=STRIDE, padding=PAD)
    if op == "transpose":
        return F.conv_transpose2d(t["h"], t["w"], stride=STRIDE, padding=PAD,
                                  output_padding=output_padding(L))
    return torch.nn.grad.conv2d_weight(t["x"], t["w"].shape, t["dy"], stride=STRIDE, padding=PAD)


def validate(op, L, t, got, samples):
    """max |got - ref| / absref against float64 on the CPU (see the module docstring)."""
    def cpu64(name, absolute):
        v = t[name].detach().to("cpu", torch.float64)
        if op != "weight_grad" and name != "w":
            v = v[samples]
        return v.abs() if absolute else v

    def ref(absolute):
        d = {k: cpu64(k, absolute) for k in ("x", "h", "w", "dy")}
        return run_op(op, L, d)

    r, a = ref(False), ref(True)
    g = got.detach().to("cpu", torch.float64)
    if op != "weight_grad":
        g = g[samples]
    if not torch.isfinite(g).all():
        return math.inf
    err = (g - r).abs() / a.clamp_min(1e-300)
    return float(err.max())


def timer(device):
    if device == "cuda":
        def time_once(fn):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop)
    else:
        def time_once(fn):
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * 1e3
    return time_once


def measure(fn, device, warmup, reps):
    time_once = timer(device)
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    ms = [time_once(fn) for _ in range(reps)]
    return statistics.median(ms), min(ms), max(ms)


def gemm_ceiling(device, n, warmup, reps):
    g = torch.Generator().manual_seed(12345)
    a = (torch.rand(n, n, generator=g) * 2 - 1).to(device)
    b = (torch.rand(n, n, generator=g) * 2 - 1).to(device)
    med, mn, _ = measure(lambda: torch.mm(a, b), device, warmup, reps)
    return dict(device=device, kind="torch.mm float32" + (" (no TF32)" if device == "cuda" else ""),
                n=n, median_ms=med, min_ms=mn, gflops=2.0 * n ** 3 / (med * 1e-3) / 1e9)


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--preset", choices=sorted(PRESETS), default="paper-celeba64")
    p.add_argument("--batch", type=int, default=0, help="default: cpu 8, cuda 128")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    p.add_argument("--reps", type=int, default=0, help="default: cpu 7, cuda 25")
    p.add_argument("--warmup", type=int, default=-1, help="default: cpu 1, cuda 3")
    p.add_argument("--validate-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=20240612)
    p.add_argument("--quick", action="store_true", help="batch 2/4 and 2 reps (a smoke test)")
    p.add_argument("--json", help="write the results as JSON to this file")
    args = p.parse_args()

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set
    dev = args.device
    if dev == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench_conv_torch: --device cuda: no CUDA device visible to torch")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    cpu_default = 2 if args.quick else 8
    batch = args.batch or (cpu_default if dev == "cpu" else (4 if args.quick else 128))
    reps = args.reps or (2 if args.quick else (7 if dev == "cpu" else 25))
    warmup = args.warmup if args.warmup >= 0 else (1 if dev == "cpu" else 3)

    load_before = load_average()
    print(f"bench_conv_torch  torch {torch.__version__}, device {dev}"
          + (f" ({torch.cuda.get_device_name(0)})" if dev == "cuda" else "")
          + f", {threads} thread(s), preset {args.preset}, batch {batch}, load average {load_before}")
    print(f"cpu: {cpu_model()}")
    ceiling = gemm_ceiling(dev, 512 if args.quick else (2048 if dev == "cpu" else 8192),
                           1 if dev == "cpu" else 2, 2 if args.quick else (5 if dev == "cpu" else 10))
    print(f"sgemm ceiling ({ceiling['kind']}, {ceiling['n']}^3): {ceiling['gflops']:.1f} GFLOP/s")

    g = torch.Generator().manual_seed(args.seed)
    rows = []
    for index, L in enumerate(layer_shapes(args.preset)):
        t = {
            "x": torch.rand(batch, L["cin"], L["h"], L["w"], generator=g) * 255.0,
            "h": torch.rand(batch, L["cout"], L["ho"], L["wo"], generator=g) * 255.0,
            "w": torch.randn(L["cout"], L["cin"], KERNEL, KERNEL, generator=g) * L["std"],
            "dy": torch.randn(batch, L["cout"], L["ho"], L["wo"], generator=g),
        }
        t = {k: v.to(dev) for k, v in t.items()}
        nv = min(batch, args.validate_samples)
        samples = [k * (batch - 1) // max(nv - 1, 1) for k in range(nv)] if batch > nv else list(range(batch))
        macs = batch * L["cout"] * L["ho"] * L["wo"] * L["cin"] * KERNEL * KERNEL
        shape = f"{L['cin']}x{L['h']}x{L['w']} -> {L['cout']}x{L['ho']}x{L['wo']}"
        for op in ("forward", "transpose", "weight_grad"):
            with torch.no_grad():
                got = run_op(op, L, t)
                err = validate(op, L, t, got, samples)
                if not err <= MAX_REL_ERROR:
                    sys.exit(f"bench_conv_torch: layer {index} {op}: rel err {err:.3g} > {MAX_REL_ERROR}")
                med, mn, mx = measure(lambda: run_op(op, L, t), dev, warmup, reps)
            gflops = 2.0 * macs / (med * 1e-3) / 1e9
            rows.append(dict(device=dev, preset=args.preset, layer=index, shape=shape, batch=batch,
                             op=op, algo="torch", threads=threads, macs=macs, max_rel_err=err,
                             reps=reps, median_ms=med, min_ms=mn, max_ms=mx, gflops=gflops,
                             ceiling_gflops=ceiling["gflops"],
                             ceiling_fraction=gflops / ceiling["gflops"], status="ok"))
            print(f"  layer {index} {shape:22s} {op:11s} {med:9.3f} ms {gflops:7.1f} GFLOP/s "
                  f"{100 * gflops / ceiling['gflops']:5.1f}% of mm  err {err:.1e}", flush=True)
    for op in ("forward", "transpose", "weight_grad"):
        sel = [r for r in rows if r["op"] == op]
        ms, macs = sum(r["median_ms"] for r in sel), sum(r["macs"] for r in sel)
        gf = 2.0 * macs / (ms * 1e-3) / 1e9
        rows.append(dict(device=dev, preset=args.preset, layer="all", batch=batch, op=op, algo="torch",
                         threads=threads, macs=macs, median_ms=ms, gflops=gf,
                         ceiling_fraction=gf / ceiling["gflops"], status="ok"))
        print(f"  all layers {op:11s} {ms:9.3f} ms {gf:7.1f} GFLOP/s {100 * gf / ceiling['gflops']:5.1f}% of mm")
    load_after = load_average()
    print(f"load average after the run: {load_after}")
    if args.json:
        doc = dict(bench="conv_torch", torch=torch.__version__, device=dev, cpu=cpu_model(),
                   threads=threads, preset=args.preset, batch=batch,
                   load_average_before=load_before, load_average_after=load_after,
                   ceiling=ceiling, results=rows)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
