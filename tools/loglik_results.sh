#!/usr/bin/env bash
# Test log-likelihood of dense RBMs on Fashion-MNIST with binary visible units (issue 15, item 5):
# the same 784 -> H RBM with binary hidden units and with multinary hidden units (closed form,
# N = 255, s = 64, so that N s is an integer and the unit has an exact sampler), both trained with
# CD-1 (exact hidden samples), then `mrbm evaluate --log-likelihood` on stochastically binarized
# test images. tools/write_loglik_results.py turns the runs' JSON into the section
# "Test log-likelihood" of docs/results.md; no number on the page is typed by hand.
#
# Training sees the grey levels as probabilities (the binary visible unit's data convention,
# docs/models.md); the test images are binarized stochastically by `mrbm evaluate`.
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]             where the mrbm binary is
#   MRBM_LL_HIDDEN [500]          hidden units of both RBMs (Salakhutdinov & Murray 2008: 500)
#   MRBM_LL_EPOCHS [5]            CD-1 epochs
#   MRBM_LL_LIMIT [-1]            training images (first K; -1: all 60000)
#   MRBM_LL_LR [0.001]            Adam learning rate
#   MRBM_LL_CHAINS [100]          AIS chains
#   MRBM_LL_TEMPERATURES [14500]  AIS temperatures
#   MRBM_LL_TEST [-1]             test images scored (-1: all 10000)
#   MRBM_DEVICE [auto]
#   MRBM_LL_OUT [out/loglik]      output folder
#   MRBM_LL_RESULTS [docs/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
MRBM=${BUILD_DIR:-build}/tools/mrbm
[ -x "$MRBM" ] || MRBM=${BUILD_DIR:-build}/mrbm
[ -x "$MRBM" ] || { echo "mrbm not found under ${BUILD_DIR:-build}" >&2; exit 1; }
HIDDEN=${MRBM_LL_HIDDEN:-500}
EPOCHS=${MRBM_LL_EPOCHS:-5}
LIMIT=${MRBM_LL_LIMIT:--1}
LR=${MRBM_LL_LR:-0.001}
CHAINS=${MRBM_LL_CHAINS:-100}
TEMPS=${MRBM_LL_TEMPERATURES:-14500}
TEST=${MRBM_LL_TEST:--1}
DEVICE=${MRBM_DEVICE:-auto}
OUT=${MRBM_LL_OUT:-out/loglik}
RESULTS=${MRBM_LL_RESULTS:-docs/results.md}
mkdir -p "$OUT/specs"

spec() {  # spec NAME HIDDEN_UNIT_JSON
  cat >"$OUT/specs/$1.json" <<JSON
{"name": "$1",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "binary"}},
 "layers": [{"type": "dense", "units": $HIDDEN, "hidden": $2}],
 "sampler": "exact",
 "training": {"lr": $LR, "batch": 64, "epochs": $EPOCHS}}
JSON
}
spec rbm-binary '{"kind": "binary"}'
spec rbm-multinary '{"kind": "closed", "n": 255, "scale": 64}'

limit_args=()
[ "$LIMIT" = -1 ] || limit_args=(--limit "$LIMIT")
for name in rbm-binary rbm-multinary; do
  start=$(date +%s.%N)
  "$MRBM" train --model "$OUT/specs/$name.json" --data fashion-mnist --epochs "$EPOCHS" --lr "$LR" \
    --device "$DEVICE" --seed 1 "${limit_args[@]}" --sample-count 16 --out "$OUT/$name"
  train_s=$(echo "$(date +%s.%N) - $start" | bc)
  start=$(date +%s.%N)
  "$MRBM" evaluate --checkpoint "$OUT/$name/checkpoint.safetensors" --data fashion-mnist \
    --log-likelihood --chains "$CHAINS" --temperatures "$TEMPS" --count "$TEST" --base-count -1 \
    --seed 1 --device "$DEVICE" --out "$OUT/$name/evaluate.json"
  eval_s=$(echo "$(date +%s.%N) - $start" | bc)
  jq -n --arg name "$name" --argjson epochs "$EPOCHS" --argjson limit "$LIMIT" --argjson lr "$LR" \
    --argjson hidden "$HIDDEN" --argjson train_s "$train_s" --argjson eval_s "$eval_s" \
    --arg device "$DEVICE" --arg machine "$(nproc) CPU cores; $(uname -m)" \
    '{name: $name, epochs: $epochs, limit: $limit, lr: $lr, hidden: $hidden, batch: 64,
      train_seconds: $train_s, evaluate_seconds: $eval_s, device: $device, machine: $machine}' \
    >"$OUT/$name/budget.json"
done
python3 tools/write_loglik_results.py "$OUT" "$RESULTS"
