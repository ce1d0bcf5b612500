"""Tests for bertkit.tasks.curves: nested learning-curve subsets and head training on cached features."""

from __future__ import annotations

import numpy as np
import pytest
from toy_sentiment import LABELS, TEXTS, VALIDATION

import bertkit
from bertkit import presets
from bertkit.tasks import curves
from bertkit.text import inputs
from bertkit.train import finetune, preflight

# ----------------------------------------------------------------------------- nested_subsets


def test_subsets_are_nested_and_keep_class_proportions():
    labels = np.array([0] * 40 + [1] * 20 + [2] * 8)
    subsets = curves.nested_subsets(labels, (0.25, 0.5, 1.0), seed=3)
    assert list(subsets) == [0.25, 0.5, 1.0]
    assert subsets[1.0].tolist() == list(range(len(labels)))
    assert set(subsets[0.25]) < set(subsets[0.5]) < set(subsets[1.0])
    assert np.bincount(labels[subsets[0.25]]).tolist() == [10, 5, 2]
    assert np.bincount(labels[subsets[0.5]]).tolist() == [20, 10, 4]
    for idx in subsets.values():
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats


def test_subsets_depend_on_the_seed_only():
    labels = ["a"] * 30 + ["b"] * 30
    first = curves.nested_subsets(labels, [0.5], seed=0)[0.5]
    assert curves.nested_subsets(labels, [0.5], seed=0)[0.5].tolist() == first.tolist()
    assert curves.nested_subsets(labels, [0.5], seed=1)[0.5].tolist() != first.tolist()


def test_every_class_keeps_at_least_one_example():
    labels = [0] * 50 + [1] * 2
    subset = curves.nested_subsets(labels, 0.1)[0.1]
    assert sorted(set(np.asarray(labels)[subset])) == [0, 1]
    assert len(subset) == 6  # 5 of class 0, and class 1 rounds up from 0.2 to 1


@pytest.mark.parametrize(
    "labels, fractions, message",
    [
        ([0, 1], (0.0, 1.0), "fractions must be numbers in \\(0, 1\\]"),
        ([0, 1], (1.5,), "fractions must be numbers in \\(0, 1\\]"),
        ([0, 1], (), "fractions must be numbers"),
        ([0, 1], (True,), "fractions must be numbers"),
        ([], (0.5,), "labels must be a non-empty 1-D list"),
        ([[0, 1]], (0.5,), "labels must be a non-empty 1-D list"),
    ],
)
def test_bad_subset_arguments_are_rejected(labels, fractions, message):
    with pytest.raises(ValueError, match=message):
        curves.nested_subsets(labels, fractions)


# ----------------------------------------------------------------------------- fit_head


@pytest.fixture(scope="module")
def frozen(tiny_dir):
    """A tiny frozen-encoder classifier, its initial head weights and cached features."""
    model = bertkit.build_classifier(presets.TINY_PRESET, 2, "freeze", dropout=0.3)
    initial = model.head.get_weights()
    features = finetune.compute_features(model, inputs.encode_texts(model, TEXTS))
    val_features = finetune.compute_features(model, inputs.encode_texts(model, VALIDATION[0]))
    return model, initial, features, val_features


@pytest.mark.parametrize("patience", [None, 1])
def test_fit_head_trains_like_fit_on_the_texts(frozen, patience):
    model, initial, features, val_features = frozen
    config = bertkit.TrainConfig.for_strategy(
        "freeze", epochs=6, learning_rate=0.05, batch_size=4, seed=7
    )
    config.early_stopping_patience = patience

    model.head.set_weights(initial)
    expected = finetune.fit(model, TEXTS, LABELS, validation=VALIDATION, config=config, verbose=0)
    expected_weights = model.head.get_weights()
    model.head.set_weights(initial)
    result = curves.fit_head(
        model, features, LABELS, validation=(val_features, VALIDATION[1]), config=config
    )

    assert sorted(result.history.history) == sorted(expected.history.history)
    for key, values in expected.history.history.items():
        np.testing.assert_allclose(result.history.history[key], values, rtol=1e-5, atol=1e-6)
    for got, want in zip(model.head.get_weights(), expected_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert result.num_train_steps == expected.num_train_steps == 6 * 3
    assert len(result.epoch_seconds) == len(result.history.history["loss"])
    assert result.real_tokens_per_epoch is None and result.num_truncated is None


def test_fit_head_runs_extra_callbacks_and_trains_without_validation(frozen):
    model, initial, features, _ = frozen
    model.head.set_weights(initial)
    seen = []

    class Record(finetune.tf_keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))

    config = bertkit.TrainConfig.for_strategy("freeze", epochs=2)
    result = curves.fit_head(model, features, LABELS, config=config, callbacks=[Record()])
    assert seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])]
    assert len(result.history.history["loss"]) == 2
    assert any(
        not np.allclose(a, b) for a, b in zip(model.head.get_weights(), initial, strict=True)
    )


def test_fit_head_rejects_bad_input(frozen, tiny_dir):
    model, _, features, _ = frozen
    with pytest.raises(ValueError, match="must have shape \\(n, 32\\)"):
        curves.fit_head(model, features[:, :5], LABELS)
    with pytest.raises(ValueError, match="12 feature rows, 3 labels"):
        curves.fit_head(model, features, [0, 1, 0])
    with pytest.raises(ValueError, match="Label ids must be in \\[0, 2\\)"):
        curves.fit_head(model, features, [2] * len(LABELS))
    with pytest.raises(ValueError, match="Validation features must have shape"):
        curves.fit_head(model, features, LABELS, validation=(features[0], [1]))
    full = bertkit.build_classifier(presets.TINY_PRESET, 2, "full")
    with pytest.raises(ValueError, match="Received: strategy='full'"):
        curves.fit_head(full, features, LABELS)


def test_fit_head_stops_on_nan_loss(frozen, tiny_dir):
    model, _, features, _ = frozen
    broken = np.array(features, dtype=np.float32)
    broken[0] = np.nan
    initial = model.head.get_weights()
    try:
        with pytest.raises(preflight.NonFiniteLossError, match="loss became nan at epoch 1"):
            curves.fit_head(model, broken, LABELS, config=bertkit.TrainConfig(epochs=2))
    finally:
        model.head.set_weights(initial)
