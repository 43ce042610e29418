"""Classification metrics for class-imbalanced test sets.

Accuracy is the paper's metric; on an imbalanced test split a classifier that always answers the
majority class scores the majority share, so balanced accuracy (the mean of per-class recalls,
over the classes present in the labels) and the confusion matrix are reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_metrics(labels: np.ndarray, predictions: np.ndarray,
                           class_names: Sequence[str]) -> dict:
    """accuracy, balanced_accuracy, per_class_accuracy (class -> recall, None if absent),
    confusion_matrix (list of rows) and class_counts (class -> true count); JSON-able."""
    k = len(class_names)
    matrix = confusion_matrix(labels, predictions, k)
    counts = matrix.sum(axis=1)
    correct = np.diag(matrix)
    total = int(counts.sum())
    present = counts > 0
    recalls = np.where(present, correct / np.maximum(counts, 1), np.nan)
    return {
        "accuracy": float(correct.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recalls[present].mean()) if present.any() else float("nan"),
        "per_class_accuracy": {str(name): (float(recalls[c]) if present[c] else None)
                               for c, name in enumerate(class_names)},
        "confusion_matrix": matrix.tolist(),
        "class_counts": {str(name): int(counts[c]) for c, name in enumerate(class_names)},
    }
