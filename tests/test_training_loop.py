"""Every trainer runs through the one training loop, and no module trains a model on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import bertkit
from bertkit import presets
from bertkit.tasks import curves, distill, mlm, mlm_model
from bertkit.text import inputs
from bertkit.train import finetune, training_loop

PACKAGE = Path(bertkit.__file__).parent
TEXTS = ["the drug is good", "bad side effects", "it helped a lot", "awful pain"]
LABELS = [1, 0, 1, 0]


class _Reached(Exception):
    """Raised by the spy: the call reached the loop, no need to train."""


@pytest.fixture()
def loop_calls(monkeypatch):
    """Replaces `training_loop.run` with a spy recording (model, config, kwargs) of each call."""
    calls = []

    def spy(model, train_data, num_examples, config, loss, **kwargs):
        calls.append((model, config, kwargs))
        raise _Reached

    monkeypatch.setattr(training_loop, "run", spy)
    return calls


def _fit(model):
    finetune.fit(model, TEXTS, LABELS, config=bertkit.TrainConfig(epochs=1, cache_features=False))


def _fit_head(model):
    features = finetune.compute_features(model, inputs.encode_texts(model, TEXTS))
    curves.fit_head(model, features, LABELS)


def _distill(model):
    distill.distill(model, TEXTS, LABELS, teacher_logits=np.zeros((4, 2)), alpha=0.5)


@pytest.mark.parametrize(
    ("trainer", "strategy", "trained"),
    [
        (_fit, "full", "token_model"),
        (_fit_head, "freeze", "head"),
        (_distill, "full", "token_model"),
    ],
)
def test_classifier_trainers_train_through_the_loop(
    tiny_dir, loop_calls, trainer, strategy, trained
):
    model = bertkit.build_classifier(presets.TINY_PRESET, 2, strategy, precision="float32")
    with pytest.raises(_Reached):
        trainer(model)
    [(model_trained, _, kwargs)] = loop_calls
    assert model_trained is getattr(model, trained)
    assert kwargs["precision"] == "float32"  # loss scaling is decided in the loop


@pytest.mark.parametrize("train_encoder", [True, False])
def test_mlm_trains_through_the_loop(tiny_dir, loop_calls, train_encoder):
    model = mlm_model.MLMModel(presets.TINY_PRESET, seq_length=16, max_predictions=4)
    with pytest.raises(_Reached):
        mlm.train_mlm(model, TEXTS, epochs=2, train_encoder=train_encoder, batch_size=2)
    [(model_trained, config, _)] = loop_calls
    assert (model_trained is model) == train_encoder
    assert (config.epochs, config.batch_size) == (2, 2 if train_encoder else 32)
    if not train_encoder:  # the head alone, on cached vectors: only the head's weights train
        head_weights = {id(w) for w in model.head.trainable_weights}
        assert {id(w) for w in model_trained.trainable_weights} == head_weights


def _calls(path: Path, attribute: str, keyword: str | None = None) -> int:
    """Calls of `<anything>.attribute(...)` in `path`'s code (docstrings excluded)."""
    return sum(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attribute
        and (keyword is None or any(k.arg == keyword for k in node.keywords))
        for node in ast.walk(ast.parse(path.read_text()))
    )


def _modules_calling(attribute: str, keyword: str | None = None) -> list[str]:
    return sorted(
        path.relative_to(PACKAGE).with_suffix("").as_posix()
        for path in PACKAGE.rglob("*.py")
        if _calls(path, attribute, keyword)
    )


def test_no_module_but_the_loop_compiles_a_model_for_training():
    # memory.py times one training step to measure its peak memory; it trains nothing.
    assert _modules_calling("compile", "optimizer") == ["apps/memory", "train/training_loop"]
    # The micro-batch train step, which the loop installs.
    assert _modules_calling("GradientTape") == ["train/accumulation"]


def test_micro_batches_under_a_strategy_are_refused_before_any_work(tiny_dir):
    # Accumulation's tf.while_loop cannot run under tf.distribute: Python's fit used to
    # crash mid-training where the CLI refused up front. The loop refuses for every trainer.
    from bertkit.train import distribute

    with distribute.make_strategy("mirrored", devices=["/cpu:0"]).scope():
        model = bertkit.build_classifier(presets.TINY_PRESET, 2, "freeze", precision="float32")
    config = bertkit.TrainConfig(epochs=1, batch_size=4, micro_batch_size=2, cache_features=False)
    with pytest.raises(ValueError) as info:
        bertkit.fit(model, TEXTS, LABELS, config=config)
    assert str(info.value).startswith(
        "micro_batch_size (--micro-batch-size) does not work under a distribution strategy"
    )
    assert "Received: micro_batch_size=2, strategy=MirroredStrategy." in str(info.value)
    assert model.optimizer is None  # refused before the optimizer was made and compiled
    # Without a strategy the same settings train (the default strategy is no strategy).
    plain = bertkit.build_classifier(presets.TINY_PRESET, 2, "freeze", precision="float32")
    assert len(bertkit.fit(plain, TEXTS, LABELS, config=config).history.history["loss"]) == 1
