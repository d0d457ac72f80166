#!/usr/bin/env bash
# `make reproduce-fashion`'s script (tools/reproduce_fashion.sh) and its page writer
# (tools/write_results.py) on a tiny budget: 256 training images, 2 epochs (the first classified),
# 2 training seeds, 400 SVM and 300 test images. Checked: the page has the side-by-side table with
# the seeds' spread, the curve, the spread table and the commands; a rerun with more epochs
# continues the runs (one more train call per run, nothing retrained); a 3-row ablation (1 epoch)
# trains its rows and reports them; a folder made with another budget is refused. The full-size runs take hours; nothing else runs this script. Exits 77
# (CTest: Skipped) when Fashion-MNIST is not installed.
# Usage: reproduce_fashion.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

need_fashion_mnist
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$TMP/fashion
page=$TMP/page/results.md
run_script() {  # run_script EPOCHS [VAR=VALUE...]
  local epochs=$1
  shift
  env BUILD_DIR="$(dirname "$MRBM")" MRBM_FASHION_OUT="$out" MRBM_FASHION_RESULTS="$page" \
    MRBM_FASHION_LIMIT=256 MRBM_FASHION_EPOCHS="$epochs" MRBM_FASHION_CLASSIFY_AT=1 \
    MRBM_FASHION_SVM_TRAIN=400 MRBM_FASHION_SVM_TEST=300 MRBM_FASHION_SVM_C=0.01,0.1 \
    MRBM_FASHION_SEEDS=2 MRBM_DEVICE=cpu "$@" bash "$repo/tools/reproduce_fashion.sh"
}
trains() { grep -c '"what": "train"' "$out/commands.jsonl"; }

CHECKS=$((CHECKS + 1))
if ! run_script 2 >"$CAP/out" 2>"$CAP/err"; then
  fail "tools/reproduce_fashion.sh failed: $(tail -c 1500 "$CAP/err")"
  finish
fi
for f in raw/classify.json multinary/classify/epoch-001.json multinary/classify/epoch-002.json \
         binary/classify/epoch-002.json multinary-seed2/classify/epoch-002.json \
         binary-seed2/classify/epoch-002.json; do
  check "the script writes $f" test -s "$out/$f"
done
check "a seed run is classified after its last epoch only" \
  test ! -e "$out/multinary-seed2/classify/epoch-001.json"
check "the seed runs train with their own seed" \
  grep -q '"--seed", "2", "--device", "cpu", "--out", "[^"]*/multinary-seed2"' "$out/commands.jsonl"
check "8 train calls: 2 epochs of 4 runs" test "$(trains)" = 8
check "the page has the side-by-side table with the spread over 2 seeds" \
  grep -qE '^\| multinary DBN, `paper-fashion` \(ours\) \| [0-9.]+%; 2 seeds: mean [0-9.]+%, sd [0-9.]+ \|' "$page"
check "the page has the spread table" grep -q '^## Spread over training seeds' "$page"
check "the spread table pairs the seeds" grep -qE '^\| binary minus multinary \(points\) \| [-+][0-9.]+ \| [-+][0-9.]+ \|' "$page"
check "the page has the curve's table (epochs 1 and 2)" \
  bash -c "grep -qE '^\| 1 \| [0-9.]+% \(C 0.0?1\)' '$page' && grep -qE '^\| 2 \| [0-9.]+% \(C 0.0?1\)' '$page'"
check "the page says how to rerun, seeds included" grep -q 'MRBM_FASHION_SEEDS=2 ' "$page"

# Continuing: one more epoch for each of the 4 runs, classified at the end; nothing retrained.
CHECKS=$((CHECKS + 1))
if ! run_script 3 >"$CAP/out" 2>"$CAP/err"; then
  fail "continuing to 3 epochs failed: $(tail -c 1500 "$CAP/err")"
  finish
fi
check "continuing adds one train call per run" test "$(trains)" = 12
check "the continued runs are classified at epoch 3" \
  bash -c "test -s '$out/multinary/classify/epoch-003.json' && test -s '$out/binary-seed2/classify/epoch-003.json'"
check "the page reports 3 epochs" grep -qE '^\| epochs \| 3 \|' "$page"

# The ablation table, with three rows of the real rows' kinds: the reference, a spec change and a
# classification change (reusing the reference's checkpoint), 1 epoch each.
cat >"$TMP/rows.json" <<'JSON'
{"rows": [
  {"name": "reference", "what": "none"},
  {"name": "lr-0.01", "what": "lr 0.01", "spec": {"training": {"lr": 0.01}}},
  {"name": "wide-c", "what": "a wider C grid", "classify": ["--c-values", "0.001,0.01,0.1"]}
]}
JSON
CHECKS=$((CHECKS + 1))
if ! run_script 3 MRBM_FASHION_ABLATION=1 MRBM_FASHION_ABLATION_EPOCHS=1 \
     MRBM_FASHION_ABLATIONS="$TMP/rows.json" >"$CAP/out" 2>"$CAP/err"; then
  fail "the ablation failed: $(tail -c 1500 "$CAP/err")"
  finish
fi
check "the ablation trains two rows for one epoch each" test "$(trains)" = 14
check "the spec row changes its one field" \
  grep -q '"lr": 0.01' "$out/ablation/specs/lr-0.01.json"
check "the classification row reuses the reference's checkpoint with its own C grid" \
  grep -q '"run": "ablation/wide-c".*ablation/reference/checkpoint.safetensors", "--data", "fashion-mnist", "--limit-train", "400", "--limit-test", "300", "--seed", "1", "--device", "cpu", "--c-values", "0.001,0.01,0.1"' \
  "$out/commands.jsonl"
check "the reference row repeats the multinary run's first epoch exactly" \
  grep -q "^The reference row retrains the multinary run's first 1 epoch: .*(identical" "$page"
check "the page has the ablation table's three rows" \
  bash -c "grep -qE '^\| reference \| none \| [0-9.]+% \|' '$page' &&
           grep -qE '^\| lr-0.01 \| lr 0.01 \| [0-9.]+% \| [-+][0-9.]+ \|' '$page' &&
           grep -qE '^\| wide-c \| a wider C grid \| [0-9.]+% \| [-+][0-9.]+ \| [0-9.]+ \| 2304 \| \(reference\)' '$page'"
check "the rerun command keeps the ablation" grep -q 'MRBM_FASHION_ABLATION=1 MRBM_FASHION_ABLATION_EPOCHS=1 ' "$page"

# Another budget in the same folder is refused before anything runs.
CHECKS=$((CHECKS + 1))
if run_script 3 MRBM_FASHION_LIMIT=128 >"$CAP/out" 2>"$CAP/err"; then
  fail "a folder made with another image limit was accepted"
else
  check "the refusal names the folder and the key" grep -q "holds runs made with limit = 256, not 128" "$CAP/err"
fi
finish
