import numpy as np
import pytest
import torch

from synthcl.data.types import ImageData, Split
from synthcl.errors import SynthclError
from synthcl.finetune import FinetuneConfig, finetune_seed, protocol
from synthcl.finetune.augment import resolve_augmentation
from synthcl.finetune.init import initialised_classifier
from synthcl.finetune.train import HyperParams, TrainResult, TrainSettings, train_configuration
from synthcl.weights import read_init


def _split(counts, seed, size=8):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)]).astype(np.int64)
    base = np.where(labels == 0, 60, 190)[:, None, None, None]
    images = np.clip(base + rng.normal(0, 25, (len(labels), size, size, 1)), 0, 255)
    return Split(images.astype(np.uint8), labels)


def toy_data(splits=dict) -> ImageData:
    return ImageData("toy", "test", "toy", ("dark", "bright"),
                     splits({"train": _split((12, 12), 0), "val": _split((0, 0), 1),
                             "test": _split((10, 30), 2)}))


def config(tmp_path, **kw) -> FinetuneConfig:
    base = dict(n=8, width=4, epochs=2, batch_sizes=[4], lrs=[0.01, 0.05], device="cpu",
                out=str(tmp_path / "out"))
    base.update(kw)
    return FinetuneConfig(**base)


def test_grid_caps_batch_sizes_and_drops_duplicates(tmp_path):
    paper = FinetuneConfig()
    assert protocol.candidate_configurations(paper, 20) == [
        HyperParams(20, 0.01), HyperParams(20, 0.03), HyperParams(20, 0.05)]
    assert [(c.batch_size, c.lr) for c in protocol.candidate_configurations(paper, 100)] == [
        (64, 0.01), (64, 0.03), (64, 0.05), (100, 0.01), (100, 0.03), (100, 0.05)]
    assert len(protocol.candidate_configurations(paper, 1000)) == 9
    one = FinetuneConfig(grid=False, lr=0.02, batch_size=32)
    assert protocol.candidate_configurations(one, 10) == [HyperParams(10, 0.02)]
    with pytest.raises(SynthclError, match="--lr"):
        protocol.candidate_configurations(FinetuneConfig(grid=False, batch_size=8), 10)


def _fake_trainer(outcomes, calls):
    """A trainer whose best state makes the classifier always answer ``predict``."""

    def train(model, train_x, train_y, val_x, val_y, params, settings, augment, seed, desc=""):
        calls.append((params, len(train_x), len(val_x)))
        val_acc, val_loss, predict = outcomes[params.lr]
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.copy_(torch.tensor([10.0, -10.0] if predict == 0 else [-10.0, 10.0]))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        return TrainResult(params, [val_acc], [val_loss], [0.0], 1, state, 0.0)

    return train


def test_the_configuration_best_on_validation_wins_even_when_worse_on_test(tmp_path,
                                                                          monkeypatch):
    calls = []
    # lr 0.01: best on validation, answers "dark" (25 % on the test split)
    # lr 0.05: worse on validation, answers "bright" (75 % on test)
    monkeypatch.setattr(protocol, "train_configuration", _fake_trainer(
        {0.01: (0.75, 0.5, 0), 0.05: (0.5, 0.1, 1)}, calls))
    result = finetune_seed(config(tmp_path), toy_data(), seed=0)
    assert result["chosen"] == {"batch_size": 4, "lr": 0.01, "epoch": 1}
    assert result["accuracy"] == pytest.approx(10 / 40)
    assert result["balanced_accuracy"] == pytest.approx(0.5)
    assert result["test_class_counts"] == {"dark": 10, "bright": 30}
    assert result["confusion_matrix"] == [[10, 0], [30, 0]]
    assert [c[1:] for c in calls] == [(4, 4), (4, 4)]  # the two halves of N=8, nothing else


def test_validation_ties_go_to_lower_loss_then_to_grid_order(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "train_configuration", _fake_trainer(
        {0.01: (0.75, 0.5, 0), 0.05: (0.75, 0.2, 1)}, []))
    assert finetune_seed(config(tmp_path), toy_data(), 0)["chosen"]["lr"] == 0.05
    monkeypatch.setattr(protocol, "train_configuration", _fake_trainer(
        {0.01: (0.75, 0.2, 0), 0.05: (0.75, 0.2, 1)}, []))
    assert finetune_seed(config(tmp_path), toy_data(), 0)["chosen"]["lr"] == 0.01


