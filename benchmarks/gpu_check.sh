#!/usr/bin/env bash
# GPU check of the pre-training stage, for a CUDA machine (about 5-8 minutes):
#   1. device information;
#   2. the tests marked `cuda` (they skip without a GPU);
#   3. pre-training throughput of ResNet-50 at 224x224: bf16 autocast + channels_last against
#      both off, as a ratio (benchmarks/bench_pretrain.py --compare precision);
#   4. the synthcl loop against the plain PIL/DataLoader loop on the same GPU.
# Run from the repository root: bash benchmarks/gpu_check.sh. On a machine without ../shared
# (the device machine), first bash benchmarks/gpu_data.sh here, carry .gpudata and run with
# SYNTHCL_SHARED_DATA=$PWD/.gpudata, or the two tests that read PneumoniaMNIST skip.
set -euo pipefail

cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export SYNTHCL_PROGRESS=0
PY=python3

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" - <<'EOF'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if not torch.cuda.is_available():
    raise SystemExit("no CUDA device visible: this script needs one")
print("device", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())
EOF
"$PY" -c "import torchvision, numpy, PIL, yaml, tqdm" \
  || "$PY" -m pip install --no-deps -e . >/dev/null

echo "== tests marked cuda"
timeout 240 "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/ || echo "CUDA TESTS FAILED (status $?)"

echo "== ResNet-50 224x224 pre-training: bf16 + channels_last vs both off"
timeout 150 "$PY" benchmarks/bench_pretrain.py --device cuda --cases resnet50:224:128 \
  --compare precision --steps 10 --warmup 3 || echo "PRECISION BENCHMARK FAILED (status $?)"

echo "== synthcl loop vs plain PIL/DataLoader loop on the GPU"
timeout 120 "$PY" benchmarks/bench_pretrain.py --device cuda --cases resnet18:32:256,resnet50:96:128 \
  --steps 10 --warmup 3 --workers 8 || echo "PIPELINE BENCHMARK FAILED (status $?)"
