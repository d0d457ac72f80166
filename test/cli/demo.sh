#!/usr/bin/env bash
# `make demo`'s script (tools/demo.sh) on a small budget: 512 training images, one epoch of each
# model, 500 SVM images. It must run to the end and write its report, grids and JSON (a changed
# option of `mrbm train` once broke the demo silently: nothing ran it). The full-size demo is
# timed in README.md. Exits 77 (CTest: Skipped) when Fashion-MNIST is not installed.
# Usage: demo.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

need_fashion_mnist
repo=$(cd "$(dirname "$0")/../.." && pwd)
CHECKS=$((CHECKS + 1))
if ! BUILD_DIR=$(dirname "$MRBM") MRBM_DEMO_OUT="$TMP/demo" MRBM_DEMO_LIMIT=512 MRBM_DEMO_EPOCHS=1 \
     MRBM_DEMO_GEN_EPOCHS=1 MRBM_DEMO_SVM_TRAIN=500 MRBM_DEVICE=cpu \
     bash "$repo/tools/demo.sh" >"$CAP/out" 2>"$CAP/err"; then
  fail "tools/demo.sh failed: $(tail -c 1500 "$CAP/err")"
  finish
fi
for f in report.md reconstructions.png samples-from-data.png samples.png classify.json \
         sample-quality.json run/checkpoint.safetensors generation/checkpoint.safetensors; do
  check "the demo writes $f" test -s "$TMP/demo/$f"
done
check "the demo writes 1000 samples from noise" test "$(ls "$TMP/demo/samples" | wc -l)" = 1000
check "the report has the SVM's test error and the generation's two ratios" \
  bash -c "grep -q 'test error [0-9.]*%' '$TMP/demo/report.md' &&
           grep -qE 'Frechet distance [0-9.]+x that of twice-blurred test images, classifier score [0-9.]+x' '$TMP/demo/report.md'"
check "the report is printed too" grep -q "# mrbm demo report" "$CAP/out"
finish
