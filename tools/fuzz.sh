#!/usr/bin/env bash
# Runs the libFuzzer targets of test/fuzz (docs/building.md "Fuzzing") for SECONDS each, every one on
# a scratch copy of its committed seed corpus (test/fuzz/corpus/<target>), so that the committed
# corpus is never modified. Any finding (a crash, a sanitizer report, an mrbm contract violation, a
# timeout, an allocation over the memory limit) fails the run; the input is then in
# BUILD_DIR/fuzz-work/<target>/ as crash-*, timeout-*, oom-* or leak-*, and the log next to it.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]   (default MRBM_FUZZ_SECONDS or 20; every target)
# Environment: BUILD_DIR (build-fuzz, built already), FUZZ_JOBS (targets run at once, default 1).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-fuzz}
seconds=${1:-${MRBM_FUZZ_SECONDS:-20}}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx cifar image safetensors checkpoint model_spec data_spec)
jobs=${FUZZ_JOBS:-1}

# The longest input each target is given: a few records or headers, enough for every format's
# structure (two CIFAR records are 6146 bytes) while keeping each run fast.
max_len() {
  case $1 in
    cifar) echo 8192 ;;
    image|safetensors) echo 8192 ;;
    checkpoint) echo 16384 ;;
    data_spec) echo 512 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  local target=$1
  local bin=$build/fuzz/fuzz_$target
  local work=$build/fuzz-work/$target
  [[ -x $bin ]] || { echo "fuzz: $bin is missing (build the target mrbm_fuzz_targets)" >&2; return 1; }
  # The findings of earlier runs (crash-*, ...) stay; the corpus copy starts afresh.
  rm -rf "$work/corpus" "$work/tmp"
  mkdir -p "$work/corpus" "$work/tmp"
  cp "$here/test/fuzz/corpus/$target/"* "$work/corpus/"
  local dict=()
  [[ -f $here/test/fuzz/$target.dict ]] && dict=(-dict="$here/test/fuzz/$target.dict")
  # -timeout: an input that takes longer is a hang (a finding); -rss_limit_mb/-malloc_limit_mb: a
  # reader that allocates more than this for an input of at most -max_len bytes is unbounded.
  if TMPDIR=$work/tmp "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -malloc_limit_mb=2048 -max_len="$(max_len "$target")" -print_final_stats=1 \
       -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" >"$work.log" 2>&1; then
    local execs rate line
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work.log")
    line=$(grep -E '^#[0-9]+' "$work.log" | tail -1)
    printf 'fuzz %-12s ok: %s s, %s executions (%s/s); last status: %s\n' "$target" "$seconds" \
      "$execs" "$rate" "$(sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//' <<<"$line")"
  else
    echo "fuzz $target: FINDING (log $work.log, input in $work/):" >&2
    grep -E 'ERROR|CONTRACT|SUMMARY|Test unit written' "$work.log" | head -8 >&2
    return 1
  fi
}

export -f run_one max_len
export build here seconds
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
