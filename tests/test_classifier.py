"""Strategies freeze exactly what they say; cached features equal training through the encoder."""

import contextlib
import inspect
import io
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import bertkit
from bertkit import export, presets
from bertkit.model import classifier
from bertkit.presets.local_presets import tiny_vocabulary
from bertkit.tasks import curves, student
from bertkit.text import inputs
from bertkit.train import finetune

TEXTS = [
    f"the {w} is good" if i % 2 else f"i hate my {w}" for i, w in enumerate(tiny_vocabulary()[5:69])
]
LABELS = np.array([i % 2 for i in range(len(TEXTS))])
HIDDEN, LAYERS = 32, 2


def _snapshot(model):
    return {id(v): (v.name, v.numpy().copy()) for v in model.weights}


def _summary_counts(model):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary()
    text = buffer.getvalue()
    return (
        int(re.search(r"Trainable params: ([\d,]+)", text).group(1).replace(",", "")),
        int(re.search(r"Non-trainable params: ([\d,]+)", text).group(1).replace(",", "")),
    )


@pytest.mark.parametrize(
    "strategy, pooling, unfreeze_top",
    [
        ("freeze", "mean", 0),
        ("partial", "mean", 1),
        ("partial", "pooled", 1),
        ("full", "mean", 0),
        ("full", "pooled", 0),
    ],
)
def test_strategy_trains_exactly_its_variables(tiny_dir, strategy, pooling, unfreeze_top):
    model = classifier.build_classifier(
        presets.TINY_PRESET,
        2,
        strategy,
        unfreeze_top=max(unfreeze_top, 1),
        pooling=pooling,
        dropout=0.0,
    )
    assert (model.strategy, model.pooling, model.num_layers) == (strategy, pooling, LAYERS)
    assert model.unfreeze_top == {"freeze": 0, "partial": 1, "full": LAYERS}[strategy]
    trainable_ids = {id(v) for v in model.trainable_weights}
    names = {v.name for v in model.trainable_weights}
    # What each strategy must expose to the optimizer:
    assert any(n.startswith("logits/") for n in names)
    has_layer = {i: any(f"layer_{i}/" in n for n in names) for i in range(LAYERS)}
    assert (
        has_layer
        == {
            "freeze": {0: False, 1: False},
            "partial": {0: False, 1: True},
            "full": {0: True, 1: True},
        }[strategy]
    )
    assert any("pooler_transform" in n for n in names) == (
        pooling == "pooled" and strategy != "freeze"
    )
    assert any("word_embeddings" in n for n in names) == (strategy == "full")

    before = _snapshot(model)
    config = bertkit.TrainConfig(
        epochs=2,
        batch_size=16,
        learning_rate=1e-2,
        warmup_fraction=0.0,
        class_weight=None,
        early_stopping_patience=None,
    )
    finetune.fit(model, TEXTS, LABELS, config=config, verbose=0)
    for var in model.weights:
        name, old = before[id(var)]
        if id(var) in trainable_ids:
            assert not np.array_equal(old, var.numpy()), f"trainable {name} did not change"
        else:
            assert np.array_equal(old, var.numpy()), f"frozen {name} changed"

    counts = classifier.count_parameters(model)
    assert _summary_counts(model) == (counts["trainable"], counts["frozen"])
    head = HIDDEN * 2 + 2
    per_layer = 4 * (HIDDEN * HIDDEN + HIDDEN) + 4 * HIDDEN + 2 * HIDDEN * 64 + 64 + HIDDEN
    pooler = HIDDEN * HIDDEN + HIDDEN
    expected = {"freeze": head, "partial": head + per_layer, "full": counts["trainable"]}[strategy]
    if strategy == "partial" and pooling == "pooled":
        expected += pooler
    assert counts["trainable"] == expected
    if strategy == "full":
        assert counts["frozen"] == 1 + (pooler if pooling == "mean" else 0)  # do_lower_case flag


def test_cached_features_train_the_same_head_as_the_frozen_encoder(tiny_dir):
    """The freeze fast path (features computed once) == training through the frozen hub layer."""
    config = dict(
        epochs=3,
        batch_size=16,
        learning_rate=5e-3,
        class_weight="balanced",
        early_stopping_patience=None,
        shuffle=False,
        seed=3,
    )
    heads = []
    for cache in (True, False):
        tf.keras.utils.set_random_seed(0)
        model = classifier.build_classifier(presets.TINY_PRESET, 2, "freeze", dropout=0.0)
        result = finetune.fit(
            model,
            TEXTS,
            LABELS,
            config=bertkit.TrainConfig(cache_features=cache, **config),
            verbose=0,
        )
        heads.append(([w.numpy() for w in model.head.weights], result.train_seconds))
    for cached, through in zip(heads[0][0], heads[1][0], strict=True):
        np.testing.assert_allclose(cached, through, atol=1e-5)
    print(f"freeze: cached features {heads[0][1]:.2f}s vs through encoder {heads[1][1]:.2f}s")


