"""Results of a fixed seed are identical before and after the architecture redesign: a tiny
pre-training and fine-tuning (tests/baseline_case.py) against values recorded with the code
before the package moves (commit fd97100; literal sizing and fp32, which reproduce its
behaviour exactly)."""

from baseline_case import case_data, finetune_values, pretrain_values

RECORDED_PRETRAIN = {"loss": 2.66762, "weight_sum": 10955.211}
RECORDED_FINETUNE = {"accuracy": 0.6875, "val_loss": 0.69929,
                     "train_loss": [0.57764, 0.59255, 0.41491]}


def test_pretraining_and_finetuning_match_the_values_recorded_before_the_moves(tmp_path):
    data = case_data()
    out = str(tmp_path / "run")
    assert pretrain_values(data, out) == RECORDED_PRETRAIN
    assert finetune_values(data, out) == RECORDED_FINETUNE
