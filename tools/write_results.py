#!/usr/bin/env python3
"""Writes the Fashion-MNIST results page (docs/results.md) from the JSON of `make reproduce-fashion`.

Reads the output folder of tools/reproduce_fashion.sh:
  budget.json            the budget (epochs, training images, SVM split, C values, device, seed)
  machine.json           `mrbm info --json`, the CPU model and cores, the load, the commit
  commands.jsonl         every command the script ran: run, what, epoch, wall_s, argv
  raw/classify.json      `mrbm classify --raw-pixels --json`
  <run>/run.json         the model spec and training settings (`mrbm train`)
  <run>/metrics.jsonl    per-epoch lines: images_per_s, eval_recon_mse, free_energy_gap, ...
  <run>/classify/epoch-NNN.json   `mrbm classify --json` after epoch NNN
  <run>/*.png            the last epoch's sample grids and reconstructions
  multinary-seedK/, binary-seedK/   the main runs again with training seed K (the spread over seeds)
  ablation/<row>/        the ablation rows of tools/fashion_ablations.json (run.json, metrics, classify/)
and writes the page, a PNG plot of test error against epochs (when matplotlib is available) and
copies of the multinary model's sample grids, all under the page's folder (images/fashion/).

Why a separate script: every number on the page comes from those files, so the page can be
regenerated (and checked) without rerunning anything, and nothing on it is typed by hand. The
only constants here are the paper's (Table 1 and section 4 of arXiv 2011.13509), labelled as such.
Standard library only, plus matplotlib for the plot.
"""
import argparse
import json
import math
import os
import shlex
import shutil
import sys

# The paper's Table 1 (Fashion-MNIST test error, %) and training setup (section 4).
PAPER_ERROR = {"binary": 13.12, "multinary": 9.26}
PAPER_EPOCHS, PAPER_BATCH, PAPER_LR, PAPER_TRAIN_IMAGES = 500, 128, 0.03, 60000
FASHION_TRAIN_IMAGES, FASHION_TEST_IMAGES = 60000, 10000

# The runs of the script: folder, label, model, what it changes.
RUNS = [
    ("binary", "binary DBN", "paper-fashion-binary", "binary visible and hidden units"),
    ("multinary", "multinary DBN", "paper-fashion", "255-level (closed-form) units"),
]
# The ablation rows (tools/reproduce_fashion.sh reads the same file to run them).
ABLATIONS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_ablations.json")


def seed_runs(out, budget, key, label, model):
    """The run `key` (training seed 1) and its repeats with seeds 2..budget["seeds"], as
    (seed, Run) for those that exist."""
    found = []
    for seed in range(1, budget.get("seeds", 1) + 1):
        folder = key if seed == 1 else f"{key}-seed{seed}"
        r = Run(out, folder, f"{label}, seed {seed}", model, f"training seed {seed}")
        if r.exists:
            found.append((seed, r))
    return found


def mean_sd(values):
    """Mean and sample standard deviation (None for fewer than two values)."""
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        sys.exit(f"write_results: {path}: invalid JSON: {e}")


def load_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"write_results: {path}:{n}: invalid JSON: {e}")
    return rows


def pct(x):
    return "n/a" if x is None else f"{x:.2f}%"


def fmt_c(c):
    return f"{c:g}"


def fmt_count(n, total):
    return f"all {total}" if n is None or n < 0 or n >= total else f"{n}"


def fmt_duration(s):
    if s is None:
        return "n/a"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


class Run:
    """One trained model: its settings, per-epoch metrics and classifications."""

    def __init__(self, out, key, label, model, change):
        self.key, self.label, self.model, self.change = key, label, model, change
        self.dir = os.path.join(out, key)
        self.run = load_json(os.path.join(self.dir, "run.json"))
        self.epoch_metrics = {r["epoch"]: r for r in load_jsonl(os.path.join(self.dir, "metrics.jsonl"))
                              if r.get("type") == "epoch"}
        self.classify = {}
        cdir = os.path.join(self.dir, "classify")
        if os.path.isdir(cdir):
            for name in sorted(os.listdir(cdir)):
                if name.startswith("epoch-") and name.endswith(".json"):
                    self.classify[int(name[6:-5])] = load_json(os.path.join(cdir, name))

    @property
    def exists(self):
        return self.run is not None and bool(self.epoch_metrics)

    @property
    def epochs(self):
        return max(self.epoch_metrics) if self.epoch_metrics else 0

    @property
    def final(self):
        """The classification of the last trained epoch (None if it is missing)."""
        return self.classify.get(self.epochs)

    def images_per_s(self):
        v = [m["images_per_s"] for m in self.epoch_metrics.values() if "images_per_s" in m]
        return sum(v) / len(v) if v else None

    def recon_rmse(self):
        m = self.epoch_metrics.get(self.epochs)
        return math.sqrt(m["eval_recon_mse"]) if m and "eval_recon_mse" in m else None


