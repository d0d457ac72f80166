#!/usr/bin/env bash
# `mrbm train` run folders: no folder is a dead end (a run stopped before its first checkpoint is
# started again by --resume), --epochs 0 writes the initialized model, run.json records the epochs
# asked for and --resume uses them, --resume refuses a different --batch/--seed/--limit and takes a
# new --epochs/--lr with a note, metrics.jsonl reads like one uninterrupted run after a kill -9 and
# after Ctrl-C (no step twice, time never going back, the same steps as an uninterrupted run), the
# resumed parameters equal the uninterrupted ones (a spec's lr schedule included), and outputs are checked before any work (a
# missing parent folder of --out is an error for every command). Uses a 12-image IDX set made here
# and, for the Ctrl-C case, Fashion-MNIST when installed.
# Usage: run_folders.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

D=$TMP/data
mkdir -p "$TMP/out"
idx_mnist_dir "$D/good" 12
GOOD="mnist:$D/good"
tiny_model "$TMP/tiny.json"
quick=(--model "$TMP/tiny.json" --data "$GOOD" --batch 4 --device cpu --sample-count 4 --gibbs-steps 1 --log-every 1)

# metrics.jsonl reads like one run: every (type, step) once, steps and time_s never going back.
metrics_continuous() {
  awk '{
    match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) + 0
    match($0, /"time_s":[0-9.eE+-]+/); t = substr($0, RSTART + 9, RLENGTH - 9) + 0
    match($0, /"type":"[a-z]+"/); k = substr($0, RSTART, RLENGTH)
    if (seen[k s]++) { print "step " s " twice" > "/dev/stderr"; bad = 1 }
    if (s < last_s || t < last_t) { print "line " NR " goes back" > "/dev/stderr"; bad = 1 }
    last_s = s; last_t = t
  } END { exit bad || NR == 0 }' "$1"
}

# --- the uninterrupted reference: 2 epochs of 3 steps ----------------------------------------------
if ! expect_ok train "${quick[@]}" --epochs 2 --out "$TMP/ref"; then finish; fi
check "run.json records the epochs asked for" grep -qE '"epochs": 2\b' "$TMP/ref/run.json"
check "the reference run's metrics are continuous" metrics_continuous "$TMP/ref/metrics.jsonl"
check "the done line names the epochs and the checkpoint" \
  grep -qF "mrbm train: done: 2 epochs, $TMP/ref/checkpoint.safetensors" "$CAP/err"
check "train prints its effective settings" \
  grep -qE "^mrbm train: 2 epochs of 3 batches of 4 images \(12 of the 12 images per epoch\), lr 0.001, seed 1, [0-9]+ CPU threads, out $TMP/ref$" "$CAP/err"

# --- --epochs 0: the initialized model, and a folder --resume continues -------------------------
if expect_ok train "${quick[@]}" --epochs 0 --out "$TMP/e0"; then
  check "--epochs 0 writes the initialized model's checkpoint" test -s "$TMP/e0/checkpoint.safetensors"
  check "--epochs 0 says that nothing was trained, not 'done'" \
    grep -qF "mrbm train: nothing to train: the checkpoint already has 0 of 0 epochs (the initialized model): $TMP/e0/checkpoint.safetensors" "$CAP/err"
  check "--epochs 0 prints no done line" bash -c "! grep -q 'done:' '$CAP/err'"
  if expect_ok train --out "$TMP/e0" --resume --epochs 2; then
    check "--resume --epochs 2 notes the new epoch count" grep -qF -- "--epochs 2: the run now goes to 2 epochs (it asked for 0)" "$CAP/err"
    check "resumed from --epochs 0: the parameters equal the uninterrupted run's" \
      test "$(tensor_bytes "$TMP/e0/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
    check "resumed from --epochs 0: the same metric steps as the uninterrupted run" \
      diff <(metric_steps "$TMP/e0/metrics.jsonl") <(metric_steps "$TMP/ref/metrics.jsonl")
    check "run.json now records 2 epochs" grep -qE '"epochs": 2\b' "$TMP/e0/run.json"
  fi
