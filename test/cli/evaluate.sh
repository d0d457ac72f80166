#!/usr/bin/env bash
# `mrbm evaluate --log-likelihood` on a small binary RBM trained here on 256 Fashion-MNIST images
# (784 binary visible units, 10 binary hidden units, so that the exact log Z is reported too): the
# JSON fields, AIS close to the exact log Z, the same output for the same seed and any batch size,
# a progress line on stderr, and the refusal of a unit without an exact sampler; `mrbm train
# --log-likelihood-every` writes its metrics line and refuses such units before training.
# Exits 77 (CTest: Skipped) when Fashion-MNIST is not installed.
# Usage: evaluate.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

need_fashion_mnist

cat >"$TMP/rbm.json" <<'JSON'
{"name": "small-binary",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "binary"}},
 "layers": [{"type": "dense", "units": 10, "hidden": {"kind": "binary"}}]}
JSON
if ! expect_ok train --model "$TMP/rbm.json" --data fashion-mnist --limit 256 --epochs 1 --batch 32 \
       --device cpu --sample-count 4 --gibbs-steps 1 --log-likelihood-every 1 \
       --log-likelihood-chains 8 --log-likelihood-temperatures 50 --out "$TMP/run"; then
  finish
fi
CKPT=$TMP/run/checkpoint.safetensors
check "train --log-likelihood-every 1 writes one log_likelihood line per epoch to metrics.jsonl" \
  jq -e -s '[.[] | select(.type == "log_likelihood")] | length == 1 and .[0].epoch == 1
            and .[0].chains == 8 and .[0].temperatures == 50 and .[0].eval_images == 64
            and .[0].eval_log_likelihood < 0 and .[0].log_z_std_error > 0' "$TMP/run/metrics.jsonl" >/dev/null
EVAL=(evaluate --checkpoint "$CKPT" --data fashion-mnist --log-likelihood --count 40 --base-count 500
      --chains 32 --temperatures 400 --device cpu)
# jq -e as a check: the filter must be true; its output is not wanted.
jq_true() { jq -e "$1" "$2" >/dev/null; }

if expect_ok "${EVAL[@]}" --seed 3; then
  cp "$CAP/out" "$TMP/a.json"
  check "evaluate prints one JSON object with the documented fields" \
    jq_true 'has("log_z") and has("log_z_std_error") and has("mean_log_likelihood") and has("exact_log_z")
           and .ais.chains == 32 and .ais.temperatures == 400 and .ais.seed == 3 and .test_images == 40
           and .base_rate_images == 500 and .binarized == true and .layer_type == "dense"' "$TMP/a.json"
  check "the log-likelihood is a finite negative number of nats" \
    jq_true '(.mean_log_likelihood | type) == "number" and .mean_log_likelihood < 0
           and .mean_log_likelihood > -784 * 0.7' "$TMP/a.json"
  # 2^10 hidden states: the exact log Z is there; AIS must be within 3 of its standard errors plus
  # the float32 allowance of test/test_layers_ais.cpp (1e-3 nats).
  check "AIS is within 3 standard errors of the exact log Z" \
    jq_true '.exact_log_z.enumerated == "hidden" and .exact_log_z.states == 1024 and .log_z_std_error > 0
           and ((.log_z - .exact_log_z.log_z) | fabs) <= 3 * .log_z_std_error + 1e-3' "$TMP/a.json"
  check "a progress line on stderr" grep -q "ais" "$CAP/err"
fi
if expect_ok "${EVAL[@]}" --seed 3 --out "$TMP/a2.json"; then
  check "--out writes nothing to stdout" test ! -s "$CAP/out"
  check "the same seed gives the same JSON (but the time)" \
    test "$(jq -c 'del(.ais.seconds)' "$TMP/a.json")" = "$(jq -c 'del(.ais.seconds)' "$TMP/a2.json")"
fi
if expect_ok "${EVAL[@]}" --seed 3 --batch 7 --out "$TMP/b.json"; then
  # --batch groups the test images only: AIS is untouched, and each image's F(v) changes by the
  # float32 rounding of its pre-activations (1e-5 relative at most, test/cli/commands.sh).
  check "--batch leaves log Z unchanged and the log-likelihood within float32 rounding" \
    jq -e -n --slurpfile a "$TMP/a.json" --slurpfile b "$TMP/b.json" \
      '$a[0].log_z == $b[0].log_z and (($a[0].mean_log_likelihood - $b[0].mean_log_likelihood) | fabs)
       <= 1e-5 * ($a[0].mean_log_likelihood | fabs)' >/dev/null
fi
if expect_ok "${EVAL[@]}" --seed 4; then
  check "another seed gives another estimate" \
    test "$(jq '.log_z' "$CAP/out")" != "$(jq '.log_z' "$TMP/a.json")"
fi

expect_error 2 "give --log-likelihood" evaluate --checkpoint "$CKPT" --data fashion-mnist
expect_error 2 "--chains" "${EVAL[@]}" --chains 1
# The tiny model's closed-form units (N = 15, s = N/4) have no exact sampler: refused, naming a
# scale that would work.
tiny_model "$TMP/tiny.json"
if expect_ok train --model "$TMP/tiny.json" --data fashion-mnist --limit 64 --epochs 1 --batch 32 \
       --device cpu --sample-count 4 --gibbs-steps 1 --out "$TMP/tiny"; then
  expect_error 1 "has no exact sampler" evaluate --checkpoint "$TMP/tiny/checkpoint.safetensors" \
    --data fashion-mnist --log-likelihood --count 4 --device cpu
fi
expect_error 1 "has no exact sampler" train --model "$TMP/tiny.json" --data fashion-mnist --limit 64 \
  --epochs 1 --device cpu --log-likelihood-every 1 --out "$TMP/tiny-ll"
finish
