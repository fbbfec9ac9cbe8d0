#!/usr/bin/env bash
# The test suite: set up (plus the Python packages the cross-checks use), build, run ctest.
#   bash scripts/test.sh [ctest arguments...]     e.g. -R gradcheck, or -L cpu
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_packages python3-torch python3-torchvision python3-numpy python3-onnx
build
cd "$MORPHTRAIN_BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