fi

# --- the spec's lr schedule and weight decay: followed per epoch, and resumable exactly ---------
python3 - "$TMP/tiny.json" "$TMP/decay.json" "$TMP/wd.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
json.dump(dict(spec, training={"lr_decay": 0.5, "weight_decay": 0.1}), open(sys.argv[2], "w"))
json.dump(dict(spec, training={"weight_decay": 0.1}), open(sys.argv[3], "w"))
PY
decay=(--data "$GOOD" --batch 4 --device cpu --sample-count 4 --gibbs-steps 1 --log-every 1)
if expect_ok train --model "$TMP/decay.json" "${decay[@]}" --epochs 2 --out "$TMP/decay"; then
  check "the header names the schedule and the weight decay" \
    grep -qF "lr 0.001 times 0.5 per epoch, weight decay 0.1, seed 1" "$CAP/err"
  check "epoch 1 trains with lr, epoch 2 with lr * 0.5 (metrics.jsonl)" \
    bash -c "grep -c '\"epoch\":0,.*\"lr\":0.001,' '$TMP/decay/metrics.jsonl' | grep -qx 3 &&
             grep -c '\"epoch\":1,.*\"lr\":0.0005,' '$TMP/decay/metrics.jsonl' | grep -qx 3"
  check "run.json's spec keeps the schedule" grep -q '"lr_decay": 0.5' "$TMP/decay/run.json"
  if expect_ok train --model "$TMP/decay.json" "${decay[@]}" --epochs 1 --out "$TMP/decay1" &&
     expect_ok train --out "$TMP/decay1" --resume --epochs 2; then
    check "a scheduled run continued to 2 epochs equals the uninterrupted one" \
      test "$(tensor_bytes "$TMP/decay1/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/decay/checkpoint.safetensors")"
  fi
fi
if expect_ok train --model "$TMP/wd.json" "${decay[@]}" --epochs 2 --out "$TMP/wd"; then
  check "weight decay reaches the optimizer (the parameters differ from the undecayed run's)" \
    test "$(tensor_bytes "$TMP/wd/checkpoint.safetensors")" != "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
fi

# --- a run stopped before its first checkpoint: refused without --resume, restarted with it ------
cp -r "$TMP/ref" "$TMP/dead"
rm "$TMP/dead/checkpoint.safetensors"  # what a kill -9 before the first checkpoint leaves
expect_error 1 "$TMP/dead holds a run that stopped before its first checkpoint (run.json, no checkpoint); pass --resume to start it again from scratch" \
  train "${quick[@]}" --epochs 2 --out "$TMP/dead"
if expect_ok train --out "$TMP/dead" --resume; then
  check "--resume on a run without checkpoint says it starts from scratch" \
    grep -qF "no checkpoint yet; starting the run again from scratch" "$CAP/err"
  check "restarted from scratch: the epochs of run.json (2), the uninterrupted parameters" \
    test "$(tensor_bytes "$TMP/dead/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
  check "restarted from scratch: metrics.jsonl holds one run" \
    diff <(metric_steps "$TMP/dead/metrics.jsonl") <(metric_steps "$TMP/ref/metrics.jsonl")
fi
expect_error 1 "--resume: $TMP/out/none holds no run (no run.json); drop --resume to start one there" \
  train --out "$TMP/out/none" --resume

# --- run.json's epochs are used by --resume; other settings are kept --------------------------------
if expect_ok train "${quick[@]}" --epochs 1 --out "$TMP/one"; then
  if expect_ok train --out "$TMP/one" --resume; then
    check "--resume of a finished 1-epoch run trains nothing (not the preset's epochs)" \
      grep -qF "nothing to train: the checkpoint already has 1 of 1 epochs" "$CAP/err"
  fi
  expect_error 2 "--batch 8 differs from the run's batch 4 in $TMP/one/run.json" train --out "$TMP/one" --resume --batch 8
  expect_error 2 "--seed 5 differs from the run's seed 1" train --out "$TMP/one" --resume --seed 5
  expect_error 2 "--limit 8 differs from the run's limit -1" train --out "$TMP/one" --resume --limit 8
  expect_error 2 "--data $GOOD/x differs from the run's data" train --out "$TMP/one" --resume --data "$GOOD/x"
  if expect_ok train --out "$TMP/one" --resume --batch 4 --seed 1 --epochs 2 --lr 0.002; then
    check "--resume --lr: a note says the run changes" grep -qF -- "--lr 0.002: the run continues with this learning rate (it had 0.001)" "$CAP/err"
    check "--resume --lr: run.json records the new lr" grep -qE '"lr": 0.002\b' "$TMP/one/run.json"
  fi
