#!/usr/bin/env bash
# The command line as a new user meets it: numeric options refused with their range in words,
# unknown commands with a suggestion, `help`/`version`, error lines without source locations,
# the exit codes of docs/cli.md's table for malformed values (2) and unusable inputs (1), no info
# line before an error, a duplicate key in a model spec, `mrbm presets` and the defaults in --help.
# Needs no data set: a 12-image IDX set and a tiny checkpoint are made here.
# Usage: options.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

D=$TMP/data
mkdir -p "$TMP/out"
idx_mnist_dir "$D/good" 12
GOOD="mnist:$D/good"
tiny_model "$TMP/tiny.json"
quick=(--model "$TMP/tiny.json" --data "$GOOD" --epochs 1 --batch 4 --device cpu --sample-count 4 --gibbs-steps 1)
if ! (cd "$TMP/cwd" && "$MRBM" train "${quick[@]}" --out "$TMP/run" >"$CAP/out" 2>"$TMP/train.err"); then
  echo "cannot train the test checkpoint:" >&2
  cat "$TMP/train.err" >&2
  exit 1
fi
CKPT=$TMP/run/checkpoint.safetensors
R=$TMP/out/r
# The options each check below does not override (so that none is given twice).
t=(--model "$TMP/tiny.json" --data "$GOOD" --out "$R")
nodata=(--model "$TMP/tiny.json" --out "$R" --device cpu)

# --- numeric options: the range in words, exit 2 -------------------------------------------------
expect_error 2 "--batch must be a positive integer, got '0'" train "${t[@]}" --batch 0
expect_error 2 "--lr must be a positive number, got '-1'" train "${t[@]}" --lr -1
expect_error 2 "--lr must be a positive number, got 'nan'" train "${t[@]}" --lr nan
expect_error 2 "--lr must be a positive number, got '1e-3x'" train "${t[@]}" --lr 1e-3x
expect_error 2 "--threads must be an integer from 0 to 4096, got '-3'" train "${t[@]}" --threads -3
expect_error 2 "--log-every must be a positive integer, got '0'" train "${t[@]}" --log-every 0
expect_error 2 "--epochs must be a non-negative integer, got '-1'" train "${t[@]}" --epochs -1
expect_error 2 "--epochs must be a non-negative integer, got '2.5'" train "${t[@]}" --epochs 2.5
expect_error 2 "--limit must be a positive integer, got '-5'" train "${t[@]}" --limit -5
expect_error 2 "--seed must be a non-negative integer, got '-1'" train "${t[@]}" --seed -1
expect_error 2 "--count must be a positive integer, got '0'" sample --checkpoint "$CKPT" --count 0 --out "$TMP/out/s.png"
expect_error 2 "--gibbs-steps must be a non-negative integer, got '-2'" \
  sample --checkpoint "$CKPT" --gibbs-steps -2 --out "$TMP/out/s.png"
expect_error 2 "--limit must be a positive integer (or -1: all), got '-5'" \
  features --checkpoint "$CKPT" --data "$GOOD" --limit -5 --out "$TMP/out/f.npy"
expect_error 2 "--count must be a positive integer (or -1: all), got '0'" \
  free-energy --checkpoint "$CKPT" --data "$GOOD" --count 0
expect_error 2 "--c-values must be a positive number, got '0'" classify --raw-pixels --data "$GOOD" --c-values 1,0
expect_error 2 "--holdout must be a number from 0 to 1, got '1.5'" classify --raw-pixels --data "$GOOD" --holdout 1.5
expect_error 2 "--threads must be an integer from 0 to 4096, got '-3'" classify --raw-pixels --data "$GOOD" --threads -3
expect_error 2 "--reps must be a non-negative integer, got '-1' (see mrbm bench conv --help)" bench conv --reps -1
expect_error 2 "--threads must be an integer from 0 to 4096, got '-3'" bench multinary --threads -3
# The hint names the subcommand's help.
expect_error 2 "(see mrbm train --help)" train "${t[@]}" --batch 0

# A --limit above the data set's size trains on what there is and says so; run.json records both.
if expect_ok train "${quick[@]}" --out "$TMP/big-limit" --limit 100000; then
  check "--limit 100000 on 12 images: a warning says all 12 are used" \
    grep -qF -- "--limit 100000: $GOOD has 12 training images; training on all 12" "$CAP/err"
  check "run.json records the images used" grep -qE '"images": 12\b' "$TMP/big-limit/run.json"
fi

# --- commands ------------------------------------------------------------------------------------
expect_error 2 "unknown command 'trian' (did you mean 'train'?)" trian
expect_error 2 "unknown command 'nosuchcommand'; the commands: " nosuchcommand
expect_error 2 "a command is required" 
expect_error 2 "unknown command 'smaple' (did you mean 'sample'?)" help smaple
if expect_ok help; then
  for c in train sample reconstruct features classify free-energy bench info presets; do
    check "mrbm help lists $c" grep -qE "^  $c " "$CAP/out"
  done
fi
if expect_ok help train; then
  check "mrbm help train lists --epochs" grep -qF -- "--epochs" "$CAP/out"
