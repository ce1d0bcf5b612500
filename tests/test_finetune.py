"""TrainConfig switches and the public helpers other modules share (loss, timer, feature batches)."""

import json

import numpy as np
import pytest

import bertkit
from bertkit.train import finetune, preflight


def test_early_stopping_can_be_turned_off_per_strategy():
    assert bertkit.TrainConfig.for_strategy("full").early_stopping_patience == 2
    config = bertkit.TrainConfig.for_strategy("full", early_stopping=False, epochs=7)
    assert config.early_stopping_patience is None and config.epochs == 7
    # None still means "the default", so existing callers (the CLI) keep early stopping.
    assert (
        bertkit.TrainConfig.for_strategy(
            "full", early_stopping_patience=None
        ).early_stopping_patience
        == 2
    )
    with pytest.raises(
        ValueError, match="early_stopping=False contradicts early_stopping_patience=3"
    ):
        bertkit.TrainConfig.for_strategy("full", early_stopping=False, early_stopping_patience=3)


def test_feature_dataset_epochs_are_shuffled_and_complete():
    features = np.arange(10, dtype="float32")[:, None]
    labels = np.arange(10) % 2
    ds = finetune.feature_dataset(features, labels, batch_size=4, seed=0, epochs=2)
    seen = np.concatenate([x.numpy()[:, 0] for x, _ in ds])
    assert len(seen) == 20
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert not np.array_equal(seen[:10], seen[10:])


def test_fit_ends_with_the_best_validation_epoch_without_an_early_stop(tiny_dir):
    from bertkit import presets
    from bertkit.model import classifier

    texts = [f"review {i} {'good great fine' if i % 2 else 'bad awful poor'}" for i in range(24)]
    labels = np.arange(24) % 2
    val_texts, val_labels = texts[:8], 1 - labels[:8]  # flipped: training hurts validation
    finetune.set_seed(0)
    model = classifier.build_classifier(presets.TINY_PRESET, 2, "full", seq_length=16)
    config = bertkit.TrainConfig(
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


# ------------------------------------------- checks before training, and the divergence guard

TEXTS = [f"review {i} {'good great fine' if i % 2 else 'bad awful poor'}" for i in range(12)]
LABELS = [i % 2 for i in range(12)]


@pytest.fixture(scope="module")
def frozen(tiny_dir):
    from bertkit import presets
    from bertkit.model import classifier

    finetune.set_seed(0)
    return classifier.build_classifier(presets.TINY_PRESET, 2, "freeze", seq_length=16)


class _NoTraining(finetune.tf_keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise AssertionError("training started although the input was invalid")


def _fit(model, texts, labels, **kwargs):
    config = bertkit.TrainConfig(epochs=1, batch_size=4)
    return finetune.fit(model, texts, labels, config=config, verbose=0, **kwargs)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", float("inf"), "learning_rate must be a finite number > 0"),
        ("learning_rate", float("nan"), "learning_rate must be a finite number > 0"),
        ("learning_rate", 0.0, "Received: learning_rate=0.0"),
        ("learning_rate", "1e-4", "Received: learning_rate='1e-4'"),
        ("weight_decay", float("nan"), "weight_decay must be a finite number >= 0"),
        ("epochs", 2.5, "epochs must be a positive integer"),
        ("batch_size", True, "batch_size must be a positive integer"),
        ("early_stopping_patience", -1, "early_stopping_patience must be an integer >= 0"),
        ("warmup_fraction", float("nan"), "warmup_fraction must be in \\[0, 1\\)"),
    ],
)
def test_train_config_rejects_values_that_cannot_train(field, value, message):
    with pytest.raises(ValueError, match=message):
        bertkit.TrainConfig(**{field: value}).validate()


def test_fit_refuses_fractional_float_labels(frozen):
    with pytest.raises(ValueError, match=r"whole class ids\. Received: 0\.5 at position 1"):
        _fit(frozen, TEXTS[:3], [1.0, 0.5, 0.0], callbacks=[_NoTraining()])
    with pytest.raises(ValueError, match=r"Received: nan at position 0 \(missing"):
        _fit(frozen, TEXTS[:2], [float("nan"), 1.0], callbacks=[_NoTraining()])


def test_whole_float_and_bool_labels_are_class_ids():
    ids = preflight.check_label_ids(np.array([1.0, 0.0, 1.0]), ["a", "b", "c"], 2)
    assert ids.dtype == np.int32 and ids.tolist() == [1, 0, 1]
    assert preflight.check_label_ids([True, False], ["a", "b"], 2).tolist() == [1, 0]


