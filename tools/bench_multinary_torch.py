#!/usr/bin/env python3
"""PyTorch eager reference for `mrbm bench multinary` (docs/benchmarks.md).

Evaluates the same multinary unit math as the fused pass of kernels/multinary.h, the way a PyTorch
user would write it, on the same sizes and thread count, so the two can be compared side by side:

  binary        mean = sigmoid(x); var = sigmoid'(x); row_phi = sum_c softplus(x)
  closed form   mean = N sigmoid(x/s); var = (N/s) sigmoid'(x/s); row_phi = sum_c N s softplus(x/s)
  copies        z = x[:, None] - theta[None, :]          (a materialized [n, N] float32 tensor)
                mean = sum_k sigmoid(z); var = sum_k sigmoid'(z); row_phi = sum_c sum_k softplus(z)
                theta_k = d (k - (N+1)/2)  (equal copies)  or  s logit((k - 1/2)/N)  (logit copies)

Output sets: "mean" (mean only) and "mean+var+phi" (the fused pass; row sums in float64).
Inputs: uniform over the unit's interesting range, as in the C++ bench. The copy tensor is built
for --chunk elements of x at a time (0: all n at once). The defaults are the fastest settings
measured on the 2-core EPYC of docs/benchmarks.md, so that the comparison flatters PyTorch, not
mrbm: 4096 elements per chunk (a 4 MiB [4096, 255] temporary that stays in the L3 cache; 64 K elements
were about 3x slower) and float32 denormals flushed to zero (the far copy tails underflow into
denormals, which are slow on x86: 1.3-1.6x; --keep-denormals turns the flush off).
Each case is validated before timing against the same formulas in float64 on the first rows
(max |got - ref| / max(|ref|, 1e-30)); the script reports it (PyTorch's float32 is not required to
meet mrbm's 1e-5 threshold, so it does not fail on it).

Usage (Debian's python3-torch is installed for /usr/bin/python3):
  /usr/bin/python3 tools/bench_multinary_torch.py --device cpu --threads 2 --json torch.json
  /usr/bin/python3 tools/bench_multinary_torch.py --device cuda --json torch_cuda.json
"""
import argparse
import json
import math
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

N = 255


def units():
    s = N / 4.0
    theta_n = s * math.log((N - 0.5) / 0.5)
    equal = [1.0 * (k - (N + 1) / 2.0) for k in range(1, N + 1)]
    logit = [s * math.log(((k - 0.5) / N) / (1.0 - (k - 0.5) / N)) for k in range(1, N + 1)]
    return [
        dict(name="binary", kind="binary", n=1, scale=1.0, lo=-16.0, hi=16.0),
        dict(name="closed N=255 s=N/4", kind="closed_form", n=N, scale=s,
             lo=-theta_n - 10.0, hi=theta_n + 10.0),
        dict(name="equal N=255 d=1", kind="equal_copies", n=N, theta=equal,
             lo=equal[0] - 10.0, hi=equal[-1] + 10.0),
        dict(name="logit N=255 s=N/4", kind="logit_copies", n=N, theta=logit,
             lo=logit[0] - 10.0, hi=logit[-1] + 10.0),
    ]


def dsigmoid(z, p):
    # sigmoid(z) sigmoid(-z): p (1 - p) rounds to 0 once p rounds to 1 in float32 (z > ~17),
    # which would lose the variance's upper tail (docs/math.md section 7, stable forms).
    return p * torch.sigmoid(-z)


def forward(unit, x, fused, theta, chunk):
    """Returns (mean, var or None, row_phi or None) for x of shape [rows, cols]."""
    rows, cols = x.shape
    kind = unit["kind"]
    if kind in ("binary", "closed_form"):
        n, s = float(unit["n"]), float(unit["scale"])
        xs = x if s == 1.0 else x / s
        p = torch.sigmoid(xs)
        mean = p if n == 1.0 else n * p
        if not fused:
            return mean, None, None
        var = dsigmoid(xs, p) * (n / s)
        phi = F.softplus(xs)
        if n * s != 1.0:
            phi = phi * (n * s)
        return mean, var, phi.sum(1, dtype=torch.float64)
    # copies: materialize z = x - theta as [elements, N], chunk by whole rows
    rows_per_chunk = rows if chunk <= 0 else max(1, chunk // max(cols, 1))
    means, vars_, phis = [], [], []
    for r0 in range(0, rows, rows_per_chunk):
        xc = x[r0:r0 + rows_per_chunk]
        z = xc.reshape(-1, 1) - theta.reshape(1, -1)
        p = torch.sigmoid(z)
        means.append(p.sum(1).view(xc.shape))
        if fused:
            vars_.append(dsigmoid(z, p).sum(1).view(xc.shape))
            phis.append(F.softplus(z).sum(1).view(xc.shape).sum(1, dtype=torch.float64))
    mean = torch.cat(means) if len(means) > 1 else means[0]
    if not fused:
        return mean, None, None
    var = torch.cat(vars_) if len(vars_) > 1 else vars_[0]
    row_phi = torch.cat(phis) if len(phis) > 1 else phis[0]
    return mean, var, row_phi


def reference(unit, x64, theta64):
    """float64 versions of the same formulas (stable softplus), x64 of shape [r, cols]."""
    kind = unit["kind"]
    if kind in ("binary", "closed_form"):
        n, s = float(unit["n"]), float(unit["scale"])
        p = torch.sigmoid(x64 / s)
        return n * p, dsigmoid(x64 / s, p) * (n / s), (n * s * F.softplus(x64 / s, threshold=1e9)).sum(1)
    z = x64.reshape(-1, 1) - theta64.reshape(1, -1)
    p = torch.sigmoid(z)
    sp = torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))
    shape = x64.shape
    return p.sum(1).view(shape), dsigmoid(z, p).sum(1).view(shape), sp.sum(1).view(shape).sum(1)