class GuardedSplits(dict):
    """Splits whose 'test' entry raises while the selection runs, and logs every read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.selecting = False
        self.events = []

    def _read(self, key):
        if key == "test":
            if self.selecting:
                raise AssertionError("the selection read the test split")
            self.events.append("test read")

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def values(self):
        raise AssertionError("iterating over every split")

    def items(self):
        raise AssertionError("iterating over every split")


def test_test_split_is_unavailable_during_selection_and_measured_once(tmp_path, monkeypatch):
    data = toy_data(GuardedSplits)
    splits = data.splits
    real_select, real_measure = protocol.select_configuration, protocol.measure
    measured = []

    def guarded_select(*args, **kwargs):
        splits.selecting = True
        splits.events.append("selection")
        try:
            return real_select(*args, **kwargs)
        finally:
            splits.selecting = False

    def counted_measure(model, split, *args, **kwargs):
        measured.append(split)
        return real_measure(model, split, *args, **kwargs)

    monkeypatch.setattr(protocol, "select_configuration", guarded_select)
    monkeypatch.setattr(protocol, "measure", counted_measure)
    result = finetune_seed(config(tmp_path, epochs=1), data, seed=3)
    assert measured == [dict.__getitem__(splits, "test")]
    assert splits.events[splits.events.index("selection") + 1:] == ["test read"]
    assert sum(result["test_class_counts"].values()) == 40


def test_best_epoch_weights_reproduce_the_recorded_validation_score():
    data = toy_data()
    weights = read_init("scratch")
    arch = {"arch": "resnet18", "width": 4, "small_stem": True}
    model = initialised_classifier(weights, arch, 2, (8, 8), seed=0)
    train, val = data.splits["train"], data.splits["test"]
    settings = TrainSettings(epochs=4, lr_step=2, device=torch.device("cpu"), eval_batch_size=7)
    result = train_configuration(model, train.tensor(), torch.from_numpy(train.labels),
                                 val.tensor(), torch.from_numpy(val.labels), HyperParams(8, 0.05),
                                 settings, resolve_augmentation("hflip"), seed=0)
    assert len(result.val_accuracy) == len(result.val_loss) == len(result.train_loss) == 4
    assert result.best_val_accuracy == max(result.val_accuracy)
    fresh = initialised_classifier(weights, arch, 2, (8, 8), seed=1)
    fresh.load_state_dict(result.best_state)
    from synthcl.finetune.train import validate

    accuracy, loss = validate(fresh, val.tensor(), torch.from_numpy(val.labels), settings)
    assert accuracy == result.best_val_accuracy
    assert loss == pytest.approx(result.best_val_loss, rel=1e-5)


def test_summary_reports_mean_and_sample_std():
    summary = protocol.summarize([{"accuracy": 0.5, "balanced_accuracy": 0.4, "val_accuracy": 1},
                                  {"accuracy": 0.7, "balanced_accuracy": 0.6, "val_accuracy": 1}])
    assert summary["accuracy"]["mean"] == pytest.approx(0.6)
    assert summary["accuracy"]["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert protocol.summarize([{"accuracy": 0.5, "balanced_accuracy": 0.4,
                                "val_accuracy": 1}])["accuracy"]["std"] == 0.0


def test_probe_head_starts_fine_tuning_from_the_linear_probe(tmp_path, monkeypatch):
    """LP-FT: before any step, the classifier predicts the test split as the linear probe of the
    same starting backbone does (scratch: the seed's random backbone)."""
    from synthcl.finetune.classifier import predict_logits
    from synthcl.finetune.metrics import classification_metrics

    starts = []
    choose = protocol.select_configuration

    def recording(train, val, make_model, *args, **kwargs):
        starts.append(make_model())
        return choose(train, val, make_model, *args, **kwargs)

    monkeypatch.setattr(protocol, "select_configuration", recording)
    data = toy_data()
    result = finetune_seed(config(tmp_path, probe_head=True, lrs=[0.01]), data, 0)
    test = data.splits["test"]
    logits = predict_logits(starts[0], test.tensor(), torch.device("cpu"), amp=False,
                            channels_last=False)
    start = classification_metrics(test.labels, logits.argmax(1).numpy(), data.class_names)
    probe = result["probes"]["random"]["linear"]
    assert (start["accuracy"], start["balanced_accuracy"]) == (probe["accuracy"],
                                                               probe["balanced_accuracy"])
    assert start["balanced_accuracy"] > 0.6     # the seed's random head: 0.5 (one class)
    plain = finetune_seed(config(tmp_path, lrs=[0.01]), data, 0)
    assert plain["probes"] == result["probes"]
