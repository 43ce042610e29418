#!/usr/bin/env bash
# GPU evidence: the gpu-lite headline comparison of Table 2 on PatchCamelyon (N=40; scratch, MoCo
# on the N real images, ours with PatchShuffle and RandomCrop; 5 paired seeds), then its report.
# Measured on one H200 (2026-11-28, 4 workers): one seed's ours cells 3.5-3.7 min, cl-real over
# 4.5 min; all 5 seeds need 20 minutes or more (SEEDS=0 fits a 5-minute budget but for cl-real).
#
#   benchmarks/gpu_evidence.sh [PCAM_DIR]        (default: ../shared/data/pcam)
#
# report.md, the results database and the run log go to $OUT (the device tool's output folder)
# or else ./gpu_evidence; pre-trainings (GBs of checkpoints) go to $WORK_DIR (default: a fresh
# temporary folder). Environment: WORKERS (cells sharing the GPU, default 3), SCALE (default
# gpu-lite; "mini" is a CPU smoke test of the same comparison), SEEDS (a subset such as "0" or
# "0-1" when device time is short; default: the scale's seeds).
set -euo pipefail
cd "$(dirname "$0")/.."

pcam="${1:-../shared/data/pcam}"
out="${OUT:-./gpu_evidence}"
workers="${WORKERS:-3}"
scale="${SCALE:-gpu-lite}"
seeds="${SEEDS:-}"
python="$(command -v python3)"

if ! "$python" -c "import synthcl" 2>/dev/null; then
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
work="${WORK_DIR:-$(mktemp -d)}"
export PYTHONUNBUFFERED=1 SYNTHCL_CACHE="$work/cache"
if [ ! -d "$pcam" ]; then
    echo "gpu_evidence: PCam folder $pcam not found (give it as the first argument)" >&2
    exit 2
fi
mkdir -p "$out"
device=cuda
[ "$scale" = mini ] && device=auto
"$python" - <<'PY'
import torch
print(f"torch {torch.__version__}, CUDA {torch.cuda.is_available()}",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
start=$(date +%s)
status=0
"$python" -m synthcl run gpu-lite --scale "$scale" --dataset "pcam=$pcam" \
    --results "$work/results.db" --workers "$workers" --device "$device" ${seeds:+--seeds "$seeds"} 2>&1 \
    | tee "$out/run.log" || status=$?
end=$(date +%s)
echo "gpu_evidence: wall time $((end - start)) s for synthcl run gpu-lite --scale $scale" \
    | tee -a "$out/run.log"
if [ ! -f "$work/results.db" ]; then
    echo "gpu_evidence: the run wrote no results (see $out/run.log)" >&2
    exit 1
fi
cp "$work/results.db" "$out/results.db"
"$python" -m synthcl report --results "$out/results.db" --out "$out" >/dev/null
cat "$out/report.md"
exit "$status"