fi

# A checkpoint of another model in the folder: the message names the first differing field.
sed 's/"channels": 4,/"channels": 8,/' "$TMP/tiny.json" >"$TMP/tiny8.json"
if expect_ok train --model "$TMP/tiny8.json" --data "$GOOD" --batch 4 --epochs 0 --device cpu --out "$TMP/other"; then
  cp "$TMP/other/checkpoint.safetensors" "$TMP/one/checkpoint.safetensors"
  expect_error 1 "$TMP/one/checkpoint.safetensors: the checkpoint belongs to another model (its spec has 8 at /layers/0/channels, the model 4)" \
    train --out "$TMP/one" --resume --epochs 3
fi

# --- kill -9 after logging steps past the checkpoint: the resumed metrics hold each step once ---
if expect_ok train "${quick[@]}" --epochs 1 --out "$TMP/k9"; then
  cp "$TMP/k9/checkpoint.safetensors" "$TMP/epoch1.safetensors"
  cp "$TMP/k9"/*.png "$TMP/"
  if expect_ok train --out "$TMP/k9" --resume --epochs 2; then
    # As if the process died during epoch 2 after logging its steps: the epoch-1 checkpoint, the
    # epoch-2 lines in metrics.jsonl and a torn last line.
    cp "$TMP/epoch1.safetensors" "$TMP/k9/checkpoint.safetensors"
    printf '{"type":"step","ep' >>"$TMP/k9/metrics.jsonl"
    if expect_ok train --out "$TMP/k9" --resume; then
      check "kill -9 and --resume: the lines after the checkpoint are dropped, with a note" \
        grep -qF "metrics.jsonl: dropped 5 lines logged after the checkpoint (step 3)" "$CAP/err"
      check "kill -9 and --resume: metrics.jsonl continuous" metrics_continuous "$TMP/k9/metrics.jsonl"
      check "kill -9 and --resume: the steps of the uninterrupted run, once each" \
        diff <(metric_steps "$TMP/k9/metrics.jsonl") <(metric_steps "$TMP/ref/metrics.jsonl")
      check "kill -9 and --resume: the uninterrupted parameters" \
        test "$(tensor_bytes "$TMP/k9/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
      check "no pending image grids are left" bash -c "! ls '$TMP/k9' | grep -q '\\.new$'"
    fi
  fi
fi

# --- an epoch that fails (a full disk, here an image grid that cannot be written) leaves the folder
# as its last checkpoint describes it: the old grids and checkpoint, metrics.jsonl up to it ------
if expect_ok train "${quick[@]}" --epochs 1 --out "$TMP/full"; then
  before=$(cd "$TMP/full" && md5sum checkpoint.safetensors samples.png samples-from-data.png reconstructions.png metrics.jsonl)
  mkdir -p "$TMP/full/reconstructions.png.new/x"  # where the epoch's last grid goes first
  (cd "$TMP/cwd" && "$MRBM" train --out "$TMP/full" --resume --epochs 2 >"$CAP/out" 2>"$CAP/err")
  rc=$?
  check "a failing epoch exits 1 (rc $rc)" test "$rc" = 1
  check "a failing epoch: the error names the grid" grep -qE "^mrbm: error: .*reconstructions.png.new" "$CAP/err"
  rm -r "$TMP/full/reconstructions.png.new"
  check "a failing epoch: checkpoint, grids and metrics.jsonl as after epoch 1" \
    test "$(cd "$TMP/full" && md5sum checkpoint.safetensors samples.png samples-from-data.png reconstructions.png metrics.jsonl)" = "$before"
  check "a failing epoch: no pending grid is left" bash -c "! ls '$TMP/full' | grep -q '\\.new$'"
  check "a failing epoch: no temporary file is left" bash -c "! ls '$TMP/full' | grep -q 'tmp'"
  if expect_ok train --out "$TMP/full" --resume --epochs 2; then
    check "after the failed epoch, --resume gives the uninterrupted parameters" \
      test "$(tensor_bytes "$TMP/full/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
    check "after the failed epoch: the steps of the uninterrupted run" \
      diff <(metric_steps "$TMP/full/metrics.jsonl") <(metric_steps "$TMP/ref/metrics.jsonl")
  fi
fi

# --- outputs are checked before any work; a missing parent folder is an error for every command --
expect_error 1 "--out $TMP/out/missing/run: the folder $TMP/out/missing does not exist" \
  train "${quick[@]}" --epochs 1 --out "$TMP/out/missing/run"
touch "$TMP/out/file"
expect_error 1 "--out $TMP/out/file: not a folder" train "${quick[@]}" --epochs 1 --out "$TMP/out/file"
CKPT=$TMP/ref/checkpoint.safetensors
expect_error 1 "$TMP/out/missing/s.png: the folder $TMP/out/missing does not exist (--out)" \
  sample --checkpoint "$CKPT" --device cpu --out "$TMP/out/missing/s.png"
expect_error 1 "$TMP/out/missing/imgs: the folder $TMP/out/missing does not exist (--out)" \
  sample --checkpoint "$CKPT" --device cpu --out "$TMP/out/missing/imgs"
expect_error 1 "$TMP/out/missing/r.png: the folder $TMP/out/missing does not exist (--out)" \
  reconstruct --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/out/missing/r.png"
expect_error 1 "$TMP/out/missing/f.npy: the folder $TMP/out/missing does not exist (--out)" \
  features --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/out/missing/f.npy"
expect_error 1 "$TMP/out/missing/fe.jsonl: the folder $TMP/out/missing does not exist (--out)" \
  free-energy --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/out/missing/fe.jsonl"
# What mrbm creates: train's default out/train whole; the folder that sample --out DIR names.
if expect_ok train "${quick[@]}" --epochs 1; then
  check "train without --out creates out/train in the working folder" test -s "$TMP/cwd/out/train/checkpoint.safetensors"
  rm -r "$TMP/cwd/out"
fi
if expect_ok sample --checkpoint "$CKPT" --device cpu --count 3 --gibbs-steps 1 --out "$TMP/out/new-imgs"; then
  check "sample --out DIR creates DIR with one PNG per image" \
    test "$(ls "$TMP/out/new-imgs" | tr '\n' ' ')" = "000000.png 000001.png 000002.png "
  rm -r "$TMP/out/new-imgs"
fi
# A read-only folder. Root writes anywhere, so under root (CI) these checks run as the user
# nobody (setpriv), with the scratch folder opened to it for reading.
mkdir -p "$TMP/ro"
chmod 555 "$TMP/ro"
real_mrbm=$MRBM
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod -R a+rX "$TMP"
  printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups -- "%s" "$@"\n' "$real_mrbm" >"$CAP/as-nobody"
  chmod +x "$CAP/as-nobody"
  MRBM=$CAP/as-nobody
  check "the read-only checks run as nobody, who cannot write there" \
    setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "! test -w '$TMP/ro'"
fi
if [ "$MRBM" != "$real_mrbm" ] || ! [ -w "$TMP/ro" ]; then
  expect_error 1 "$TMP/ro/s.png: the folder $TMP/ro is not writable (--out)" \
    sample --checkpoint "$CKPT" --device cpu --out "$TMP/ro/s.png"
  expect_error 1 "$TMP/ro/f.npy: the folder $TMP/ro is not writable (--out)" \
    features --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/ro/f.npy"
  expect_error 1 "--out $TMP/ro/run: the folder $TMP/ro is not writable" \
    train "${quick[@]}" --epochs 1 --out "$TMP/ro/run"
else
  echo "note: the read-only folder checks need a non-root user or setpriv; skipped"
fi
MRBM=$real_mrbm
chmod 755 "$TMP/ro"
# sample into a folder that fails half way (a folder where the 4th image goes): exit 1 with the
# error as the last line, the images already written are removed, the folder keeps what it had.
mkdir -p "$TMP/out/imgs/000003.png"
(cd "$TMP/cwd" && "$MRBM" sample --checkpoint "$CKPT" --device cpu --count 6 --gibbs-steps 1 \
   --out "$TMP/out/imgs" >"$CAP/out" 2>"$CAP/err")
rc=$?
check "sample failing half way exits 1 (rc $rc)" test "$rc" = 1
check "sample failing half way: the error names the file" grep -qE "^mrbm: error: $TMP/out/imgs/000003.png: " "$CAP/err"
check "sample failing half way: no image is left" test "$(ls -A "$TMP/out/imgs")" = "000003.png"
rmdir "$TMP/out/imgs/000003.png"
rmdir "$TMP/out/imgs"

# wait_for_line PID FILE PATTERN [INTERVAL]: until FILE has a line matching PATTERN (grep), the
# process PID has ended, or 600 polls (every INTERVAL seconds, default 0.1) have passed.
wait_for_line() {
  local pid=$1 file=$2 pattern=$3 interval=${4:-0.1}
  for _ in $(seq 1 600); do
    grep -q "$pattern" "$file" 2>/dev/null && return
    kill -0 "$pid" 2>/dev/null || return
    sleep "$interval"
  done
}

# --- Ctrl-C mid-epoch and --resume: metrics continuous, parameters as uninterrupted (Fashion-MNIST) -
FMNIST=${MRBM_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if ls "$FMNIST"/train-images-idx3-ubyte* >/dev/null 2>&1; then
  long=(--model "$TMP/tiny.json" --data fashion-mnist --limit 20000 --batch 2 --epochs 1 --device cpu
        --threads 1 --sample-count 4 --gibbs-steps 1 --log-every 500)
  # Stop once the progress line shows 70% (16 of 24 marks), then resume: the old images/s that
  # counted the skipped images would then read 3x too high.
  (cd "$TMP/cwd" && exec "$MRBM" train "${long[@]}" --out "$TMP/int" >"$CAP/out" 2>"$CAP/err") &
  pid=$!
  wait_for_line "$pid" "$CAP/err" "epoch 1/1 \[################"
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  check "Ctrl-C mid-epoch exits 130 (rc $rc)" test "$rc" = 130
  check "Ctrl-C: the checkpoint is saved, the message says how to continue" \
    grep -qF "mrbm train: interrupted; checkpoint saved at step" "$CAP/err"
  if expect_ok train --out "$TMP/int" --resume; then
    check "resumed: the first progress line has a finite ETA, not 0:00" \
      bash -c "grep -m1 'epoch 1/1 \\[' '$CAP/err' | grep -qvE 'ETA (0:00|\\?)'"
    check "Ctrl-C and --resume: metrics.jsonl continuous" metrics_continuous "$TMP/int/metrics.jsonl"
    if expect_ok train "${long[@]}" --out "$TMP/int-ref"; then
      check "Ctrl-C and --resume: the steps of the uninterrupted run" \
        diff <(metric_steps "$TMP/int/metrics.jsonl") <(metric_steps "$TMP/int-ref/metrics.jsonl")
      check "Ctrl-C and --resume: the uninterrupted parameters" \
        test "$(tensor_bytes "$TMP/int/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/int-ref/checkpoint.safetensors")"
      # images/s of the resumed epoch counts only what this process trained: at most twice the
      # uninterrupted epoch's rate (the old count of the skipped images gave 3x and more).
      check "Ctrl-C and --resume: the epoch's images/s is not inflated by the skipped images" \
        awk -F'"images_per_s":' 'FNR == 1 { f++ } /"type":"epoch"/ { split($2, v, /[,}]/); r[f] = v[1] }
                                 END { exit !(r[1] > 0 && r[2] > 0 && r[1] < 2 * r[2]) }' \
        "$TMP/int/metrics.jsonl" "$TMP/int-ref/metrics.jsonl"
    fi
  fi
  # Two train processes on one folder: the second refuses (the folder is locked) and changes
  # nothing; once the first has stopped, the folder is free again. The first logs nothing during
  # the checks (--log-every beyond the epoch), so that the folder's files stay as they are.
  lock_err=$(mktemp)
  (cd "$TMP/cwd" && exec "$MRBM" train "${long[@]/#500/1000000}" --out "$TMP/locked" >/dev/null 2>"$lock_err") &
  pid=$!
  wait_for_line "$pid" "$lock_err" "epoch 1/1 \["
  expect_error 1 "$TMP/locked: another mrbm train is using this run folder" train --out "$TMP/locked" --resume
  expect_error 1 "$TMP/locked: another mrbm train is using this run folder" train "${long[@]}" --out "$TMP/locked"
  check "the first process was still training during the checks" kill -0 "$pid"
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  rm -f "$lock_err"
  if expect_ok train --out "$TMP/locked" --resume --epochs 0; then
    check "after the first process ends the folder can be resumed" grep -q "nothing to train" "$CAP/err"
  fi
  # A late Ctrl-C, after the epoch's last step (during its evaluation and grids): the epoch
  # finishes (its metrics line, grids and checkpoint), then the command exits 130, and --resume
  # has nothing of that epoch to redo. The grids are made slow (4000-step chains, seconds) to be hit.
  late=(--model "$TMP/tiny.json" --data fashion-mnist --limit 64 --batch 8 --epochs 2 --device cpu
        --threads 1 --sample-count 64 --gibbs-steps 4000)
  (cd "$TMP/cwd" && exec "$MRBM" train "${late[@]}" --out "$TMP/late" >"$CAP/out" 2>"$CAP/err") &
  pid=$!
  wait_for_line "$pid" "$CAP/err" "epoch 1: evaluating, drawing the sample grids" 0.05
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  check "a late Ctrl-C exits 130 (rc $rc)" test "$rc" = 130
  check "a late Ctrl-C: the epoch finished first (its metrics line is there)" \
    bash -c "jq -e -s '[.[] | select(.type == \"epoch\")] | length == 1 and .[0].epoch == 1' '$TMP/late/metrics.jsonl' >/dev/null"
  check "a late Ctrl-C: the epoch's grids are in place, none pending" \
    bash -c "test -s '$TMP/late/samples.png' && ! ls '$TMP/late' | grep -q '\\.new\$'"
  if expect_ok train --out "$TMP/late" --resume; then
    check "after a late Ctrl-C, --resume starts at epoch 2" grep -q "resuming at epoch 2, step 8" "$CAP/err"
  fi
  # SIGTERM is handled like Ctrl-C: the checkpoint is saved, exit 143.
  (cd "$TMP/cwd" && exec "$MRBM" train "${long[@]}" --out "$TMP/term" >"$CAP/out" 2>"$CAP/err") &
  pid=$!
  wait_for_line "$pid" "$CAP/err" "epoch 1/1 \[##"
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  check "SIGTERM mid-epoch exits 143 (rc $rc)" test "$rc" = 143
  check "SIGTERM: the checkpoint is saved" grep -qF "mrbm train: terminated; checkpoint saved at step" "$CAP/err"
  # Ctrl-C during features: no temporary file is left.
  mkdir -p "$TMP/feat"
  (cd "$TMP/cwd" && exec "$MRBM" features --checkpoint "$TMP/int/checkpoint.safetensors" --data fashion-mnist \
     --device cpu --batch 16 --out "$TMP/feat/f.npy" >"$CAP/out" 2>"$CAP/err") &
  pid=$!
  wait_for_line "$pid" "$CAP/err" "features \[##"
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  check "Ctrl-C during features exits 130 (rc $rc)" test "$rc" = 130
  check "Ctrl-C during features leaves no file" test -z "$(ls -A "$TMP/feat")"
fi

finish
