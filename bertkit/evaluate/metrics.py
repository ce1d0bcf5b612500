"""Classification metrics from class ids: scikit-learn's scores in one JSON-ready dict.

`classification_metrics` checks its inputs (class ids in `0..K-1`, unique class
names, probabilities that are probabilities) with errors that say what to
pass, then lets scikit-learn compute: `precision_recall_fscore_support` and
`confusion_matrix` over every class id, and `log_loss` when probabilities are
given. The check of class names is shared with `bertkit.evaluate.baselines`.

Examples:
>>> m = classification_metrics([0, 1, 1], [0, 1, 0], ["neg", "pos"])
>>> m["accuracy"], m["confusion_matrix"]
(0.6666666666666666, [[1, 0], [1, 1]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: How far a row of `y_proba` may sum from 1 (float32 softmax, quantised models) before it is
#: refused; rows within it are rescaled to sum to 1 exactly for scikit-learn's log loss.
PROBABILITY_SUM_TOLERANCE = 1e-3


def classification_metrics(
    y_true: Any, y_pred: Any, class_names: Sequence[str], y_proba: Any = None
) -> dict:
    """Computes accuracy, F1 scores, per-class scores, the confusion matrix and log loss.

    Scores cover every class id `0..K-1` (scikit-learn with `labels=range(K)`
    and `zero_division=0`), so a class that is never predicted, or absent from
    `y_true`, gets precision/recall/F1 0 instead of a warning, and counts as 0
    in `macro_f1`. Test data without some classes therefore lowers `macro_f1`
    however good the predictions are: `absent_classes` names those classes
    and `macro_f1_present` averages over the classes that occur in `y_true`.

    Args:
        y_true: array-like of int, shape `(n,)`. True class ids in `0..K-1`.
        y_pred: array-like of int, shape `(n,)`. Predicted class ids in `0..K-1`
            (take `np.argmax(logits, axis=-1)` of a model's outputs).
        class_names: list of str. Name of each class id; `K = len(class_names)`.
        y_proba: array-like of float, shape `(n, K)`, optional. Predicted
            probability of every class (`model.predict_proba(texts)`), rows
            summing to 1; adds `log_loss`.

    Returns:
        A JSON-serialisable dict:
        `n`: int. Number of examples.
        `accuracy`: float. Share of exact matches.
        `macro_f1`: float. Unweighted mean of the per-class F1 scores of all
            `K` classes (an absent class counts as 0).
        `macro_f1_present`: float. The same mean over the classes that occur
            in `y_true` only (equal to `macro_f1` when none is absent).
        `absent_classes`: list of str. Names of the classes with no example in
            `y_true`, in class-id order.
        `weighted_f1`: float. Mean of the per-class F1 scores weighted by support.
        `majority_class_accuracy`: float. Share of the most frequent true class,
            the accuracy of always predicting it (the floor a model must beat).
        `per_class`: dict. `{name: {"precision", "recall", "f1", "support"}}`
            in class-id order; `support` is an int.
        `confusion_matrix`: list of list of int, shape `(K, K)`. Rows are true
            classes and columns predicted classes, over all class ids.
        `log_loss`: float, only when `y_proba` is given. Mean negative log
            probability of the true class (scikit-learn's `log_loss`; lower is
            better, `log(K)` for uniform guesses).

    Examples:
    >>> m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["neg", "neu", "pos"])
    >>> m["accuracy"], round(m["macro_f1"], 3)
    (0.75, 0.778)
    >>> m["confusion_matrix"]
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    >>> m["per_class"]["neg"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2}
    >>> m = classification_metrics([0, 0], [0, 0], ["neg", "neu", "pos"])
    >>> m["accuracy"], round(m["macro_f1"], 3), m["macro_f1_present"], m["absent_classes"]
    (1.0, 0.333, 1.0, ['neu', 'pos'])
    >>> m = classification_metrics([0, 1], [0, 0], ["neg", "pos"], y_proba=[[0.8, 0.2], [0.6, 0.4]])
    >>> round(m["log_loss"], 4)  # -(log(0.8) + log(0.4)) / 2
    0.5697
    """
    from sklearn import metrics as sk_metrics

    names = _check_class_names(class_names)
    num_classes = len(names)
    true = _as_class_ids(y_true, "y_true", num_classes)
    pred = _as_class_ids(y_pred, "y_pred", num_classes)
    if len(true) != len(pred):
        raise ValueError(
            "y_true and y_pred must have the same length. "
            f"Received: len(y_true)={len(true)}, len(y_pred)={len(pred)}. "
            "Pass one prediction per example."
        )
    if len(true) == 0:
        raise ValueError(
            "y_true and y_pred must not be empty. Received: 0 examples. "
            "Evaluate on a non-empty test set."
        )
    labels = list(range(num_classes))
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        true, pred, labels=labels, average=None, zero_division=0
    )
    matrix = sk_metrics.confusion_matrix(true, pred, labels=labels)
    counts = np.bincount(true, minlength=num_classes)
    result = {
        "n": int(len(true)),
        "accuracy": float(sk_metrics.accuracy_score(true, pred)),
        "macro_f1": float(np.mean(f1)),
        "macro_f1_present": float(np.mean(f1[support > 0])),
        "absent_classes": [name for name, count in zip(names, support, strict=True) if not count],
        "weighted_f1": float(np.average(f1, weights=support)),
        "majority_class_accuracy": float(counts.max() / len(true)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": matrix.astype(int).tolist(),
    }
    if y_proba is not None:
        proba = _as_probabilities(y_proba, len(true), num_classes)
        result["log_loss"] = float(sk_metrics.log_loss(true, proba, labels=labels))
    return result


def _check_class_names(class_names: Any) -> list[str]:
    """Validates class names: a non-empty list of unique strings."""
    if class_names is None or isinstance(class_names, str):
        raise TypeError(
            "class_names must be a list of str, one per class id. "
            f"Received: {class_names!r}. E.g. ['negative', 'positive']."
        )
    names = list(class_names)
    if not names:
        raise ValueError("class_names must not be empty. Received: []. Name every class id.")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(
            f"class_names must be strings. Received: {bad[:3]!r}. Convert them with str()."
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"class_names must be unique. Received duplicates: {duplicates}. "
            "Give every class its own name."
        )
    return names


def _as_class_ids(values: Any, arg: str, num_classes: int) -> np.ndarray:
    """Converts class ids to a 1-D int array and checks they are in 0..K-1."""
    array = np.asarray(values)
    if array.ndim != 1:
        hint = (
            " For logits or probabilities use np.argmax(outputs, axis=-1)."
            if array.ndim == 2
            else ""
        )
        raise ValueError(
            f"{arg} must be a 1-D sequence of class ids. Received: shape {array.shape}.{hint}"
        )
    if array.size and array.dtype.kind == "f" and np.all(array == np.round(array)):
        array = array.astype(int)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(
            f"{arg} must hold integer class ids. Received: dtype {array.dtype} "
            f"(e.g. {array[0]!r}). Map labels to ids with class_names.index(label), or use "
            "tfidf_baseline / majority_baseline, which accept string labels."
        )
    array = array.astype(np.int64)
    out_of_range = array[(array < 0) | (array >= num_classes)]
    if out_of_range.size:
        raise ValueError(
            f"{arg} must hold class ids in 0..{num_classes - 1} (one per class name). "
            f"Received: {sorted(set(out_of_range.tolist()))[:5]}. "
            "Pass class_names for every class."
        )
    return array


def _as_probabilities(values: Any, num_examples: int, num_classes: int) -> np.ndarray:
    """Checks `y_proba` is `(n, K)` probabilities and returns it as float64 rows summing to 1.

    Rows may sum to 1 within `PROBABILITY_SUM_TOLERANCE` (float32 softmax,
    quantised models); they are rescaled so scikit-learn sees exact probabilities.

    Examples:
    >>> _as_probabilities(np.array([[0.5, 0.5001]], dtype="float32"), 1, 2).sum().item()
    1.0
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "y_proba must hold numbers, one probability per class. "
            f"Received: {type(values).__name__}. Pass model.predict_proba(texts)."
        ) from None
    if array.shape != (num_examples, num_classes):
        raise ValueError(
            f"y_proba must have shape (n, K) = ({num_examples}, {num_classes}), one "
            f"probability per example and class. Received: shape {array.shape}. Pass "
            "model.predict_proba(texts); for one positive-class column p use "
            "np.column_stack([1 - p, p])."
        )
    sums = array.sum(axis=1)
    if (
        not np.isfinite(array).all()
        or array.min() < 0
        or array.max() > 1
        or np.abs(sums - 1).max() > PROBABILITY_SUM_TOLERANCE
    ):
        raise ValueError(
            "y_proba must hold probabilities: values in [0, 1], each row summing to 1. "
            f"Received: values from {array.min():.4g} to {array.max():.4g}, row sums from "
            f"{sums.min():.4g} to {sums.max():.4g}. For logits pass "
            "scipy.special.softmax(logits, axis=-1)."
        )
    return array / sums[:, None]