def test_fit_refuses_string_labels_with_a_label_encoder_hint(frozen):
    with pytest.raises(ValueError, match=r"not strings\. Received: 'pos'.*LabelEncoder\.fit"):
        _fit(frozen, TEXTS[:2], ["pos", "neg"], callbacks=[_NoTraining()])
    with pytest.raises(ValueError, match=r"Received: '0' at position 0\. Encode class names"):
        _fit(frozen, TEXTS[:2], [0, "1"], callbacks=[_NoTraining()])  # numpy makes both str
    with pytest.raises(ValueError, match=r"Received: None of type NoneType at position 1"):
        _fit(frozen, TEXTS[:2], [0, None], callbacks=[_NoTraining()])


def test_fit_refuses_one_hot_labels_with_an_argmax_hint(frozen):
    one_hot = np.eye(2)[LABELS]
    with pytest.raises(ValueError, match=r"shape \(12, 2\)\. Pass labels\.argmax\(axis=1\)"):
        _fit(frozen, TEXTS, one_hot, callbacks=[_NoTraining()])


def test_fit_refuses_one_string_as_the_texts(frozen):
    with pytest.raises(TypeError, match=r"not one string\. Received: 'hello'.*\['hello'\]"):
        _fit(frozen, "hello", [0], callbacks=[_NoTraining()])


def test_fit_refuses_empty_training_data(frozen):
    with pytest.raises(ValueError, match="No training examples. Received: 0 texts"):
        _fit(frozen, [], [], callbacks=[_NoTraining()])


@pytest.mark.parametrize(
    "validation, message",
    [
        (
            (TEXTS[:2], [0, 2]),
            r"Label ids must be in \[0, 2\).*validation labels with min=0, max=2",
        ),
        ((TEXTS[:2], [0]), "Validation texts and labels differ in length. Received: 2 texts, 1"),
        ((TEXTS[:2], ["a", "b"]), "Validation labels must be integer class ids, not strings"),
        ((TEXTS[:2],), r"validation must be a tuple \(texts, labels\)"),
        (([], []), "No validation examples"),
    ],
)
def test_fit_checks_validation_data_before_training(frozen, validation, message):
    with pytest.raises(ValueError, match=message):
        _fit(frozen, TEXTS, LABELS, validation=validation, callbacks=[_NoTraining()])


def _break_logits_at_epoch(model, epoch):
    class BreakWeights(finetune.tf_keras.callbacks.Callback):
        def on_epoch_begin(self, current, logs=None):
            if current == epoch:
                kernel = model.head.get_layer("logits").kernel
                kernel.assign(np.full(kernel.shape, np.nan, np.float32))

    return BreakWeights()


def test_nan_loss_stops_training_and_saves_nothing(frozen, tmp_path):
    from bertkit.train import checkpoints

    initial = frozen.head.get_weights()
    ckpt = tmp_path / "ckpt"
    config = bertkit.TrainConfig(epochs=3, batch_size=4, learning_rate=1e-3)
    try:
        with pytest.raises(
            preflight.NonFiniteLossError,
            match=r"loss became nan at epoch 2, batch 1\. Received: learning_rate=0\.001\. "
            r"Training stopped and nothing was saved\. Lower the learning rate",
        ):
            finetune.fit(
                frozen,
                TEXTS,
                LABELS,
                validation=(TEXTS[:4], LABELS[:4]),
                config=config,
                verbose=0,
                checkpoint_dir=ckpt,
                callbacks=[_break_logits_at_epoch(frozen, 1)],
            )
        # The checkpoint a resume would pick up is epoch 1's, from before the NaN.
        state = checkpoints.load_state(
            ckpt, json.loads((ckpt / "state.json").read_text())["fingerprint"]
        )
        assert state.epoch == 1 and sorted(p.name for p in ckpt.glob("epoch-*")) == ["epoch-1"]
        assert all(np.isfinite(w).all() for w in checkpoints.load_best_weights(ckpt))
    finally:
        frozen.head.set_weights(initial)


def test_resumed_fit_says_where_it_resumes(frozen, tmp_path, capsys):
    initial = frozen.head.get_weights()
    ckpt = tmp_path / "ckpt"
    config = bertkit.TrainConfig(epochs=2, batch_size=4)

    class Interrupt(finetune.tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            finetune.fit(
                frozen,
                TEXTS,
                LABELS,
                config=config,
                verbose=0,
                checkpoint_dir=ckpt,
                callbacks=[Interrupt()],
            )
        capsys.readouterr()
        finetune.fit(frozen, TEXTS, LABELS, config=config, verbose=2, checkpoint_dir=ckpt)
        err = capsys.readouterr().err
        assert f"Resuming after epoch 1 of 2 from {ckpt}" in err
    finally:
        frozen.head.set_weights(initial)