def max_rel(got, ref):
    err = (got.double() - ref).abs() / ref.abs().clamp(min=1e-30)
    return float(err.max()) if err.numel() else 0.0


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_case(fn, device, warmup, reps):
    for _ in range(warmup):
        fn()
    sync(device)
    times, cpu_times = [], []
    for _ in range(reps):
        if device == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
            # process CPU time (all threads): robust to other load on the cores; comparable with
            # the C++ bench's cpu_ns_per_element for --threads 1 (OpenMP workers may spin)
            cpu_times.append((time.process_time() - c0) * 1e3)
    cpu_med = statistics.median(cpu_times) if cpu_times else 0.0
    return statistics.median(times), min(times), max(times), cpu_med


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    ap.add_argument("--rows", type=int, default=0, help="default: cpu 64, cuda 128")
    ap.add_argument("--cols", type=int, default=0, help="default: cpu 16384, cuda 65536")
    ap.add_argument("--reps", type=int, default=0, help="default: cpu 7, cuda 25")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=-1,
                    help="x elements per materialized [chunk, N] copy tensor (0: all at once; "
                         "default: cpu 4096, cuda 1048576, i.e. 1 GiB temporaries)")
    ap.add_argument("--validate-rows", type=int, default=2, help="rows checked against float64")
    ap.add_argument("--units", default="", help="comma-separated subset of unit names")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--keep-denormals", action="store_true",
                    help="do not call torch.set_flush_denormal(True) (the copy tails underflow "
                         "into float32 denormals, which are slow on x86 unless flushed)")
    ap.add_argument("--json", default="", help="write the results as JSON to this file")
    args = ap.parse_args()

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_multinary_torch: --device cuda but torch.cuda.is_available() is False")
    rows = args.rows or (128 if device == "cuda" else 64)
    cols = args.cols or (65536 if device == "cuda" else 16384)
    reps = args.reps or (25 if device == "cuda" else 7)
    if args.chunk < 0:
        args.chunk = (1 << 20) if device == "cuda" else 4096
    torch.set_num_threads(args.threads)
    flush_denormal = False
    if not args.keep_denormals and device == "cpu":
        flush_denormal = torch.set_flush_denormal(True)  # False where the CPU cannot
    gen = torch.Generator().manual_seed(args.seed)

    dev_line = cpu_model()
    if device == "cuda":
        dev_line = torch.cuda.get_device_name(0)
    print(f"bench_multinary_torch  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    print(f"torch {torch.__version__}, device {device} ({dev_line}), "
          f"threads {torch.get_num_threads()}, {rows} x {cols}, median of {reps}, chunk {args.chunk}, "
          f"flush denormals {flush_denormal}")

    wanted = [u.strip() for u in args.units.split(",") if u.strip()]
    results = []
    for unit in units():
        if wanted and unit["name"] not in wanted:
            continue
        x = (torch.rand(rows, cols, generator=gen, dtype=torch.float64) * (unit["hi"] - unit["lo"])
             + unit["lo"]).float().to(device)
        theta = theta64 = None
        if "theta" in unit:
            theta64 = torch.tensor(unit["theta"], dtype=torch.float64)
            theta = theta64.float().to(device)
        for outputs, fused in (("mean", False), ("mean+var+phi", True)):
            mean, var, row_phi = forward(unit, x, fused, theta, args.chunk)
            vr = min(args.validate_rows, rows)
            rm, rv, rp = reference(unit, x[:vr].double().cpu(), theta64)
            err = max_rel(mean[:vr].cpu(), rm)
            if fused:
                err = max(err, max_rel(var[:vr].cpu(), rv), max_rel(row_phi[:vr].cpu(), rp))
            med, lo, hi, cpu_med = time_case(lambda: forward(unit, x, fused, theta, args.chunk),
                                    device, args.warmup, reps)
            n = rows * cols
            res = dict(device=device, unit=unit["name"], kind=unit["kind"], outputs=outputs,
                       rows=rows, cols=cols, elements=n, threads=torch.get_num_threads(),
                       chunk=args.chunk, flush_denormal=flush_denormal, reps=reps,
                       median_ms=med, min_ms=lo, max_ms=hi,
                       elements_per_s=n / (med * 1e-3), ns_per_element=med * 1e6 / n,
                       max_rel_err=err)
            if cpu_med > 0.0:
                res.update(median_cpu_ms=cpu_med, cpu_ns_per_element=cpu_med * 1e6 / n)
            results.append(res)
            print(f"  {unit['name']:<20} {outputs:<13} {med:10.3f} ms  {res['ns_per_element']:9.2f} ns/elem"
                  f" ({res.get('cpu_ns_per_element', 0.0):9.2f} cpu ns/elem)"
                  f"  {res['elements_per_s'] * 1e-6:9.2f} Melem/s  max rel err {err:.2e}", flush=True)

    if args.json:
        doc = dict(bench="multinary_torch", timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   torch=torch.__version__, device=device, device_name=dev_line,
                   threads=torch.get_num_threads(), results=results)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
