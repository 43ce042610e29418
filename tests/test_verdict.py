"""The verdict line and the probe tables: paired by seed, with a hand-computed t-interval."""

from __future__ import annotations

import math

import pytest

from synthcl.experiments.stats import pairs_for_half_width
from synthcl.experiments.verdict import (
    finetuning_gain_table,
    measure_tables,
    paired,
    resolution_table,
    verdict_line,
)


def record(seed: int, balanced: float, linear: float, knn: float, random_linear: float = 0.5,
           pretrained: bool = True) -> dict:
    probes = {"random": {"linear": {"balanced_accuracy": random_linear},
                         "knn": {"balanced_accuracy": 0.5}}}
    if pretrained:
        probes["pretrained"] = {"linear": {"balanced_accuracy": linear},
                                "knn": {"balanced_accuracy": knn}}
    return {"seed": seed, "status": "done",
            "metrics": {"balanced_accuracy": balanced, "accuracy": balanced, "probes": probes}}


def test_paired_interval_matches_a_hand_computed_student_t_interval():
    # differences 1, 2, 3, 4: mean 2.5, sample sd sqrt(5/3), t(0.975, 3) = 3.182
    result = paired({0: 11.0, 1: 12.0, 2: 13.0, 3: 14.0}, {0: 10.0, 1: 10.0, 2: 10.0, 3: 10.0})
    half = 3.182 * math.sqrt(5 / 3) / math.sqrt(4)
    assert result.mean == pytest.approx(2.5)
    assert (result.low, result.high) == pytest.approx((2.5 - half, 2.5 + half))
    assert result.seeds == 4 and result.text() == "+2.5 [+0.4, +4.6]"


def test_only_seeds_present_in_both_are_paired_and_one_seed_has_no_interval():
    result = paired({0: 60.0, 5: 80.0}, {0: 50.0, 1: 40.0})
    assert result.seeds == 1 and result.low is None and result.text() == "+10.0 (1 seed)"
    assert paired({0: 1.0}, {1: 1.0}) is None


def test_verdict_line_reads_balanced_accuracy_and_the_probes_and_concludes():
    ours = [record(s, 0.60 + 0.01 * s, 0.70 + 0.01 * s, 0.65) for s in range(4)]
    scratch = [record(s, 0.55, 0.50, 0.50, random_linear=0.50 + 0.005 * s, pretrained=False)
               for s in range(4)]
    line = verdict_line("ours", "scratch", ours, scratch)
    # balanced accuracy differences 5, 6, 7, 8 points: mean 6.5, half-width 3.182*1.291/2
    assert line.startswith("ours - scratch: +6.5 balanced-accuracy points [+4.4, +8.6] over "
                           "4 seeds; linear probe ")
    # linear probe: ours pre-trained (70 + s) against scratch's random backbone (50 + s/2):
    # differences 20, 20.5, 21, 21.5, mean 20.75, half-width 3.182 * 0.6455 / 2 = 1.03
    assert "linear probe +20.8 [+19.7, +21.8]; kNN probe +15.0 [+15.0, +15.0]" in line
    assert line.endswith("(better: the interval excludes 0)")
    worse = verdict_line("ours", "scratch", scratch[:2], [record(s, 0.56 + 0.02 * s, 0, 0)
                                                          for s in range(2)])
    assert "not resolved" in worse or "worse" in worse


def test_probe_tables_show_each_method_the_random_backbone_and_paired_differences():
    records = {"scratch": [record(s, 0.5, 0, 0, pretrained=False) for s in range(3)],
               "ours:randomcrop": [record(s, 0.6, 0.7 + 0.01 * s, 0.6) for s in range(3)]}
    lines = measure_tables(["scratch", "ours:randomcrop"], [("pcam", 40)],
                           lambda m, d, n: records[m], str)
    text = "\n".join(lines)
    assert "| ours:randomcrop | 71.0 ± 1.0 |" in text
    assert "| *random backbone* | 50.0 ± 0.0 |" in text
    assert "| ours:randomcrop | +21.0 [+18.5, +23.5] |" in text


