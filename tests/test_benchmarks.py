"""The benchmark scripts still run (tiny sizes): they are how the README's speed figures are
made, and the GPU check script calls them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "SYNTHCL_PROGRESS": "0"}


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_generator_benchmark_prints_rates_and_ratios():
    out = run("bench_generators.py", "--batch", "4", "--size", "32", "--d", "2",
              "--repeats", "1", "--naive-repeats", "1", "--threads", "1")
    assert "patchshuffle" in out.lower() and "randomcrop" in out.lower()


def test_gpnn_benchmark_prints_seconds_per_image():
    out = run("bench_gpnn.py", "--sizes", "28", "--outputs", "2", "--threads", "1")
    assert "28" in out


@pytest.mark.slow
def test_pretrain_benchmark_compares_with_the_plain_loop():
    out = run("bench_pretrain.py", "--cases", "resnet18:16:8", "--steps", "1", "--warmup", "1",
              "--threads", "1", "--workers", "1")
    assert "plain loop (PIL in DataLoader workers)" in out and "synthcl views only" in out


@pytest.mark.slow
def test_pretrain_benchmark_compares_with_lightly_or_says_it_is_missing():
    out = run("bench_pretrain.py", "--compare", "lightly", "--cases", "resnet18:16:8",
              "--steps", "1", "--warmup", "1", "--threads", "1", "--workers", "0")
    assert "synthcl loop (" in out
    assert "lightly MoCo v2 loop" in out or "lightly is not installed" in out


@pytest.mark.slow
def test_calibration_probes_a_finished_run(tmp_path):
    data = shared_path("pneumoniamnist", "pneumoniamnist.npz")
    out = run("calibrate_pretrain.py", "--out", str(tmp_path / "run"),
              "--set", f"data={data}", "--set", "image_size=16", "--set", "width=8",
              "--set", "n=8", "--set", "m=4", "--set", "d=2", "--set", "steps=2",
              "--set", "batch_size=8", "--set", "queue_size=8")
    assert '"knn2000_pretrained"' in out and '"knn2000_random"' in out


def test_paired_scales_pairs_a_results_database_with_itself_to_zero():
    db = Path(__file__).resolve().parents[1] / "docs" / "evidence" / "evidence.db"
    out = run("paired_scales.py", f"{db}:evidence", f"{db}:evidence", "--measures",
              "balanced_accuracy")
    lines = out.splitlines()
    assert lines[0] == ("| After − before | pcam N40, Balanced accuracy (fine-tuned) | "
                        "pneumoniamnist N40, Balanced accuracy (fine-tuned) |")
    assert "| Ours (RC) | +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] |" in lines


def test_gpu_data_keeps_the_first_files_of_each_pcam_train_class(tmp_path):
    shared = tmp_path / "shared"
    for split, count in (("train", 3), ("valid", 1), ("test", 2)):
        for label in ("0", "1"):
            (shared / "pcam" / split / label).mkdir(parents=True)
            for i in range(count):
                (shared / "pcam" / split / label / f"p{label}{i}.jpg").write_bytes(b"x")
    (shared / "pneumoniamnist").mkdir()
    (shared / "pneumoniamnist" / "pneumoniamnist.npz").write_bytes(b"npz")
    dest = tmp_path / "gpudata"
    done = subprocess.run(["bash", str(BENCH / "gpu_data.sh"), str(shared), str(dest), "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in (dest / "pcam" / "train" / "1").iterdir())
    assert kept == ["p10.jpg", "p11.jpg"]
    assert len(list((dest / "pcam" / "test").rglob("*.jpg"))) == 4
    assert (dest / "pneumoniamnist" / "pneumoniamnist.npz").read_bytes() == b"npz"
    missing = subprocess.run(["bash", str(BENCH / "gpu_data.sh"), str(tmp_path / "none")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "not found" in missing.stderr
