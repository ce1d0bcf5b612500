"""Encoder precision variants, XLA batches and per-epoch batch orders."""

import shutil

import numpy as np
import pytest

import bertkit
from bertkit import presets
from bertkit.model import classifier, precision
from bertkit.text import inputs
from bertkit.train import finetune

TEXTS = ["the drug worked well", "terrible side effects", "it is ok", "great", "awful", "meh"]
LABELS = [1, 0, 2, 1, 0, 2]


def test_auto_falls_back_to_float32_without_a_variant(tmp_path, tiny_dir):
    shutil.copytree(tiny_dir / "encoder", tmp_path / "encoder")
    chosen, resolved = precision.select_encoder(tmp_path / "encoder", "auto")
    assert (chosen, resolved) == (tmp_path / "encoder", "float32")
    with pytest.raises(FileNotFoundError, match="has no mixed_bfloat16 variant.*--variants"):
        precision.select_encoder(tmp_path / "encoder", "mixed_bfloat16")


def test_environment_forces_the_precision(monkeypatch, tiny_dir):
    monkeypatch.setenv(precision.PRECISION_ENV, "float32")
    assert precision.resolve_precision("auto") == "float32"
    monkeypatch.setenv(precision.PRECISION_ENV, "mixed_bfloat16")
    chosen, resolved = precision.select_encoder(tiny_dir / "encoder", "auto")
    assert chosen.name == "encoder_mixed_bfloat16" and resolved == "mixed_bfloat16"
    monkeypatch.setenv(precision.PRECISION_ENV, "float64")
    with pytest.raises(ValueError, match="Unknown precision.*float64"):
        precision.resolve_precision("auto")


def test_bfloat16_classifier_trains_with_float32_logits(tiny_dir):
    finetune.set_seed(0)
    model = classifier.build_classifier(
        presets.TINY_PRESET, 3, "full", precision="mixed_bfloat16"
    )
    assert model.precision == "mixed_bfloat16"
    assert all(v.dtype == "float32" for v in model.token_model.trainable_variables)
    before = [v.numpy().copy() for v in model.token_model.trainable_variables]
    config = bertkit.TrainConfig(epochs=2, learning_rate=1e-3, early_stopping_patience=None)
    result = finetune.fit(model, TEXTS * 4, LABELS * 4, config=config, verbose=0)
    assert np.isfinite(result.history.history["loss"]).all()
    after = model.token_model.trainable_variables
    changed = sum(not np.allclose(a, b.numpy()) for a, b in zip(before, after, strict=True))
    assert changed > len(before) // 2
    logits = finetune.predict_logits(model, TEXTS)
    assert logits.dtype == np.float32 and logits.shape == (6, 3)


def test_xla_training_runs_on_rounded_lengths(tiny_dir):
    finetune.set_seed(0)
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "full", precision="float32")
    config = bertkit.TrainConfig(epochs=1, jit_compile=True, early_stopping_patience=None)
    result = finetune.fit(model, TEXTS * 4, LABELS * 4, config=config, verbose=0)
    assert np.isfinite(result.history.history["loss"]).all()
    encoded = inputs.encode_texts(model, TEXTS)
    ds = inputs.make_dataset(encoded, LABELS, batch_size=4, length_multiple=32)
    shapes = {batch[0]["input_word_ids"].shape[1] for batch in ds}
    assert shapes == {32}  # short texts padded up to one multiple


def test_epoch_batches_depend_only_on_seed_and_epoch(tiny_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "freeze", precision="float32")
    encoded = inputs.encode_texts(model, TEXTS * 5)
    labels = np.arange(len(encoded))  # labels identify the rows

    def batches(first, last):
        ds = inputs.make_dataset(
            encoded, labels, 4, shuffle=True, seed=7, bucket=True, epochs=last, initial_epoch=first
        )
        return [b[1].numpy().tolist() for b in ds]

    all_epochs = batches(0, 3)
    steps = inputs.steps_per_epoch(len(encoded), 4)
    assert len(all_epochs) == 3 * steps
    assert batches(2, 3) == all_epochs[2 * steps :]  # what a run resumed at epoch 2 sees
    for e in range(3):  # every epoch is a permutation of all rows
        rows = sorted(i for b in all_epochs[e * steps : (e + 1) * steps] for i in b)
        assert rows == list(range(len(encoded)))
    assert all_epochs[:steps] != all_epochs[steps : 2 * steps]  # reshuffled per epoch
