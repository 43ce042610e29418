#!/usr/bin/env bash
# Copy what the GPU scripts read into an ignored folder of the checkout, small enough for the
# device machine's 64 MiB transfer (../shared does not travel): PneumoniaMNIST whole, and PCam
# with its train split cut to the first PER_CLASS files of each class by name (valid and test
# whole). Then carry the folder and point the scripts at it:
#
#   bash benchmarks/gpu_data.sh [SHARED_DATA] [DEST] [PER_CLASS]    (defaults: ../shared/data
#                                                                    .gpudata 1000)
#   SYNTHCL_SHARED_DATA=$PWD/.gpudata bash benchmarks/gpu_check.sh
#   bash benchmarks/gpu_evidence.sh .gpudata/pcam
set -euo pipefail
shared="${1:-../shared/data}"
dest="${2:-.gpudata}"
per_class="${3:-1000}"
for needed in "$shared/pcam/train" "$shared/pneumoniamnist/pneumoniamnist.npz"; do
    if [ ! -e "$needed" ]; then
        echo "gpu_data: $needed not found (give the shared data folder as the first argument)" >&2
        exit 2
    fi
done
rm -rf "$dest.partial"
mkdir -p "$dest.partial/pcam/train" "$dest.partial/pneumoniamnist"
cp "$shared/pneumoniamnist/pneumoniamnist.npz" "$dest.partial/pneumoniamnist/"
for split in valid test; do
    cp -r "$shared/pcam/$split" "$dest.partial/pcam/"
done
for class_dir in "$shared"/pcam/train/*/; do
    class="$(basename "$class_dir")"
    mkdir -p "$dest.partial/pcam/train/$class"
    find "$class_dir" -maxdepth 1 -type f -printf '%f\n' | sort | head -n "$per_class" \
        | while read -r name; do cp "$class_dir/$name" "$dest.partial/pcam/train/$class/"; done
done
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "gpu_data: $(du -sh "$dest" | cut -f1) in $dest (PCam train: $per_class files per class)"
