"""A pre-training process killed after a checkpoint, resumed, ends with the weights of an
uninterrupted run (CPU, deterministic settings: bit for bit)."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch


def command(data, out, steps):
    return [sys.executable, "-m", "synthcl", "pretrain", "--data", str(data), "--image-size",
            "16", "--mode", "cl-real", "--n", "8", "--width", "8", "--steps", str(steps),
            "--batch-size", "8", "--seed", "3", "--device", "cpu", "--out", str(out),
            "--checkpoint-every", "5", "--set", "queue_size=8", "--set", "deterministic=true",
            "--set", "monitor_every=7"]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "SYNTHCL_PROGRESS": "0"}


@pytest.mark.slow
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path, pneumonia_npz):
    steps = 60                    # asked at batch 8; fair sizing runs 120 of 4 on 8 instances
    sized = 120
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(command(pneumonia_npz, whole, steps), env=ENV, check=True,
                   capture_output=True)

    proc = subprocess.Popen(command(pneumonia_npz, broken, steps), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (broken / "checkpoint.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    killed_at = torch.load(broken / "checkpoint.pt", weights_only=True)
    assert not killed_at["finished"] and 5 <= killed_at["step"] < sized

    subprocess.run(command(pneumonia_npz, broken, steps) + ["--resume"], env=ENV, check=True,
                   capture_output=True)
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(broken / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == a["sizing"]["steps"] == sized and b["finished"]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert torch.equal(torch.load(whole / "backbone.pt", weights_only=True)["conv1.weight"],
                       torch.load(broken / "backbone.pt", weights_only=True)["conv1.weight"])
    logged = [line for line in (broken / "log.jsonl").read_text().splitlines() if '"loss"' in line]
    assert len(logged) == len([line for line in (whole / "log.jsonl").read_text().splitlines()
                               if '"loss"' in line])          # no record written twice


def test_resuming_accepts_a_setting_the_saved_run_lacks_only_at_its_default(tmp_path):
    """A run saved by older code lacks settings added since: they count as their defaults."""
    import dataclasses

    from synthcl.errors import SynthclError
    from synthcl.pretraining import PretrainConfig
    from synthcl.pretraining.checkpoint import check_same_run

    saved = dataclasses.asdict(PretrainConfig(steps=7))
    del saved["split_seed"]
    check_same_run(PretrainConfig(steps=7), saved, tmp_path)
    with pytest.raises(SynthclError, match=r"split_seed=0 \(now 3\)"):
        check_same_run(PretrainConfig(steps=7, split_seed=3), saved, tmp_path)
    with pytest.raises(SynthclError, match=r"steps=7 \(now 8\)"):
        check_same_run(PretrainConfig(steps=8), saved, tmp_path)
