#!/usr/bin/env bash
# The GPU check: the prepared run that verifies the CUDA path on a GPU machine (docs/building.md,
# "GPU check", which also says how to measure honestly on the card).
#
#   tools/gpu-check.sh stage
#       On the build machine. Copies what the GPU machine lacks into .device-deps/ (git-ignored):
#         include/   catch2/, CLI/, nlohmann/, stb/stb_image.h, stb/stb_image_write.h (/usr/include)
#         cmake/     Catch.cmake, CatchAddTests.cmake (Debian's catch2 package)
#         data/fashion-mnist/ the first 20000 training and 10000 test images of
#                    dataset-fashion-mnist, uncompressed IDX (the GPU machine may lack zlib)
#       and checks that it stays under 60 MiB (the working tree plus carried folders travel to the
#       GPU machine with a 64 MiB limit).
#
#   tools/gpu-check.sh run OUTDIR
#       On the GPU machine (CUDA 13, cuBLAS, cuDNN, CMake, ninja, compute-sanitizer, PyTorch; no
#       Debian -dev packages, no network), from the repository root with .device-deps/ carried:
#         configure (sm_90, staged headers) -> build (ninja -j16) -> `mrbm info` -> ctest -L cuda
#         -> ctest -L cpu -> compute-sanitizer memcheck on `mrbm bench multinary --quick` and on one
#         training step -> `mrbm bench multinary`, `bench conv`, `bench train-step` (paper-celeba64
#         and paper-celeba128 at batch 128) -> a short training run on the staged Fashion-MNIST ->
#         the PyTorch references (tools/bench_*_torch.py; optional: a failure is reported but does
#         not fail the run).
#       Without a GPU (the rehearsal on the build machine) the [cuda] tests report Skipped and
#       memcheck, the benches, the training run and the PyTorch references are skipped.
#       Every step has a time limit and the whole run a budget (MRBM_GPU_CHECK_BUDGET seconds,
#       default 390), so it ends within 7 minutes and a second run fits in a 15-minute window.
#       OUTDIR receives at most 8 files: log (everything, through tee, kept when a limit cuts the
#       run), summary.txt, ctest-cuda.xml, bench-multinary.json, bench-conv.json,
#       bench-train-celeba64.json (celeba128's numbers are in the log), torch.json (the three PyTorch
#       references merged), reconstructions.png (the short training run).
#       Exit status 0 only when every required step that ran passed; a step whose tool or script is
#       missing is logged and skipped, not fatal. On a machine with a GPU, [cuda] tests reported
#       as skipped are a failure (they would prove nothing).
#
# Environment: MRBM_GPU_CHECK_BUILD (build folder, default build), MRBM_GPU_CHECK_BUDGET,
# MRBM_GPU_CHECK_JOBS (default 16).
set -euo pipefail
# The whole script is one compound command: bash parses it completely before running it, so an
# edit or checkout of this file during a run cannot change what the run executes.
{
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$repo/.device-deps
stage_limit_mib=60

usage() {
  echo "usage: tools/gpu-check.sh stage | run OUTDIR" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# stage

# Folder of Debian's Catch.cmake: from the package's file list, else the usual places.
catch_cmake_dir() {
  local f
  f=$(dpkg -L catch2 2>/dev/null | grep '/Catch\.cmake$' | head -1 || true)
  if [[ -z $f ]]; then
    for f in /usr/lib/cmake/Catch2/Catch.cmake /usr/share/cmake/Catch2/Catch.cmake \
             /usr/lib/x86_64-linux-gnu/cmake/Catch2/Catch.cmake ""; do
      [[ -z $f || -f $f ]] && break
    done
  fi
  [[ -n $f ]] && dirname "$f"
}

stage() {
  local missing=()
  local inc=/usr/include
  local headers=("$inc/catch2/catch.hpp" "$inc/stb/stb_image.h" "$inc/stb/stb_image_write.h"
                 "$inc/CLI/CLI.hpp" "$inc/nlohmann/json.hpp")
  local h
  for h in "${headers[@]}"; do [[ -f $h ]] || missing+=("$h"); done
  local catch_dir
  catch_dir=$(catch_cmake_dir || true)
  [[ -n $catch_dir && -f $catch_dir/CatchAddTests.cmake ]] || missing+=("Catch.cmake/CatchAddTests.cmake (package catch2)")
  local data_src=/usr/share/datasets/fashion-mnist
  compgen -G "$data_src/*.gz" >/dev/null || missing+=("$data_src/*.gz (package dataset-fashion-mnist)")
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "gpu-check stage: missing: ${missing[*]}; run tools/install-deps.sh" >&2
    exit 1
  fi

  # Start from empty so that nothing stale travels.
  rm -rf "$deps"
  mkdir -p "$deps/include/stb" "$deps/cmake" "$deps/data/fashion-mnist"
  cp -r "$inc/catch2" "$inc/CLI" "$inc/nlohmann" "$deps/include/"
  cp "$inc/stb/stb_image.h" "$inc/stb/stb_image_write.h" "$deps/include/stb/"
  cp "$catch_dir/Catch.cmake" "$catch_dir/CatchAddTests.cmake" "$deps/cmake/"
  # Uncompressed IDX files (the GPU machine may have no zlib to read .gz), cut to the first 20000
  # training and 10000 test images so that the staged folder stays far under the 64 MiB that
  # travels: about 24 MB.
  python3 - "$data_src" "$deps/data/fashion-mnist" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for split, keep in (("train", 20000), ("t10k", 10000)):
    for kind in ("images-idx3", "labels-idx1"):
        data = gzip.open(f"{src}/{split}-{kind}-ubyte.gz").read()
        dims = data[3]
        shape = list(struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims]))
        per = 1
        for d in shape[1:]:
            per *= d
        shape[0] = min(shape[0], keep)
        header = data[:4] + struct.pack(">" + "I" * dims, *shape)
        body = data[4 + 4 * dims:4 + 4 * dims + shape[0] * per]
        open(f"{dst}/{split}-{kind}-ubyte", "wb").write(header + body)
PY

  local bytes mib
  bytes=$(du -sb "$deps" | cut -f1)
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "gpu-check stage: $deps holds $(find "$deps" -type f | wc -l) files, ${mib} MiB"
  if [[ $bytes -gt $((stage_limit_mib * 1048576)) ]]; then
    echo "gpu-check stage: FAIL: more than ${stage_limit_mib} MiB" >&2
    exit 1
  fi
  # What travels besides: the working tree (tracked and untracked files that git does not ignore).
  local tree_bytes
  if tree_bytes=$(cd "$repo" && git ls-files -z --cached --others --exclude-standard 2>/dev/null \
                    | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}'); then
    awk -v t="$tree_bytes" -v d="$bytes" 'BEGIN { printf "gpu-check stage: with the working tree (%.1f MiB) about %.1f MiB travel (limit 64 MiB)\n", t / 1048576, (t + d) / 1048576 }'
    if [[ $((bytes + tree_bytes)) -gt $((64 * 1048576)) ]]; then
      echo "gpu-check stage: FAIL: the working tree plus .device-deps exceed 64 MiB" >&2
      exit 1
    fi
  fi
  echo "gpu-check stage: ok; on the GPU machine run: tools/gpu-check.sh run \$OUT (carry .device-deps)"
}

