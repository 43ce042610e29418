"""A method is declared once: a toy method registered here is parsed by specs, expanded into
cells, pre-trained by the trainer and labelled by the report, with no other file touched."""

from __future__ import annotations

import math

import torch

from synthcl.experiments.cells import expand_cells
from synthcl.experiments.report import build_report
from synthcl.experiments.spec import parse_spec
from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.pretraining.methods import METHODS, MethodKind, modes, row_label
from synthcl.pretraining.sources import Sources, TensorSource
from test_sizing import forty_images

TOY = MethodKind("cl-noise", "CL (noise)", "test_methods:noise_images",
                 unused=("generator", "d", "m", "universal_size"), per_dataset=True,
                 epoch_size=lambda n, m, u: 64)


def noise_images(config, data, sample) -> Sources:
    """64 seeded noise images of the data's shape, each its own instance."""
    _, h, w, c = data.splits["train"].images.shape
    g = torch.Generator().manual_seed(config.seed)
    images = torch.randint(0, 256, (64, c, h, w), generator=g, dtype=torch.uint8)
    return Sources(TensorSource(images), None, images[:16])


def spec() -> dict:
    return {"name": "toy", "kind": "table2", "scales": {"mini": {
        "datasets": {"forty": {"path": "elpv", "n": [8]}},
        "methods": ["scratch", "cl-noise"], "seeds": [0, 1],
        "pretrain": {"epochs": 2, "batch_size": 16, "queue_size": 32}}}}


def test_a_registered_method_reaches_specs_cells_the_trainer_and_reports(tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, TOY.name, TOY)
    assert "cl-noise" in modes() and row_label("cl-noise") == "CL (noise)"

    cells = expand_cells(parse_spec(spec(), "toy.yaml"), "mini", tmp_path, read_data=False)
    toy = [c for c in cells if c.method == "cl-noise"]
    assert len(toy) == 2 and all(c.pretrain.mode == "cl-noise" for c in toy)
    assert toy[0].pretrain.steps == math.ceil(2 * 64 / 16)           # its epochs count 64 images
    assert toy[0].pretrain_key == toy[1].pretrain_key               # one per dataset

    config = PretrainConfig(mode="cl-noise", n=8, width=4, steps=3, batch_size=16,
                            queue_size=32, device="cpu", out=str(tmp_path / "run"),
                            monitor_every=100, checkpoint_every=100)
    result = pretrain(config, forty_images())
    assert result.steps == 3 and math.isfinite(result.final_loss)

    records = [{"cell_id": f"toy.{m}.s{s}", "spec": "toy", "scale": "mini", "kind": "table2",
                "dataset": "forty", "n": 8, "paper_dataset": None, "method": m, "seed": s,
                "sweep": {}, "status": "done", "reason": None, "layout": None,
                "metrics": {"accuracy": 0.5 + 0.1 * s, "balanced_accuracy": 0.5},
                "pretrain": None, "configs": {}, "wall_time_s": 1.0, "code_version": "x",
                "started_at": None, "finished_at": None}
               for m in ("scratch", "cl-noise") for s in (0, 1)]
    report = build_report(records, tmp_path / "report", "db", previews=False)
    assert "| CL (noise) |" in report and "CL (noise) = `cl-noise`" in report
