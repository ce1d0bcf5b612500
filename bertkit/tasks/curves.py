"""Learning curves on a budget: nested training subsets and head training on cached features.

A learning curve trains the same recipe on growing shares of the training data,
and a regularisation sweep trains it many times with different settings. With a
frozen encoder (`strategy="freeze"`) every run sees the same encoder features,
so computing them once (`finetune.compute_features`) and training only the head
on them (`fit_head`) makes each run cost seconds instead of an encoder pass.

Examples:
>>> nested_subsets([0, 0, 0, 0, 1, 1, 1, 1], fractions=(0.5, 1.0))[0.5].tolist()
[0, 2, 6, 7]
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from bertkit.model import classifier
from bertkit.train import finetune, preflight, training_loop
from bertkit.train.config import TrainConfig


def nested_subsets(labels, fractions: Sequence[float], seed: int = 0) -> dict[float, np.ndarray]:
    """Stratified index subsets, each smaller one inside every larger one.

    Every class is shuffled once with `seed` and each subset takes the first
    `round(fraction * count)` examples of every class (at least one), so the
    class proportions stay those of `labels` and a larger subset only adds
    examples: the points of a learning curve differ in size, not in luck.

    Args:
        labels: array-like. One label (class id or name) per training example.
        fractions: list of float. Shares of the examples to keep, each in (0, 1].
        seed: int. Seed of the shuffle; other seeds give other subsets.

    Returns:
        A dict `{fraction: sorted int64 indices into labels}`.

    Examples:
    >>> subsets = nested_subsets(["a"] * 6 + ["b"] * 2, fractions=(0.5, 1.0), seed=0)
    >>> {f: len(idx) for f, idx in subsets.items()}
    {0.5: 4, 1.0: 8}
    >>> set(subsets[0.5]) <= set(subsets[1.0])
    True
    """
    labels = np.asarray(list(labels))
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(
            "labels must be a non-empty 1-D list, one label per example. "
            f"Received: shape {labels.shape}. Pass the training labels."
        )
    fractions = [fractions] if isinstance(fractions, numbers.Real) else list(fractions)
    bad = [
        f
        for f in fractions
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 < f <= 1
    ]
    if not fractions or bad:
        raise ValueError(
            "fractions must be numbers in (0, 1]. "
            f"Received: fractions={fractions!r}. E.g. (0.25, 0.5, 1.0)."
        )
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    return {
        f: np.sort(
            np.concatenate([idx[: max(1, int(round(f * len(idx))))] for idx in by_class])
        ).astype(np.int64)
        for f in fractions
    }


def fit_head(
    model,
    features,
    labels,
    validation: tuple | None = None,
    config: TrainConfig | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
) -> finetune.FitResult:
    """Trains a frozen-encoder classifier's head on precomputed features, as `finetune.fit` does.

    This is `finetune.fit`'s fast path for `strategy="freeze"` with the encoder
    pass left out: the same training loop (`bertkit.train.training_loop.run`), so the
    same optimizer, schedule, class weights, shuffling, dropout, early stopping
    and micro-batches. With the same `config` the history is the same as
    `fit` on the texts the features came from. The head keeps training from
    its current weights; reset them with `model.head.set_weights(...)` between
    runs.

    Args:
        model: tf_keras.Model. From `build_classifier(..., strategy="freeze")`.
        features: array, shape `(n, hidden)`. `finetune.compute_features` of the
            training texts.
        labels: array-like of int, shape `(n,)`. Class ids.
        validation: optional `(features, label_ids)`. For early stopping and curves.
        config: TrainConfig. Defaults to `TrainConfig.for_strategy("freeze")`.
        verbose: int. Keras verbosity.
        callbacks: optional list. Extra Keras callbacks (their `model` is `model.head`).

    Returns:
        `finetune.FitResult`; `real_tokens_per_epoch` and `num_truncated` are
        None (the texts are not seen here).

    Examples:
    >>> import bertkit
    >>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, "freeze")
    >>> feats = finetune.compute_features(model, bertkit.text.inputs.encode_texts(model, ["good", "bad"]))
    >>> result = fit_head(model, feats, [1, 0], config=TrainConfig(epochs=3))
    >>> len(result.history.history["loss"]), result.num_train_steps
    (3, 3)
    """
    if classifier.check_classifier(model).strategy != "freeze":
        raise ValueError(
            "fit_head trains the head of a frozen encoder. Received: "
            f"strategy={model.strategy!r}. Build the model with "
            "strategy='freeze', or use finetune.fit to train encoder weights."
        )
    config = config or TrainConfig.for_strategy("freeze")
    config.validate()
    features, labels = _check_features(model, features, labels, "Training")
    class_weight = (
        finetune.balanced_class_weights(labels, model.head.output_shape[-1])
        if config.class_weight
        else None
    )
    val_data = None
    if validation is not None:
        val_features, val_labels = _check_features(
            model, *preflight.split_validation(validation), "Validation"
        )
        val_data = finetune.feature_dataset(val_features, val_labels, 64, None)

    def train_data(initial_epoch: int):
        seed = config.seed if config.shuffle else None
        return finetune.feature_dataset(
            features, labels, config.batch_size, seed, initial_epoch, config.epochs
        )

    return training_loop.run(
        model.head,
        train_data,
        len(labels),
        config,
        finetune.loss(),
        metrics=["accuracy"],
        validation_data=val_data,
        class_weight=class_weight,
        epochs_in_data=config.shuffle,
        precision=model.precision,
        callbacks=callbacks,
        verbose=verbose,
    )


def _check_features(model, features, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validates `(features, labels)` against the head; returns float32 and int32 arrays.

    Args:
        model: tf_keras.Model. A `build_classifier` model with strategy "freeze".
        features: array-like. Encoder feature rows.
        labels: array-like of int. One class id per row (`preflight.check_label_ids`).
        name: str. Which data this is, for the messages ("Training", "Validation").
    """
    features = np.asarray(features, dtype=np.float32)
    hidden = int(model.head.input_shape[-1])
    if features.ndim != 2 or features.shape[1] != hidden:
        raise ValueError(
            f"{name} features must have shape (n, {hidden}), one encoder feature row per "
            f"example. Received: shape {features.shape}. Compute them with "
            "finetune.compute_features(model, inputs.encode_texts(model, texts))."
        )
    num_classes = int(model.head.output_shape[-1])
    labels = preflight.check_label_ids(labels, features, num_classes, name, "feature rows")
    return features, labels
