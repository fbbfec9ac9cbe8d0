#!/usr/bin/env bash
# The main job: set up, build, and train the default experiment (or the config given).
#   bash scripts/run.sh [--config FILE] [morphtrain arguments...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build morphtrain
cd "$root"
if [ $# -eq 0 ]; then set -- --config configs/resnet20_fmnist.yaml; fi
exec "$MORPHTRAIN_BUILD_DIR/tools/morphtrain" "$@"
