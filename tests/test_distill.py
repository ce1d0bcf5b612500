"""Distillation: the student is the teacher's lower layers, the loss is Hinton's, training works."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from test_accumulation import LABELS as TOPIC_LABELS
from test_accumulation import TEXTS as TOPIC_TEXTS

import bertkit
from bertkit import names, presets
from bertkit.model import classifier
from bertkit.presets.local_presets import tiny_vocabulary
from bertkit.tasks import distill, distill_loss
from bertkit.tasks import student as bk_student
from bertkit.train import accumulation, finetune

TEXTS = [
    f"the {w} is good" if i % 2 else f"i hate my {w}" for i, w in enumerate(tiny_vocabulary()[5:53])
]
LABELS = np.array([i % 2 for i in range(len(TEXTS))])
TRAIN_CONFIG = dict(
    epochs=3,
    batch_size=16,
    learning_rate=1e-2,
    warmup_fraction=0.0,
    early_stopping_patience=None,
    seed=0,
)


def _by_key(variables):
    return {bk_student.variable_key(v.name): v.numpy() for v in variables if "/" in v.name}


def _no_dropout_outputs(encoder_dir, texts):
    preprocessor, _ = bertkit.load(presets.TINY_PRESET)
    encoder = tf.saved_model.load(str(encoder_dir))
    return encoder(preprocessor(tf.constant(texts)), training=False)


@pytest.fixture(scope="module")
def student_dir(tiny_dir, tmp_path_factory):
    return bk_student.make_student(presets.TINY_PRESET, 1, tmp_path_factory.mktemp("d") / "student")


def test_student_is_the_teachers_lower_layers(tiny_dir, student_dir):
    teacher = _by_key(tf.saved_model.load(str(tiny_dir / names.ENCODER_DIR)).variables)
    student_vars = tf.saved_model.load(str(student_dir / names.ENCODER_DIR)).variables
    student = _by_key(student_vars)

    assert classifier.count_transformer_layers(student_vars) == 1
    assert not any("layer_1/" in key for key in student)
    # Everything but the dropped top layer is copied, value for value.
    assert set(student) == {key for key in teacher if "layer_1/" not in key}
    for key, value in student.items():
        np.testing.assert_array_equal(value, teacher[key], err_msg=key)

    # So the student's only layer computes what the teacher's first layer computes.
    texts = ["the drug is good", "i hate my job"]
    out_teacher = _no_dropout_outputs(tiny_dir / names.ENCODER_DIR, texts)
    out_student = _no_dropout_outputs(student_dir / names.ENCODER_DIR, texts)
    assert len(out_student[names.ENCODER_OUTPUTS]) == 1
    np.testing.assert_allclose(
        out_student[names.SEQUENCE_OUTPUT].numpy(),
        out_teacher[names.ENCODER_OUTPUTS][0].numpy(),
        atol=1e-5,
    )


def test_student_dir_loads_like_a_preset(tiny_dir, student_dir):
    preprocessor, encoder = bertkit.load(student_dir)  # also checks vocab and casing match
    outputs = encoder(preprocessor(tf.constant(["hello world"])))
    assert outputs[names.POOLED_OUTPUT].shape == (1, 32)
    model = bertkit.build_classifier(student_dir, num_classes=3, strategy="full")
    assert model.num_layers == 1
    assert model(tf.constant(["a", "b"])).shape == (2, 3)
    metadata = (student_dir / "bertkit.json").read_text()
    assert '"student_layers": 1' in metadata and '"teacher_layers": 2' in metadata
    # The teacher's mixed-precision encoder variants are built for the student too.
    variants = sorted(p.name for p in tiny_dir.iterdir() if p.name.startswith("encoder_"))
    assert (
        sorted(p.name for p in student_dir.iterdir() if p.name.startswith("encoder_")) == variants
    )
    for variant in variants:
        loaded = tf.saved_model.load(str(student_dir / variant))
        assert classifier.count_transformer_layers(loaded.variables) == 1


def test_student_from_a_model_copies_its_current_weights(tiny_dir, tmp_path):
    teacher = bertkit.build_classifier(presets.TINY_PRESET, 2, "full")
    encoder = teacher.feature_model.get_layer("encoder")
    query = next(w for w in encoder.weights if "layer_0/self_attention/query/kernel" in w.name)
    query.assign(query + 1.0)  # stands in for fine-tuning
    out = bk_student.make_student(teacher, 1, tmp_path / "student")
    student = _by_key(tf.saved_model.load(str(out / names.ENCODER_DIR)).variables)
    np.testing.assert_array_equal(
        student["transformer/layer_0/self_attention/query/kernel"], query.numpy()
    )


@pytest.mark.parametrize("num_layers", [0, 3, 1.0])
def test_make_student_rejects_impossible_layer_counts(tiny_dir, tmp_path, num_layers):
    with pytest.raises(ValueError, match=rf"Received: num_layers={num_layers!r}\. A student"):
        bk_student.make_student(presets.TINY_PRESET, num_layers, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_make_student_refuses_a_user_directory_before_loading_the_teacher(tmp_path, monkeypatch):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    monkeypatch.setattr(bk_student, "_teacher_sources", lambda teacher: pytest.fail("loaded"))
    with pytest.raises(FileExistsError, match="did not write.*holding notes.txt"):
        bk_student.make_student(presets.TINY_PRESET, 1, tmp_path / "s", overwrite=True)


def _numpy_loss(labels, student, teacher, t, alpha):
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    p_teacher = np.exp(log_softmax(teacher / t))
    kl = (p_teacher * (np.log(p_teacher) - log_softmax(student / t))).sum(axis=1)
    ce = -log_softmax(student)[np.arange(len(labels)), labels]
    return alpha * t * t * kl + (1 - alpha) * ce


@pytest.mark.parametrize("t, alpha", [(1.0, 0.5), (2.0, 0.9), (4.0, 1.0), (3.0, 0.0)])
def test_loss_matches_numpy(t, alpha):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=8)
    student, teacher = rng.normal(size=(8, 3)) * 3, rng.normal(size=(8, 3)) * 3
    expected = _numpy_loss(labels, student, teacher, t, alpha)
    got = distill_loss.distillation_loss(labels, student, teacher, t, alpha).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    # The Keras loss reads packed targets and averages (sample-weighted) over the batch.
    weights = rng.uniform(0.5, 2.0, size=8)
    keras_loss = distill_loss.DistillationLoss(t, alpha)(
        distill.pack_targets(labels, teacher), student.astype(np.float32), sample_weight=weights
    )
    assert float(keras_loss) == pytest.approx((expected * weights).mean(), rel=1e-5)


def test_loss_is_zero_when_student_copies_teacher_and_alpha_is_one():
    logits = np.array([[3.0, -1.0, 0.5]])
    assert float(distill_loss.distillation_loss([1], logits, logits, 2.0, 1.0)[0]) == pytest.approx(
        0.0, abs=1e-6
    )


@pytest.mark.parametrize(
    "temperature, alpha, message",
    [
        (0.0, 0.5, "temperature must be a finite number > 0. Received: temperature=0.0. Use"),
        (-2, 0.5, "Received: temperature=-2. Use 1"),
        (math.inf, 0.5, "Received: temperature=inf. Use 1"),
        ("2", 0.5, "Received: temperature='2'. Use 1"),
        (2.0, -0.1, "alpha must be a number in [0, 1]. Received: alpha=-0.1. It is the weight"),
        (2.0, 1.5, "Received: alpha=1.5. It is"),
        (2.0, math.nan, "Received: alpha=nan. It is"),
    ],
)
def test_temperature_and_alpha_are_validated(temperature, alpha, message):
    for make in (
        lambda: distill_loss.validate_distillation(temperature, alpha),
        lambda: distill_loss.DistillationLoss(temperature, alpha),
        lambda: distill.distill(None, [], [], temperature=temperature, alpha=alpha),
    ):
        with pytest.raises(ValueError) as info:
            make()
        assert message in str(info.value)


def test_distill_needs_exactly_one_teacher_source(student_dir):
    student = bertkit.build_classifier(student_dir, 2)
    with pytest.raises(ValueError, match="Pass `teacher` or `teacher_logits`, or alpha=0"):
        distill.distill(student, TEXTS, LABELS, alpha=0.5)
    with pytest.raises(ValueError, match="Exactly one of `teacher` and `teacher_logits`"):
        distill.distill(student, TEXTS, LABELS, teacher=student, teacher_logits=np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"Received: \(3, 2\), expected \(48, 2\)"):
        distill.distill(student, TEXTS, LABELS, teacher_logits=np.zeros((3, 2)))


def test_distill_trains_the_student_and_lowers_the_loss(student_dir):
    teacher = bertkit.build_classifier(presets.TINY_PRESET, 2, "full")
    student = bertkit.build_classifier(student_dir, 2, "full")
    before = [w.numpy().copy() for w in student.token_model.trainable_weights]
    result = distill.distill(
        student,
        TEXTS,
        LABELS,
        teacher=teacher,
        validation=(TEXTS[:8], LABELS[:8]),
        temperature=2.0,
        alpha=0.5,
        config=bertkit.TrainConfig(**TRAIN_CONFIG),
    )
    history = result.history.history
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["loss"][-1] < history["loss"][0]
    assert (result.temperature, result.alpha) == (2.0, 0.5)
    assert result.num_train_steps == 3 * 3
    after = student.token_model.trainable_weights
    assert all(not np.array_equal(b, a.numpy()) for b, a in zip(before, after, strict=True))
    assert distill.prediction_throughput(student, TEXTS[:4], repeats=1) > 0


def test_distill_stops_on_nan_loss_and_checks_labels_first(student_dir):
    from bertkit.train import preflight

    student = bertkit.build_classifier(student_dir, 2, "full")
    with pytest.raises(ValueError, match="Validation labels must be whole class ids"):
        distill.distill(student, TEXTS, LABELS, alpha=0.0, validation=(TEXTS[:2], [0.5, 1.0]))
    nan_logits = np.full((len(TEXTS), 2), np.nan, np.float32)  # a broken teacher
    with pytest.raises(preflight.NonFiniteLossError, match="loss became nan at epoch 1, batch 1"):
        distill.distill(
            student,
            TEXTS,
            LABELS,
            teacher_logits=nan_logits,
            alpha=0.5,
            config=bertkit.TrainConfig(epochs=1, batch_size=16),
        )


# ------------------------------------------------ the training loop's settings reach distillation


def _distilled(preset_dir, micro_batch_size=None, precision="float32", **config):
    """A 3-class student distilled for one epoch from fixed teacher logits (20 texts)."""
    finetune.set_seed(0)
    student = bertkit.build_classifier(
        str(preset_dir), 3, "full", dropout=0.0, seq_length=16, precision=precision
    )
    teacher_logits = 2 * np.random.default_rng(0).normal(size=(len(TOPIC_TEXTS), 3))
    config = bertkit.TrainConfig(
        **{
            "epochs": 1,
            "batch_size": 8,  # 20 examples: batches of 8, 8 and 4
            "learning_rate": 1e-3,
            "early_stopping_patience": None,
            "micro_batch_size": micro_batch_size,
            **config,
        }
    )
    result = distill.distill(
        student, TOPIC_TEXTS, TOPIC_LABELS, teacher_logits=teacher_logits, config=config
    )
    return student, result


def test_distill_with_micro_batches_takes_the_whole_batch_steps(no_dropout_dir, monkeypatch):
    whole, whole_result = _distilled(no_dropout_dir)
    sizes = []
    original = accumulation.micro_batch_train_step

    def spy(model, size):
        sizes.append(size)
        return original(model, size)

    monkeypatch.setattr(accumulation, "micro_batch_train_step", spy)
    micro, micro_result = _distilled(no_dropout_dir, micro_batch_size=3)
    assert sizes == [3]  # the batches really were split (micro-batches of 3, 3, 2 / 3, 1)
    # Balanced class weights (sample weights in the batches) and soft targets included.
    for got, want in zip(
        micro.token_model.get_weights(), whole.token_model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(
        micro_result.history.history["loss"], whole_result.history.history["loss"], rtol=1e-4
    )


def test_distill_under_mixed_float16_scales_the_loss(no_dropout_dir):
    student, result = _distilled(
        no_dropout_dir, micro_batch_size=4, precision="mixed_float16", epochs=4, learning_rate=1e-2
    )
    assert student.precision == "mixed_float16"
    optimizer = student.token_model.optimizer
    assert isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
    assert float(optimizer.loss_scale) > 1
    losses = result.history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert all(np.isfinite(w).all() for w in student.token_model.get_weights())
