#!/usr/bin/env bash
# The one-command GPU check (docs/gpu.md):
#   bash benchmarks/gpu_check.sh BUNDLE_DIR [OUT_FILE]
# BUNDLE_DIR is what benchmarks/prepare_gpu_bundle.sh made: wheels/ (the project's
# dependencies except torch and its CUDA libraries) and data/ (salinas_a, indian_pines,
# mnist_test). Needs a Python with a CUDA build of torch (PYTHON, default python3); installs
# offline, never replaces that torch; runs benchmarks/gpu_check.py (about 8 minutes at most).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: bash benchmarks/gpu_check.sh BUNDLE_DIR [OUT_FILE]" >&2
    exit 2
fi
BUNDLE=$(cd "$1" 2>/dev/null && pwd) || { echo "gpu_check: no folder $1" >&2; exit 2; }
OUT=${2:-gpu_check.md}
PYTHON=${PYTHON:-python3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# 1. a CUDA GPU, seen by the installed torch, or one line and a quick non-zero exit
if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check: no CUDA GPU here ($PYTHON: torch missing or torch.cuda.is_available() is False); nothing run."
    exit 2
fi
[ -d "$BUNDLE/wheels" ] && [ -d "$BUNDLE/data" ] || {
    echo "gpu_check: $BUNDLE lacks wheels/ or data/ (make it with benchmarks/prepare_gpu_bundle.sh)" >&2
    exit 2
}

# 2. the bundle's wheels, offline; the installed torch pinned so pip never replaces it
TORCH_VERSION=$("$PYTHON" -c 'import torch; print(torch.__version__)')
CONSTRAINTS=$(mktemp)
echo "torch==$TORCH_VERSION" >"$CONSTRAINTS"
REQUIREMENTS="$BUNDLE/wheels/requirements.txt"
"$PYTHON" -m pip install --quiet --no-index --find-links "$BUNDLE/wheels" \
    --constraint "$CONSTRAINTS" -r "$REQUIREMENTS"
"$PYTHON" -m pip install --quiet --no-index --no-deps --no-build-isolation \
    --find-links "$BUNDLE/wheels" -e .
rm -f "$CONSTRAINTS"
"$PYTHON" -c 'import torch, explore; print("gpu_check: torch", torch.__version__, "CUDA", torch.version.cuda, "explore from", explore.__file__)'

# 3. the checks
export EXPLORE_DATA_DIR="$BUNDLE/data"
exec "$PYTHON" benchmarks/gpu_check.py --out "$OUT" "${@:3}"
