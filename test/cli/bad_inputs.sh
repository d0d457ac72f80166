#!/usr/bin/env bash
# Bad inputs to `mrbm features`, `mrbm classify`, `mrbm free-energy` and the command line itself:
# each must give one line "mrbm: error: ..." naming the file or the problem on stderr, exit 2 for
# a usage error (unknown option, malformed option value, invalid combination) or 1 for anything
# else (unreadable or malformed files, missing GPU), and write nothing.
# Needs no data set: the checkpoint is trained here on a 12-image IDX set made by the script.
# Usage: bad_inputs.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

# --- fixtures -------------------------------------------------------------------------------
D=$TMP/data
mkdir -p "$D/good" "$D/wrong_magic" "$D/truncated" "$D/small" "$D/empty" "$TMP/out"
for split in train t10k; do
  idx_images "$D/good/$split-images-idx3-ubyte" 12 28 28
  idx_labels "$D/good/$split-labels-idx1-ubyte" 12
  idx_images "$D/small/$split-images-idx3-ubyte" 12 8 8
  idx_labels "$D/small/$split-labels-idx1-ubyte" 12
  # Magic 0x00000802 instead of 0x00000803: right size, wrong kind of file.
  idx_images "$D/wrong_magic/$split-images-idx3-ubyte" 12 28 28 2050
  idx_labels "$D/wrong_magic/$split-labels-idx1-ubyte" 12
  idx_labels "$D/truncated/$split-labels-idx1-ubyte" 12
done
idx_images "$TMP/full-idx" 12 28 28
head -c 5000 "$TMP/full-idx" >"$D/truncated/train-images-idx3-ubyte"
cp "$D/truncated/train-images-idx3-ubyte" "$D/truncated/t10k-images-idx3-ubyte"
rm "$TMP/full-idx"

tiny_model "$TMP/tiny.json"
if ! (cd "$TMP/cwd" && "$MRBM" train --model "$TMP/tiny.json" --data "mnist:$D/good" --epochs 1 \
        --batch 4 --device cpu --sample-count 4 --gibbs-steps 1 --out "$TMP/run" >"$CAP/out" 2>"$CAP/err"); then
  echo "cannot train the test checkpoint:" >&2
  cat "$CAP/err" >&2
  exit 1
fi
CKPT=$TMP/run/checkpoint.safetensors
size=$(stat -c %s "$CKPT")
head -c $((size / 2)) "$CKPT" >"$TMP/truncated.safetensors"
echo "this is not a checkpoint" >"$TMP/text.safetensors"
# A valid safetensors file (8-byte header size, header "{}" padded to 8) that is no mrbm checkpoint.
printf '\x08\x00\x00\x00\x00\x00\x00\x00{}      ' >"$TMP/empty.safetensors"
mkdir -p "$TMP/folder.safetensors"
chmod 000 "$TMP/truncated.safetensors" 2>/dev/null
unreadable_works=0
[ -r "$TMP/truncated.safetensors" ] || unreadable_works=1  # root reads anything
chmod 644 "$TMP/truncated.safetensors"
GOOD="mnist:$D/good"

# --- the command line --------------------------------------------------------------------------
expect_error 2 "--bogus" features --checkpoint "$CKPT" --data "$GOOD" --out "$TMP/out/f.npy" --bogus
expect_error 2 "--bogus" classify --raw-pixels --data "$GOOD" --bogus
expect_error 2 "--bogus" free-energy --checkpoint "$CKPT" --data "$GOOD" --bogus
expect_error 2 "unknown command 'nosuchcommand'" nosuchcommand
expect_error 2 "--checkpoint is required" features --data "$GOOD" --out "$TMP/out/f.npy"
expect_error 2 "--out is required" features --checkpoint "$CKPT" --data "$GOOD"

