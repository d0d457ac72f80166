#!/usr/bin/env bash
# The P40 (sm_61) build check: compiles every CUDA source of this project for sm_61 with CUDA 11.8.
#
# Why: CUDA 13 (the toolkit on the build and GPU machines) cannot target sm_61, so nothing else
# would notice code that only a newer architecture or a newer nvcc accepts (e.g. an atomic or an
# intrinsic missing on sm_61, a C++17 construct nvcc 11.8 rejects).
#
# How (docs/building.md, "P40 (sm_61) build check"):
#   1. A private CUDA 11.8 toolchain from Debian bookworm's non-free section, cached outside the
#      repository in ${MRBM_P40_CACHE:-/var/cache/mrbm-p40}/root. The system's apt sources are
#      untouched: a private apt configuration (own sources list, lists and archive folders) does
#      `apt-get download`, `dpkg -x` unpacks into the private root, the root is trimmed and its
#      nvcc.profile and nvcc wrapper are rewritten so that they find everything relative to the
#      root. A stamp file marks a complete root; it is reused as long as the package list below is
#      unchanged.
#   2. The host compiler g++-11 (CUDA 11.8 supports gcc <= 11) as a normal system package.
#   3. This repository configured in ${MRBM_P40_BUILD:-<cache>/build} with MRBM_WITH_CUDA=ON,
#      MRBM_WITH_CUDNN=OFF, MRBM_CUDA_ARCHITECTURES=61, and every target built (incremental on a
#      second run). Exit status non-zero, with the failing files named, when anything fails.
#
# Output: one line per phase with its time, then one verdict line "check-p40: PASS|FAIL: ...".
# Details go to <cache>/check-p40.log (overwritten on each run).
# Environment: MRBM_P40_CACHE, MRBM_P40_BUILD, MRBM_P40_JOBS (default: nproc).
set -euo pipefail
# The whole script is one compound command: bash parses it completely before running it, so an
# edit or checkout of this file during a run cannot change what the run executes.
# shellcheck disable=SC2317  # the trap handler and as_root are called indirectly
{
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MRBM_P40_CACHE:-/var/cache/mrbm-p40}
build=${MRBM_P40_BUILD:-$cache/build}
jobs=${MRBM_P40_JOBS:-$(nproc)}
root=$cache/root
log=$cache/check-p40.log
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# What the compile needs from bookworm: nvcc, cicc, ptxas, fatbinary, nvlink (nvidia-cuda-toolkit),
# the headers and the .so links (nvidia-cuda-dev), libdevice (libnvvm4), the runtime and cuBLAS
# (libcudart11.0, libcublas11, libcublaslt11), and CUB/Thrust, which Debian ships separately
# (libcub-dev, libthrust-dev) although every CUDA toolkit bundles them.
packages=(nvidia-cuda-toolkit nvidia-cuda-dev libnvvm4 libcudart11.0 libcublas11 libcublaslt11
          libcub-dev libthrust-dev)
# A change to the recipe (this list, the trimming, the profile) must invalidate old roots.
recipe_version=1
stamp_content="recipe=$recipe_version packages=${packages[*]}"

t_start=$SECONDS
phase_start=$SECONDS
verdict_written=0

say() { echo "check-p40: $*"; }
fail() {
  verdict_written=1
  echo "check-p40: FAIL: $* (total $((SECONDS - t_start)) s; details in $log)" >&2
  exit 1
}
phase_done() {
  say "$1 ($((SECONDS - phase_start)) s)"
  phase_start=$SECONDS
}
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 && $verdict_written -eq 0 ]]; then
    echo "check-p40: FAIL: unexpected error (exit $rc; details in $log)" >&2
  fi
}
trap on_exit EXIT