def rel(path, base):
    """A path as the reader types it: relative to base when inside it."""
    p = os.path.abspath(path)
    b = os.path.abspath(base)
    return os.path.relpath(p, b) if p == b or p.startswith(b + os.sep) else p


def show_command(argv, repo):
    return " ".join(shlex.quote(rel(a, repo) if a.startswith("/") else a) for a in argv)


def classify_how(c):
    """One line: how a classification was obtained, from its JSON."""
    if c is None:
        return "missing"
    layer = c["layer"]
    feats = ("raw pixels" if c["features"] == "raw-pixels" else
             f"layers {'+'.join(map(str, layer))} hidden means" if isinstance(layer, list) else
             f"layer {layer} hidden means")
    choice = (f"C = {fmt_c(c['chosen_c'])} chosen on {c['holdout_count']} held-out images"
              if len(c["c_values"]) > 1 else f"C = {fmt_c(c['chosen_c'])} (fixed)")
    return (f"linear SVM ({c['solver']} L2-loss SVC) on {c['feature_dim']} {feats}, "
            f"{c['train_count']} training images, {choice}, {c['test_count']} test images")


def standard_error(c):
    """Binomial standard error of a test error (%), from the test count: the noise of the test
    sample alone (not of the seed or the training)."""
    p = c["test_error_percent"] / 100
    return 100 * math.sqrt(p * (1 - p) / c["test_count"])


def ablation_table(out, rows, multi):
    """The rows (of the ablations file) that exist, as (row, Run); a classify-only row's Run
    carries the reference's training (run.json, metrics) and its own classifications."""
    if not os.path.isdir(os.path.join(out, "ablation")):
        return []
    found = []
    ref = Run(out, "ablation/reference", "reference", multi.model, "none")
    for row in rows:
        r = Run(out, f"ablation/{row['name']}", row["name"], multi.model, row["what"])
        if "classify" in row:
            r.run, r.epoch_metrics = ref.run, ref.epoch_metrics
        if r.exists and r.classify:
            found.append((row, r))
    return found


