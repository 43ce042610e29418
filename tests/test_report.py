"""Report formatting on a hand-made database: bold best, paper numbers, paired CIs, plots."""

from __future__ import annotations

import math

import pytest

from synthcl.experiments import stats
from synthcl.experiments.report import write_report
from synthcl.experiments.store import ResultStore

LAYOUT = {"kind": "table2", "description": "Hand-made.", "scale_description": "Tiny.",
          "datasets": [{"name": "pcam", "paper": "PCAM", "ns": [40]},
                       {"name": "other", "paper": None, "ns": [8]}],
          "methods": ["cl-all", "scratch", "imagenet", "cl-real", "ours:randomcrop"],
          "seeds": [0, 1, 2], "sweeps": {}}


def record(method, seed, acc, *, spec="t2", dataset="pcam", n=40, status="done", reason=None,
           sweep=None, layout=LAYOUT, shape=(32, 32, 3), kind=None):
    sweep = sweep or {}
    swept = "".join(f".{k}{v}" for k, v in sweep.items())
    return {"cell_id": f"{spec}.mini.{dataset}.N{n}.{method}{swept}.s{seed}", "spec": spec,
            "scale": "mini", "kind": kind or layout["kind"], "dataset": dataset,
            "dataset_path": "x", "paper_dataset": "PCAM" if dataset == "pcam" else None, "n": n,
            "method": method, "seed": seed, "sweep": sweep, "status": status, "reason": reason,
            "metrics": None if status != "done" else {
                "accuracy": acc / 100, "val_accuracy": 0.65, "wall_time_s": 30.0,
                "balanced_accuracy": acc / 100 - 0.1, "test_class_counts": {"a": 3, "b": 1},
                "chosen": {"epoch": 12}, "dataset": {"image_shape": list(shape)}},
            "pretrain": None if method in ("scratch", "imagenet") or status != "done" else {
                "wall_time_s": 120.0, "monitor": {"knn_acc": 0.71, "knn_acc_random": 0.64}},
            "configs": {}, "config_hash": f"h-{spec}-{dataset}-{method}-{seed}{swept}",
            "pretrain_key": None, "code_version": "0.1.0+git.abc", "started_at": "2025-01-01",
            "finished_at": "2025-01-01", "wall_time_s": 150.0, "reused_from": None,
            "layout": layout}


@pytest.fixture
def table2_db(tmp_path):
    store = ResultStore(tmp_path / "res" / "r.db")
    for seed, (scratch, ours, real, full) in enumerate([(60, 70, 58, 90), (62, 71, 61, 91),
                                                        (64, 75, 60, 92)]):
        store.put(record("scratch", seed, scratch))
        store.put(record("ours:randomcrop", seed, ours))
        store.put(record("cl-real", seed, real))
        store.put(record("cl-all", seed, full))
        store.put(record("imagenet", seed, None, status="not_run",
                         reason="no ImageNet weights file"))
    store.put(record("scratch", 0, 50, dataset="other", n=8))
    store.put(record("ours:randomcrop", 0, 55, dataset="other", n=8, status="failed",
                     reason="ValueError: boom"))
    return store


def test_main_table_bold_paper_and_reasons(table2_db, tmp_path):
    text = write_report(table2_db.path, tmp_path / "out").read_text()
    main = text.split("### Test accuracy")[1].split("###")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in main.splitlines()
            if line.startswith("| ")}
    header = next(line for line in text.splitlines() if line.startswith("| Method |"))
    assert header.split(" | ")[1:4] == ["pcam N40", "paper", "other N8"]
    ours = rows["Ours (RC)"]
    # 70, 71, 75: mean 72.0, sample std sqrt(7) = 2.6; best despite CL (w/ all) scoring 91
    assert "**72.0 ± 2.6**" in ours and "75.2" in ours                # the paper's 75.2
    assert "**" not in rows["CL (w/ all)"] and "91.0 ± 1.0" in rows["CL (w/ all)"]
    assert "65.8" in rows["Scratch"] and "62.4" in rows["CL"]
    assert "**50.0**" in rows["Scratch"]          # one seed of three: no std
    assert "(1/3 seeds)" in rows["Scratch"]
    assert "[1]" in rows["SL (IN1k)"] and "[1] not run: no ImageNet weights file" in text
    assert "failed: ValueError: boom" in text
    assert "CL (fv-dl) (paper only)" in text       # the paper's rows we do not reproduce
    balanced = text.split("### Balanced accuracy")[1].split("###")[0]
    assert "| Ours (RC) | 62.0 ± 2.6 | — |" in balanced
    assert "| *test majority class share* | 75.0 | 75.0 |" in balanced


def test_paired_difference_against_scratch(table2_db, tmp_path):
    text = write_report(table2_db.path, tmp_path / "out").read_text()
    section = text.split("### Paired difference against scratch")[1].split("###")[0]
    ours = next(line for line in section.splitlines() if line.startswith("| Ours (RC)"))
    # differences 10, 9, 11: mean 10, sd 1, t(2) = 4.303 -> half width 2.484
    assert "+10.0 [+7.5, +12.5]" in ours
    real = next(line for line in section.splitlines() if line.startswith("| CL |"))
    diffs = [-2, -1, -4]
    mean, low, high = stats.paired_ci(diffs)
    assert f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]" in real


