#!/usr/bin/env bash
# The main job: set up, build, and run the default pipeline (structure learning on Fashion-MNIST,
# reshape, retrain, report) or the config given.
#   bash scripts/run.sh [--config FILE] [morphtrain arguments...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build morphtrain
cd "$root"
if [ $# -eq 0 ]; then set -- --config configs/resnet20_fmnist_morph.yaml; fi
exec "$MORPHTRAIN_BUILD_DIR/tools/morphtrain" "$@"