def write_ablation(w, rows, all_rows, ablations, budget, multi, out, repo):
    epochs = budget.get("ablation_epochs")
    ref = next((r for row, r in rows if row["name"] == "reference"), None)
    ref_c = ref.final if ref else None
    w("## Ablation: what limits the error")
    w("")
    later = [(e, c["test_error_percent"]) for e, c in sorted(multi.classify.items()) if c and e >= epochs]
    flat = ""
    if len(later) >= 2:
        errs = [x for _, x in later]
        flat = (f" The multinary run's test error after epochs {', '.join(str(e) for e, _ in later)}: "
                f"{', '.join(pct(x) for x in errs)} (a range of {max(errs) - min(errs):.2f} points); the ablation's "
                f"{epochs} epoch{'s' if epochs != 1 else ''} cost {epochs / budget['epochs']:.0%} of "
                "a main run's training.")
    w(f"Each row changes one thing of the multinary run's exact spec (its run.json) and is trained "
      f"for {epochs} epoch{'s' if epochs != 1 else ''} on the same images with training seed 1 like "
      "the reference row (the spec unchanged), then classified with the same SVM protocol; the rows "
      "that change only the classification (features, standardization, C grid) reuse the "
      f"reference's checkpoint.{flat} The rows are `{rel(ablations, repo)}`; their generated "
      f"specs are in `{rel(os.path.join(out, 'ablation', 'specs'), repo)}/`.")
    w("")
    same = multi.classify.get(epochs)
    if ref_c and same:
        d = ref_c["test_error_percent"] - same["test_error_percent"]
        keys = ("train_loss", "eval_recon_mse", "free_energy_gap")
        trained_same = all(ref.epoch_metrics.get(e, {}).get(k) == multi.epoch_metrics.get(e, {}).get(k)
                           for e in range(1, epochs + 1) for k in keys)
        # classify JSONs before warm starts existed have no "final_warm_start": cold starts.
        warm = [c.get("final_warm_start", False) for c in (ref_c, same)]
        if d == 0:
            why = "identical: training and classification are reproducible run to run"
        elif trained_same and warm[0] != warm[1]:
            why = (f"{d:+.2f} points apart with bit-identical training (every epoch's loss, "
                   "reconstruction error and free-energy gap equal): the multinary run's "
                   f"classification {'started the SVMs from zero' if not warm[1] else 'used warm starts'} "
                   f"and the reference's {'used warm starts' if warm[0] else 'started from zero'}, and "
                   "liblinear stops within a tolerance of the optimum, so this difference is the SVM "
                   "solver's own noise; every ablation row is classified like the reference")
        elif trained_same:
            why = f"{d:+.2f} points apart with bit-identical training: the classification differs"
        else:
            why = f"{d:+.2f} points apart: the trainings were not bit-identical"
        w(f"The reference row retrains the multinary run's first {epochs} epoch{'s' if epochs != 1 else ''}: test error "
          f"{pct(ref_c['test_error_percent'])} against the multinary run's {pct(same['test_error_percent'])} "
          f"after epoch {epochs} ({why}).")
        w("")
    w("| variant | change | test error | minus reference (points) | chosen C | features | "
      "reconstruction RMSE | free-energy gap | images/s |")
    w("|---|---|---|---|---|---|---|---|---|")
    for row, r in rows:
        f = r.final
        m = r.epoch_metrics.get(r.epochs, {})
        rmse, ips_r = r.recon_rmse(), r.images_per_s()
        d = (f["test_error_percent"] - ref_c["test_error_percent"]) if f and ref_c else None
        gap = f"{m['free_energy_gap']:.4g}" if "free_energy_gap" in m else "n/a"
        shared = "classify" in row
        w(f"| {row['name']} | {row['what']} | {pct(f and f['test_error_percent'])} | "
          f"{'' if d is None or row['name'] == 'reference' else f'{d:+.2f}'} | "
          f"{fmt_c(f['chosen_c']) if f else 'n/a'} | {f['feature_dim'] if f else 'n/a'} | "
          f"{'(reference)' if shared else 'n/a' if rmse is None else f'{rmse:.1f}'} | "
          f"{'(reference)' if shared else gap} | "
          f"{'(reference)' if shared else 'n/a' if ips_r is None else f'{ips_r:.0f}'} |")
    w("")
    if ref_c:
        se = math.sqrt(2) * standard_error(ref_c)
        big = [(row["name"], r.final["test_error_percent"] - ref_c["test_error_percent"])
               for row, r in rows if r.final and row["name"] != "reference"
               and abs(r.final["test_error_percent"] - ref_c["test_error_percent"]) > 2 * se]
        better = [(n, d) for n, d in big if d < 0]
        worse = [(n, d) for n, d in big if d > 0]
        w(f"Noise: one standard error of the difference of two independent test errors at this level is "
          f"{se:.2f} points (the rows share the test images, so it overstates the noise of a "
          "difference), and one training seed per row (the spread over training seeds, the other "
          f"noise, is not in it). Beyond 2 standard errors ({2 * se:.2f} points): "
          + ("better than the reference: " + ", ".join(f"{n} ({d:+.2f})" for n, d in better)
             if better else "no row is better than the reference")
          + "; " + ("worse: " + ", ".join(f"{n} ({d:+.2f})" for n, d in worse) if worse else
                   "no row is worse") + ".")
        w("")
    missing = [row["name"] for row in all_rows
               if row["name"] not in {x["name"] for x, _ in rows}]
    if missing:
        w("Not run yet (the script continues with them when rerun): " + ", ".join(missing) + ".")
        w("")
    w("Reconstruction RMSE: the first 64 test images up through every layer by hidden "
      "means and down again, in pixel units (0..255). Free-energy gap: mean free energy of "
      "pixel-shuffled minus real test images (larger: the model tells real images from noise "
      "better). Both from the last epoch's line of metrics.jsonl.")
    w("")


def write_classify_cost(w, classifications):
    """The time and memory of the classifications on all training images (issue 13 item 4)."""
    full = [c for c in classifications
            if c.get("peak_rss_mib") and c["train_count"] >= FASHION_TRAIN_IMAGES]
    if not full:
        return
    w("## Classification cost at full size")
    w("")
    w(f"`mrbm classify` on all {FASHION_TRAIN_IMAGES} training images (feature extraction in batches, "
      "the C search on a 10% hold-out with warm starts, the final SVM, the test images), from each "
      "classification's JSON: wall time (`timings_s.total`) and the process's peak resident memory "
      "(`peak_rss_mib`, getrusage).")
    w("")
    w("| features | classifications | wall time: median, max | peak memory: max |")
    w("|---|---|---|---|")
    for dim in sorted({c["feature_dim"] for c in full}):
        cs = [c for c in full if c["feature_dim"] == dim]
        t = sorted(c["timings_s"]["total"] for c in cs)
        mem = max(c["peak_rss_mib"] for c in cs)
        w(f"| {dim} | {len(cs)} | {fmt_duration(t[len(t) // 2])}, {fmt_duration(t[-1])} | "
          f"{mem / 1024:.2f} GiB |")
    w("")


