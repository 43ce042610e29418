"""Two processes (torchrun, gloo, CPU) agree with one process on the same global batch.

Tolerance: parameters within 1e-4 (absolute) after 4 Adam steps in fp32 (bf16 rounds keys to 3
significant digits, far above the sum-order differences checked here). The two runs see the same
instances, views, shuffle-BN groups and queue; they differ only in the order floating-point sums
are taken (gradients are averaged over processes by DistributedDataParallel). The ``--`` after
``-m`` keeps torchrun from reading synthcl's ``--n`` as an abbreviation of its own options.
"""

import os
import subprocess
import sys

import pytest
import torch

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "SYNTHCL_PROGRESS": "0"}
TOLERANCE = 1e-4


def options(data, out):
    return ["pretrain", "--data", str(data), "--image-size", "16", "--mode", "cl-real", "--n",
            "16", "--width", "8", "--steps", "4", "--batch-size", "8", "--seed", "5", "--device",
            "cpu", "--out", str(out), "--set", "queue_size=8", "--set", "bn_splits=2", "--no-amp"]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, pneumonia_npz):
    single, double = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "synthcl", *options(pneumonia_npz, single)], env=ENV,
                   check=True, capture_output=True)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", "-m", "--", "synthcl",
                          *options(pneumonia_npz, double)], env=ENV, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    a = torch.load(single / "checkpoint.pt", weights_only=True)
    b = torch.load(double / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for key, value in a["model"].items():
        if "running_" in key or "num_batches" in key:
            continue                                  # BN buffers follow rank 0 under DDP
        assert torch.allclose(value.float(), b["model"][key].float(), atol=TOLERANCE), key
    # the gradients agree too: Adam's first moments, relative to their size
    for i, state in a["optimizer"]["state"].items():
        m_a, m_b = state["exp_avg"], b["optimizer"]["state"][i]["exp_avg"]
        assert float((m_a - m_b).abs().max()) <= 1e-3 * float(m_a.abs().max()) + 1e-8, i
