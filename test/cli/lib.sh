# Shared by the shell tests of the mrbm command (test/cli/*.sh, run by CTest: test/cli/CMakeLists.txt).
# Source it with the mrbm binary as $1. It makes a scratch folder $TMP (removed on exit), counts
# checks and failures, and provides:
#   expect_error CODE TEXT ARGS...  mrbm ARGS must exit with CODE, print exactly one line on stderr,
#                                   "mrbm: error: ..." containing TEXT, print nothing on stdout,
#                                   and leave every file under $TMP as it was (nothing written)
#   expect_ok ARGS...               mrbm ARGS must exit 0 (stdout in $CAP/out, stderr in $CAP/err)
#   check COND_DESCRIPTION CMD...   one check: CMD must succeed
#   idx_images FILE N ROWS COLS [MAGIC]  an IDX image file (pixels from a fixed pattern)
#   idx_labels FILE N               an IDX label file, labels 0..9 repeating
#   idx_mnist_dir DIR N             an MNIST-like folder: train and t10k, N 28x28 images each
#   tiny_model FILE                 a 2-layer model spec (conv 4x14x14, dense 8) for 28x28 grey
#   tensor_bytes CHECKPOINT         md5 of a checkpoint's tensors without its metadata (training time)
#   metric_steps METRICS_JSONL      the (type, step) of each line: "step 3", "epoch 6"
#   finish                          prints the summary and exits 1 when a check failed
# Commands run in $TMP/cwd, so a stray file written to the working folder is caught too.
set -u
MRBM=$(readlink -f "${1:?usage: $0 path/to/mrbm}")
[ -x "$MRBM" ] || { echo "not an executable: $MRBM" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mrbm-cli.XXXXXX")
CAP=$(mktemp -d "${TMPDIR:-/tmp}/mrbm-cli-out.XXXXXX")
trap 'rm -rf "$TMP" "$CAP"' EXIT
mkdir -p "$TMP/cwd"
# The default log level, whatever the caller's environment says: info lines must not leak into
# the single error line of a bad input.
unset MRBM_LOG_LEVEL
CHECKS=0
FAILS=0

fail() {
  echo "FAIL: $*" >&2
  FAILS=$((FAILS + 1))
}

check() {
  local what=$1
  shift
  CHECKS=$((CHECKS + 1))
  "$@" || fail "$what"
}

# Every path under $TMP with its size and modification time.
snapshot() {
  (cd "$TMP" && find . -printf '%p %s %T@\n' | LC_ALL=C sort)
}

expect_error() {
  local code=$1 text=$2
  shift 2
  local before after rc lines
  before=$(snapshot)
  (cd "$TMP/cwd" && "$MRBM" "$@" >"$CAP/out" 2>"$CAP/err")
  rc=$?
  after=$(snapshot)
  CHECKS=$((CHECKS + 1))
  local where="mrbm $*"
  if [ "$rc" != "$code" ]; then
    fail "$where: exit $rc, expected $code; stderr: $(head -c 600 "$CAP/err")"
    return
  fi
  lines=$(wc -l <"$CAP/err")
  if [ "$lines" != 1 ]; then
    fail "$where: $lines lines on stderr, expected 1:"$'\n'"$(head -c 1500 "$CAP/err")"
  fi
  if [ "$(head -c 13 "$CAP/err")" != "mrbm: error: " ]; then
    fail "$where: stderr does not start with 'mrbm: error: ': $(head -c 300 "$CAP/err")"
  fi
  if ! grep -qF -- "$text" "$CAP/err"; then
    fail "$where: stderr lacks '$text': $(head -c 600 "$CAP/err")"
  fi
  if [ -s "$CAP/out" ]; then
    fail "$where: wrote to stdout: $(head -c 300 "$CAP/out")"
  fi
  if [ "$before" != "$after" ]; then
    fail "$where: files changed under the scratch folder:"$'\n'"$(diff <(echo "$before") <(echo "$after"))"
  fi
}

expect_ok() {
  CHECKS=$((CHECKS + 1))
  (cd "$TMP/cwd" && "$MRBM" "$@" >"$CAP/out" 2>"$CAP/err")
  local rc=$?
  if [ "$rc" != 0 ]; then
    fail "mrbm $*: exit $rc; stderr: $(tail -c 1500 "$CAP/err")"
    return 1
  fi
}

be32() {
  local v=$1
  printf "\\x$(printf %02x $(((v >> 24) & 255)))\\x$(printf %02x $(((v >> 16) & 255)))\\x$(printf %02x $(((v >> 8) & 255)))\\x$(printf %02x $((v & 255)))"
}

# idx_images FILE N ROWS COLS [MAGIC (default 2051 = 0x00000803)]
idx_images() {
  local file=$1 n=$2 rows=$3 cols=$4 magic=${5:-2051}
  {
    be32 "$magic"
    be32 "$n"
    be32 "$rows"
    be32 "$cols"
    # A fixed, non-constant pixel pattern: the bytes 0..255 repeated.
    local bytes=$((n * rows * cols)) block
    block=$(for i in $(seq 0 255); do printf '\\x%02x' "$i"; done)
    while [ "$bytes" -gt 0 ]; do
      printf "$block" | head -c "$bytes"
      bytes=$((bytes - 256))
    done
  } >"$file"
}

idx_labels() {
  local file=$1 n=$2 i
  {
    be32 2049
    be32 "$n"
    for ((i = 0; i < n; ++i)); do printf "\\x$(printf %02x $((i % 10)))"; done
  } >"$file"
}

tiny_model() {
  cat >"$1" <<'EOF'
{"name": "tiny",
 "input": {"channels": 1, "height": 28, "width": 28, "unit": {"kind": "closed", "n": 255}},
 "layers": [
   {"type": "conv", "channels": 4, "kernel": 4, "stride": 2, "padding": 1,
    "hidden": {"kind": "closed", "n": 15}},
   {"type": "dense", "units": 8, "hidden": {"kind": "closed", "n": 15}}
 ]}
EOF
}

# idx_mnist_dir DIR N: an MNIST-like folder (train and t10k images and labels, N 28x28 images each).
idx_mnist_dir() {
  local dir=$1 n=$2 split
  mkdir -p "$dir"
  for split in train t10k; do
    idx_images "$dir/$split-images-idx3-ubyte" "$n" 28 28
    idx_labels "$dir/$split-labels-idx1-ubyte" "$n"
  done
}

# True when `mrbm info --json` lists a usable CUDA device.
have_usable_gpu() {
  "$MRBM" info --json 2>/dev/null | tr -d ' \n' | grep -q '"usable":true'
}

# The tensors of a checkpoint (parameters and optimizer state) without its metadata, which holds
# the training time.
tensor_bytes() {
  local hl
  hl=$(od -An -tu8 -N8 "$1" | tr -d ' ')
  tail -c +$((9 + hl)) "$1" | md5sum | cut -d' ' -f1
}
# The "step" of each line of metrics.jsonl, with its type: "step 3", "epoch 6".
metric_steps() { sed -E 's/.*"step":([0-9]+).*"type":"([a-z]+)".*/\2 \1/' "$1"; }

finish() {
  echo "$(basename "$0"): $CHECKS checks, $FAILS failed"
  [ "$FAILS" = 0 ] || exit 1
  exit 0
}

# Sets FMNIST to the Fashion-MNIST folder mrbm reads (MRBM_FASHION_MNIST_DIR, else Debian's), or
# exits 77 (CTest: Skipped) when its training images are not there.
need_fashion_mnist() {
  FMNIST=${MRBM_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
  if [ ! -e "$FMNIST/train-images-idx3-ubyte.gz" ] && [ ! -e "$FMNIST/train-images-idx3-ubyte" ]; then
    echo "Fashion-MNIST not found in $FMNIST; skipping"
    exit 77
  fi
}