def test_seeds_for_a_half_width_are_the_fewest_whose_t_interval_is_that_narrow():
    # sd 5: n=13 gives 2.179 * 5 / sqrt(13) = 3.02 > 3, n=14 gives 2.160 * 5 / sqrt(14) = 2.89
    assert pairs_for_half_width(5.0, 3.0) == 14
    assert pairs_for_half_width(0.0, 3.0) == 2
    assert pairs_for_half_width(1000.0, 0.1, most=50) == 50
    with pytest.raises(ValueError):
        pairs_for_half_width(1.0, 0.0)


def test_resolution_table_gives_the_half_width_now_and_the_seeds_needed():
    # fine-tuned differences 5, 6, 7, 8 points (sd 1.291): half-width 2.05 now, 2 seeds would
    # give 12.706 * 1.291 / sqrt(2) = 11.6 and 3 seeds 4.303 * 1.291 / sqrt(3) = 3.2: 4 needed
    records = {"scratch": [record(s, 0.55, 0, 0, pretrained=False) for s in range(4)],
               "ours:randomcrop": [record(s, 0.60 + 0.01 * s, 0.7, 0.6) for s in range(4)]}
    lines = resolution_table(["scratch", "ours:randomcrop"], [("pcam", 40)],
                             lambda m, d, n: records[m], str)
    assert lines[0] == ("| Method − scratch | pcam N40, fine-tuned (balanced acc.) | "
                        "pcam N40, linear probe |")
    assert lines[2] == "| ours:randomcrop | ±2.1 (4) → 4 | ±0.0 (4) → 2 |"
    assert resolution_table(["ours:randomcrop"], [("pcam", 40)], lambda m, d, n: records[m],
                            str) == []


def test_finetuning_gain_is_each_record_minus_the_probe_of_the_backbone_it_started_from():
    # scratch starts from the random backbone (probe 0.50): gains 10, 12, 14 points; ours
    # starts from its pre-trained one (probe 0.66): gains 0, 1, 2 points
    records = {"scratch": [record(s, 0.60 + 0.02 * s, 0, 0, pretrained=False) for s in range(3)],
               "ours:randomcrop": [record(s, 0.66 + 0.01 * s, 0.66, 0.6) for s in range(3)]}
    lines = finetuning_gain_table(["scratch", "ours:randomcrop"], [("pcam", 40)],
                                  lambda m, d, n: records[m], str)
    assert lines[0] == "| Fine-tuned − its start's linear probe | pcam N40 |"
    assert lines[2:] == ["| scratch | +12.0 [+7.0, +17.0] |",
                         "| ours:randomcrop | +1.0 [-1.5, +3.5] |"]


def test_between_table_pairs_the_same_cells_run_two_ways_by_seed():
    from synthcl.experiments.verdict import between_table

    before = {"ours": [record(s, 0.60 + s / 100, 0.7, 0.7) for s in range(4)]}
    after = {"ours": [record(s, 0.60 + 2 * s / 100, 0.7, 0.7) for s in range(1, 4)]}
    table = between_table(["ours", "scratch"], [("pcam", 40)],
                          lambda m, d, n: before.get(m, []), lambda m, d, n: after.get(m, []),
                          str.upper)
    # seeds 1-3 pair: differences 1, 2, 3 points; mean 2, sd 1, t(0.975, 2) = 4.303
    half = 4.303 / math.sqrt(3)
    assert table[0] == ("| After − before | pcam N40, Balanced accuracy (fine-tuned) | "
                        "pcam N40, Linear probe (balanced accuracy) |")
    assert table[2] == f"| OURS | +2.0 [{2 - half:+.1f}, {2 + half:+.1f}] | +0.0 [+0.0, +0.0] |"
    assert len(table) == 3                    # scratch has no records: no row
