"""Split a `TextDataset` into training and validation parts, keeping class proportions, and
draw a few labelled examples per class (`sample_per_class`, the few-shot benchmark's draw).

Examples:
>>> from bertkit.text.text_dataset import TextDataset
>>> data = TextDataset(["a", "b", "c", "d"], ["x", "x", "y", "y"], "inline")
>>> train, validation = stratified_split(data, validation_fraction=0.5)
>>> sorted(train.labels), validation.source
(['x', 'y'], 'inline [validation]')
"""

from __future__ import annotations

import math
import numbers
from collections import Counter

import numpy as np

from bertkit.text.text_dataset import TextDataset, format_places, show_value, warn


def stratified_split(
    dataset: TextDataset, validation_fraction: float = 0.1, seed: int = 0
) -> tuple[TextDataset, TextDataset]:
    """Splits into (train, validation), keeping class proportions.

    Stratification needs at least 2 examples of every class and a validation
    part with room for every class; otherwise the split is random, with a
    warning. Unlabelled datasets are split at random.

    Args:
        dataset: TextDataset. The examples to split.
        validation_fraction: float. Share of examples for validation, in (0, 1).
        seed: int. Seed of the shuffle; the same seed gives the same split.

    Examples:
    >>> data = TextDataset(["a", "b", "c", "d"], ["x", "x", "y", "y"], "inline")
    >>> train, validation = stratified_split(data, validation_fraction=0.5)
    >>> sorted(validation.labels)
    ['x', 'y']
    """
    from sklearn.model_selection import train_test_split

    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, numbers.Real)
        or not 0 < validation_fraction < 1
    ):
        raise ValueError(
            "validation_fraction must be a number strictly between 0 and 1. Received: "
            f"validation_fraction={validation_fraction!r}. Use e.g. 0.1 for 10% validation."
        )
    n = len(dataset)
    n_validation = math.ceil(n * validation_fraction)
    if n < 2 or n_validation >= n:
        raise ValueError(
            f"Too few examples to split. Received: {n} examples and validation_fraction="
            f"{validation_fraction}, leaving {n - n_validation} for training. Add examples or "
            "lower validation_fraction."
        )
    indices = np.arange(n)
    stratify = None
    if dataset.labels is not None:
        counts = Counter(dataset.labels)
        rare = sorted(label for label, count in counts.items() if count < 2)
        if rare:
            shown = format_places([show_value(label) for label in rare])
            warn(
                f"Split {dataset.source} without stratification: classes {shown} "
                "have fewer than 2 examples. Add examples of those classes to keep proportions."
            )
        elif n_validation < len(counts) or n - n_validation < len(counts):
            warn(
                f"Split {dataset.source} without stratification: {n_validation} validation and "
                f"{n - n_validation} training examples cannot hold all {len(counts)} classes. "
                "Raise validation_fraction or add examples."
            )
        else:
            stratify = dataset.labels
    train_idx, validation_idx = train_test_split(
        indices, test_size=n_validation, random_state=seed, stratify=stratify
    )

    def subset(idx, part: str) -> TextDataset:
        labels = None if dataset.labels is None else [dataset.labels[i] for i in idx]
        return TextDataset([dataset.texts[i] for i in idx], labels, f"{dataset.source} [{part}]")

    return subset(train_idx, "train"), subset(validation_idx, "validation")


def sample_per_class(labels, per_class: int, seed: int = 0) -> np.ndarray:
    """Positions of `per_class` random examples of every class (all of a smaller class).

    The draw of `benchmarks/few_shot.py` and notebook 12: classes in sorted order,
    each class's positions in the random order of `np.random.default_rng(seed)`.

    Args:
        labels: sequence or pandas Series. One label per example.
        per_class: int. Examples to draw from every class, at least 1.
        seed: int. Seed of the draw; the same seed gives the same positions.

    Returns:
        np.ndarray of int. Positions into `labels` (use `frame.iloc[positions]`).

    Examples:
    >>> positions = sample_per_class(["b", "a", "b", "a", "b"], per_class=2, seed=0)
    >>> sorted(["b", "a", "b", "a", "b"][i] for i in positions)
    ['a', 'a', 'b', 'b']
    """
    if isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral) or per_class < 1:
        raise ValueError(
            f"per_class must be a positive integer. Received: per_class={per_class!r}. "
            "Pass the number of examples to draw from every class, e.g. 8."
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(
            f"labels must be a non-empty 1-D sequence. Received: shape {labels.shape}. "
            "Pass one label per example."
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        chosen.append(positions[rng.permutation(len(positions))[:per_class]])
    return np.concatenate(chosen)
