"""Specs: parsing, cell expansion, paired seeds, pretrain-key sharing, not-run reasons."""

from __future__ import annotations

import pytest
import yaml

from synthcl.errors import SynthclError
from synthcl.experiments.cells import expand_cells, pretrain_key
from synthcl.experiments.spec import builtin_names, load_spec, parse_method, parse_spec

SPEC = {
    "name": "tiny",
    "kind": "table2",
    "scales": {"mini": {
        "datasets": {"elpv": {"path": "elpv", "image_size": "16", "n": [8, 16]}},
        "methods": ["scratch", "cl-real", "cl-all", "universal", "ours:randomcrop", "imagenet"],
        "seeds": [0, 1],
        "common": {"width": 8},
        "pretrain": {"steps": 5, "m": 4, "d": 2},
        "finetune": {"epochs": 2},
    }},
}


def tiny(**changes) -> dict:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["scales"]["mini"].update(changes)
    return spec


def by_id(cells):
    return {c.id: c for c in cells}


def test_builtin_specs_parse_and_expand(tmp_path):
    assert {"table2", "table3", "table4", "fig6", "fig7", "fig8", "gpu-lite"} <= set(
        builtin_names())
    for name in ("table2", "table3", "table4", "fig6", "fig7", "fig8", "gpu-lite"):
        spec = load_spec(name)
        assert {"mini"} <= set(spec.scales) or name == "gpu-lite"
        cells = expand_cells(spec, "mini", tmp_path)
        assert len({c.id for c in cells}) == len(cells)
        assert all(c.scale == "mini" and c.spec == name for c in cells)
    assert "gpu-lite" in load_spec("gpu-lite").scales


def test_table2_mini_grid_and_budget_statement(tmp_path):
    spec = load_spec("table2")
    present = {name: str(tmp_path) for name in ("pcam", "pneumoniamnist", "solar")}
    cells = expand_cells(spec, "mini", tmp_path, present, read_data=False)
    columns = {(c.dataset, c.n) for c in cells}
    assert columns == {("pcam", 40), ("pcam", 400), ("pneumoniamnist", 40), ("solar", 120)}
    assert "h" in spec.scale("mini").description and "not proof" in spec.scale(
        "mini").description
    imagenet = [c for c in cells if c.method == "imagenet"]
    assert imagenet and all("ImageNet weights" in c.not_run for c in imagenet)


def test_cells_and_paired_seeds(tmp_path):
    cells = by_id(expand_cells(parse_spec(tiny(), "tiny.yaml"), "mini", tmp_path))
    # 2 seeds x 2 N x 6 methods
    assert len(cells) == 24
    ours = cells["tiny.mini.elpv.N8.ours-randomcrop.s1"]
    assert ours.pretrain.seed == 1 and ours.finetune.seeds == [1] and ours.pretrain.n == 8
    assert ours.pretrain.mode == "ours" and ours.pretrain.generator == "randomcrop"
    assert ours.pretrain.resume and ours.pretrain.out == str(tmp_path / "pretrain" /
                                                            ours.pretrain_key)
    assert ours.finetune.init == ours.pretrain.out and ours.finetune.width == 8
    assert cells["tiny.mini.elpv.N8.scratch.s1"].finetune.init == "scratch"
    # cl-all and universal: one pre-training for every N and seed
    for method in ("cl-all", "universal"):
        keys = {c.pretrain_key for c in cells.values() if c.method == method}
        assert len(keys) == 1
    # cl-real depends on the seed and N (it pre-trains on the sampled images)
    assert len({c.pretrain_key for c in cells.values() if c.method == "cl-real"}) == 4


def test_pretrain_key_ignores_operational_and_unused_fields(tmp_path):
    a = by_id(expand_cells(parse_spec(tiny(), "a.yaml"), "mini", tmp_path / "a", device="cpu"))
    other = tiny(pretrain={"steps": 5, "m": 999, "d": 2, "checkpoint_every": 1,
                           "workers": 3})
    b = by_id(expand_cells(parse_spec(other, "b.yaml"), "mini", tmp_path / "b"))
    for cell_id in ("tiny.mini.elpv.N8.cl-real.s0", "tiny.mini.elpv.N8.universal.s0"):
        assert a[cell_id].pretrain_key == b[cell_id].pretrain_key     # m unused by these modes
        assert a[cell_id].config_hash == b[cell_id].config_hash
    ours = "tiny.mini.elpv.N8.ours-randomcrop.s0"
    assert a[ours].pretrain_key != b[ours].pretrain_key               # m matters to ours
    assert pretrain_key(a[ours].pretrain) == a[ours].pretrain_key


