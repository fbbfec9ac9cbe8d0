#!/usr/bin/env bash
# Installs what morphtrain needs from Debian's packages (only what is missing, quietly), then
# configures and builds it. Sourced by run.sh and test.sh; safe to run again and again.
#   MORPHTRAIN_BUILD_DIR  build directory (default: build)
#   MORPHTRAIN_SANITIZE=1 build with ASan/UBSan (into build-sanitize unless a dir is given)
#   MORPHTRAIN_JOBS       build jobs (default: all cores)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_packages=(cmake ninja-build g++ pkg-config ccache libdnnl-dev ocl-icd-opencl-dev nlohmann-json3-dev
                catch2 libcli11-dev libyaml-cpp-dev zlib1g-dev libpng-dev libjpeg-dev libonnx-dev libprotobuf-dev
                libopenmpi-dev openmpi-bin dataset-fashion-mnist)

# ensure_packages PKG...: apt-get install the ones dpkg does not report as installed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "morphtrain setup: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# build [TARGET...]: configure (once) and build.
build() {
  local dir="${MORPHTRAIN_BUILD_DIR:-}" extra=()
  if [ "${MORPHTRAIN_SANITIZE:-0}" = 1 ]; then
    dir="${dir:-$root/build-sanitize}"
    # CUDA off: nvcc does not take -fsanitize, and ASan's shadow memory needs special options
    # beside the CUDA driver; the GPU backend is tested on the GPU machines.
    extra+=(-DMORPHTRAIN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMORPHTRAIN_CUDA=OFF)
  fi
  dir="${dir:-$root/build}"
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$root" -B "$dir" -G Ninja "${extra[@]}" >/dev/null
  fi
  cmake --build "$dir" -j "${MORPHTRAIN_JOBS:-$(nproc)}" -- "$@"
  MORPHTRAIN_BUILD_DIR="$dir"
  export MORPHTRAIN_BUILD_DIR
}

# libdnnl-dev only recommends the OpenCL headers, yet its CMake package config requires them.
ensure_packages "${build_packages[@]}"
