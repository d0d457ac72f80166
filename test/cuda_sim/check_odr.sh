#!/usr/bin/env bash
# The ODR check of the simulated build (docs/building.md "The CUDA simulator"): an inline function
# defined (as a weak symbol) both in a simulated device object (a .cu file) and in a host object
# (a .cpp file) is kept once by the linker, so one side runs the other's body. MRBM_HD functions
# are safe by construction (the ABI tag of cuda_sim/device.h gives their device bodies other
# names); this lists what is left shared and fails when an mrbm function among it takes or
# returns floating point, whose body could differ by the device branches or FMA contraction.
# Usage: check_odr.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check_odr.sh BUILD_DIR}
device=$(mktemp) host=$(mktemp)
trap 'rm -f "$device" "$host"' EXIT
find "$build" -name '*.cu.o' -print0 | xargs -0 nm --defined-only |
  awk '$2 ~ /^[WVu]$/ {print $3}' | sort -u >"$device"
find "$build" -name '*.cpp.o' -not -path '*cuda_sim*' -print0 | xargs -0 nm --defined-only |
  awk '$2 ~ /^[WVuT]$/ {print $3}' | sort -u >"$host"
shared=$(comm -12 "$device" "$host" | c++filt | grep '^mrbm::' || true)
echo "check_odr: mrbm functions defined in both device and host objects:"
echo "${shared:-  (none)}" | sed 's/^/  /'
if grep -E '(float|double)' <<<"$shared" >/dev/null; then
  echo "check_odr: FAIL: a floating-point function is shared between device and host code"
  exit 1
fi
tagged=$(cat "$device" | grep -c 'B15cuda_sim_' || true)
echo "check_odr: PASS ($tagged weak symbols with the device tag, none of them shared)"