def make_plot(path, runs, raw, epochs_max):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib (Debian's python3-matplotlib) is not installed, so there is no plot; " \
               "the table above holds the same numbers."
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    styles = {"binary": ("tab:blue", "o"), "multinary": ("tab:red", "s")}
    for r in runs:
        pts = sorted((e, c["test_error_percent"]) for e, c in r.classify.items() if c)
        if not pts:
            continue
        color, marker = styles.get(r.key, ("black", "x"))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color,
                linestyle="-" if len(pts) > 1 else "none", label=f"{r.label} (ours)")
    right = max(epochs_max, 1)
    if raw:
        ax.axhline(raw["test_error_percent"], color="gray", linestyle=":", label="raw pixels, linear SVM (ours)")
    ax.axhline(PAPER_ERROR["binary"], color="tab:blue", linestyle="--", alpha=0.6,
               label=f"paper, binary ({PAPER_EPOCHS} epochs)")
    ax.axhline(PAPER_ERROR["multinary"], color="tab:red", linestyle="--", alpha=0.6,
               label=f"paper, multinary ({PAPER_EPOCHS} epochs)")
    ax.set_xlim(0.5, right + 0.5)
    ax.set_xticks(range(1, right + 1) if right <= 20 else None)
    ax.set_xlabel("training epochs")
    ax.set_ylabel("test error (%)")
    ax.set_title("Fashion-MNIST: linear SVM on the top layer's features")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder of tools/reproduce_fashion.sh")
    ap.add_argument("--results", required=True, help="the page to write (docs/results.md)")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--build", default=None, help="the build folder the commands used")
    ap.add_argument("--ablations", default=ABLATIONS_FILE, help="the ablation rows (JSON)")
    a = ap.parse_args()

    out, repo = os.path.abspath(a.out), os.path.abspath(a.repo)
    budget = load_json(os.path.join(out, "budget.json"))
    machine = load_json(os.path.join(out, "machine.json"))
    if budget is None or machine is None:
        sys.exit(f"write_results: {out}: no budget.json/machine.json; run tools/reproduce_fashion.sh first")
    commands = load_jsonl(os.path.join(out, "commands.jsonl"))
    raw = load_json(os.path.join(out, "raw", "classify.json"))
    runs = [Run(out, *spec) for spec in RUNS]
    runs = [r for r in runs if r.exists]
    by_key = {r.key: r for r in runs}
    if "binary" not in by_key or "multinary" not in by_key:
        sys.exit(f"write_results: {out}: the binary and multinary runs are missing; nothing to report")

    page_dir = os.path.dirname(os.path.abspath(a.results))
    img_dir = os.path.join(page_dir, "images", "fashion")
    os.makedirs(img_dir, exist_ok=True)
    img_rel = os.path.relpath(img_dir, page_dir)

    def wall(run, what):
        return sum(c["wall_s"] for c in commands if c["run"] == run and c["what"] == what)

    def first_command(run, what, resume=None):
        for c in commands:
            if c["run"] == run and c["what"] == what and (resume is None or ("--resume" in c["argv"]) == resume):
                return show_command(c["argv"], repo)
        return None

    multi, binary = by_key["multinary"], by_key["binary"]
    epochs = max(r.epochs for r in runs)
    # The spread over training seeds, at the main runs' last epoch: test errors by seed.
    seeds = {key: seed_runs(out, budget, key, by_key[key].label, by_key[key].model)
             for key in ("multinary", "binary")}
    final_by_seed = {key: {s: r.classify[by_key[key].epochs]["test_error_percent"]
                           for s, r in found if by_key[key].epochs in r.classify}
                     for key, found in seeds.items()}
    extra_runs = [r for found in seeds.values() for s, r in found if s > 1]

    def spread_text(key):
        errs = list(final_by_seed[key].values())
        m, sd = mean_sd(errs) if errs else (None, None)
        return "" if sd is None else f"; {len(errs)} seeds: mean {m:.2f}%, sd {sd:.2f}"

    lr = multi.run.get("lr")
    batch = multi.run.get("batch")
    info = machine["mrbm_info"]
    c_values = ", ".join(fmt_c(c) for c in budget["c_values"])
    L = []
    w = L.append

    w("# Results: Fashion-MNIST classification (the paper's Table 1)")
    w("")
    w("<!-- Written by tools/write_results.py from the JSON output of `make reproduce-fashion` "
      f"({rel(out, repo)}); do not edit by hand: rerun the script. -->")
    w("")
    w("The paper (arXiv 2011.13509, Table 1) trains convolutional DBNs (4x4 filters, stride 2, no "
      "fully connected layers; the channel counts \"adjusted depending on datasets\" are not stated) "
      f"jointly on the sum of the layers' contrastive losses with Adam (lr {PAPER_LR:g}, batch "
      f"{PAPER_BATCH}) for {PAPER_EPOCHS} epochs, then scores a linear SVM on the top layer's hidden "
      "units. `make reproduce-fashion` does the same with mrbm's `paper-fashion-binary` and "
      "`paper-fashion` presets (1-64-128-256 channels, 28 -> 14 -> 7 -> 3 pixels; identical but for "
      "the unit type; both sum the layers' losses with the layers detached, i.e. no gradient from a "
      "layer's loss into the layers below it: the reading of \"backpropagation after summing all "
      "losses\" that measured best here, see docs/models.md"
      + (" and the ablation below" if budget.get("ablation") else "") + "), on a budget far "
      f"below the paper's: **{budget['epochs']} epochs** on "
      f"**{fmt_count(budget['limit'], FASHION_TRAIN_IMAGES)} training images**. The numbers "
      "below say how far that budget gets; they neither confirm nor refute the paper's numbers.")
    w("")

    # --- Summary ---------------------------------------------------------------------------------
    w("## Test error side by side")
    w("")
    w("| method | test error | how it was obtained |")
    w("|---|---|---|")
    if raw:
        w(f"| linear SVM on raw pixels (ours) | {pct(raw['test_error_percent'])} | "
          f"`mrbm classify --raw-pixels`: {classify_how(raw)} |")
    for r in (binary, multi):
        f = r.final
        w(f"| {r.label}, `{r.model}` (ours) | {pct(f and f['test_error_percent'])}{spread_text(r.key)} | "
          f"{r.epochs} epochs on {fmt_count(r.run.get('limit'), FASHION_TRAIN_IMAGES)} images, "
          f"Adam lr {r.run.get('lr'):g}, batch {r.run.get('batch')}; then {classify_how(f)} |")
    w(f"| binary DBN (paper) | {pct(PAPER_ERROR['binary'])} | Table 1: {PAPER_EPOCHS} epochs on all "
      f"{PAPER_TRAIN_IMAGES} images, Adam lr {PAPER_LR:g}, batch {PAPER_BATCH}; SVM on the top "
      "features (its C and training set are not stated) |")
    w(f"| multinary DBN (paper) | {pct(PAPER_ERROR['multinary'])} | the same, multinary units |")
    w("")
    if raw and multi.final and binary.final:
        se = max(standard_error(c) for c in (raw, multi.final, binary.final))
        n_seeds = min(len(v) for v in final_by_seed.values())
        w(f"Each of our errors is measured on {multi.final['test_count']} test images: their sampling "
          f"noise alone is about {se:.2f} percentage points (one binomial standard error, largest of "
          "the three); " + ("the variation over seeds was not measured (one seed per run)."
                            if n_seeds < 2 else
                            "the variation over training seeds is in \"Spread over training seeds\" below "
                            "(the table's first number is seed 1's, whose curve is plotted)."))
        w("")
        common = sorted(set(binary.classify) & set(multi.classify))
        if common:
            gaps = [binary.classify[e]["test_error_percent"] - multi.classify[e]["test_error_percent"]
                    for e in common]
            last = gaps[-1]
            se_diff = math.hypot(standard_error(multi.final), standard_error(binary.final))
            better = sum(g > 0 for g in gaps)
            w(f"**Multinary against binary:** the multinary DBN's test error is lower at {better} of "
              f"the {len(gaps)} classified epochs ({', '.join(str(e) for e in common)}; binary minus "
              "multinary: "
              + ", ".join(f"{g:+.2f}" for g in gaps) + " percentage points); after the last epoch "
              f"the gap is {last:+.2f} points, {abs(last) / se_diff:.1f} times the standard error of "
              f"a difference of two independent test errors ({se_diff:.2f} points; both use the same "
              "test images, so this overstates the noise)."
              + (" One seed per run." if n_seeds < 2 else ""))
            w("")

    # --- Seeds -----------------------------------------------------------------------------------
    common_seeds = sorted(set(final_by_seed["multinary"]) & set(final_by_seed["binary"]))
    if max(len(v) for v in final_by_seed.values()) >= 2:
        w("## Spread over training seeds")
        w("")
        w(f"The two final configurations trained again with other training seeds (`mrbm train --seed`: "
          f"the initial weights, the batch order and the Gibbs samples), {multi.epochs} epochs each, "
          "classified with the same SVM protocol on the same held-out and test images, so only the "
          "training differs. sd: the sample standard deviation over the seeds.")
        w("")
        all_seeds = sorted(set(final_by_seed["multinary"]) | set(final_by_seed["binary"]))
        w("| run | " + " | ".join(f"seed {s}" for s in all_seeds) + " | mean | sd |")
        w("|---" * (len(all_seeds) + 3) + "|")
        rows = [(by_key[k].label, final_by_seed[k]) for k in ("binary", "multinary")]
        if len(common_seeds) >= 1:
            rows.append(("binary minus multinary (points)",
                         {s: final_by_seed["binary"][s] - final_by_seed["multinary"][s] for s in common_seeds}))
        for label, errs in rows:
            m, sd = mean_sd(list(errs.values())) if errs else (None, None)
            is_gap = label.startswith("binary minus")
            cell = (lambda v: f"{v:+.2f}") if is_gap else pct
            w(f"| {label} | " + " | ".join(cell(errs[s]) if s in errs else "" for s in all_seeds) +
              f" | {'' if m is None else cell(m)} | {'' if sd is None else f'{sd:.2f}'} |")
        w("")
        if len(common_seeds) >= 2:
            gaps = [final_by_seed["binary"][s] - final_by_seed["multinary"][s] for s in common_seeds]
            m, sd = mean_sd(gaps)
            w(f"Paired by seed, the multinary DBN is better in {sum(g > 0 for g in gaps)} of "
              f"{len(gaps)} seeds; the mean gap is {m:+.2f} points with a standard error of "
              f"{sd / math.sqrt(len(gaps)):.2f} over the seeds ({len(gaps)} seeds: a rough estimate).")
            w("")

    # --- Budget ----------------------------------------------------------------------------------
    w("## Budget")
    w("")
    w("| | these runs | the paper |")
    w("|---|---|---|")
    w(f"| epochs | {budget['epochs']} | {PAPER_EPOCHS} |")
    w(f"| DBN training images | {fmt_count(budget['limit'], FASHION_TRAIN_IMAGES)} (the first of the "
      f"train split) | {PAPER_TRAIN_IMAGES} |")
    w(f"| batch, Adam learning rate | {batch}, {lr:g} (the preset's; docs/models.md says why not "
      f"{PAPER_LR:g}) | {PAPER_BATCH}, {PAPER_LR:g} |")
    w(f"| SVM training images | {fmt_count(budget['svm_train'], FASHION_TRAIN_IMAGES)} (10% of them "
      "held out to choose C, then retrained on all) | not stated |")
    w(f"| SVM C | chosen from {c_values} on the hold-out, for every classification | not stated |")
    w(f"| test images | {fmt_count(budget['svm_test'], FASHION_TEST_IMAGES)} | {FASHION_TEST_IMAGES} |")
    device_used = (multi.final or {}).get("device", budget["device"])
    w(f"| device | {device_used} (`--device {budget['device']}`) | not stated (its CelebA runs: one NVIDIA P40) |")
    w(f"| seed | {budget['seed']} | not stated |")
    w("")
    w("The defaults of `tools/reproduce_fashion.sh` are the paper's data protocol with 20 epochs "
      "(its header says what they cost); the environment variables it lists change every entry "
      "of the left column.")
    ips = multi.images_per_s()
    if ips:
        full = PAPER_EPOCHS * PAPER_TRAIN_IMAGES / ips
        w(f"At the {ips:.0f} images/s measured here for the multinary model, the paper's budget "
          f"({PAPER_EPOCHS} epochs of {PAPER_TRAIN_IMAGES} images) would take about "
          f"{fmt_duration(full)} of training per model on this machine.")
    w("")

    # --- Curve -----------------------------------------------------------------------------------
    w("## Test error against epochs")
    w("")
    classified = sorted(set(multi.classify) | set(binary.classify))
    w("Each training epoch is one `mrbm train --resume --epochs k` call; after the epochs "
      f"{', '.join(map(str, classified))} the checkpoint was classified, with the same SVM "
      "protocol every time and C chosen anew. The classifications of the seed runs are in \"Spread over "
      "training seeds\".")
    w("")
    shown = [r for r in runs if r.classify]
    w("| epoch | " + " | ".join(r.label for r in shown) + " |")
    w("|---" * (len(shown) + 1) + "|")
    for e in range(1, epochs + 1):
        cells = []
        for r in shown:
            c = r.classify.get(e)
            cells.append(f"{pct(c['test_error_percent'])} (C {fmt_c(c['chosen_c'])})" if c else "")
        if any(cells):
            w(f"| {e} | " + " | ".join(cells) + " |")
    w("")
    plot_name = "test-error-vs-epochs.png"
    skipped = make_plot(os.path.join(img_dir, plot_name), shown, raw, epochs)
    if skipped:
        if os.path.exists(os.path.join(img_dir, plot_name)):  # a stale plot of an earlier run
            os.remove(os.path.join(img_dir, plot_name))
        w(f"_Plot: {skipped}_")
    else:
        w(f"![test error against epochs]({img_rel}/{plot_name})")
    w("")
    # Where the protocol may have cost accuracy, say so (computed, so the notes follow the data).
    classifications = [(r.label, e, c) for r in shown for e, c in sorted(r.classify.items()) if c]
    if raw:
        classifications.append(("raw pixels", None, raw))
    at_end = [(lbl, e, c) for lbl, e, c in classifications
              if len(c["c_values"]) >= 3 and c["chosen_c"] in (min(c["c_values"]), max(c["c_values"]))]
    if at_end:
        w(f"Note: in {len(at_end)} of {len(classifications)} classifications the chosen C is an end of "
          "the grid (" + "; ".join(f"{lbl}{'' if e is None else f' epoch {e}'}: C {fmt_c(c['chosen_c'])}"
                                    for lbl, e, c in at_end) +
          "), so a wider grid (MRBM_FASHION_SVM_C) might lower those errors.")
        w("")
    maxed = {}  # (label, C) -> epochs whose C search hit liblinear's iteration limit
    for lbl, e, c in classifications:
        for v in c.get("validation", []):
            if v.get("hit_max_iterations"):
                maxed.setdefault((lbl, v["c"]), []).append(e)
    if maxed:
        w("Note: liblinear stopped at its iteration limit while trying " + "; ".join(
            f"C {fmt_c(cv)} for {lbl}" + ("" if es == [None] else
                                         f" (epoch{'s' if len(es) > 1 else ''} {', '.join(map(str, es))})")
            for (lbl, cv), es in maxed.items()) + ": those held-out errors are less reliable.")
        w("")

    # --- Ablation --------------------------------------------------------------------------------
    all_rows = load_json(a.ablations)["rows"]
    ablation_rows = ablation_table(out, all_rows, multi)
    if ablation_rows:
        write_ablation(w, ablation_rows, all_rows, a.ablations, budget, multi, out, repo)

    # --- Classification cost ---------------------------------------------------------------------
    write_classify_cost(w, [c for r in runs + extra_runs for c in r.classify.values() if c]
                        + [c for _, r in ablation_rows for c in r.classify.values() if c]
                        + ([raw] if raw else []))

    # --- Training --------------------------------------------------------------------------------
    w("## Training and classification time")
    w("")
    w("| run | epochs | training time | images/s | reconstruction RMSE | classifications | their time |")
    w("|---|---|---|---|---|---|---|")
    for r in runs + extra_runs + [r for _, r in ablation_rows]:
        rmse = r.recon_rmse()
        ips_r = r.images_per_s()
        if not wall(r.key, "train"):  # an ablation row that reuses the reference's checkpoint
            w(f"| ablation {r.label} | | | | | {len(r.classify)} | {fmt_duration(wall(r.key, 'classify'))} |")
            continue
        label = f"ablation {r.label}" if r.key.startswith("ablation/") else r.label
        w(f"| {label} | {r.epochs} | {fmt_duration(wall(r.key, 'train'))} | "
          f"{'n/a' if ips_r is None else f'{ips_r:.0f}'} | {'n/a' if rmse is None else f'{rmse:.1f}'} | "
          f"{len(r.classify)} | {fmt_duration(wall(r.key, 'classify'))} |")
    if raw:
        w(f"| raw pixels | | | | | 1 | {fmt_duration(wall('raw', 'classify'))} |")
    total = sum(c["wall_s"] for c in commands)
    w("")
    w(f"Training time: the wall time of the `mrbm train` calls (one per epoch: loading the data, the "
      f"epoch, the end-of-epoch evaluation and sample grids). Images/s: the training steps alone, "
      f"the mean of the epochs' `images_per_s` in metrics.jsonl; on a shared machine both depend "
      f"on its load at the time, so compare speeds across runs with care. All commands together: "
      f"{fmt_duration(total)}.")
    w("")

    # --- Machine ---------------------------------------------------------------------------------
    w("## Machine")
    w("")
    build = info.get("build", {})
    devices = info.get("devices") or []
    def describe_gpu(d):
        extra = "" if d.get("usable", True) else f", not usable: {d.get('problem')}"
        return (f"{d.get('name')} (compute capability {d.get('compute_capability')}, "
                f"{d.get('memory_gib', 0):.0f} GiB{extra})")
    gpu = ("; ".join(describe_gpu(d) for d in devices) +
           f"; CUDA driver {info.get('cuda_driver')}, runtime {info.get('cuda_runtime')}, "
           f"cuDNN {info.get('cudnn')}") if devices else \
        f"none: {info.get('no_device_reason', 'no CUDA device')}"
    w(f"- CPU: {machine['cpu_model']}, {machine['cpu_cores']} cores (load average "
      f"{machine['load_average_at_start']:.1f} at the start: the machine was "
      f"{'shared, so times are pessimistic' if machine['load_average_at_start'] > 0.5 * machine['cpu_cores'] else 'mostly idle'})")
    w(f"- GPU: {gpu}")
    w(f"- mrbm {info.get('version')}, commit {machine.get('commit') or 'unknown'}"
      f"{'' if not machine.get('uncommitted_changes') else ' with uncommitted changes in the tree'}; "
      f"build {build.get('type')}, {build.get('cxx_compiler')}, OpenBLAS {'on' if build.get('openblas') else 'off'}, "
      f"CUDA {'on' if build.get('cuda') else 'off'} (from `mrbm info --json`)")
    w(f"- date: {machine.get('date')}")
    w("")

    # --- Commands --------------------------------------------------------------------------------
    w("## Commands")
    w("")
    env = (f"MRBM_FASHION_EPOCHS={budget['epochs']} MRBM_FASHION_LIMIT={budget['limit']} "
           f"MRBM_FASHION_SVM_TRAIN={budget['svm_train']} MRBM_FASHION_SVM_TEST={budget['svm_test']} "
           f"MRBM_FASHION_SVM_C={','.join(fmt_c(c) for c in budget['c_values'])} "
           f"MRBM_FASHION_SEEDS={budget.get('seeds', 1)} "
           f"MRBM_DEVICE={budget['device']} MRBM_FASHION_OUT={rel(out, repo)}")
    if budget.get("ablation"):
        env += f" MRBM_FASHION_ABLATION=1 MRBM_FASHION_ABLATION_EPOCHS={budget.get('ablation_epochs', 5)}"
        if os.path.abspath(a.ablations) != ABLATIONS_FILE:
            env += f" MRBM_FASHION_ABLATIONS={shlex.quote(rel(a.ablations, repo))}"
    make = "make reproduce-fashion"
    if os.path.abspath(a.results) != os.path.join(repo, "docs", "results.md"):
        env += f" MRBM_FASHION_RESULTS={shlex.quote(rel(a.results, repo))}"
    if a.build and os.path.abspath(a.build) != os.path.join(repo, "build"):
        make += f" BUILD_DIR={shlex.quote(rel(a.build, repo))}"
    w("The whole experiment (from the repository root; every setting spelled out):")
    w("")
    w("    " + env + " " + make)
    w("")
    w("It ran these commands (the first of each kind per run; all of them, with their wall times, are "
      f"in `{rel(os.path.join(out, 'commands.jsonl'), repo)}`):")
    w("")
    w("```")
    if raw:
        w(first_command("raw", "classify") or "")
    for r in runs + extra_runs[:1]:
        for cmd in (first_command(r.key, "train", False), first_command(r.key, "train", True),
                    first_command(r.key, "classify")):
            if cmd:
                w(cmd)
    w("```")
    w("")
    more = budget["epochs"] * 2
    w(f"To continue every run from its last checkpoint (here to {more} epochs; the runs resume bit for "
      "bit, the earlier classifications are kept, and this page is rewritten):")
    w("")
    w("    " + env.replace(f"MRBM_FASHION_EPOCHS={budget['epochs']}", f"MRBM_FASHION_EPOCHS={more}") +
      " " + make)
    w("")

    # --- Images ----------------------------------------------------------------------------------
    w("## What the multinary model learned")
    w("")
    copies = [("multinary", "reconstructions.png", "multinary-reconstructions.png",
               "Reconstructions by the multinary model: test images (top half) and their reconstructions "
               "through all three layers (bottom half)."),
              ("binary", "reconstructions.png", "binary-reconstructions.png",
               "The same for the binary model, for comparison."),
              ("multinary", "samples-from-data.png", "multinary-samples-from-data.png",
               "Samples from the multinary model: 100 Gibbs steps in the top RBM started from test images, "
               "then down to pixels."),
              ("multinary", "samples.png", "multinary-samples.png",
               "Samples from the multinary model: 100 Gibbs steps in the top RBM from noise.")]
    for key, src, dst, caption in copies:
        s = os.path.join(out, key, src)
        if key in by_key and os.path.exists(s):
            shutil.copyfile(s, os.path.join(img_dir, dst))
            w(f"{caption} (epoch {by_key[key].epochs})")
            w("")
            w(f"![{dst[:-4]}]({img_rel}/{dst})")
            w("")

    text = "\n".join(L).rstrip() + "\n"
    # Keep the sections other scripts own across rewrites: the log-likelihood
    # (tools/write_loglik_results.py) and generation (tools/write_generation_results.py) blocks.
    if os.path.exists(a.results):
        old = open(a.results).read()
        for name in ("loglik", "generation"):
            begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
            if begin in old and end in old:
                text += "\n" + begin + old.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
    tmp = a.results + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.results)
    print(f"write_results: wrote {a.results} and {rel(img_dir, repo)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
