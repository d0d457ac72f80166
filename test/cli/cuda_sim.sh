#!/usr/bin/env bash
# The mrbm command on CUDA devices, run in the simulated build (test/cli/CMakeLists.txt): a short
# training on cuda and cuda:1 with a resume, its checkpoint read back on the CPU, and the
# multinary benchmark's quick run. On a real GPU the same commands run in tools/gpu-check.sh.
source "$(dirname "$0")/lib.sh" "$1"

idx_mnist_dir "$TMP/mnist" 40
tiny_model "$TMP/tiny.json"
have_usable_gpu || fail "mrbm info --json lists no usable CUDA device"

for dev in cuda cuda:1; do
  out="$TMP/run-${dev/:/-}"
  if expect_ok train --model "$TMP/tiny.json" --data "mnist:$TMP/mnist" --epochs 1 --batch 8 \
      --seed 3 --device "$dev" --out "$out"; then
    check "$dev: the checkpoint exists" test -f "$out/checkpoint.safetensors"
    check "$dev: metrics.jsonl has an epoch line" grep -q '"type": *"epoch"' "$out/metrics.jsonl"
    # Finite losses and reconstruction errors on every line (step lines: loss; epoch lines:
    # train_loss, train_recon_mse, eval_recon_mse); a NaN or inf would be logged as null.
    check "$dev: every logged loss is finite" python3 - "$out/metrics.jsonl" <<'PY'
import json, math, sys
keys = ("loss", "train_loss", "train_recon_mse", "eval_recon_mse")
values = [r[k] for r in map(json.loads, open(sys.argv[1])) for k in keys if k in r]
sys.exit(0 if values and all(isinstance(x, (int, float)) and math.isfinite(x) for x in values) else 1)
PY
    expect_ok train --out "$out" --epochs 2 --device "$dev" --resume &&
      check "$dev: the resumed run reached epoch 2" grep -q '"epoch": *2' "$out/metrics.jsonl"
    # The CUDA-trained checkpoint is usable on the CPU.
    expect_ok free-energy --checkpoint "$out/checkpoint.safetensors" --data "mnist:$TMP/mnist" \
      --split train --count 3 --device cpu
  fi
done

if expect_ok bench multinary --device cuda --quick; then
  check "bench multinary --device cuda --quick reports a cuda row" grep -qi "cuda" "$CAP/out"
fi

finish
