"""Gradient accumulation: micro-batches take the same step as the whole batch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import bertkit
from bertkit.model import classifier
from bertkit.train import accumulation, finetune

TEXTS = [
    "stocks fell sharply today",
    "the team won the final",
    "a new vaccine trial began",
    "markets rallied on the news",
    "the coach praised his players",
    "doctors warn about the flu",
    "bond yields rose again",
    "a late goal sealed the game",
    "hospital beds are running short",
    "the bank cut its rates",
    "fans cheered in the stadium",
    "the virus spread quickly",
    "oil prices dropped",
    "she scored twice",
    "the clinic opened a new ward",
    "investors sold their shares",
    "the match ended in a draw",
    "a cure remains far away",
    "the dollar weakened",
    "the striker was injured",
]
LABELS = np.array([i % 3 for i in range(len(TEXTS))], dtype=np.int32)


def _trained_weights(preset_dir, micro_batch_size, strategy="full", **overrides):
    finetune.set_seed(0)
    model = classifier.build_classifier(
        str(preset_dir), 3, strategy, dropout=0.0, seq_length=16, precision="float32"
    )
    config = bertkit.TrainConfig(
        epochs=2,
        batch_size=8,  # 20 examples: batches of 8, 8 and 4
        learning_rate=1e-3,
        early_stopping_patience=None,
        micro_batch_size=micro_batch_size,
        cache_features=False,
        **overrides,
    )
    result = finetune.fit(model, TEXTS, LABELS, config=config, verbose=0)
    return model, result


@pytest.fixture(scope="module")
def whole_batches(no_dropout_dir):
    return _trained_weights(no_dropout_dir, None)


@pytest.mark.parametrize("micro_batch_size", [3, 8])
def test_micro_batches_take_the_same_steps_as_whole_batches(
    no_dropout_dir, whole_batches, micro_batch_size, monkeypatch
):
    traced = []
    original = accumulation.micro_batch_train_step

    def spy(model, size):
        step = original(model, size)

        def counted(data):
            traced.append(size)
            return step(data)

        return counted

    monkeypatch.setattr(accumulation, "micro_batch_train_step", spy)
    model, result = _trained_weights(no_dropout_dir, micro_batch_size)
    assert traced and set(traced) == {micro_batch_size}  # Keras trained with it
    reference, reference_result = whole_batches
    # Class weights (balanced) and the uneven last batch (4 = 3 + 1) are included.
    for got, want in zip(
        model.token_model.get_weights(), reference.token_model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(
            result.history.history[key], reference_result.history.history[key], rtol=1e-4
        )
    assert "train_step" not in vars(model.token_model)  # later fits use whole batches


def test_weights_change_when_micro_batches_are_weighted_wrongly(
    no_dropout_dir, whole_batches, monkeypatch
):
    """Guards the test above: summing unweighted micro-batch means is a different step."""
    original = accumulation.micro_batch_train_step

    def unweighted(model, size):
        compute_loss = model.compute_loss

        def mean_per_micro_batch(x, y, y_pred, sample_weight=None):
            # Undo the share weighting (n / 8): each micro-batch's mean counts fully,
            # so the examples of a smaller micro-batch weigh more.
            n = tf.cast(tf.shape(y)[0], tf.float32)
            return compute_loss(x, y, y_pred, sample_weight) * 8.0 / n

        model.compute_loss = mean_per_micro_batch
        return original(model, size)

    monkeypatch.setattr(accumulation, "micro_batch_train_step", unweighted)
    model, _ = _trained_weights(no_dropout_dir, 3)  # micro-batches of 3, 3, 2
    reference, _ = whole_batches
    differences = [
        np.abs(got - want).max()
        for got, want in zip(
            model.token_model.get_weights(), reference.token_model.get_weights(), strict=True
        )
        if np.issubdtype(got.dtype, np.floating)
    ]
    assert max(differences) > 1e-3


def test_freeze_without_cache_accumulates_the_head(no_dropout_dir):
    _, whole = _trained_weights(no_dropout_dir, None, strategy="freeze")
    _, micro = _trained_weights(no_dropout_dir, 5, strategy="freeze")
    np.testing.assert_allclose(
        micro.history.history["loss"], whole.history.history["loss"], rtol=1e-4
    )


def test_checkpoints_resume_under_another_micro_batch_size(no_dropout_dir, tmp_path):
    def run(micro_batch_size, learning_rate=1e-3):
        finetune.set_seed(0)
        model = classifier.build_classifier(str(no_dropout_dir), 3, "full", seq_length=16)
        config = bertkit.TrainConfig(
            epochs=1,
            batch_size=8,
            learning_rate=learning_rate,
            early_stopping_patience=None,
            micro_batch_size=micro_batch_size,
        )
        return finetune.fit(model, TEXTS, LABELS, config=config, verbose=0, checkpoint_dir=tmp_path)

    assert run(None).initial_epoch == 0
    assert run(4).initial_epoch == 1  # the finished epoch is found: nothing left to train
    with pytest.raises(ValueError, match="belongs to a different training run"):
        run(4, learning_rate=2e-3)  # a setting that changes the updates is another run


@pytest.mark.parametrize(
    ("micro_batch_size", "batch_size"), [(0, 8), (9, 8), (2.5, 8), (True, 8), ("4", 8)]
)
def test_bad_micro_batch_size_is_rejected(micro_batch_size, batch_size):
    config = bertkit.TrainConfig(batch_size=batch_size, micro_batch_size=micro_batch_size)
    with pytest.raises(ValueError, match="micro_batch_size must be a positive integer"):
        config.validate()


def test_micro_batches_with_xla_is_rejected():
    config = bertkit.TrainConfig(batch_size=8, micro_batch_size=4, jit_compile=True)
    with pytest.raises(ValueError, match="does not work with jit_compile"):
        config.validate()


def test_loss_scaling_optimizer_gets_unscaled_summed_gradients(no_dropout_dir):
    """float16 training wraps the optimizer in a LossScaleOptimizer: the same steps unscaled.

    Plain SGD, whose step is proportional to the gradient: a gradient left scaled by
    the loss scale (32768) would move the weights 32768 times too far. (Adam would
    hide that: its step does not depend on the gradient's scale.)
    """
    import tf_keras

    from bertkit.text import inputs

    def train(micro_batch_size, loss_scaling):
        finetune.set_seed(0)
        model = classifier.build_classifier(
            str(no_dropout_dir), 3, "full", dropout=0.0, seq_length=16, precision="float32"
        )
        optimizer = tf_keras.optimizers.SGD(0.1)
        if loss_scaling:
            optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
        model.token_model.compile(optimizer=optimizer, loss=finetune.loss())
        accumulation.install(model.token_model, micro_batch_size)
        dataset = inputs.make_dataset(inputs.encode_for_model(model, TEXTS), LABELS, 8)
        model.token_model.fit(dataset, epochs=2, verbose=0)
        return model.token_model.get_weights(), optimizer

    scaled, optimizer = train(3, loss_scaling=True)
    assert float(optimizer.loss_scale) > 1  # the loss really was scaled
    plain, _ = train(None, loss_scaling=False)
    for got, want in zip(scaled, plain, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
