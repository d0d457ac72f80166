#!/usr/bin/env bash
# Runs the libFuzzer targets of test/fuzz (docs/building.md "Fuzzing"), each on a scratch copy of
# its committed seed corpus (test/fuzz/corpus/<target>), so that the committed corpus is never
# modified. Any finding (a crash, a sanitizer report, an mrbm contract violation, a timeout, an
# allocation over the memory limit) fails the run; the input is then in
# BUILD_DIR/fuzz-work/<target>/ as crash-*, timeout-*, oom-* or leak-*, and the log next to it.
#
# Two modes:
#   tools/fuzz.sh smoke [TARGET...]            what `make test` runs. Every committed corpus file
#       (seeds and the regression inputs of past findings) is run, then a fixed number of
#       mutations from a fixed seed (-seed=1 -runs=N, N per target below, about 10 s each on one
#       Zen 4 core), so that most executions are the same on every machine. Not all: two runs of
#       one build drift apart after a few thousand executions (docs/building.md), so a smoke run
#       can still find something new, and then the bug is real.
#   tools/fuzz.sh SECONDS [TARGET...]          exploration: a fresh random seed each time, for
#       SECONDS per target (`make fuzz`, FUZZ_SECONDS=600 by default). New findings come from here.
# Environment: BUILD_DIR (build-fuzz, built already), FUZZ_JOBS (targets run at once, default 1).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-fuzz}
mode=${1:-smoke}
shift || true
[[ $mode == smoke || $mode =~ ^[0-9]+$ ]] || { echo "usage: tools/fuzz.sh smoke|SECONDS [TARGET...]" >&2; exit 2; }
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

# The smoke run's mutations per target: about 10 s each at the rate of one free Zen 4 core
# (docs/building.md's table); a slower machine takes longer, never does less.
smoke_runs() {
  case $1 in
    data_spec) echo 1000000 ;;
    cifar|safetensors) echo 30000 ;;
    model_spec) echo 20000 ;;
    idx|checkpoint) echo 15000 ;;
    image) echo 20000 ;;
  esac
}

run_one() {
  local target=$1
  local bin=$build/fuzz/fuzz_$target
  local work=$build/fuzz-work/$target
  [[ -x $bin ]] || { echo "fuzz: $bin is missing (build the target mrbm_fuzz_targets)" >&2; return 1; }
  # The findings of earlier runs (crash-*, ...) stay; the corpus copy and the scratch folder are
  # new for each run (a folder of its own, so that a run still exiting cannot race this one).
  mkdir -p "$work"
  local scratch
  scratch=$(mktemp -d "$work/run.XXXXXX")
  mkdir -p "$scratch/corpus" "$scratch/tmp"
  cp "$here/test/fuzz/corpus/$target/"* "$scratch/corpus/"
  local dict=()
  [[ -f $here/test/fuzz/$target.dict ]] && dict=(-dict="$here/test/fuzz/$target.dict")
  local bound=(-max_total_time="$mode") what="$mode s"
  if [[ $mode == smoke ]]; then
    bound=(-seed=1 -runs="$(smoke_runs "$target")")
    what="seed 1"
  fi
  # -timeout: an input that takes longer is a hang (a finding); -rss_limit_mb/-malloc_limit_mb: a
  # reader that allocates more than this for an input of at most -max_len bytes is unbounded.
  local start=$SECONDS
  if TMPDIR=$scratch/tmp "$bin" "${bound[@]}" -timeout=10 -rss_limit_mb=2048 \
       -malloc_limit_mb=2048 -max_len="$(max_len "$target")" -print_final_stats=1 \
       -artifact_prefix="$work/" "${dict[@]}" "$scratch/corpus" >"$work.log" 2>&1; then
    local execs line
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log" | tail -1)
    line=$(grep -E '^#[0-9]+' "$work.log" | tail -1)
    printf 'fuzz %-12s ok (%s): %s executions in %s s; last status: %s\n' "$target" "$what" \
      "$execs" "$((SECONDS - start))" "$(sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//' <<<"$line")"
    rm -rf "$scratch"
  else
    echo "fuzz $target: FINDING (log $work.log, input in $work/):" >&2
    grep -E 'ERROR|CONTRACT|SUMMARY|Test unit written' "$work.log" | head -8 >&2
    rm -rf "$scratch"
    return 1
  fi
}

export -f run_one max_len smoke_runs
export build here mode
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