def test_per_seed_validation_granularity_monitor_and_times(table2_db, tmp_path):
    text = write_report(table2_db.path, tmp_path / "out").read_text()
    assert "validation half: 20 images, so validation accuracy moves in steps of 5.0 points" \
        in text
    assert "75.0 (val 65.0, ep 12)" in text
    assert "71.0 vs 64.0" in text                  # kNN monitor, pre-trained vs random
    assert "pre 2.0 min + ft 30 s" in text


def test_the_header_says_which_seeds_have_done_cells(table2_db, tmp_path):
    text = write_report(table2_db.path, tmp_path / "out").read_text()
    assert "(seeds 0-2)" in text                         # every planned seed has a done cell
    partial = ResultStore(tmp_path / "partial.db")
    partial.put(record("scratch", 1, 60))
    text = write_report(partial.path, tmp_path / "out2").read_text()
    assert "Cells: 1 done (planned seeds 0-2, done cells in 1)" in text


def test_seeds_added_to_one_dataset_count_for_its_cells_only(table2_db, tmp_path):
    """``run --only other --seeds 1-4`` after seeds 0-2: pcam still has all its seeds."""
    more = dict(LAYOUT, seeds=[1, 2, 3, 4])
    for seed in (1, 2, 3, 4):
        table2_db.put(record("scratch", seed, 50 + seed, dataset="other", n=8, layout=more))
    text = write_report(table2_db.path, tmp_path / "out").read_text()
    assert "(seeds 0-2 (pcam), 0-4 (other))" in text
    main = text.split("### Test accuracy")[1].split("###")[0]
    scratch = next(line for line in main.splitlines() if line.startswith("| Scratch"))
    assert "62.0 ± 2.0 |" in scratch and "52.0 ± 1.6** |" in scratch    # 50-54: all 5 seeds
    assert "seeds)" not in scratch
    per_seed = text.split("**other N8**")[1].split("**")[0]
    assert "| 4 | 54.0 (val 65.0, ep 12) |" in per_seed


def test_stats_helpers():
    assert stats.t_quantile_975(2) == 4.303 and stats.t_quantile_975(45) == 2.021
    assert stats.std([1.0]) is None and math.isclose(stats.std([1.0, 3.0]), math.sqrt(2))
    assert stats.paired_ci([1.0]) is None
    m, lo, hi = stats.paired_ci([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5 and math.isclose(hi - m, 3.182 * stats.std([1, 2, 3, 4]) / 2)


def test_sweep_report_and_plots(tmp_path):
    layout = dict(LAYOUT, kind="fig8", methods=["scratch", "cl-real", "ours:randomcrop"],
                  datasets=[{"name": "small", "paper": None, "ns": [8]},
                            {"name": "large", "paper": None, "ns": [8]}],
                  seeds=[0, 1], sweeps={"d": [2, 4, 8]})
    store = ResultStore(tmp_path / "r.db")
    for seed in (0, 1):
        for dataset, best, shape in (("small", 2, (28, 28, 1)), ("large", 8, (96, 96, 3))):
            store.put(record("scratch", seed, 50 + seed, spec="f8", dataset=dataset, n=8,
                             layout=layout, shape=shape))
            store.put(record("cl-real", seed, 55 + seed, spec="f8", dataset=dataset, n=8,
                             layout=layout, shape=shape))              # not swept
            for d in (2, 4, 8):
                store.put(record("ours:randomcrop", seed, 60 + (d == best) * 10 + seed,
                                 spec="f8", dataset=dataset, n=8, sweep={"d": d},
                                 layout=layout, shape=shape))
    out = tmp_path / "out"
    text = write_report(store.path, out).read_text()
    assert "| Method | D=2 | D=4 | D=8 | no sweep |" in text
    assert "| Ours (RC) | 70.5 ± 0.7 | 60.5 ± 0.7 | 60.5 ± 0.7 |  |" in text
    assert "| CL | +5.0 [+5.0, +5.0] | +5.0 [+5.0, +5.0] |" in text   # paired, unswept
    assert "| Ours (RC), D=2 | +20.0 [+20.0, +20.0] | +10.0 [+10.0, +10.0] |" in text
    assert "| small N8 | Ours (RC) | 28x28 | 2 | 70.5 |" in text
    assert "| large N8 | Ours (RC) | 96x96 | 8 | 70.5 |" in text
    for name in ("f8-mini-d.png", "f8-mini-optimal-d.png"):
        assert (out / name).stat().st_size > 5000 and f"({name})" in text
    assert (out / "f8-mini-d.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_database_is_a_clear_error(tmp_path):
    from synthcl.errors import SynthclError

    with pytest.raises(SynthclError, match="does not exist"):
        write_report(tmp_path / "none.db", tmp_path / "out")


def test_the_report_names_its_database_relative_to_itself(tmp_path):
    from synthcl.experiments.store import ResultStore

    db = tmp_path / "results" / "x.db"
    ResultStore(db)
    path = write_report(db, tmp_path / "docs" / "report", previews=False)
    assert "From `../../results/x.db`" in path.read_text()
    assert str(tmp_path) not in path.read_text()