# ---------------------------------------------------------------------------------------------
# run

budget=${MRBM_GPU_CHECK_BUDGET:-390}
jobs=${MRBM_GPU_CHECK_JOBS:-16}
t0=$SECONDS
step_names=()
step_results=()
step_seconds=()
step_notes=()
any_required_failed=0

record() {  # name result seconds note required
  local note=$4
  if [[ $2 == FAILED && $5 == 0 ]]; then note+="${note:+; }optional, not counted"; fi
  step_names+=("$1"); step_results+=("$2"); step_seconds+=("$3"); step_notes+=("$note")
  if [[ $2 == FAILED && $5 == 1 ]]; then any_required_failed=1; fi
  echo "=== $1: $2${note:+ ($note)} [$3 s]"
}

skip_step() {  # name reason
  echo
  record "$1" skipped 0 "$2" 0
}

# True when TARGET is built and up to date in BUILD (ninja has no work left for it), so that a
# failure elsewhere in the build does not keep the steps that need only this target from running.
target_current() {  # build target
  [[ -f $1/build.ninja ]] && ninja -C "$1" -n "$2" 2>/dev/null | grep -q "no work to do"
}

# Runs one step under its own limit, cut to what is left of the budget.
# run_step NAME LIMIT_S REQUIRED(0|1) -- command...
last_rc=0
run_step() {
  local name=$1 limit=$2 required=$3
  shift 4
  local left=$((budget - (SECONDS - t0)))
  if [[ $left -lt 10 ]]; then
    record "$name" "$([[ $required == 1 ]] && echo FAILED || echo skipped)" 0 "time budget of ${budget} s used up" "$required"
    last_rc=124
    return 0
  fi
  [[ $limit -le $left ]] || limit=$left
  echo
  echo "=== $name (limit ${limit} s): $*"
  local start=$SECONDS rc=0
  timeout -k 10 "$limit" "$@" || rc=$?
  last_rc=$rc
  local took=$((SECONDS - start)) note=""
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then note="timed out after ${limit} s"; fi
  if [[ $rc -eq 0 ]]; then
    record "$name" ok "$took" "" "$required"
  else
    record "$name" FAILED "$took" "${note:-exit $rc}" "$required"
  fi
}

