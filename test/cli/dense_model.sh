#!/usr/bin/env bash
# A plain dense RBM on raw pixels (the most common RBM there is): a model whose first layer is
# dense trains, resumes, samples, reconstructs, gives features, free energies and a classification
# like a conv model (issue 11: it stopped at the first batch with a shape error).
# Exits 77 (CTest: Skipped) when Fashion-MNIST is not installed.
# Usage: dense_model.sh path/to/mrbm
source "$(dirname "$0")/lib.sh"

need_fashion_mnist

cat >"$TMP/dense.json" <<'EOF'
{"name": "dense-tiny",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "closed", "n": 255}},
 "layers": [
   {"type": "dense", "units": 32, "hidden": {"kind": "closed", "n": 15}},
   {"type": "dense", "units": 8, "hidden": {"kind": "binary"}}
 ]}
EOF
RUN=$TMP/run
CKPT=$RUN/checkpoint.safetensors
if ! expect_ok train --model "$TMP/dense.json" --data fashion-mnist --limit 256 --epochs 1 --batch 64 \
       --device cpu --sample-count 4 --gibbs-steps 2 --out "$RUN"; then
  finish
fi
for f in run.json metrics.jsonl samples.png samples-from-data.png reconstructions.png \
         checkpoint.safetensors; do
  check "train wrote $f" test -s "$RUN/$f"
done
# The epoch's reconstruction error through the whole model is a finite number of pixel units
# (the dense layer's v' has the images' shape again).
check "metrics.jsonl has a finite evaluation reconstruction error" \
  awk -F'"eval_recon_mse":' 'NF > 1 { split($2, a, /[,}]/); n++; if (!(a[1] + 0 > 0 && a[1] + 0 < 65026)) bad = 1 }
                             END { exit bad || n == 0 }' "$RUN/metrics.jsonl"

if expect_ok train --out "$RUN" --epochs 2 --resume; then
  check "resume continued to epoch 2" grep -q '"epoch":2' "$RUN/metrics.jsonl"
fi
if expect_ok sample --checkpoint "$CKPT" --count 4 --gibbs-steps 3 --out "$TMP/s.png"; then
  check "sample wrote a PNG" test "$(head -c 4 "$TMP/s.png" | od -An -tx1 | tr -d ' ')" = 89504e47
fi
if expect_ok reconstruct --checkpoint "$CKPT" --data fashion-mnist --count 4 --out "$TMP/r.png"; then
  check "reconstruct wrote a PNG" test -s "$TMP/r.png"
fi
if expect_ok features --checkpoint "$CKPT" --data fashion-mnist --limit 10 --layer 0 --device cpu \
     --out "$TMP/f0.npy"; then
  # 10 images x 32 units x 4 bytes after the .npy header (10 bytes + its length field).
  hl=$(od -An -tu2 -j8 -N2 "$TMP/f0.npy" | tr -d ' ')
  check "dense features: 10 x 32 float32 values" \
    test $(($(stat -c %s "$TMP/f0.npy") - 10 - hl)) = 1280
fi
if expect_ok free-energy --checkpoint "$CKPT" --data fashion-mnist --count 3 --device cpu; then
  check "free-energy of a dense first layer: 3 finite lines" \
    test "$(grep -cE '"free_energy":-?[0-9]' "$CAP/out")" = 3
fi
if "$MRBM" classify --raw-pixels --data "mnist:$TMP/none" 2>&1 | grep -q "needs liblinear"; then
  echo "this mrbm has no liblinear; classify check skipped"
elif expect_ok classify --checkpoint "$CKPT" --data fashion-mnist --limit-train 200 --limit-test 50 \
       --c-values 0.1 --device cpu; then
  check "classify on dense features prints a test error" grep -q '^test error:' "$CAP/out"
fi

finish
