#!/usr/bin/env bash
# Crash safety of `mrbm train` (issue 17, item 3): SIGKILL at 25 or more pseudo-random moments of
# one run (uniform in a window of a start and four epochs; seeded, so a failure can be replayed),
# at least 5 of them while a checkpoint was being written, and after every kill: the checkpoint on disk loads (`mrbm info`),
# run.json is whole JSON, every line of metrics.jsonl but a torn last one is JSON, every image grid
# under its final name is a whole PNG, and no temporary file of an earlier process is left (the next
# run in the folder removes them). Then the run is resumed to its end: its parameters equal those of
# an uninterrupted run bit for bit, metrics.jsonl holds each step of that run once, and no
# temporary file is left. A file size limit (ulimit -f) reached while saving gives one error line
# naming the checkpoint and keeps the previous one. The model is a dense 784 -> 4000 RBM on 12
# images (3 steps per epoch), so that the 38 MB checkpoint written after every epoch takes a large
# part of the run's time; 120 epochs, so that the run outlasts the kills.
# Usage: crash_kills.sh path/to/mrbm [SEED]
source "$(dirname "$0")/lib.sh"
SEED=${2:-1}
RANDOM=$SEED
EPOCHS=120
MIN_KILLS=25
MIN_KILLS_IN_WRITES=5
MAX_KILLS=200

D=$TMP/data
idx_mnist_dir "$D" 12
cat >"$TMP/model.json" <<'EOF'
{"name": "crash", "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "binary"}},
 "layers": [{"type": "dense", "units": 4000, "hidden": {"kind": "binary"}}], "sampler": "exact"}
EOF
quick=(--model "$TMP/model.json" --data "mnist:$D" --batch 4 --device cpu --sample-count 4
       --gibbs-steps 1 --log-every 1)
run=("${quick[@]}" --epochs "$EPOCHS")

# The folder's files are each whole: run.json is JSON, metrics.jsonl is JSON lines (a torn last
# line allowed when $2 is "torn-ok"), every *.png is a PNG whose chunks all pass their CRC and end
# with IEND, and the checkpoint (when there is one) loads.
folder_whole() {
  local dir=$1 torn=$2
  [ -d "$dir" ] || return 0  # killed before it made the folder
  python3 - "$dir" "$torn" <<'PY' || return 1
import json, os, struct, sys, zlib
d, torn = sys.argv[1], sys.argv[2] == "torn-ok"
bad = []
p = os.path.join(d, "run.json")
if os.path.exists(p):
    try: json.load(open(p))
    except Exception as e: bad.append(f"run.json: {e}")
p = os.path.join(d, "metrics.jsonl")
if os.path.exists(p):
    data = open(p, "rb").read()
    lines = data.split(b"\n")
    last = lines.pop()  # after the final newline: b"" when the file ends whole
    if last and not torn: bad.append("metrics.jsonl: a torn last line")
    for i, l in enumerate(lines):
        try: json.loads(l)
        except Exception: bad.append(f"metrics.jsonl line {i + 1} is not JSON: {l[:60]!r}")
for f in sorted(os.listdir(d)):
    if not f.endswith(".png"): continue
    b = open(os.path.join(d, f), "rb").read()
    ok = b[:8] == b"\x89PNG\r\n\x1a\n"
    i, end = 8, False
    while ok and i + 12 <= len(b):
        n, kind = struct.unpack(">I4s", b[i:i + 8])
        body = b[i + 4:i + 8 + n]
        if i + 12 + n > len(b) or zlib.crc32(body) != struct.unpack(">I", b[i + 8 + n:i + 12 + n])[0]:
            ok = False
            break
        i += 12 + n
        if kind == b"IEND": end = True; break
    if not (ok and end): bad.append(f"{f}: not a whole PNG")
for m in bad: print(m, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  if [ -e "$dir/checkpoint.safetensors" ]; then
    "$MRBM" info --checkpoint "$dir/checkpoint.safetensors" >/dev/null 2>"$CAP/info.err" ||
      { echo "checkpoint does not load: $(head -c 300 "$CAP/info.err")" >&2; return 1; }
  fi
}
# What a process that got past its start changes: metrics.jsonl's and the checkpoint's size and time.
written_state() { stat -c '%s %y' "$OUT/metrics.jsonl" "$OUT/checkpoint.safetensors" 2>/dev/null; true; }
# Temporary files (a checkpoint's .NAME.tmp-PID-N, a grid's NAME.new) in the folder.
temporaries() { [ -d "$1" ] && (cd "$1" && ls -A | grep -E '\.tmp-[0-9]+(-[0-9]+)?$|\.new$'); true; }

ms_of() {  # ms_of CMD...: the wall time of CMD in milliseconds (its exit status is ignored)
  local t0
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

# --- the uninterrupted reference, timed ------------------------------------------------------------
t0=$(date +%s%N)
if ! expect_ok train "${run[@]}" --out "$TMP/ref"; then finish; fi
span_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# The kill window: a start (the time of a run with --epochs 0) plus four epochs, so that each
# process gets a few epochs on, and the run lasts through the kills.
startup_ms=$(ms_of "$MRBM" train "${quick[@]}" --epochs 0 --out "$TMP/timing0")
rm -rf "$TMP/timing0"
epoch_ms=$(( (span_ms - startup_ms) / EPOCHS + 1 ))
window_ms=$(( startup_ms + 4 * epoch_ms ))
echo "crash_kills: start $startup_ms ms, $epoch_ms ms per epoch, kills uniform in 0..$window_ms ms"

# --- the kills ------------------------------------------------------------------------------------
OUT=$TMP/killed
kills=0 in_writes=0 finished=0 delays=""
prev_temps=""
while [ "$kills" -lt "$MAX_KILLS" ]; do
  if [ -e "$OUT/run.json" ]; then
    args=(train --out "$OUT" --resume)
  else
    args=(train "${run[@]}" --out "$OUT")
  fi
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (window_ms + 1) ))
  state_before=$(written_state)
  (cd "$TMP/cwd" && exec "$MRBM" "${args[@]}" >>"$CAP/kill.out" 2>>"$CAP/kill.err") &
  pid=$!
  sleep "$(awk -v m="$delay_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  if ! kill -KILL "$pid" 2>/dev/null; then
    wait "$pid"
    rc=$?
    check "a run that ended before its kill succeeded (rc $rc)" test "$rc" = 0
    finished=1
    break
  fi
  wait "$pid" 2>/dev/null
  kills=$((kills + 1))
  delays="$delays $delay_ms"
  temps=$(temporaries "$OUT")
  grep -q "^\\.checkpoint\\.safetensors\\.tmp-$pid-" <<<"$temps" && in_writes=$((in_writes + 1))
  check "kill $kills (after $delay_ms ms): the folder's files are whole" folder_whole "$OUT" torn-ok
  # The temporaries named after the processes killed before this one were removed by this one,
  # when it got past its start: it wrote to metrics.jsonl or the checkpoint, or began a temporary
  # of its own (a pending grid NAME.png.new has no process in its name: the end's check covers it).
  if [ "$(written_state)" != "$state_before" ] || grep -q -- "\.tmp-$pid" <<<"$temps"; then
    for t in $prev_temps; do
      [[ $t == *".tmp-$pid-"* || $t == *".tmp-$pid" ]] && continue
      check "kill $kills: the temporary $t of an earlier process was removed" test ! -e "$OUT/$t"
    done
    prev_temps=""
  fi
  prev_temps="$prev_temps $(grep -E '\.tmp-[0-9]+' <<<"$temps")"
  if [ "$kills" -ge "$MIN_KILLS" ] && [ "$in_writes" -ge "$MIN_KILLS_IN_WRITES" ]; then break; fi