def test_table2_and_fig6_share_pretraining_at_the_same_m(tmp_path):
    table2 = expand_cells(load_spec("table2"), "mini", tmp_path)
    fig6 = expand_cells(load_spec("fig6"), "mini", tmp_path)
    t2 = {c.id: c for c in table2}["table2.mini.pcam.N40.ours-randomcrop.s0"]
    f6 = {c.id: c for c in fig6}
    assert f6["fig6.mini.pcam.N40.ours-randomcrop.M64.s0"].pretrain_key == t2.pretrain_key
    assert f6["fig6.mini.pcam.N40.ours-randomcrop.M64.s0"].config_hash == t2.config_hash
    assert f6["fig6.mini.pcam.N40.ours-randomcrop.M4.s0"].pretrain_key != t2.pretrain_key


def test_sweeps_only_touch_methods_they_change(tmp_path):
    spec = tiny(sweeps={"d": [2, 4]}, methods=["scratch", "ours:randomcrop", "ours:gpnn",
                                               "cl-aug:patchshuffle"])
    cells = expand_cells(parse_spec(spec, "s.yaml"), "mini", tmp_path)
    counts = {}
    for c in cells:
        counts[c.method] = counts.get(c.method, 0) + 1
    # 2 seeds x 2 N, times 2 D values where D applies (not to scratch, not to GPNN)
    assert counts == {"scratch": 4, "ours:randomcrop": 8, "ours:gpnn": 4,
                      "cl-aug:patchshuffle": 8}
    rc = [c for c in cells if c.method == "ours:randomcrop"]
    assert {c.pretrain.d for c in rc} == {2, 4} and all(".D" in c.id for c in rc)


def test_epochs_become_steps(tmp_path):
    spec = tiny(pretrain={"epochs": 10, "batch_size": 4, "m": 4})
    cells = by_id(expand_cells(parse_spec(spec, "e.yaml"), "mini", tmp_path))
    assert cells["tiny.mini.elpv.N8.ours-randomcrop.s0"].pretrain.steps == 10 * 8 * 4 // 4
    assert cells["tiny.mini.elpv.N16.cl-real.s0"].pretrain.steps == 10 * 16 // 4


def test_settings_order_scale_dataset_n_method(tmp_path):
    spec = tiny(method_settings={"ours:randomcrop": {"pretrain": {"m": 7}}})
    spec["scales"]["mini"]["datasets"]["elpv"].update(
        pretrain={"m": 5}, by_n={16: {"pretrain": {"m": 6, "steps": 9}}})
    cells = by_id(expand_cells(parse_spec(spec, "o.yaml"), "mini", tmp_path))
    assert cells["tiny.mini.elpv.N8.ours-randomcrop.s0"].pretrain.m == 7
    assert cells["tiny.mini.elpv.N16.ours-randomcrop.s0"].pretrain.steps == 9
    assert cells["tiny.mini.elpv.N16.cl-real.s0"].pretrain.steps == 9


def test_missing_dataset_and_data_override(tmp_path):
    spec = tiny()
    spec["scales"]["mini"]["datasets"]["gone"] = {"path": str(tmp_path / "nothing"), "n": [8]}
    parsed = parse_spec(spec, "m.yaml")
    cells = expand_cells(parsed, "mini", tmp_path)
    gone = [c for c in cells if c.dataset == "gone"]
    assert gone and all("does not exist" in c.not_run and "--dataset gone=PATH" in c.not_run
                        for c in gone)
    (tmp_path / "there").mkdir()
    cells = expand_cells(parsed, "mini", tmp_path, {"gone": str(tmp_path / "there")})
    assert all(c.not_run is None for c in cells if c.dataset == "gone" and
               c.method != "imagenet")
    with pytest.raises(SynthclError, match="has no dataset 'nope'"):
        expand_cells(parsed, "mini", tmp_path, {"nope": "x"})
    with pytest.raises(SynthclError, match="does not exist"):
        expand_cells(parsed, "mini", tmp_path, {"gone": str(tmp_path / "still-nothing")})


def test_imagenet_weights_reason_and_architecture(tmp_path, monkeypatch):
    import torch

    from synthcl.models import backbone_state_dict, build_backbone

    monkeypatch.delenv("SYNTHCL_IMAGENET_WEIGHTS", raising=False)
    parsed = parse_spec(tiny(), "i.yaml")
    cell = by_id(expand_cells(parsed, "mini", tmp_path))["tiny.mini.elpv.N8.imagenet.s0"]
    assert "--imagenet-weights" in cell.not_run
    missing = by_id(expand_cells(parsed, "mini", tmp_path, imagenet_weights="/no/such.pth"))
    assert "does not exist" in missing["tiny.mini.elpv.N8.imagenet.s0"].not_run
    weights = tmp_path / "r18.pth"
    torch.save(backbone_state_dict(build_backbone("resnet18", 8, small_stem=False)), weights)
    monkeypatch.setenv("SYNTHCL_IMAGENET_WEIGHTS", str(weights))
    cell = by_id(expand_cells(parsed, "mini", tmp_path))["tiny.mini.elpv.N8.imagenet.s0"]
    assert cell.not_run is None and cell.finetune.init == f"imagenet:{weights}"
    assert (cell.finetune.arch, cell.finetune.width, cell.finetune.small_stem) == (
        "resnet18", 8, False)


