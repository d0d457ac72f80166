#!/usr/bin/env python3
"""Writes the section "Test log-likelihood" of docs/results.md from the JSON of tools/loglik_results.sh.

Reads OUT/runs.json (the runs, in order) and each OUT/<run>/evaluate.json (`mrbm evaluate
--log-likelihood`), budget.json and metrics.jsonl, and replaces the block between the markers
<!-- loglik:begin --> and <!-- loglik:end --> of the page (appended when absent). No number is
typed by hand.
Usage: write_loglik_results.py OUT RESULTS_MD
"""
import json
import math
import os
import sys

BEGIN, END = "<!-- loglik:begin -->", "<!-- loglik:end -->"


def load(path):
    with open(path) as f:
        return json.load(f)


def unit_text(u):
    if u["kind"] == "binary":
        return "binary"
    states = ""
    if u["kind"] == "closed":
        step = "" if u["scale"] == 1 else f" in steps of 1/{u['scale']:g}"
        states = f", states 0..{u['n']:g}{step}"
    extra = ", ".join(f"{k} = {u[k]:g}" for k in ("n", "scale", "spacing") if k in u)
    return f"{u['kind']} ({extra}{states})"


def negative_text(options):
    """'--negative persistent --negative-steps 1 --chains 100' -> 'PCD-1, 100 chains'."""
    words = options.split()
    value = {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}
    start, steps = value.get("--negative", "data"), value.get("--negative-steps", "1")
    if start == "data":
        return f"CD-{steps}"
    if start == "persistent":
        return f"PCD-{steps}, {value.get('--chains', 'batch')} chains"
    return f"noise, {steps} steps"


def is_multinary(e):
    return e["hidden_unit"]["kind"] != "binary"


def section(out):
    names = load(os.path.join(out, "runs.json"))
    rows, warnings, runs = [], [], {}
    for name in names:
        e = load(os.path.join(out, name, "evaluate.json"))
        b = load(os.path.join(out, name, "budget.json"))
        epochs = [json.loads(l) for l in open(os.path.join(out, name, "metrics.jsonl")) if '"epoch"' in l]
        last = [m for m in epochs if m.get("type") == "epoch"][-1]
        runs[name] = (e, b)
        exact = e["exact_log_z"]
        ess = e["ais"]["effective_chains"]
        rows.append(
            f"| 784 -> {b['hidden']} {unit_text(e['hidden_unit'])} | {negative_text(b['negative'])} | "
            f"**{e['mean_log_likelihood']:.2f}** +- {e['log_likelihood_std_error']:.2f} | "
            f"{e['log_z']:.2f} +- {e['log_z_std_error']:.2f} | {ess:.1f} of {e['ais']['chains']} | "
            f"{'—' if exact is None else format(exact['log_z'], '.2f')} | "
            f"{last['train_loss']:.4g} | {math.sqrt(last['eval_recon_mse']):.1f} | "
            f"{b['train_seconds']:.0f} s | {e['ais']['temperatures']} T, {e['ais']['seconds']:.0f} s |")
        if ess < 10:
            warnings.append(f"**{name}: unreliable estimate.** {ess:.1f} effective chains of "
                            f"{e['ais']['chains']}: a few AIS weights dominate, so log Z is most likely higher than "
                            "estimated (AIS is a stochastic lower bound on log Z) and the log-likelihood lower. "
                            "More temperatures (`--temperatures`) make the weights more equal.")
    e0, b0 = runs[names[0]]
    images = "all 60000" if b0["limit"] == -1 else f"the first {b0['limit']}"
    lines = [
        BEGIN,
        "## Test log-likelihood (binarized Fashion-MNIST, dense RBMs)",
        "",
        "<!-- Written by tools/write_loglik_results.py from the JSON of tools/loglik_results.sh; do not edit by hand. -->",
        "",
        f"Dense RBMs of the same size, 784 binary visible units and {b0['hidden']} hidden units, binary or "
        "multinary (the closed form with N s an integer, so that the unit is an exact binomial RBM that AIS can "
        "sample; the presets' N = 255, s = N/4 has no exact sampler, docs/math.md section 11), each trained with "
        "CD-1 (the data's chains, one Gibbs step) and with PCD-1 (persistent chains) with exact hidden samples and "
        f"Adam (lr {b0['lr']:g}, batch {b0['batch']}) for **{b0['epochs']} epoch{'' if b0['epochs'] == 1 else 's'}** on {images} training images "
        "seen as probabilities (grey levels in [0, 1]), seed 1. Then `mrbm evaluate --log-likelihood`: log Z by AIS "
        f"({e0['ais']['chains']} chains, {e0['ais']['temperatures']} temperatures in three linear pieces, start model "
        f"fitted to the mean of {e0['base_rate_images']} training images, docs/math.md section 11) and the mean of "
        f"log p(v) over {e0['test_images']} stochastically binarized test images (seed {e0['binarize_seed']}), in nats "
        "per image (higher is better). Where fewer than 10 chains were effective, the script ran AIS again with 4 "
        "times the temperatures, up to 16 times (the AIS column gives the temperatures T used). Command: "
        "`make reproduce-loglik` (tools/loglik_results.sh).",
        "",
        "| hidden units | training | mean test log p(v) | log Z (AIS, +- se) | effective chains | exact log Z | last epoch's loss | reconstruction rmse (pixels) | training time | AIS |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "The +- after the log-likelihood is the standard error over test images; the error of log Z shifts every "
        "image alike and adds to it. A small number of effective chains ((sum w)^2 / sum w^2) means the AIS estimate "
        "(and its se) is unreliable, usually too low, which makes the log-likelihood too high. "
        f"Machine: {b0['machine']}; device {e0['device']}; commit {b0.get('commit', '?')}, {b0.get('date', '?')}. "
        "The loss is the mean of F(v) - F(v') over the last epoch's steps (negative when the data have lower free "
        "energy than the negative samples); the reconstruction rmse is that of the 64 evaluation images after the "
        "last epoch (metrics.jsonl).",
    ]
    for w in warnings:
        lines += ["", w]
    # Multinary minus binary for each training method that has both (same negative phase).
    pairs = []
    for name, (e, b) in runs.items():
        if not is_multinary(e):
            continue
        for other, (e2, b2) in runs.items():
            if not is_multinary(e2) and b2["negative"] == b["negative"]:
                diff = e["mean_log_likelihood"] - e2["mean_log_likelihood"]
                se = math.hypot(e["log_z_std_error"], e2["log_z_std_error"])
                pairs.append(f"{name} minus {other}: **{diff:+.2f}** nats per image (log Z errors combined: {se:.2f})")
    if pairs:
        lines += ["", "**Multinary minus binary** (same training): " + "; ".join(pairs) + ". One seed per model, "
                  "one budget: this measures these models, not the paper's claim at its budget."]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main():
    out, results = sys.argv[1], sys.argv[2]
    text = open(results).read() if os.path.exists(results) else ""
    block = section(out)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    tmp = results + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, results)


if __name__ == "__main__":
    main()