have_gpu=0
run_checks() {
  local out=$1 build=$2
  set +e
  echo "gpu-check run: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
  echo "commit: $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo none) $(cd "$repo" && git status --porcelain 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
  if command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    have_gpu=1
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  else
    echo "no GPU visible (nvidia-smi -L lists none): [cuda] tests will report Skipped, GPU steps are skipped"
  fi
  local nvcc
  nvcc=$(command -v nvcc || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; } || true)
  local sanitizer
  local f
  sanitizer=$(command -v compute-sanitizer || true)
  for f in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [[ -n $sanitizer || ! -x $f ]] || sanitizer=$f
  done
  echo "nvcc: ${nvcc:-none} $([[ -n $nvcc ]] && "$nvcc" --version | grep -o 'release [0-9.]*')"
  echo "cmake: $(cmake --version | head -1)   ninja: $(ninja --version 2>/dev/null || echo none)"
  echo "budget: ${budget} s, build folder: $build"

  if [[ ! -f $deps/include/catch2/catch.hpp || ! -f $deps/cmake/Catch.cmake ]]; then
    echo "gpu-check run: $deps is incomplete: run 'tools/gpu-check.sh stage' on the build machine and carry .device-deps"
    record configure FAILED 0 ".device-deps not staged" 1
    return
  fi

  # Headers are staged under include/ and include/stb/, so both <stb/stb_image.h> and
  # <stb_image.h> resolve, as with Debian's /usr/include plus pkg-config's -I/usr/include/stb.
  local cmake_args=(-S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
                    -DMRBM_WITH_CUDA=ON -DMRBM_CUDA_ARCHITECTURES=90
                    "-DMRBM_EXTRA_INCLUDE_DIRS=$deps/include;$deps/include/stb"
                    -DMRBM_CATCH2_CMAKE_DIR="$deps/cmake")
  [[ -n $nvcc ]] && cmake_args+=(-DCMAKE_CUDA_COMPILER="$nvcc")
  # A build folder kept from a run in another checkout path cannot be reconfigured: start over.
  if [[ -f $build/CMakeCache.txt ]] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$repo" "$build/CMakeCache.txt"; then
    echo "gpu-check run: $build was configured for another source folder; starting it over"
    rm -rf "$build"
  fi
  run_step configure 90 1 -- cmake "${cmake_args[@]}"
  if [[ $last_rc -ne 0 ]]; then
    local s; for s in build info ctest-cuda ctest-cpu memcheck bench train torch-reference; do skip_step "$s" "configure failed"; done
    return
  fi
  # -k 0: keep going, so that one run names every failing file and builds every target it can.
  run_step build 180 1 -- cmake --build "$build" -j "$jobs" -- -k 0
  local tests_ok=1 mrbm_ok=1
  if [[ $last_rc -ne 0 ]]; then
    target_current "$build" mrbm_tests || tests_ok=0
    target_current "$build" mrbm || mrbm_ok=0
    echo "=== build failed; still up to date: mrbm_tests $([[ $tests_ok == 1 ]] && echo yes || echo no), mrbm $([[ $mrbm_ok == 1 ]] && echo yes || echo no)"
  fi

  # The command lands in build/mrbm or build/tools/mrbm depending on tools/CMakeLists.txt.
  local mrbm=$build/mrbm
  [[ -x $mrbm || ! -x $build/tools/mrbm ]] || mrbm=$build/tools/mrbm
  # `mrbm info` first: the device, driver and build line head the log even if a later step hangs.
  if [[ $mrbm_ok == 1 && -x $mrbm ]]; then
    run_step info 20 1 -- "$mrbm" info
  else
    skip_step info "$mrbm not built"
  fi

  # ctest: the [cuda] tests (every CUDA op against its CPU twin), then the CPU tests.
  if [[ $tests_ok == 0 ]]; then
    skip_step ctest-cuda "mrbm_tests did not build"
    skip_step ctest-cpu "mrbm_tests did not build"
  else
    local ctest_log=$build/gpu-check-ctest-cuda.txt
    # shellcheck disable=SC2016  # the inner bash expands $1..$3
    run_step ctest-cuda 120 1 -- bash -c 'set -o pipefail; ctest --test-dir "$1" -L cuda --no-tests=error \
        --output-on-failure --timeout 90 -j 4 --output-junit "$2" | tee "$3"' _ "$build" "$out/ctest-cuda.xml" "$ctest_log"
    local skipped
    skipped=$(grep -c -- '\*\*\*Skipped' "$ctest_log" 2>/dev/null || true)
    if [[ ${skipped:-0} -gt 0 ]]; then
      local i=$((${#step_names[@]} - 1))
      if [[ $have_gpu -eq 1 && ${step_results[$i]} == ok ]]; then
        step_results[i]=FAILED
        step_notes[i]="$skipped [cuda] tests skipped although a GPU is present"
        any_required_failed=1
        echo "=== ctest-cuda: FAILED: $skipped tests reported MRBM_SKIP on a GPU machine"
      else
        step_notes[i]="$skipped skipped (no GPU)"
      fi
    fi
    run_step ctest-cpu 90 1 -- ctest --test-dir "$build" -L cpu --no-tests=error --output-on-failure \
        --timeout 60 -j "$jobs"
  fi

  local have_bench=0
  if [[ $mrbm_ok == 1 && -x $mrbm ]] && "$mrbm" bench multinary --help >/dev/null 2>&1; then have_bench=1; fi

  # Device memory errors (out-of-bounds and misaligned accesses, invalid frees, CUDA API errors)
  # in the multinary kernels and in one whole training step (every kernel of a step: the
  # multinary passes, im2col or cuDNN, reductions, Adam); --error-exitcode turns a report into a
  # failure.
  if [[ $have_gpu -eq 0 ]]; then
    skip_step memcheck "no GPU"
  elif [[ -z $sanitizer ]]; then
    skip_step memcheck "compute-sanitizer not found"
  elif [[ $have_bench -eq 0 ]]; then
    skip_step memcheck "mrbm bench multinary not available"
  else
    # shellcheck disable=SC2016  # the inner bash expands $1, $2
    run_step memcheck 120 1 -- bash -c '"$1" --tool memcheck --error-exitcode 1 --print-limit 20 "$2" bench multinary --quick --device cuda &&
        "$1" --tool memcheck --error-exitcode 1 --print-limit 20 "$2" bench train-step --model demo --device cuda --batch 8 --steps 1 --warmup 0' \
        _ "$sanitizer" "$mrbm"
  fi

  if [[ $have_gpu -eq 0 ]]; then
    skip_step bench "no GPU"
  elif [[ $have_bench -eq 0 ]]; then
    skip_step bench "mrbm bench multinary not available"
  else
    # The multinary pass, the conv paths (cuDNN vs im2col + cuBLAS, paper-celeba64 layers at
    # batch 128) and whole training steps of the paper's generative models at batch 128.
    # shellcheck disable=SC2016
    run_step bench 150 1 -- bash -c 'set -e
        "$1" bench multinary --device cuda --json "$2/bench-multinary.json"
        "$1" bench conv --device cuda --json "$2/bench-conv.json"
        "$1" bench train-step --model paper-celeba64 --device cuda --batch 128 --json "$2/bench-train-celeba64.json"
        "$1" bench train-step --model paper-celeba128 --device cuda --batch 128 --json "$3/bench-train-celeba128.json"' \
        _ "$mrbm" "$out" "$build"
  fi

  # A short training run on real data (Fashion-MNIST staged in .device-deps), with its images.
  local fashion=$deps/data/fashion-mnist
  if [[ $have_gpu -eq 0 ]]; then
    skip_step train "no GPU"
  elif [[ $mrbm_ok == 0 || ! -d $fashion ]]; then
    skip_step train "mrbm or the staged Fashion-MNIST missing"
  else
    rm -rf "$build/gpu-check-train"
    run_step train 90 1 -- "$mrbm" train --model demo --data "fashion-mnist:$fashion" --epochs 1 \
        --limit 20000 --device cuda --out "$build/gpu-check-train"
    [[ -f $build/gpu-check-train/reconstructions.png ]] && cp "$build/gpu-check-train/reconstructions.png" "$out/"
  fi

  # The PyTorch references are comparisons, not checks of our code: a failure is reported but does
  # not fail the run. One JSON file per script, merged into torch.json (the output folder holds
  # at most 8 files).
  if ! command -v python3 >/dev/null; then
    skip_step torch-reference "python3 not found"
  elif ! python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)' >/dev/null 2>&1; then
    skip_step torch-reference "PyTorch missing or without a CUDA device"
  else
    # shellcheck disable=SC2016
    run_step torch-reference 120 0 -- bash -c 'set -e; cd "$1"
        python3 tools/bench_multinary_torch.py --device cuda --json "$3/torch-multinary.json"
        python3 tools/bench_conv_torch.py --device cuda --json "$3/torch-conv.json"
        python3 tools/bench_train_torch.py --model paper-celeba64 --device cuda --batch 128 --json "$3/torch-train.json"
        python3 -c "import json,sys; d={n: json.load(open(sys.argv[1]+\"/torch-\"+n+\".json\")) for n in (\"multinary\",\"conv\",\"train\")}; json.dump(d, open(sys.argv[2]+\"/torch.json\",\"w\"), indent=1)" "$3" "$2"' \
        _ "$repo" "$out" "$build"
  fi

}

summary() {
  local out=$1 i
  {
    echo
    echo "=== summary (total $((SECONDS - t0)) s of a ${budget} s budget)"
    printf '%-16s %-8s %6s  %s\n' step result seconds note
    for i in "${!step_names[@]}"; do
      printf '%-16s %-8s %6s  %s\n' "${step_names[$i]}" "${step_results[$i]}" "${step_seconds[$i]}" "${step_notes[$i]}"
    done
    local n_files
    n_files=$(find "$out" -maxdepth 1 -type f ! -name summary.txt | wc -l)
    n_files=$((n_files + 1))
    echo "OUTDIR $out: $n_files files (limit 8)"
    if [[ $any_required_failed -eq 0 ]]; then
      echo "gpu-check: PASS (every required step that ran passed)"
    else
      echo "gpu-check: FAIL"
    fi
  } | tee "$out/summary.txt"
}

run_main() {
  local out=$1 build=$2
  run_checks "$out" "$build"
  set -e
  summary "$out"
  [[ $any_required_failed -eq 0 ]]
}

case "${1:-}" in
  stage)
    [[ $# -eq 1 ]] || usage
    stage
    ;;
  run)
    [[ $# -eq 2 ]] || usage
    mkdir -p "$2"
    out=$(cd "$2" && pwd)
    build=${MRBM_GPU_CHECK_BUILD:-$repo/build}
    [[ $build == /* ]] || build=$repo/$build
    set -o pipefail
    # tee keeps the output in OUTDIR/log even when an outer time limit kills the run.
    run_main "$out" "$build" 2>&1 | tee "$out/log"
    exit "${PIPESTATUS[0]}"
    ;;
  *)
    usage
    ;;
esac
}
