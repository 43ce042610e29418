"""synthcl demo (= compare on the embedded elpv images) and compare on a tiny image folder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthcl.cli import main
from synthcl.commands.compare import parse_budget
from synthcl.errors import SynthclError
from synthcl.experiments.compare import CompareSettings, choose


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from a second thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_folder(root, per_class: int = 10):
    """Two classes of 16x16 greyscale PNGs (bright centre vs stripes), plus noise."""
    rng = np.random.default_rng(5)
    for name in ("good", "bad"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 80, (16, 16), dtype=np.uint8)
            if name == "good":
                image[5:11, 5:11] += 150
            else:
                image[:, ::3] += 120
            Image.fromarray(image).save(root / name / f"{i}.png")
    return root


TINY = ["--seeds", "2", "--steps", "3", "--width", "4", "--n", "4", "--workers", "1",
        "--device", "cpu"]


@pytest.mark.slow
def test_compare_on_an_image_folder_ends_with_a_verdict_and_writes_report(tmp_path, capsys):
    data = tiny_folder(tmp_path / "cells")
    out = tmp_path / "cmp"
    assert main(["compare", "--data", str(data), "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"report: {out / 'report.md'}"
    verdict = printed[-2]
    assert verdict.startswith("Ours (RC) - Scratch: ") and "balanced-accuracy points [" in verdict
    assert "over 2 seeds; linear probe " in verdict and "kNN probe" in verdict
    assert printed[-5].startswith("Balanced accuracy (fine-tuned): Scratch ")
    assert "always the majority class scores accuracy" in printed[-5]
    report = (out / "report.md").read_text()
    assert report.startswith("# synthcl compare") and "## Verdict" in report
    assert "Frozen-feature probes" in report and "Pre-training sizes" in report
    # the same command again resumes: nothing left to run, the same verdict
    assert main(["compare", "--data", str(data), "--out", str(out), *TINY]) == 0
    again = capsys.readouterr().out
    assert "0 to run" in again and verdict in again
    # other settings into the same folder are refused, naming the plan
    assert main(["compare", "--data", str(data), "--out", str(out), *TINY[:-2], "--n", "8",
                 "--device", "cpu"]) == 2
    assert "plan.json" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_is_compare_on_elpv(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--image-size", "16", "--n", "8", *TINY[:6],
                 "--workers", "1", "--device", "cpu"]) == 0
    assert "Ours (RC) - Scratch" in capsys.readouterr().out
    assert "elpv" in (out / "report.md").read_text()


def test_budgets_read_as_seconds_minutes_or_hours():
    assert parse_budget("10m") == 600 and parse_budget("90s") == 90
    assert parse_budget("1.5h") == 5400 and parse_budget("10") == 600
    for bad in ("0", "-1m", "ten", "5d"):
        with pytest.raises(SynthclError, match="--budget"):
            parse_budget(bad)


def test_the_plan_fits_the_budget_prefers_eight_seeds_and_adds_seeds_when_cheap():
    s = CompareSettings(data="x", budget_s=600, workers=2)
    plan = choose(s, pairs_per_s=400.0, finetune_s=10.0, image_size=None)
    assert plan.estimate_s <= 0.8 * 600 and plan.seeds == 8
    cheap = choose(s, pairs_per_s=1e6, finetune_s=1.0, image_size=None)
    assert cheap.steps == 2500 and cheap.seeds == 16
    slow = choose(s, pairs_per_s=150.0, finetune_s=20.0, image_size=None)
    assert slow.steps == 400 and 3 <= slow.seeds < 8 and slow.estimate_s <= 480
    with pytest.raises(SynthclError, match="too short"):
        choose(CompareSettings(data="x", budget_s=60), pairs_per_s=60.0, finetune_s=20.0,
               image_size=None)
