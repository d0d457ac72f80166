#!/usr/bin/env bash
# `make reproduce-generation`: generation from noise on Fashion-MNIST (issue 14), the section
# "Generation" of docs/results.md. One architecture, the generate-fashion preset (784 binary
# visible units, 500 binary hidden units), trained four ways on the same budget of epochs and the
# same Adam lr 1e-3; only the negative phase differs (docs/math.md section 10):
#   cd1      CD-1 (the paper's method)
#   cd20     CD-20: 20 Gibbs steps from the batch
#   pcd      PCD-1 with 1000 persistent chains (Tieleman 2008), as many as the samples scored
#   noise20  20 steps from fresh noise at every step (short-run chains)
# and the preset itself, noise20 at its lr 3e-4 (noise20-lr3e-4: lr 1e-3 made the quality of the
# short-run chains swing from epoch to epoch, docs/models.md).
# Each run is then sampled twice with 1000 chains: as it was trained (`mrbm sample`'s default:
# the persistent chains for pcd, 20 steps from noise for noise20, 1000 steps from noise for CD)
# and from fresh noise for 1000 steps; `mrbm evaluate --samples` scores every folder beside real,
# blurred and noise images. Training scores 1000 samples after every epoch too (--quality-every 1:
# the curve of quality against epochs). tools/write_generation_results.py turns the JSON into the page's
# section and copies the grids; no number on the page is typed by hand.
#
# Environment (defaults in brackets):
#   BUILD_DIR [build]                 where the mrbm binary is
#   MRBM_GEN_EPOCHS [20]              epochs of every run (60000 images each)
#   MRBM_GEN_SAMPLES [1000]           samples scored per folder
#   MRBM_GEN_RUNS [noise20,pcd,cd1,cd20,noise20-lr3e-4]
#   MRBM_GEN_CONCURRENT [1]           how many of the runs trained at once on the machine (the script
#                                     trains one at a time; set it when runs were trained in parallel
#                                     into the same folder, so the page says the times are shared)
#   MRBM_DEVICE [auto]
#   MRBM_GEN_OUT [out/generation]     output folder (kept: a rerun resumes the runs)
#   MRBM_GEN_RESULTS [docs/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
MRBM=${BUILD_DIR:-build}/mrbm
[ -x "$MRBM" ] || { echo "reproduce-generation: $MRBM is missing; run make build first (or set BUILD_DIR)" >&2; exit 1; }
EPOCHS=${MRBM_GEN_EPOCHS:-20}
SAMPLES=${MRBM_GEN_SAMPLES:-1000}
RUNS=${MRBM_GEN_RUNS:-noise20,pcd,cd1,cd20,noise20-lr3e-4}
DEVICE=${MRBM_DEVICE:-auto}
OUT=${MRBM_GEN_OUT:-out/generation}
RESULTS=${MRBM_GEN_RESULTS:-docs/results.md}
mkdir -p "$OUT"

negative() {  # the train options of a run
  case $1 in
    cd1) echo "--negative data --negative-steps 1 --lr 0.001" ;;
    cd20) echo "--negative data --negative-steps 20 --lr 0.001" ;;
    pcd) echo "--negative persistent --negative-steps 1 --chains 1000 --lr 0.001" ;;
    noise20) echo "--negative noise --negative-steps 20 --lr 0.001" ;;
    noise20-lr3e-4) echo "--negative noise --negative-steps 20 --lr 0.0003" ;;
    *) echo "reproduce-generation: unknown run '$1' (cd1, cd20, pcd, noise20, noise20-lr3e-4)" >&2; exit 1 ;;
  esac
}
seconds() { python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.3f}")' "$1"; }

for run in ${RUNS//,/ }; do
  dir=$OUT/$run
  # shellcheck disable=SC2046
  set -- $(negative "$run")
  resume=()
  [ -e "$dir/run.json" ] && resume=(--resume)
  echo "== $run: train ($*), $EPOCHS epochs" >&2
  start=$(date +%s.%N)
  if [ ${#resume[@]} = 0 ]; then
    "$MRBM" train --model generate-fashion "$@" --epochs "$EPOCHS" --device "$DEVICE" \
      --quality-every 1 --quality-samples "$SAMPLES" --out "$dir"
  else
    "$MRBM" train --out "$dir" --resume --epochs "$EPOCHS" --device "$DEVICE"
  fi
  echo "{\"wall_s\": $(seconds "$start")}" >"$dir/train-call.json"
  for how in default noise; do
    rm -rf "$dir/samples-$how"
    start_args=()
    [ $how = noise ] && start_args=(--start noise --gibbs-steps 1000)
    echo "== $run: $SAMPLES samples ($how)" >&2
    start=$(date +%s.%N)
    "$MRBM" sample --checkpoint "$dir/checkpoint.safetensors" "${start_args[@]}" --count "$SAMPLES" \
      --device "$DEVICE" --out "$dir/samples-$how" 2>"$dir/sample-$how.log"
    cat "$dir/sample-$how.log" >&2
    sample_s=$(seconds "$start")
    "$MRBM" sample --checkpoint "$dir/checkpoint.safetensors" "${start_args[@]}" --count 64 \
      --device "$DEVICE" --out "$dir/grid-$how.png" 2>/dev/null
    "$MRBM" evaluate --samples "$dir/samples-$how" --out "$dir/quality-$how.json"
    python3 - "$dir/quality-$how.json" "$dir/sample-$how.log" "$sample_s" <<'PY'
import json, sys
path, log, seconds = sys.argv[1:]
q = json.load(open(path))
q["sampling"] = next((l for l in open(log).read().splitlines() if l.startswith("mrbm sample: ")), "")
q["sampling_seconds"] = float(seconds)
json.dump(q, open(path, "w"), indent=2)
PY
  done
done
"$MRBM" info --json >"$OUT/info.json"
python3 - "$OUT/machine.json" "${MRBM_GEN_CONCURRENT:-1}" <<'PY'
import json, os, sys, time
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
json.dump({"cpu_model": cpu, "cpu_cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
           "concurrent_runs": int(sys.argv[2])}, open(sys.argv[1], "w"), indent=2)
PY
python3 tools/write_generation_results.py "$OUT" "$RESULTS"