def test_predictions_equal_with_dynamic_and_full_padding(tiny_dir):
    # float32: under bfloat16 the two graphs' kernels round differently (~2e-4 on these logits).
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "full", precision="float32")
    dynamic = finetune.predict_logits(model, TEXTS[:10])
    padded = model.predict(tf.constant(TEXTS[:10]), verbose=0)
    np.testing.assert_allclose(dynamic, padded, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=1), "num_classes must be >= 2.*Received: num_classes=1"),
        (dict(strategy="some"), "Unknown fine-tuning strategy.*'some'"),
        (
            dict(strategy="partial", unfreeze_top=3),
            "unfreeze_top is larger than the number of transformer "
            "layers.*unfreeze_top=3, the encoder has 2 layers",
        ),
        (dict(strategy="partial", unfreeze_top=0), "N must be >= 1"),
        (dict(pooling="max"), "Unknown pooling"),
    ],
)
def test_bad_arguments_are_clear_errors(tiny_dir, kwargs, message):
    args = dict(num_classes=2) | kwargs
    with pytest.raises(ValueError, match=message):
        classifier.build_classifier(presets.TINY_PRESET, **args)


def test_the_config_rebuilds_an_equal_model(tiny_dir):
    model = classifier.build_classifier(
        presets.TINY_PRESET, 3, "partial", 1, "pooled", dropout=0.2, seq_length=16
    )
    config = model.get_config()
    assert model.precision in ("float32", "mixed_bfloat16")  # "auto", resolved
    assert config == {
        "preset": presets.TINY_PRESET,
        "num_classes": 3,
        "strategy": "partial",
        "unfreeze_top": 1,
        "pooling": "pooled",
        "dropout": 0.2,
        "seq_length": 16,
        "preprocessor": None,
        "precision": model.precision,
        "text_pairs": False,
        "truncation": "head",
        "head_tokens": None,
        "chunks": 1,
        "chunk_overlap": 0,
        "name": "bert_classifier",
    }
    assert tf_keras.saving.get_registered_object("bertkit>TextClassifier") is type(model)
    rebuilt = classifier.TextClassifier.from_config(config)
    assert isinstance(rebuilt, classifier.TextClassifier)
    assert rebuilt.get_config() == config and rebuilt.text_to_inputs.seq_length == 16
    probe = tf.constant(["the job is good", "i hate my job"])
    assert not np.allclose(rebuilt(probe), model(probe))  # a new head, until the weights are copied
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(probe), model(probe), rtol=1e-6)


def test_build_classifier_takes_the_arguments_of_the_class():
    def arguments(function, skip=()):
        parameters = inspect.signature(function).parameters.values()
        return [(p.name, p.default) for p in parameters if p.name not in skip]

    init = arguments(classifier.TextClassifier.__init__, skip=("self", "name"))
    assert arguments(classifier.build_classifier) == init


@pytest.mark.parametrize(
    "call",
    [
        lambda model, tmp: export.save_model(model, tmp / "model", ["a", "b"]),
        lambda model, tmp: finetune.fit(model, ["a", "b"], [0, 1]),
        lambda model, tmp: curves.fit_head(model, np.zeros((2, 4), np.float32), [0, 1]),
        lambda model, tmp: inputs.encode_texts(model, ["a"]),
        lambda model, tmp: inputs.encode_for_model(model, ["a"]),
        lambda model, tmp: student.make_student(model, 1, tmp / "student"),
    ],
    ids=["save_model", "fit", "fit_head", "encode_texts", "encode_for_model", "make_student"],
)
def test_a_model_not_from_build_classifier_is_a_clear_error(call, tmp_path):
    model = tf_keras.Sequential([tf_keras.layers.Dense(2)], name="mine")
    with pytest.raises(
        TypeError,
        match=r"Expected a bertkit classifier \(bertkit.build_classifier\). "
        r"Received: (model|teacher)=Sequential 'mine'. Build it with",
    ):
        call(model, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_batch_size_must_be_positive(tiny_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 2, "freeze")
    with pytest.raises(ValueError, match="batch_size must be a positive integer.*batch_size=0"):
        finetune.fit(model, TEXTS, LABELS, config=bertkit.TrainConfig(batch_size=0), verbose=0)


def test_learning_rate_schedule_warms_up_then_decays_to_zero():
    _, schedule = finetune.create_optimizer(2e-4, num_train_steps=50, warmup_fraction=0.1)
    values = [float(schedule(s)) for s in range(51)]
    assert values[0] == 0.0 and values[50] == 0.0
    assert max(values) == pytest.approx(2e-4) and int(np.argmax(values)) == 5
    assert all(a <= b for a, b in zip(values[:5], values[1:6], strict=True))
    assert all(a >= b for a, b in zip(values[5:50], values[6:51], strict=True))


def test_weight_decay_skips_layer_norm_and_bias():
    optimizer, _ = finetune.create_optimizer(1e-4, 10)
    assert optimizer._do_use_weight_decay("transformer/layer_0/intermediate/kernel:0")
    assert not optimizer._do_use_weight_decay("transformer/layer_0/output_layer_norm/gamma:0")
    assert not optimizer._do_use_weight_decay("logits/bias:0")