for cmd in features free-energy; do
  out=(--out "$TMP/out/x")
  # Checkpoint paths.
  expect_error 2 "File does not exist: $TMP/nope.safetensors" \
    $cmd --checkpoint "$TMP/nope.safetensors" --data "$GOOD" --device cpu "${out[@]}"
  expect_error 2 "$TMP/folder.safetensors" \
    $cmd --checkpoint "$TMP/folder.safetensors" --data "$GOOD" --device cpu "${out[@]}"
  expect_error 1 "$TMP/text.safetensors" \
    $cmd --checkpoint "$TMP/text.safetensors" --data "$GOOD" --device cpu "${out[@]}"
  expect_error 1 "$TMP/empty.safetensors: not an mrbm checkpoint" \
    $cmd --checkpoint "$TMP/empty.safetensors" --data "$GOOD" --device cpu "${out[@]}"
  expect_error 1 "$TMP/truncated.safetensors" \
    $cmd --checkpoint "$TMP/truncated.safetensors" --data "$GOOD" --device cpu "${out[@]}"
  # The default --device auto must not add a log line to the error either.
  expect_error 1 "$TMP/truncated.safetensors" \
    $cmd --checkpoint "$TMP/truncated.safetensors" --data "$GOOD" "${out[@]}"
  if [ "$unreadable_works" = 1 ]; then
    chmod 000 "$CKPT"
    expect_error 1 "$CKPT" $cmd --checkpoint "$CKPT" --data "$GOOD" --device cpu "${out[@]}"
    chmod 644 "$CKPT"
  fi
  # Data.
  expect_error 2 "unknown data set 'nosuchset'" \
    $cmd --checkpoint "$CKPT" --data nosuchset:"$D" --device cpu "${out[@]}"
  expect_error 2 "needs a folder" $cmd --checkpoint "$CKPT" --data mnist --device cpu "${out[@]}"
  expect_error 1 "$D/missing: does not exist" \
    $cmd --checkpoint "$CKPT" --data "mnist:$D/missing" --device cpu "${out[@]}"
  expect_error 1 "$D/wrong_magic/" \
    $cmd --checkpoint "$CKPT" --data "mnist:$D/wrong_magic" --split train --device cpu "${out[@]}"
  expect_error 1 "magic number" \
    $cmd --checkpoint "$CKPT" --data "mnist:$D/wrong_magic" --split train --device cpu "${out[@]}"
  expect_error 1 "$D/truncated/train-images-idx3-ubyte: truncated" \
    $cmd --checkpoint "$CKPT" --data "mnist:$D/truncated" --split train --device cpu "${out[@]}"
  expect_error 1 "$D/empty: no image files" \
    $cmd --checkpoint "$CKPT" --data "images:$D/empty" --split train --device cpu "${out[@]}"
  expect_error 1 "has images 1x8x8, the model 'tiny' takes 1x28x28" \
    $cmd --checkpoint "$CKPT" --data "mnist:$D/small" --device cpu "${out[@]}"
  expect_error 2 "--split" $cmd --checkpoint "$CKPT" --data "$GOOD" --split nosuchsplit "${out[@]}"
  expect_error 2 "--batch" $cmd --checkpoint "$CKPT" --data "$GOOD" --batch 0 "${out[@]}"
  # Devices.
  expect_error 2 "invalid device 'gpu0'" $cmd --checkpoint "$CKPT" --data "$GOOD" --device gpu0 "${out[@]}"
  if ! have_usable_gpu; then
    expect_error 1 "--device cuda: no usable CUDA device" \
      $cmd --checkpoint "$CKPT" --data "$GOOD" --device cuda "${out[@]}"
  fi
  expect_error 1 "--device cuda:7: no usable CUDA device" \
    $cmd --checkpoint "$CKPT" --data "$GOOD" --device cuda:7 "${out[@]}"
  # Output.
  expect_error 1 "$TMP/out/missing/x: the folder" \
    $cmd --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/out/missing/x"
  expect_error 1 "$TMP/out: is a folder" $cmd --checkpoint "$CKPT" --data "$GOOD" --device cpu --out "$TMP/out"
done

# features only.
expect_error 2 "--layer: 2 is not a layer of model 'tiny', which has 2 layers" \
  features --checkpoint "$CKPT" --data "$GOOD" --layer 2 --device cpu --out "$TMP/out/f.npy"
expect_error 2 "--layer" features --checkpoint "$CKPT" --data "$GOOD" --layer -2 --out "$TMP/out/f.npy"
expect_error 2 "--limit" features --checkpoint "$CKPT" --data "$GOOD" --limit x --out "$TMP/out/f.npy"

# classify.
expect_error 2 "give a checkpoint, or --raw-pixels" classify --data "$GOOD"
expect_error 2 "--checkpoint excludes --raw-pixels" classify --raw-pixels --checkpoint "$CKPT" --data "$GOOD"
expect_error 2 "--layer" classify --raw-pixels --layer 0 --data "$GOOD"
expect_error 2 "--c-values" classify --raw-pixels --data "$GOOD" --c-values 1,0
expect_error 2 "--c-values" classify --raw-pixels --data "$GOOD" --c-values 1,x
expect_error 2 "--holdout" classify --raw-pixels --data "$GOOD" --holdout 1.5
expect_error 2 "--holdout: choosing among 2 C values needs a fraction in (0, 1)" \
  classify --raw-pixels --data "$GOOD" --holdout 0 --c-values 1,2
expect_error 2 "--solver" classify --raw-pixels --data "$GOOD" --solver newton
expect_error 2 "File does not exist: $TMP/nope.safetensors" \
  classify --checkpoint "$TMP/nope.safetensors" --data "$GOOD"
expect_error 1 "$TMP/truncated.safetensors" \
  classify --checkpoint "$TMP/truncated.safetensors" --data "$GOOD" --json "$TMP/out/c.json"
expect_error 1 "$TMP/empty.safetensors: not an mrbm checkpoint" \
  classify --checkpoint "$TMP/empty.safetensors" --data "$GOOD"
expect_error 2 "--layer: 5 is not a layer of model 'tiny'" \
  classify --checkpoint "$CKPT" --data "$GOOD" --layer 5 --device cpu
expect_error 1 "$D/wrong_magic/train-images-idx3-ubyte: not an IDX" \
  classify --raw-pixels --data "mnist:$D/wrong_magic" --json "$TMP/out/c.json"
expect_error 1 "$D/truncated/train-images-idx3-ubyte: truncated" \
  classify --raw-pixels --data "mnist:$D/truncated"
expect_error 1 "$D/missing: does not exist" classify --raw-pixels --data "mnist:$D/missing"
expect_error 1 "$TMP/out/missing/c.json: the folder" \
  classify --raw-pixels --data "$GOOD" --json "$TMP/out/missing/c.json"
if ! have_usable_gpu; then
  expect_error 1 "--device cuda: no usable CUDA device" \
    classify --checkpoint "$CKPT" --data "$GOOD" --device cuda
fi
# A folder of images has no labels: nothing to classify.
mkdir -p "$D/pictures"
cp "$TMP/run/samples.png" "$D/pictures/a.png"
expect_error 1 "classify needs a labelled data set" classify --raw-pixels --data "images:$D/pictures"

finish
