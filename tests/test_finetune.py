"""TrainConfig switches and the public helpers other modules share (loss, timer, feature batches)."""

import doctest

import numpy as np
import pytest

from bertkit import finetune


def test_docstring_examples_run():
    results = doctest.testmod(finetune)
    assert results.attempted >= 4 and results.failed == 0


def test_early_stopping_can_be_turned_off_per_strategy():
    assert finetune.TrainConfig.for_strategy("full").early_stopping_patience == 2
    config = finetune.TrainConfig.for_strategy("full", early_stopping=False, epochs=7)
    assert config.early_stopping_patience is None and config.epochs == 7
    # None still means "the default", so existing callers (the CLI) keep early stopping.
    assert (
        finetune.TrainConfig.for_strategy(
            "full", early_stopping_patience=None
        ).early_stopping_patience
        == 2
    )
    with pytest.raises(
        ValueError, match="early_stopping=False contradicts early_stopping_patience=3"
    ):
        finetune.TrainConfig.for_strategy("full", early_stopping=False, early_stopping_patience=3)


def test_feature_dataset_epochs_are_shuffled_and_complete():
    features = np.arange(10, dtype="float32")[:, None]
    labels = np.arange(10) % 2
    ds = finetune.feature_dataset(features, labels, batch_size=4, seed=0, epochs=2)
    seen = np.concatenate([x.numpy()[:, 0] for x, _ in ds])
    assert len(seen) == 20
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert not np.array_equal(seen[:10], seen[10:])


def test_fit_ends_with_the_best_validation_epoch_without_an_early_stop(tiny_dir):
    from bertkit import classifier, presets

    texts = [f"review {i} {'good great fine' if i % 2 else 'bad awful poor'}" for i in range(24)]
    labels = np.arange(24) % 2
    val_texts, val_labels = texts[:8], 1 - labels[:8]  # flipped: training hurts validation
    finetune.set_seed(0)
    model = classifier.build_classifier(presets.TINY_PRESET, 2, "full", seq_length=16)
    config = finetune.TrainConfig(
        epochs=4, batch_size=8, learning_rate=5e-3, early_stopping_patience=10
    )
    result = finetune.fit(model, texts, labels, (val_texts, val_labels), config, verbose=0)
    val_losses = result.history.history["val_loss"]
    assert len(val_losses) == 4  # no early stop: every epoch ran
    best = int(np.argmin(val_losses))
    assert best < 3, val_losses  # the last epoch is not the best, so restoring shows
    logits = finetune.predict_logits(model, val_texts)
    final = float(finetune.loss()(val_labels, logits))
    np.testing.assert_allclose(final, val_losses[best], rtol=1e-4)
