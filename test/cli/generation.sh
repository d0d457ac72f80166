#!/usr/bin/env bash
# Generation from the command line (docs/cli.md "mrbm sample", "mrbm evaluate --samples"): train's
# negative-phase options and their run.json/resume rules, `mrbm sample`'s defaults (as the model was
# trained) and its overrides, and the sample-quality report on a folder of samples. A tiny dense RBM
# on 256 Fashion-MNIST images. Exits 77 (CTest: Skipped) when Fashion-MNIST is not installed.
# Usage: generation.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

need_fashion_mnist
jq_true() { jq -e "$1" "$2" >/dev/null; }

cat >"$TMP/rbm.json" <<'JSON'
{"name": "small-dense",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "binary"}},
 "layers": [{"type": "dense", "units": 16, "hidden": {"kind": "binary"}}]}
JSON
TRAIN=(train --model "$TMP/rbm.json" --data fashion-mnist --limit 256 --batch 32 --device cpu
       --sample-count 8)

# PCD-3 with 12 chains: run.json records the negative phase, the checkpoint its chains.
if expect_ok "${TRAIN[@]}" --epochs 1 --negative persistent --negative-steps 3 --chains 12 --out "$TMP/pcd"; then
  check "run.json records the negative phase given on the command line" \
    jq_true '.model_spec.negative_phase == {"start": "persistent", "steps": 3, "chains": 12}' "$TMP/pcd/run.json"
  check "the epoch's grids sample the persistent chains (8 of the 12, 3 steps)" \
    grep -q "8 chains from persistent, 3 Gibbs steps" "$CAP/err"
fi
expect_error 2 "differ from the negative phase of the run" \
  train --out "$TMP/pcd" --resume --epochs 2 --negative noise
expect_error 2 "differ from the negative phase of the run" \
  train --out "$TMP/pcd" --resume --epochs 2 --chains 13
if expect_ok train --out "$TMP/pcd" --resume --epochs 2 --negative persistent --chains 12; then
  check "the same negative phase resumes" grep -q "resuming at epoch 2" "$CAP/err"
fi
expect_error 2 "--negative: " "${TRAIN[@]}" --negative sideways --out "$TMP/bad"
expect_error 2 "--negative-steps must be an integer from 1" "${TRAIN[@]}" --negative-steps 0 --out "$TMP/bad"

CKPT=$TMP/pcd/checkpoint.safetensors
if expect_ok sample --checkpoint "$CKPT" --count 12 --out "$TMP/s.png"; then
  check "sample defaults to the checkpoint's persistent chains and the training's k, and says so" \
    grep -q "12 chains from persistent, 3 Gibbs steps on cpu (the model was trained with persistent-started chains of 3 Gibbs steps" "$CAP/err"
  check "the grid is a PNG" test "$(head -c 4 "$TMP/s.png" | tail -c 3)" = "PNG"
fi
expect_error 1 "persistent chains of the checkpoint: ask for at most 12" \
  sample --checkpoint "$CKPT" --count 13 --out "$TMP/s13.png"
if expect_ok sample --checkpoint "$CKPT" --count 13 --start noise --out "$TMP/n.png"; then
  check "--start noise: long chains from noise" grep -q "13 chains from noise, 1000 Gibbs steps" "$CAP/err"
fi
if expect_ok sample --checkpoint "$CKPT" --count 4 --start noise --gibbs-steps 7 --visible sample \
     --anneal-from 0.25 --out "$TMP/a.png"; then
  check "visible sampling and annealing are reported" \
    grep -q "4 chains from noise, 7 Gibbs steps, visible units sampled, annealed from beta 0.25" "$CAP/err"
fi
if expect_ok sample --checkpoint "$CKPT" --count 4 --from fashion-mnist --gibbs-steps 2 --out "$TMP/d.png"; then
  check "--from starts from data" grep -q "4 chains from data, 2 Gibbs steps" "$CAP/err"
fi
expect_error 2 "--start data needs --from" sample --checkpoint "$CKPT" --start data --out "$TMP/x.png"
expect_error 2 "cannot go with --start noise" \
  sample --checkpoint "$CKPT" --start noise --from fashion-mnist --out "$TMP/x.png"
