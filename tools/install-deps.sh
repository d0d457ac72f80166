#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need, when they are missing.
# Idempotent and quiet when everything is present; uses sudo when not root.
# Usage: tools/install-deps.sh [--with-torch]   (--with-torch adds python3-torch for the
#        side-by-side reference benchmarks in tools/*.py)
set -euo pipefail

packages=(cmake ninja-build g++ make pkg-config ca-certificates
          catch2 libstb-dev libopenblas-dev libdnnl-dev liblinear-dev nlohmann-json3-dev libcli11-dev
          zlib1g-dev dataset-fashion-mnist python3
          clang libclang-rt-14-dev)  # make fuzz-test: clang++ and libFuzzer (test/fuzz)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(python3 python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-deps: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