fi
for v in version --version; do
  if expect_ok $v; then
    check "mrbm $v: version and git commit" grep -qE '^mrbm [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]{12}(-dirty)?|unknown)\)$' "$CAP/out"
  fi
done

# --- error lines: no source location; it is at debug level -------------------------------------
missing=(--model "$TMP/tiny.json" --data "mnist:$D/missing" --device cpu --out "$R")
expect_error 1 "$D/missing: does not exist" train "${missing[@]}"
check "the error line has no source location" bash -c "! grep -qE '\\(at [a-z_]+/[a-z_]+\\.cpp:[0-9]+\\)|\\(check \`' '$CAP/err'"
(cd "$TMP/cwd" && MRBM_LOG_LEVEL=debug "$MRBM" train "${missing[@]}" >"$CAP/out" 2>"$CAP/err")
check "MRBM_LOG_LEVEL=debug shows where the error was raised" grep -qE '^mrbm \[debug\] .*\(at [a-z_]+/[a-z_]+\.cpp:[0-9]+\)' "$CAP/err"

# --- exit codes of docs/cli.md: malformed values are usage errors (2) ---------------------------
expect_error 2 "--device: invalid device 'gpu0'" train "${t[@]}" --device gpu0
expect_error 2 "unknown data set 'foo'" train "${nodata[@]}" --data foo:bar
expect_error 2 "--data: data set 'mnist' needs a folder: mnist:DIR (see mrbm train --help)" \
  train "${nodata[@]}" --data mnist
expect_error 2 "--data: data set 'celeba:' needs a folder" train "${nodata[@]}" --data celeba:
expect_error 2 "File does not exist: $TMP/nosuch" sample --checkpoint "$TMP/nosuch" --out "$TMP/out/s.png"
expect_error 2 "--split" sample --checkpoint "$CKPT" --from "$GOOD" --split foo --out "$TMP/out/s.png"
expect_error 2 "--split" reconstruct --checkpoint "$CKPT" --data "$GOOD" --split foo --out "$TMP/out/r.png"
expect_error 2 "--device: invalid device 'gpu0'" sample --checkpoint "$CKPT" --device gpu0 --out "$TMP/out/s.png"
expect_error 2 "--depth 5 is more than the 2 layers of model 'tiny' (1..2)" \
  reconstruct --checkpoint "$CKPT" --data "$GOOD" --depth 5 --out "$TMP/out/r.png"
expect_error 2 "--depth must be a positive integer, got '0'" \
  reconstruct --checkpoint "$CKPT" --data "$GOOD" --depth 0 --out "$TMP/out/r.png"
expect_error 2 "--depth must be a positive integer, got '-1'" \
  reconstruct --checkpoint "$CKPT" --data "$GOOD" --depth -1 --out "$TMP/out/r.png"
# With --device auto, no "device auto: using the CPU" line before the error (one line in all).
echo "not a checkpoint" >"$TMP/text.safetensors"
expect_error 1 "$TMP/text.safetensors" sample --checkpoint "$TMP/text.safetensors" --out "$TMP/out/s.png"
expect_error 1 "$TMP/text.safetensors" reconstruct --checkpoint "$TMP/text.safetensors" --data "$GOOD" --out "$TMP/out/r.png"
expect_error 1 "$D/missing: does not exist" reconstruct --checkpoint "$CKPT" --data "mnist:$D/missing" --out "$TMP/out/r.png"

# --- a key twice in a model spec is refused (JSON would keep the last one silently) ---------------
sed 's/"channels": 4,/"channels": 4, "channels": 8,/' "$TMP/tiny.json" >"$TMP/dup.json"
expect_error 1 "$TMP/dup.json: the key layers.channels appears twice in one object" \
  train --model "$TMP/dup.json" --data "$GOOD" --out "$R" --device cpu

# --- absurd sizes are refused before allocation, naming the layer and the bytes -----------------
sed 's/"units": 8,/"units": 16777216,/' "$TMP/tiny.json" >"$TMP/huge_dense.json"
expect_error 1 "the largest is layer 1 (dense, 16777216 units: " \
  train --model "$TMP/huge_dense.json" --data "$GOOD" --out "$R" --device cpu --epochs 1
cat >"$TMP/huge_conv.json" <<'EOF'
{"name": "huge",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "closed", "n": 255}},
 "layers": [{"type": "conv", "channels": 65536, "hidden": {"kind": "closed", "n": 15}},
            {"type": "conv", "channels": 65536, "hidden": {"kind": "closed", "n": 15}}]}
EOF
expect_error 1 "the largest is layer 1 (conv, 65536 channels: " \
  train --model "$TMP/huge_conv.json" --data "$GOOD" --out "$R" --device cpu --epochs 1

