#!/usr/bin/env bash
# `make demo`: trains the demo preset on Fashion-MNIST (the embedded default data set), writes
# reconstructions, classifies the test set with a linear SVM on the learned features, then trains
# the generate-fashion preset (20-step chains from noise, docs/models.md "Generation") and draws
# garments from noise, scored with `mrbm evaluate --samples`; prints a short report with the paths
# of what it wrote.
#
# Environment: BUILD_DIR (default build), MRBM_DEMO_OUT (default demo-out; the demo owns this
# folder and starts it afresh), MRBM_DEMO_EPOCHS (default 2), MRBM_DEMO_LIMIT (training images,
# default all 60000), MRBM_DEMO_SVM_TRAIN (SVM training images, default 20000), MRBM_DEMO_SVM_C
# (default 0.01: the best of 0.01/0.1/1 on a held-out part in our runs; one value skips the
# C search, which costs 100-200 s per value on 2 cores), MRBM_DEMO_GEN_EPOCHS (epochs of the
# generation model, default 3: about 2 minutes on 2 cores), MRBM_DEVICE (default auto).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
out=${MRBM_DEMO_OUT:-$repo/demo-out}
epochs=${MRBM_DEMO_EPOCHS:-2}
limit=${MRBM_DEMO_LIMIT:--1}
svm_train=${MRBM_DEMO_SVM_TRAIN:-20000}
svm_c=${MRBM_DEMO_SVM_C:-0.01}
gen_epochs=${MRBM_DEMO_GEN_EPOCHS:-3}
device=${MRBM_DEVICE:-auto}
mrbm=$build/mrbm
[[ -x $mrbm ]] || { echo "demo: $mrbm is missing; run make build first" >&2; exit 1; }

# --limit only when given: train refuses -1 (all images is the default).
limit_args=()
[[ $limit == -1 ]] || limit_args=(--limit "$limit")

start=$(date +%s)
rm -rf "$out/run" "$out/generation" "$out/samples"
mkdir -p "$out"
echo "== training the demo preset on Fashion-MNIST ($epochs epochs)"
"$mrbm" train --model demo --data fashion-mnist --epochs "$epochs" "${limit_args[@]}" \
  --device "$device" --out "$out/run"
trained=$(date +%s)
ckpt=$out/run/checkpoint.safetensors
echo "== reconstructions and chains from test images"
"$mrbm" reconstruct --checkpoint "$ckpt" --data fashion-mnist --count 32 --device "$device" \
  --out "$out/reconstructions.png"
"$mrbm" sample --checkpoint "$ckpt" --count 32 --gibbs-steps 10 --from fashion-mnist \
  --device "$device" --out "$out/samples-from-data.png"
echo "== classification: linear SVM on the top layer's features"
"$mrbm" classify --checkpoint "$ckpt" --data fashion-mnist --limit-train "$svm_train" --c-values "$svm_c" \
  --device "$device" --json "$out/classify.json"
echo "== generation: the generate-fashion preset ($gen_epochs epochs), then garments from noise"
gen_start=$(date +%s)
"$mrbm" train --model generate-fashion --data fashion-mnist --epochs "$gen_epochs" "${limit_args[@]}" \
  --device "$device" --out "$out/generation"
gen=$out/generation/checkpoint.safetensors
"$mrbm" sample --checkpoint "$gen" --count 64 --device "$device" --out "$out/samples.png"
"$mrbm" sample --checkpoint "$gen" --count 1000 --device "$device" --out "$out/samples"
"$mrbm" evaluate --samples "$out/samples" --out "$out/sample-quality.json"
end=$(date +%s)

python3 - "$out" "$((trained - start))" "$((end - gen_start))" "$((end - start))" <<'PY' || true
import json, sys
out, train_s, gen_s, total_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
epochs = [json.loads(l) for l in open(f"{out}/run/metrics.jsonl") if '"epoch"' in l and '"type":"epoch"' in l]
last = epochs[-1] if epochs else {}
c = json.load(open(f"{out}/classify.json"))
err = c.get("test_error_percent", c.get("test_error"))
q = json.load(open(f"{out}/sample-quality.json"))
lines = [
    "# mrbm demo report",
    "",
    f"- model: demo preset (docs/models.md), {len(epochs)} epochs on Fashion-MNIST",
    f"- training: {train_s} s, {last.get('images_per_s', 0):.0f} images/s",
    f"- reconstruction RMSE on test images: {last.get('eval_recon_mse', 0) ** 0.5:.1f} (pixel units, 0..255)",
    f"- free-energy gap (pixel-shuffled minus real test images): {last.get('free_energy_gap', 0):.4g}",
    f"- linear SVM on the learned features: test error {err:.2f}% (raw pixels with a linear classifier: about 15.8%)",
    f"- generation (generate-fashion preset, 20 Gibbs steps from noise, {gen_s} s with training): "
    f"Frechet distance {q['frechet_vs_blurred']:.2f}x that of twice-blurred test images, classifier "
    f"score {q['score_vs_real']:.2f}x that of real test images ({q['generated']['images']} samples; "
    "docs/cli.md, mrbm evaluate --samples)",
    f"- total time: {total_s} s",
    "",
    f"Files: {out}/reconstructions.png (originals above, reconstructions below), "
    f"{out}/samples-from-data.png (10-step chains from test images), {out}/samples.png (garments "
    f"from noise), {out}/samples/ and {out}/sample-quality.json, {out}/classify.json, {out}/run/ and "
    f"{out}/generation/ (checkpoints, metrics.jsonl, run.json).",
]
open(f"{out}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