expect_error 2 "--anneal-from: " sample --checkpoint "$CKPT" --anneal-from 0 --out "$TMP/x.png"
# The same seed gives the same images; another seed other images.
expect_ok sample --checkpoint "$CKPT" --count 4 --start noise --gibbs-steps 5 --visible sample --out "$TMP/r1.png"
expect_ok sample --checkpoint "$CKPT" --count 4 --start noise --gibbs-steps 5 --visible sample --out "$TMP/r2.png"
expect_ok sample --checkpoint "$CKPT" --count 4 --start noise --gibbs-steps 5 --visible sample --seed 2 --out "$TMP/r3.png"
check "sampling is a function of the seed" cmp -s "$TMP/r1.png" "$TMP/r2.png"
check "another seed draws other chains" test "$(cmp -s "$TMP/r1.png" "$TMP/r3.png"; echo $?)" = 1

# A CD-1 model (the default) samples from noise for 1000 steps; a noise-trained one for its k.
# --quality-every 1 scores 300 of its samples after each epoch into metrics.jsonl.
if expect_ok "${TRAIN[@]}" --epochs 1 --negative noise --negative-steps 4 --quality-every 1 \
     --quality-samples 300 --out "$TMP/short"; then
  check "the grids of a noise-trained model use its k" grep -q "8 chains from noise, 4 Gibbs steps" "$CAP/err"
  check "--quality-every 1: one sample_quality line per epoch, with the goal's ratios" \
    bash -c "jq -e -s '[.[] | select(.type == \"sample_quality\")] | length == 1 and .[0].epoch == 1
             and .[0].samples == 300 and .[0].start == \"noise\" and .[0].gibbs_steps == 4
             and .[0].frechet_vs_blurred > 0 and .[0].score_vs_real > 0' '$TMP/short/metrics.jsonl' >/dev/null"
  check "--quality-every: a line on stderr" grep -q "  quality: Frechet distance" "$CAP/err"
  check "run.json records --quality-every" jq_true '.quality_every == 1 and .quality_samples == 300' "$TMP/short/run.json"
fi
expect_error 1 "9000 samples to score: at most 8000" "${TRAIN[@]}" --quality-every 1 --quality-samples 9000 --out "$TMP/q9000"
if expect_ok sample --checkpoint "$TMP/short/checkpoint.safetensors" --count 4 --out "$TMP/sh.png"; then
  check "sample: a noise-trained model runs its own chains" grep -q "4 chains from noise, 4 Gibbs steps" "$CAP/err"
fi
if expect_ok "${TRAIN[@]}" --epochs 1 --out "$TMP/cd"; then
  check "the grids of a CD model: 100 steps from noise" grep -q "8 chains from noise, 100 Gibbs steps" "$CAP/err"
  expect_error 1 "holds no persistent chains" \
    sample --checkpoint "$TMP/cd/checkpoint.safetensors" --start persistent --out "$TMP/x.png"
fi

# evaluate --samples: 300 samples into a folder, scored beside real, blurred and noise images.
if expect_ok sample --checkpoint "$TMP/short/checkpoint.safetensors" --count 300 --out "$TMP/folder"; then
  if expect_ok evaluate --samples "$TMP/folder" --reference-images 2000 --dims 16; then
    cp "$CAP/out" "$TMP/q.json"
    check "the report has the four image sets and the goal's two ratios" \
      jq_true '.generated.images == 300 and .real.images == 300 and .blurred_twice.images == 300
             and .noise.images == 300 and .reference.dims == 16 and .reference.train_images == 2000
             and .reference.statistics_test_images == 9700
             and (.frechet_vs_blurred | type) == "number" and (.score_vs_real | type) == "number"' "$TMP/q.json"
    check "the scale: real < blurred < noise in Frechet distance, real > noise in score" \
      jq_true '.real.frechet < .blurred_twice.frechet and .blurred_twice.frechet < .noise.frechet
             and .real.classifier_score > .noise.classifier_score and .real.classifier_accuracy > 0.5' "$TMP/q.json"
    check "a summary line on stderr" grep -q "300 samples: Frechet distance" "$CAP/err"
  fi
  if expect_ok evaluate --samples "$TMP/folder" --reference-images 2000 --dims 16 --count 100 --out "$TMP/q100.json"; then
    check "--count scores the first K samples" jq_true '.generated.images == 100' "$TMP/q100.json"
  fi
fi
expect_error 2 "--samples and --log-likelihood" evaluate --samples "$TMP/folder" --log-likelihood
expect_error 2 "give --log-likelihood" evaluate
expect_error 2 "--samples: " evaluate --samples "$TMP/no-such-folder"
finish
