#!/usr/bin/env python3
"""Writes the section "Test log-likelihood" of docs/results.md from the JSON of tools/loglik_results.sh.

Reads OUT/<run>/evaluate.json (`mrbm evaluate --log-likelihood`) and OUT/<run>/budget.json for the
runs rbm-binary and rbm-multinary, and replaces the block between the markers
<!-- loglik:begin --> and <!-- loglik:end --> of the page (appended when absent). No number is
typed by hand.
Usage: write_loglik_results.py OUT RESULTS_MD
"""
import json
import math
import os
import sys

BEGIN, END = "<!-- loglik:begin -->", "<!-- loglik:end -->"
RUNS = [("rbm-binary", "binary hidden units"), ("rbm-multinary", "multinary hidden units")]


def load(path):
    with open(path) as f:
        return json.load(f)


def unit_text(u):
    if u["kind"] == "binary":
        return "binary"
    extra = ", ".join(f"{k} = {u[k]:g}" for k in ("n", "scale", "spacing") if k in u)
    return f"{u['kind']} ({extra})"


def section(out):
    rows, budgets, evals, warnings = [], [], [], []
    for name, label in RUNS:
        e = load(os.path.join(out, name, "evaluate.json"))
        b = load(os.path.join(out, name, "budget.json"))
        epochs = [json.loads(l) for l in open(os.path.join(out, name, "metrics.jsonl")) if '"epoch"' in l]
        last = [m for m in epochs if m.get("type") == "epoch"][-1]
        evals.append(e)
        budgets.append(b)
        exact = e["exact_log_z"]
        rows.append(
            f"| {label}: 784 -> {b['hidden']} {unit_text(e['hidden_unit'])} | "
            f"**{e['mean_log_likelihood']:.2f}** +- {e['log_likelihood_std_error']:.2f} | "
            f"{e['log_z']:.2f} +- {e['log_z_std_error']:.2f} | {e['ais']['effective_chains']:.1f} of {e['ais']['chains']} | "
            f"{'—' if exact is None else format(exact['log_z'], '.2f')} | "
            f"{last['train_loss']:.4g} | {math.sqrt(last['eval_recon_mse']):.1f} | "
            f"{b['train_seconds']:.0f} s | {e['ais']['seconds']:.0f} s |")
        if e["ais"]["effective_chains"] < 10:
            warnings.append(f"**{label}: unreliable estimate.** {e['ais']['effective_chains']:.1f} effective chains of "
                            f"{e['ais']['chains']}: a few AIS weights dominate, so log Z is most likely higher than "
                            "estimated (AIS is a stochastic lower bound on log Z) and the log-likelihood lower.")
    b0, e0 = budgets[0], evals[0]
    images = "all 60000" if b0["limit"] == -1 else f"the first {b0['limit']}"
    lines = [
        BEGIN,
        "## Test log-likelihood (binarized Fashion-MNIST, dense RBMs)",
        "",
        "<!-- Written by tools/write_loglik_results.py from the JSON of tools/loglik_results.sh; do not edit by hand. -->",
        "",
        f"Two dense RBMs of the same size, 784 binary visible units and {b0['hidden']} hidden units, binary or "
        "multinary (closed form N = 255 with s = 64, so that N s is an integer and the unit has an exact sampler; "
        "the presets' s = N/4 has none), trained with CD-1 (exact hidden samples, the mean reconstruction) with "
        f"Adam (lr {b0['lr']:g}, batch {b0['batch']}) for **{b0['epochs']} epochs** on {images} training images "
        "seen as probabilities (grey levels in [0, 1]), seed 1. Then `mrbm evaluate --log-likelihood`: log Z by AIS "
        f"({e0['ais']['chains']} chains, {e0['ais']['temperatures']} temperatures in three linear pieces, start model "
        f"fitted to the mean of {e0['base_rate_images']} training images, docs/math.md section 11) and the mean of "
        f"log p(v) over {e0['test_images']} stochastically binarized test images (seed {e0['binarize_seed']}), in nats "
        "per image (higher is better).",
        "",
        "| model | mean test log p(v) | log Z (AIS, +- se) | effective chains | exact log Z | last epoch's CD loss | reconstruction rmse (pixels) | training | AIS |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "The +- after the log-likelihood is the standard error over test images; the error of log Z shifts every "
        "image alike and adds to it. A small number of effective chains ((sum w)^2 / sum w^2) means the AIS estimate "
        "(and its se) is unreliable, usually too low, which makes the log-likelihood too high. "
        f"Machine: {b0['machine']}; device {e0['device']}. The CD loss is the mean of F(v) - F(v') over the last "
        "epoch (negative when the data have lower free energy than their reconstructions); the reconstruction rmse "
        "is that of the 64 evaluation images after the last epoch (metrics.jsonl).",
    ]
    for w in warnings:
        lines += ["", w]
    diff = evals[1]["mean_log_likelihood"] - evals[0]["mean_log_likelihood"]
    se = math.hypot(evals[0]["log_z_std_error"], evals[1]["log_z_std_error"])
    lines += ["", f"**Multinary minus binary:** {diff:+.2f} nats per image (the two log Z errors combined: "
              f"{se:.2f} nats). One seed per model, a short training budget: this measures these two models, "
              "not the paper's claim at its budget.", END]
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