done
echo "crash_kills: seed $SEED, $kills kills ($in_writes during a checkpoint write), delays (ms):$delays"
check "at least $MIN_KILLS kills, $MIN_KILLS_IN_WRITES of them during a checkpoint write (got $kills, $in_writes)" \
  test "$kills" -ge "$MIN_KILLS" -a "$in_writes" -ge "$MIN_KILLS_IN_WRITES"

# --- resumed to the end: the uninterrupted run's parameters and steps, nothing half-written -------
if [ "$finished" = 1 ] || expect_ok train --out "$OUT" --resume; then
  check "after the kills: the folder's files are whole, metrics.jsonl without a torn line" folder_whole "$OUT" whole
  check "after the kills: no temporary file is left ($(temporaries "$OUT" | tr '\n' ' '))" \
    test -z "$(temporaries "$OUT")"
  check "after the kills: the parameters equal the uninterrupted run's" \
    test "$(tensor_bytes "$OUT/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref/checkpoint.safetensors")"
  check "after the kills: metrics.jsonl holds the uninterrupted run's steps, once each" \
    diff <(metric_steps "$OUT/metrics.jsonl") <(metric_steps "$TMP/ref/metrics.jsonl")
fi

# --- a file size limit (ulimit -f; a full disk behaves alike): one clear error naming the file, the
# previous checkpoint intact, nothing half-written, and --resume without the limit continues -------
if expect_ok train "${quick[@]}" --epochs 2 --out "$TMP/ref2" && expect_ok train "${quick[@]}" --epochs 1 --out "$TMP/limit"; then
  before=$(md5sum <"$TMP/limit/checkpoint.safetensors")
  (cd "$TMP/cwd" && ulimit -f 20000 && exec "$MRBM" train --out "$TMP/limit" --resume --epochs 2 >"$CAP/out" 2>"$CAP/err")
  rc=$?
  check "ulimit -f: exit 1, not a signal (rc $rc)" test "$rc" = 1
  check "ulimit -f: the error line names the checkpoint and the cause ($(tail -1 "$CAP/err"))" \
    grep -qE "^mrbm: error: .*$TMP/limit/checkpoint\.safetensors.*File too large" <(tail -1 "$CAP/err")
  check "ulimit -f: the previous checkpoint is intact" test "$(md5sum <"$TMP/limit/checkpoint.safetensors")" = "$before"
  check "ulimit -f: the folder's files are whole" folder_whole "$TMP/limit" whole
  check "ulimit -f: no temporary file is left ($(temporaries "$TMP/limit" | tr '\n' ' '))" test -z "$(temporaries "$TMP/limit")"
  if expect_ok train --out "$TMP/limit" --resume; then
    check "ulimit -f, then --resume: the uninterrupted parameters" \
      test "$(tensor_bytes "$TMP/limit/checkpoint.safetensors")" = "$(tensor_bytes "$TMP/ref2/checkpoint.safetensors")"
  fi
fi
finish