@pytest.mark.parametrize("change, message", [
    ({"methods": ["ours:nope"]}, "generator 'nope' is unknown"),
    ({"methods": ["sl"]}, "method 'sl' is unknown"),
    ({"pretrain": {"seed": 3}}, "set by the runner"),
    ({"finetune": {"init": "scratch"}}, "set by the runner"),
    ({"pretrain": {"stepz": 3}}, "unknown setting"),
    ({"sweeps": {"n": [1]}}, "unknown key"),
    ({"seeds": []}, "must not be empty"),
    ({"seeds": [0, 0]}, "lists a value twice"),
    ({"methods": ["scratch", "scratch"]}, "methods list one twice"),
    ({"sweeps": {"m": [4], "d": [2]}}, "one swept setting per scale"),
    ({"pretrain": {"image_size": "32"}}, "set them on the dataset or in common"),
    ({"shared_pretrain_seed": "x"}, "must be a list of integers"),
])
def test_bad_specs_are_clear_errors(change, message):
    with pytest.raises(SynthclError, match=message):
        parse_spec(tiny(**change), "bad.yaml")


def test_unknown_spec_and_scale(tmp_path):
    with pytest.raises(SynthclError, match="neither a built-in spec"):
        load_spec(str(tmp_path / "missing.yaml"))
    with pytest.raises(SynthclError, match="has no scale 'huge'"):
        expand_cells(parse_spec(tiny(), "t.yaml"), "huge", tmp_path)


def test_method_parsing():
    assert parse_method("ours:mix:randomcrop+gpnn").generator == "mix:randomcrop+gpnn"
    assert parse_method("cl-aug:gpnn").kind == "cl-aug"
    assert not parse_method("imagenet").pretrains and parse_method("universal").pretrains


def test_seeds_override_adds_seeds_with_the_same_cells_for_old_ones(tmp_path):
    spec = parse_spec(tiny(), "tiny.yaml")
    planned = by_id(expand_cells(spec, "mini", tmp_path))
    more = by_id(expand_cells(spec, "mini", tmp_path, seeds=(0, 1, 2, 3)))
    assert len(more) == 2 * len(planned)
    for cell_id, cell in planned.items():          # a finished seed's cells are found again
        assert more[cell_id].config_hash == cell.config_hash
        assert more[cell_id].pretrain_key == cell.pretrain_key
    assert {c.seed for c in more.values()} == {0, 1, 2, 3}
    assert all(c.layout["seeds"] == [0, 1, 2, 3] for c in more.values())


def test_only_keeps_one_datasets_cells_unchanged(tmp_path):
    spec = parse_spec(tiny(datasets={**SPEC["scales"]["mini"]["datasets"],
                                     "pcam": {"path": "pcam", "image_size": "16", "n": [8]}}),
                      "tiny.yaml")
    every = by_id(expand_cells(spec, "mini", tmp_path))
    only = by_id(expand_cells(spec, "mini", tmp_path, seeds=(0, 1, 2), only=("pcam",)))
    assert {c.dataset for c in only.values()} == {"pcam"}
    assert len(only) == 3 / 2 * len([c for c in every.values() if c.dataset == "pcam"])
    for cell_id, cell in every.items():            # same ids, settings and pre-trainings
        if cell.dataset == "pcam":
            assert only[cell_id].config_hash == cell.config_hash
            assert only[cell_id].pretrain_key == cell.pretrain_key
    assert all(c.layout["datasets"] == every[c.id.replace(".s2", ".s0")].layout["datasets"]
               for c in only.values())
    with pytest.raises(SynthclError, match="--only xray: spec 'tiny' .* elpv, pcam"):
        expand_cells(spec, "mini", tmp_path, only=("xray",))


def test_run_seeds_option_parses_ranges_and_reaches_cell_commands():
    import argparse

    from synthcl.commands import run as run_command
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    args = parser.parse_args(["table2", "--seeds", "0-2,8", "--scale", "mini", "--only", "pcam",
                              "--dataset", "pcam=/d"])
    assert args.seeds == (0, 1, 2, 8)
    command = run_command.cell_command(args, "X")
    assert "--dataset pcam=/d --only pcam --seeds 0,1,2,8 --cell X" in command
    assert parser.parse_args(command.split()[2:]) == argparse.Namespace(**{**vars(args),
                                                                           "cell": "X"})
    for bad in ("3-1", "a", "1,1", "1-"):
        with pytest.raises(SystemExit):
            parser.parse_args(["table2", "--seeds", bad])
