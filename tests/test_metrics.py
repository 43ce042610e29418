import math

import numpy as np
import pytest

from synthcl.finetune.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_rows_are_true_classes():
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 1, 1, 0, 2])
    assert confusion_matrix(labels, preds, 3).tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_metrics_on_a_hand_computed_example():
    m = classification_metrics(np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 0, 2]),
                               ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_accuracy"] == pytest.approx({"a": 2 / 3, "b": 1 / 2, "c": 1.0})
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["class_counts"] == {"a": 3, "b": 2, "c": 1}


def test_majority_answer_on_an_imbalanced_set_is_exposed_by_balanced_accuracy():
    labels = np.array([0] * 9 + [1])
    m = classification_metrics(labels, np.zeros(10, dtype=int), ["normal", "defect"])
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["per_class_accuracy"]["defect"] == 0.0


def test_a_class_absent_from_the_labels_is_left_out_of_balanced_accuracy():
    m = classification_metrics(np.array([0, 0, 1]), np.array([0, 1, 2]), ["a", "b", "c"])
    assert m["per_class_accuracy"]["c"] is None
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["confusion_matrix"][1] == [0, 0, 1]


def test_empty_input_gives_nan_not_an_exception():
    m = classification_metrics(np.array([], dtype=int), np.array([], dtype=int), ["a", "b"])
    assert math.isnan(m["accuracy"]) and math.isnan(m["balanced_accuracy"])
