#!/usr/bin/env bash
# Bad inputs to `mrbm train`: an unknown preset, an invalid JSON model spec, a missing data
# folder, IDX files with a wrong magic number or truncated, an empty image folder, an unknown
# option, a missing GPU, and an output folder that holds another run without --resume. Each must
# give one line "mrbm: error: ..." naming the file or the problem, the right exit code (2 usage,
# 1 the rest) and write nothing (the refused run folder keeps its files untouched).
# Needs no data set: the IDX files are made here.
# Usage: train_bad_inputs.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

D=$TMP/data
mkdir -p "$D/good" "$D/wrong_magic" "$D/truncated" "$D/empty" "$TMP/out"
for split in train t10k; do
  idx_images "$D/good/$split-images-idx3-ubyte" 12 28 28
  idx_labels "$D/good/$split-labels-idx1-ubyte" 12
  idx_images "$D/wrong_magic/$split-images-idx3-ubyte" 12 28 28 2050
  idx_labels "$D/wrong_magic/$split-labels-idx1-ubyte" 12
  idx_labels "$D/truncated/$split-labels-idx1-ubyte" 12
done
idx_images "$TMP/full-idx" 12 28 28
head -c 5000 "$TMP/full-idx" >"$D/truncated/train-images-idx3-ubyte"
cp "$D/truncated/train-images-idx3-ubyte" "$D/truncated/t10k-images-idx3-ubyte"
rm "$TMP/full-idx"
GOOD="mnist:$D/good"
tiny_model "$TMP/tiny.json"
echo '{"name": "broken", "layers": [' >"$TMP/invalid.json"
echo '{"name": "typo", "layerz": []}' >"$TMP/unknown_field.json"
# A number beyond double (found by fuzz_model_spec: nlohmann's out_of_range escaped the reader).
echo '{"name": "huge", "layers": [{"channels": 1e3083}]}' >"$TMP/huge_number.json"
quick=(--epochs 1 --batch 4 --device cpu --sample-count 4 --gibbs-steps 1)

expect_error 2 "--bogus" train --model "$TMP/tiny.json" --data "$GOOD" --out "$TMP/out/r" --bogus
expect_error 2 "--batch" train --model "$TMP/tiny.json" --data "$GOOD" --out "$TMP/out/r" --batch 0
expect_error 1 "unknown model preset 'nosuchpreset'" \
  train --model nosuchpreset --data "$GOOD" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$TMP/invalid.json: invalid JSON" \
  train --model "$TMP/invalid.json" --data "$GOOD" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$TMP/huge_number.json: invalid JSON" \
  train --model "$TMP/huge_number.json" --data "$GOOD" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$TMP/unknown_field.json.layerz: unknown field" \
  train --model "$TMP/unknown_field.json" --data "$GOOD" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$D/missing: does not exist" \
  train --model "$TMP/tiny.json" --data "mnist:$D/missing" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$D/wrong_magic/train-images-idx3-ubyte: not an IDX" \
  train --model "$TMP/tiny.json" --data "mnist:$D/wrong_magic" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$D/truncated/train-images-idx3-ubyte: truncated" \
  train --model "$TMP/tiny.json" --data "mnist:$D/truncated" --out "$TMP/out/r" "${quick[@]}"
expect_error 1 "$D/empty: no image files" \
  train --model "$TMP/tiny.json" --data "images:$D/empty" --out "$TMP/out/r" "${quick[@]}"
# A malformed --data is a usage error (docs/cli.md's table), as for the other commands.
expect_error 2 "unknown data set 'nosuchset'" \
  train --model "$TMP/tiny.json" --data "nosuchset:$D" --out "$TMP/out/r" "${quick[@]}"
if ! have_usable_gpu; then
  expect_error 1 "--device cuda: no usable CUDA device" \
    train --model "$TMP/tiny.json" --data "$GOOD" --out "$TMP/out/r" --epochs 1 --batch 4 --device cuda
fi
expect_error 1 "--resume: $TMP/out/r holds no run (no run.json)" \
  train --out "$TMP/out/r" --resume "${quick[@]}"

# A folder holding a run is never taken over without --resume: same model or another one.
if expect_ok train --model "$TMP/tiny.json" --data "$GOOD" --out "$TMP/run" "${quick[@]}"; then
  check "the first run wrote its checkpoint" test -s "$TMP/run/checkpoint.safetensors"
  expect_error 1 "$TMP/run already holds a run" \
    train --model "$TMP/tiny.json" --data "$GOOD" --out "$TMP/run" "${quick[@]}"
  expect_error 1 "$TMP/run already holds a run" \
    train --model demo --data "$GOOD" --out "$TMP/run" "${quick[@]}"
fi

finish
