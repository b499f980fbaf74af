#!/usr/bin/env bash
# Builds the folder that benchmarks/gpu_check.sh is pointed at (docs/gpu.md), on a machine with
# network to the package registries:
#   bash benchmarks/prepare_gpu_bundle.sh [BUNDLE_DIR]      (default: gpu_bundle, git-ignored)
# BUNDLE_DIR/wheels: manylinux x86_64 wheels for Python 3.12 of what the GPU check imports,
# EXCLUDING torch and its nvidia-* / triton libraries (the GPU machine keeps its CUDA torch),
# plus requirements.txt naming them. BUNDLE_DIR/data: salinas_a, indian_pines and mnist_test in
# the layout EXPLORE_DATA_DIR expects (from EXPLORE_DATA_DIR, default ../shared/data).
# Fails when the whole is over 64 MiB (what the device tool carries).
#
# The minimal set, not all of pyproject's dependencies: the full list with jupyterlab, panel,
# bokeh, holoviews, datashader, umap-learn (numba, llvmlite), transformers and the test extra's
# playwright / rasterio is far over 64 MiB, and the GPU check imports none of them (dashboard,
# notebooks, transfer clustering and GeoTIFF are not on its path). pandas is left out too.
# numpy, scipy, scikit-learn and h5py (about 66 MiB of wheels) are left out as well: the device
# machines' image has them beside its CUDA torch (docs/gpu.md says which the check needs
# there), and with them the bundle would be over 64 MiB; gpu_check.sh's offline install
# then fails with their names if a machine lacks them.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE=${1:-$REPO/gpu_bundle}
DATA=${EXPLORE_DATA_DIR:-$REPO/../shared/data}
PYTHON=${PYTHON:-python3}
LIMIT_MIB=64

# Everything the check imports beyond torch, every dependency spelled out (downloaded with
# --no-deps: kornia's own requirement of torch must not pull a CPU / CUDA torch into the bundle).
PACKAGES=(
    joblib threadpoolctl narwhals
    pooch platformdirs packaging requests charset-normalizer idna urllib3 certifi
    tensorly tqdm kornia kornia-rs typing-extensions
    pytest iniconfig pluggy pygments
    hatchling pathspec trove-classifiers tomlkit editables
)

rm -rf "$BUNDLE/wheels" "$BUNDLE/data"
mkdir -p "$BUNDLE/wheels" "$BUNDLE/data"
"$PYTHON" -m pip download --quiet --no-deps --dest "$BUNDLE/wheels" \
    --python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --implementation cp --abi cp312 --abi abi3 --abi none "${PACKAGES[@]}"
if ls "$BUNDLE/wheels" | grep -Eiq '^(torch|triton|nvidia)'; then
    echo "prepare_gpu_bundle: torch / triton / nvidia wheels slipped in" >&2
    exit 1
fi
printf '%s\n' "${PACKAGES[@]}" >"$BUNDLE/wheels/requirements.txt"

for folder in hsi/salinas_a hsi/indian_pines digits/mnist; do
    [ -d "$DATA/$folder" ] || { echo "prepare_gpu_bundle: $DATA/$folder missing" >&2; exit 1; }
    mkdir -p "$BUNDLE/data/$(dirname "$folder")"
    cp -r "$DATA/$folder" "$BUNDLE/data/$folder"
done
chmod -R u+w "$BUNDLE/data"
cat >"$BUNDLE/data/README.md" <<'README'
Copies of ../shared/data's salinas_a, indian_pines and mnist_test files for the GPU check
(benchmarks/prepare_gpu_bundle.sh); see that folder's README for their sources.
README

echo "prepare_gpu_bundle: $(ls "$BUNDLE/wheels" | grep -c '\.whl$') wheels"
du -sh "$BUNDLE/wheels" "$BUNDLE/data"
total_kib=$(du -sk "$BUNDLE" | cut -f1)
echo "prepare_gpu_bundle: total $((total_kib / 1024)) MiB in $BUNDLE (limit $LIMIT_MIB MiB)"
if [ "$total_kib" -gt $((LIMIT_MIB * 1024)) ]; then
    echo "prepare_gpu_bundle: over $LIMIT_MIB MiB" >&2
    exit 1
fi