# The commands that load a checkpoint check its parameters the same way: a checkpoint whose
# metadata describes a dense layer of 2^30 units (no tensors: the check comes before reading them).
le64() {
  local v=$1 i
  for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"; done
}
spec='{\"name\": \"huge\", \"input\": {\"channels\": 1, \"height\": 28, \"width\": 28, \"unit\": {\"kind\": \"closed\", \"n\": 255}}, \"layers\": [{\"type\": \"dense\", \"units\": 16777216, \"hidden\": {\"kind\": \"closed\", \"n\": 15}}]}'
header="{\"__metadata__\": {\"format\": \"mrbm-checkpoint-1\", \"model_spec\": \"$spec\", \"epoch\": \"0\", \"step\": \"0\", \"seed\": \"1\"}}"
while [ $(( ${#header} % 8 )) != 0 ]; do header="$header "; done
{ le64 ${#header}; printf '%s' "$header"; } >"$TMP/huge.safetensors"
expect_error 1 "model 'huge' needs about" sample --checkpoint "$TMP/huge.safetensors" --device cpu --out "$TMP/out/s.png"
expect_error 1 "the largest is layer 0 (dense, 16777216 units: " \
  features --checkpoint "$TMP/huge.safetensors" --data "$GOOD" --device cpu --out "$TMP/out/f.npy"

# --- what users look for ---------------------------------------------------------------------------
if expect_ok presets; then
  check "mrbm presets: one line per preset" test "$(wc -l <"$CAP/out")" = 10
  for p in demo paper-fashion paper-fashion-binary paper-mnist paper-mnist-binary paper-cifar10 \
           paper-cifar10-binary paper-celeba64 paper-celeba128 generate-fashion; do
    check "mrbm presets lists $p" grep -qE "^$p +[0-9]+x[0-9]+x[0-9]+ input, " "$CAP/out"
  done
fi
if expect_ok info; then
  check "mrbm info: the version with the git commit" grep -qE '^mrbm [0-9.]+ \(git [0-9a-f]{12}|^mrbm [0-9.]+ \(git unknown' "$CAP/out"
  check "mrbm info: every library with its version (or none)" \
    grep -qE '^libraries: +cuBLAS .*, cuDNN .*, OpenBLAS [^,]+, zlib [^,]+, liblinear [^,]+$' "$CAP/out"
fi
if expect_ok info --checkpoint "$CKPT"; then
  params=$(sed -nE "s/^mrbm train: model 'tiny' \(([0-9]+) parameters.*/\1/p" "$TMP/train.err")
  check "info --checkpoint: the model and the parameter count train printed ($params)" \
    grep -qE "^model: +'tiny', input 1x28x28, 2 layers, $params parameters$" "$CAP/out"
  check "info --checkpoint: layers numbered from 0" grep -qE "^  layer 0: conv, 4 channels" "$CAP/out"
  check "info --checkpoint: epoch, step, seed, data, lr, batch" \
    grep -qE "^training: +epoch 1, step 3, seed 1, data $GOOD, lr 0.001, batch 4$" "$CAP/out"
fi
if expect_ok info --checkpoint "$CKPT" --json; then
  check "info --checkpoint --json has the spec" grep -qF '"model_spec"' "$CAP/out"
fi
expect_error 2 "File does not exist: $TMP/nosuch" info --checkpoint "$TMP/nosuch"
# The progress bar counts what an epoch trains on: all 12 images with a batch above them.
if expect_ok train --model "$TMP/tiny.json" --data "$GOOD" --batch 100 --epochs 1 --device cpu \
     --sample-count 4 --gibbs-steps 1 --out "$TMP/big-batch"; then
  check "--batch 100 on 12 images: the bar counts 12 images" grep -qF "epoch 1/1 [########################] 12/12 img" "$CAP/err"
  check "train says what runs after an epoch's 100%" \
    grep -qF "  epoch 1: evaluating, drawing the sample grids (4 chains from noise, 1 Gibbs steps), saving the checkpoint" "$CAP/err"
fi
if expect_ok train --model "$TMP/tiny.json" --data "$GOOD" --limit 10 --batch 4 --epochs 1 --device cpu \
     --sample-count 4 --gibbs-steps 1 --out "$TMP/partial-batch"; then
  check "10 images in batches of 4: the settings say 8 are trained per epoch" \
    grep -qF "1 epochs of 2 batches of 4 images (8 of the 10 images per epoch: the short last batch of each shuffled epoch is left out)" "$CAP/err"
  check "10 images in batches of 4: the bar counts 8" grep -qF "epoch 1/1 [########################] 8/8 img" "$CAP/err"
fi
# classify: a progress line per SVM training (when this build has liblinear).
if ! "$MRBM" classify --raw-pixels --data "mnist:$TMP/none" 2>&1 | grep -q "needs liblinear"; then
  if expect_ok classify --raw-pixels --data "$GOOD" --c-values 0.1,1 --holdout 0.25; then
    for label in "SVM C=0\.1" "SVM C=1" "SVM C=(0\.1|1) \(final\)"; do
      check "classify shows the progress of '$label'" grep -qE "^$label \[#+\] [0-9]+/[0-9]+ classes" "$CAP/err"
    done
  fi
fi
if expect_ok train --help; then
  check "train --help: the numeric defaults of the default model" \
    grep -qE -- "--epochs.*demo: [0-9]+" <(tr -s ' \n' ' ' <"$CAP/out")
fi

finish
