#!/usr/bin/env bash
# Test log-likelihood of dense RBMs on Fashion-MNIST with binary visible units (issue 15, item 5;
# `make reproduce-loglik`): the same 784 -> H RBM with binary hidden units and with multinary hidden
# units, each trained with CD-1 and with PCD-1 (persistent chains, Tieleman 2008), then
# `mrbm evaluate --log-likelihood` on stochastically binarized test images.
# tools/write_loglik_results.py turns the runs' JSON into the section "Test log-likelihood" of
# docs/results.md; no number on the page is typed by hand.
#
# The multinary hidden unit is the closed form with N = 4, s = 1 (the presets' slope-1 scale
# s = N/4, and N s = 4 is an integer, so the unit is an exact binomial RBM with states 0..4 and AIS
# can sample it). Larger N next to binary visible units does not train at this learning rate
# (measured, docs/models.md: N = 16, s = 4 and N = 255, s = 64), so it is not measured here.
#
# Training sees the grey levels as probabilities (the binary visible unit's data convention,
# docs/models.md); the test images are binarized stochastically by `mrbm evaluate`.
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]             where the mrbm binary is
#   MRBM_LL_HIDDEN [500]          hidden units of every RBM (Salakhutdinov & Murray 2008: 500)
#   MRBM_LL_EPOCHS [20]           training epochs
#   MRBM_LL_LIMIT [-1]            training images (first K; -1: all 60000)
#   MRBM_LL_LR [0.001]            Adam learning rate
#   MRBM_LL_PCD_CHAINS [100]      persistent chains of the PCD runs
#   MRBM_LL_CHAINS [100]          AIS chains
#   MRBM_LL_TEMPERATURES [14500]  AIS temperatures
#   MRBM_LL_TEST [-1]             test images scored (-1: all 10000)
#   MRBM_LL_RUNS [all]            a space-separated subset of the run names below
#   MRBM_DEVICE [auto]
#   MRBM_LL_OUT [out/loglik]      output folder (a run whose evaluate.json exists is not redone)
#   MRBM_LL_RESULTS [docs/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
MRBM=${BUILD_DIR:-build}/tools/mrbm
[ -x "$MRBM" ] || MRBM=${BUILD_DIR:-build}/mrbm
[ -x "$MRBM" ] || { echo "mrbm not found under ${BUILD_DIR:-build}" >&2; exit 1; }
HIDDEN=${MRBM_LL_HIDDEN:-500}
EPOCHS=${MRBM_LL_EPOCHS:-20}
LIMIT=${MRBM_LL_LIMIT:--1}
LR=${MRBM_LL_LR:-0.001}
PCD_CHAINS=${MRBM_LL_PCD_CHAINS:-100}
CHAINS=${MRBM_LL_CHAINS:-100}
TEMPS=${MRBM_LL_TEMPERATURES:-14500}
TEST=${MRBM_LL_TEST:--1}
DEVICE=${MRBM_DEVICE:-auto}
OUT=${MRBM_LL_OUT:-out/loglik}
RESULTS=${MRBM_LL_RESULTS:-docs/results.md}
mkdir -p "$OUT/specs"

# name | hidden unit | negative phase (train options)
RUN_TABLE=(
  "binary-cd1|{\"kind\": \"binary\"}|--negative data --negative-steps 1"
  "multinary4-cd1|{\"kind\": \"closed\", \"n\": 4, \"scale\": 1}|--negative data --negative-steps 1"
  "binary-pcd1|{\"kind\": \"binary\"}|--negative persistent --negative-steps 1 --chains $PCD_CHAINS"
  "multinary4-pcd1|{\"kind\": \"closed\", \"n\": 4, \"scale\": 1}|--negative persistent --negative-steps 1 --chains $PCD_CHAINS"
)
WANTED=${MRBM_LL_RUNS:-}

limit_args=()
[ "$LIMIT" = -1 ] || limit_args=(--limit "$LIMIT")
names=()
for row in "${RUN_TABLE[@]}"; do
  IFS='|' read -r name hidden negative <<<"$row"
  if [ -n "$WANTED" ] && [[ " $WANTED " != *" $name "* ]]; then continue; fi
  names+=("$name")
  if [ ! -f "$OUT/$name/evaluate.json" ] || [ ! -f "$OUT/$name/budget.json" ]; then
    cat >"$OUT/specs/$name.json" <<JSON
{"name": "$name",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "binary"}},
 "layers": [{"type": "dense", "units": $HIDDEN, "hidden": $hidden}],
 "sampler": "exact",
 "training": {"lr": $LR, "batch": 64, "epochs": $EPOCHS}}
JSON
    rm -rf "${OUT:?}/$name"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086  # $negative is a list of options
    "$MRBM" train --model "$OUT/specs/$name.json" --data fashion-mnist --epochs "$EPOCHS" --lr "$LR" \
      $negative --device "$DEVICE" --seed 1 "${limit_args[@]}" --sample-count 16 --out "$OUT/$name"
    train_s=$(echo "$(date +%s.%N) - $start" | bc)
    start=$(date +%s.%N)
    "$MRBM" evaluate --checkpoint "$OUT/$name/checkpoint.safetensors" --data fashion-mnist \
      --log-likelihood --chains "$CHAINS" --temperatures "$TEMPS" --count "$TEST" --base-count -1 \
      --seed 1 --device "$DEVICE" --out "$OUT/$name/evaluate.json"
    eval_s=$(echo "$(date +%s.%N) - $start" | bc)
    jq -n --arg name "$name" --argjson epochs "$EPOCHS" --argjson limit "$LIMIT" --argjson lr "$LR" \
      --argjson hidden "$HIDDEN" --argjson train_s "$train_s" --argjson eval_s "$eval_s" \
      --arg negative "$negative" --arg device "$DEVICE" \
      --arg machine "$(nproc) CPU cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(uname -m)" \
      --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --arg date "$(date -u +%F)" \
      '{name: $name, epochs: $epochs, limit: $limit, lr: $lr, hidden: $hidden, batch: 64,
        negative: $negative, train_seconds: $train_s, evaluate_seconds: $eval_s, device: $device,
        machine: $machine, commit: $commit, date: $date}' \
      >"$OUT/$name/budget.json"
  fi
  # Fewer than 10 effective chains: the estimate is unreliable (docs/math.md section 11); AIS again
  # with 4 times the temperatures, up to 16 times the default.
  temps=$(jq .ais.temperatures "$OUT/$name/evaluate.json")
  while [ "$(jq '.ais.effective_chains < 10' "$OUT/$name/evaluate.json")" = true ] && [ "$temps" -lt $((16 * TEMPS)) ]; do
    temps=$((4 * temps))
    echo "loglik: $name: $(jq .ais.effective_chains "$OUT/$name/evaluate.json") effective chains; AIS again with $temps temperatures" >&2
    "$MRBM" evaluate --checkpoint "$OUT/$name/checkpoint.safetensors" --data fashion-mnist \
      --log-likelihood --chains "$CHAINS" --temperatures "$temps" --count "$TEST" --base-count -1 \
      --seed 1 --device "$DEVICE" --out "$OUT/$name/evaluate.json"
  done
done
printf '%s\n' "${names[@]}" | jq -R . | jq -s . >"$OUT/runs.json"
python3 tools/write_loglik_results.py "$OUT" "$RESULTS"