# Runs a command with its output in the log only.
quiet() { "$@" >>"$log" 2>&1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

[[ $(uname -m) == x86_64 ]] || { verdict_written=1; echo "check-p40: FAIL: needs x86_64 (the bookworm CUDA 11.8 packages are amd64 only)" >&2; exit 1; }
mkdir -p "$cache" 2>/dev/null || { verdict_written=1; echo "check-p40: FAIL: cannot create $cache (set MRBM_P40_CACHE to a writable folder)" >&2; exit 1; }

# Two runs at once (CI retries, a user in a second shell) would unpack into the same root.
exec 9>"$cache/.lock" || { verdict_written=1; echo "check-p40: FAIL: cannot write in $cache" >&2; exit 1; }
flock -n 9 || { say "waiting for another check-p40 run on $cache"; flock 9; }
: >"$log" || { verdict_written=1; echo "check-p40: FAIL: cannot write $log" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# 1. The private CUDA 11.8 root.

# Prints the private sources list: bookworm, bookworm-updates and bookworm-security with main
# contrib non-free, from the mirrors that /etc/apt/sources.list.d/debian.sources names (a stanza
# whose suites include "*-security" gives the security mirror, any other stanza the main mirror).
write_sources_list() {
  local main_uri="" security_uri=""
  local sources=/etc/apt/sources.list.d/debian.sources
  if [[ -r $sources ]]; then
    # deb822: stanzas separated by blank lines; "Field: value". Prints "<uri> <suites...>".
    while read -r uri suites; do
      [[ -n $uri ]] || continue
      if [[ " $suites " == *-security\ * ]]; then
        [[ -n $security_uri ]] || security_uri=$uri
      else
        [[ -n $main_uri ]] || main_uri=$uri
      fi
    done < <(awk '
      function flush() { if (uri != "" && enabled) print uri, suites; uri = ""; suites = ""; enabled = 1 }
      BEGIN { enabled = 1 }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
      END { flush() }' "$sources")
  fi
  main_uri=${main_uri:-http://deb.debian.org/debian}
  security_uri=${security_uri:-http://deb.debian.org/debian-security}
  local opts="[arch=amd64 signed-by=$keyring]"
  echo "deb $opts $main_uri bookworm main contrib non-free"
  echo "deb $opts $main_uri bookworm-updates main contrib non-free"
  echo "deb $opts $security_uri bookworm-security main contrib non-free"
}

build_root() {
  [[ -r $keyring ]] || fail "the Debian archive keyring $keyring is missing (apt-get install debian-archive-keyring)"
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    fail "apt-get and dpkg are needed to fetch the toolchain"
  fi

  local apt_dir=$cache/apt debs=$cache/debs staging=$cache/root.partial
  rm -rf "$staging"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/preferences.d" "$debs"
  write_sources_list >"$apt_dir/sources.list"
  echo "private sources list:" >>"$log"; cat "$apt_dir/sources.list" >>"$log"
  # Everything apt reads or writes is private except its apt.conf.d (proxy settings stay in force).
  local apt_opts=(-q -oDir::Etc::SourceList="$apt_dir/sources.list" -oDir::Etc::SourceParts=/nonexistent
                  -oDir::State::Lists="$apt_dir/lists" -oDir::Cache="$apt_dir/cache"
                  -oDir::Etc::Preferences="$apt_dir/preferences" -oDir::Etc::PreferencesParts="$apt_dir/preferences.d"
                  -oAcquire::Languages=none -oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
  quiet apt-get "${apt_opts[@]}" update || fail "apt-get update of the private bookworm sources failed (network? mirror in $apt_dir/sources.list)"
  # apt downloads as the _apt user when it can; the folder must be writable by it, or apt falls
  # back to root with a notice.
  chown _apt "$debs" 2>/dev/null || true
  (cd "$debs" && quiet apt-get "${apt_opts[@]}" download "${packages[@]}") \
    || fail "apt-get download ${packages[*]} failed"
  phase_done "downloaded $(du -sh "$debs" | cut -f1) of packages"

  mkdir -p "$staging"
  local deb
  for deb in "$debs"/*.deb; do
    quiet dpkg -x "$deb" "$staging" || fail "dpkg -x $deb failed"
  done
  local usr=$staging/usr lib=$staging/usr/lib/x86_64-linux-gnu
  [[ -x $usr/lib/nvidia-cuda-toolkit/bin/nvcc ]] || fail "the unpacked toolkit has no usr/lib/nvidia-cuda-toolkit/bin/nvcc"

  # Trim: keep the static runtime and device runtime (nvcc links them), drop the libraries no
  # build of this project uses, documentation and tools that only run on a GPU machine.
  find "$lib" -maxdepth 1 -name '*.a' ! -name 'libcudart_static.a' ! -name 'libcudadevrt.a' \
    ! -name 'libculibos.a' -delete
  local pattern
  for pattern in npp cufft cusparse cusolver curand nvjpeg nvrtc nvblas cupti accinj cuinj; do
    find "$lib" -maxdepth 1 -name "*${pattern}*" -delete
  done
  rm -rf "$usr/share/doc" "$usr/share/man" "$usr/share/lintian" "$usr/share/bug"

  # nvcc.profile: Debian ships a link to /etc/nvcc.profile with absolute /usr paths; a private root
  # needs paths relative to the nvcc binary (_HERE_ = <root>/usr/lib/nvidia-cuda-toolkit/bin).
  # CMake derives the toolkit's library root from NVVMIR_LIBRARY_DIR, which must end in
  # nvvm/libdevice. rm first: writing through the link would overwrite the system's file.
  local bin=$usr/lib/nvidia-cuda-toolkit/bin
  rm -f "$bin/nvcc.profile"
  cat >"$bin/nvcc.profile" <<'EOF'
TOP              = $(_HERE_)/../../..
NVVMIR_LIBRARY_DIR = $(TOP)/lib/cuda/nvvm/libdevice
LD_LIBRARY_PATH += $(TOP)/lib/x86_64-linux-gnu:
PATH            += $(_HERE_):$(TOP)/bin:
INCLUDES        +=  "-I$(TOP)/include" $(_SPACE_)
LIBRARIES        =+ $(_SPACE_) "-L$(TOP)/lib/x86_64-linux-gnu/stubs" "-L$(TOP)/lib/x86_64-linux-gnu"
CUDAFE_FLAGS    +=
PTXAS_FLAGS     +=
EOF
  # The nvcc wrapper: Debian's /usr/bin/nvcc points at /usr/lib/...; this one follows the root.
  rm -f "$usr/bin/nvcc"
  cat >"$usr/bin/nvcc" <<'EOF'
#!/bin/sh
exec "$(dirname "$(readlink -f "$0")")/../lib/nvidia-cuda-toolkit/bin/nvcc" "$@"
EOF
  chmod 755 "$usr/bin/nvcc"
  [[ -d $usr/lib/cuda/nvvm/libdevice ]] || fail "the unpacked toolkit has no usr/lib/cuda/nvvm/libdevice (libnvvm4 layout changed?)"

  echo "$stamp_content" >"$staging/.mrbm-p40-complete"
  rm -rf "$root"
  mv "$staging" "$root"
  # The packages and lists are not needed once the root is complete; keep the cache small.
  rm -rf "$debs" "$apt_dir"
  phase_done "unpacked and trimmed the CUDA 11.8 root ($(du -sh "$root" | cut -f1) in $root)"
}

if [[ -f $root/.mrbm-p40-complete && $(cat "$root/.mrbm-p40-complete") == "$stamp_content" ]]; then
  # Leftovers of an interrupted refetch.
  rm -rf "$cache/root.partial" "$cache/debs" "$cache/apt"
  phase_done "CUDA 11.8 root cached in $root"
else
  say "fetching CUDA 11.8 from Debian bookworm non-free into $root (about 1.1 GB, once)"
  build_root
fi

# nvcc finds ptxas, cicc and fatbinary through the PATH its profile builds; the profile puts the
# root's folders first, so a CUDA 13 on PATH (the Makefile adds /usr/local/cuda/bin) is not used.
nvcc=$root/usr/bin/nvcc
nvcc_version=$("$nvcc" --version 2>>"$log" | sed -n 's/.*release \([0-9.]*\),.*/\1/p') || true
[[ $nvcc_version == 11.8 ]] || fail "$nvcc does not run or is not CUDA 11.8 (got '${nvcc_version}'); delete $root to refetch"

# ---------------------------------------------------------------------------------------------
# 2. The host compiler.
if ! command -v g++-11 >/dev/null; then
  say "installing g++-11 (host compiler for CUDA 11.8)"
  export DEBIAN_FRONTEND=noninteractive
  if ! quiet as_root apt-get install -y -q --no-install-recommends g++-11; then
    quiet as_root apt-get update -q || true
    quiet as_root apt-get install -y -q --no-install-recommends g++-11 \
      || fail "could not install g++-11 (needs root or sudo and the Debian archive)"
  fi
  phase_done "installed g++-11"
fi
host_cxx=$(command -v g++-11)

# ---------------------------------------------------------------------------------------------
# 3. Configure and build this repository.
# A build folder configured by another nvcc or host compiler, or for another checkout (CI clones
# the repository into a new folder each time), cannot be reused (CMake refuses to change the
# compiler or the source folder of an existing cache): start it over.
cache_has() {  # variable value: the build folder's CMakeCache.txt holds VARIABLE:<any type>=VALUE
  grep -qxF "$2" <(sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt")
}
if [[ -f $build/CMakeCache.txt ]] && ! { cache_has CMAKE_CUDA_COMPILER "$nvcc" &&
                                         cache_has CMAKE_CUDA_HOST_COMPILER "$host_cxx" &&
                                         cache_has CMAKE_HOME_DIRECTORY "$repo"; }; then
  say "starting $build over (configured for another checkout or with another compiler)"
  rm -rf "$build"
fi
mkdir -p "$build"
echo "== configure" >>"$log"
quiet cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMRBM_WITH_CUDA=ON -DMRBM_WITH_CUDNN=OFF -DMRBM_CUDA_ARCHITECTURES=61 \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_HOST_COMPILER="$host_cxx" \
  -DCUDAToolkit_ROOT="$root/usr" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  || { grep -E "CMake Error|Error:" "$log" | head -20 >&2; fail "cmake configure failed"; }
# The configured toolkit must be the private one, not a CUDA 13 found elsewhere.
grep -qs 'CMAKE_CUDA_COMPILER_VERSION "11\.8' "$build"/CMakeFiles/*/CMakeCUDACompiler.cmake \
  || fail "CMake did not pick the CUDA 11.8 compiler"
phase_done "configured $build"

echo "== build" >>"$log"
# -k 0: keep going so that every failing source is named, not only the first.
if ! quiet cmake --build "$build" -j "$jobs" -- -k 0; then
  echo "check-p40: failing build steps:" >&2
  grep -E "^FAILED: " "$log" | sed 's/^/  /' >&2 || true
  echo "check-p40: first errors:" >&2
  grep -E "error:|error [A-Z]*[0-9]+:|Error( at|:)" "$log" | awk '!seen[$0]++' | head -20 | sed 's/^/  /' >&2 || true
  fail "the sm_61 build with CUDA 11.8 failed"
fi
phase_done "built every target"

# ---------------------------------------------------------------------------------------------
# 4. What was checked: the CUDA sources in the build, the ones outside it, and sm_61 code present.
mapfile -t built_cu < <(sed -n 's/^ *"file": "\(.*\.cu\)",*$/\1/p' "$build/compile_commands.json" | sort -u)
mapfile -t all_cu < <(cd "$repo" && find . \( -path ./.git -o -path './build*' -o -path ./.device-deps \
                        -o -path ./.cache -o -path ./out \) -prune -o -name '*.cu' -print | sed "s|^\./|$repo/|" | sort)
not_built=()
for f in "${all_cu[@]}"; do
  printf '%s\n' "${built_cu[@]}" | grep -qxF "$f" || not_built+=("${f#"$repo"/}")
done
if [[ ${#not_built[@]} -gt 0 ]]; then
  say "note: ${#not_built[@]} .cu file(s) belong to no target and were not compiled: ${not_built[*]}"
fi
sm61_note=""
cuobjdump=$root/usr/lib/nvidia-cuda-toolkit/bin/cuobjdump
[[ -x $cuobjdump ]] || cuobjdump=$root/usr/bin/cuobjdump
if [[ ${#built_cu[@]} -gt 0 && -x $cuobjdump ]]; then
  mapfile -t libs < <(find "$build" -name '*.a')
  elf_count=0
  for l in "${libs[@]}"; do
    n=$("$cuobjdump" --list-elf "$l" 2>/dev/null | grep -c "sm_61" || true)
    elf_count=$((elf_count + n))
  done
  [[ $elf_count -gt 0 ]] || fail "no sm_61 device code found in the built libraries"
  sm61_note=", $elf_count sm_61 cubins in the static libraries"
fi

verdict_written=1
say "PASS: ${#built_cu[@]} CUDA source(s) compiled for sm_61 with CUDA $nvcc_version ($(basename "$host_cxx"))$sm61_note, every target built, total $((SECONDS - t_start)) s"
exit 0
}
