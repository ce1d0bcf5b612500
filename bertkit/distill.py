"""Knowledge distillation: a fine-tuned teacher classifier teaches a smaller student.

Two steps (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"):

1. `make_student` builds a smaller encoder from the teacher's lower `k` layers
   (not DistilBERT's initialisation, which took one layer in two from its
   12-layer teacher): a tf-models `BertEncoderV2` with `num_layers=k` whose
   embeddings, first `k` transformer blocks and pooler are copied, by
   variable name, from the teacher encoder. It is saved as a preset directory
   that `build_classifier` and `bertkit.load` accept (written atomically):

       STUDENT_DIR/
         encoder/        TF-Hub encoder SavedModel (same API as the teacher's, k layers)
         encoder_*/      the same for each mixed-precision variant the teacher's preset has
         preprocessor/   copy of the teacher's preprocessor SavedModel
         bertkit.json    teacher, k, and the student's Hugging Face-style config

2. `distill` trains a student classifier on the loss

       alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
           + (1 - alpha) * CE(hard labels, student)

   The teacher's logits are computed once before training (no teacher
   forward pass per step); the texts are tokenized once and batched with
   dynamic padding as in `finetune.fit`. The `T^2` factor keeps the soft
   term's gradients on the same scale whatever the temperature. `alpha=0`
   trains on hard labels only (the baseline to compare with).

Examples:
>>> import bertkit
>>> texts, labels = ["good", "bad", "fine", "awful"], [1, 0, 1, 0]
>>> student_dir = make_student("tiny_random_en_uncased", num_layers=1, out_dir="runs/student")
>>> student = bertkit.build_classifier(student_dir, 2)
>>> config = bertkit.TrainConfig(epochs=1, batch_size=4, early_stopping_patience=None)
>>> teacher_logits = [[-2.0, 2.0], [2.0, -2.0], [-1.0, 1.0], [3.0, -3.0]]  # or teacher=model
>>> result = distill(student, texts, labels, teacher_logits=teacher_logits, temperature=2.0,
...                  alpha=0.5, config=config)
>>> len(result.history.history["loss"])
1

With a fine-tuned teacher classifier, `make_student(teacher, ...)` copies its
fine-tuned layers and `distill(..., teacher=teacher)` computes its logits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit import classifier, converter, finetune, inputs, names, preflight, training_loop
from bertkit import hub as bk_hub
from bertkit._atomic import atomic_dir, check_output

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


# ---------------------------------------------------------------------------
# Student encoder from the teacher's lower layers


def _variable_key(name: str) -> str:
    """A variable name without the network's scope and the `:0` suffix.

    Examples:
    >>> _variable_key("bert_encoder_v2_1/transformer/layer_0/output/bias:0")
    'transformer/layer_0/output/bias'
    """
    name = name.split(":")[0]
    return name.split("/", 1)[1] if "/" in name else name


def _by_key(variables) -> dict:
    return {_variable_key(v.name): v for v in variables if "/" in v.name}


def encoder_config(variables, hidden_act: str = "gelu") -> dict:
    """The Hugging Face-style config of a TF-Hub BERT encoder, read from its variable shapes.

    Args:
        variables: list of tf.Variable. An encoder's variables (`tf.saved_model.load(dir).variables`).
        hidden_act: str. Activation name (not visible in the shapes; see `converter.ACTIVATIONS`).

    Examples:
    >>> import tensorflow as tf
    >>> enc = tf.saved_model.load(str(bk_hub.resolve("tiny_random_en_uncased")))
    >>> config = encoder_config(enc.variables)
    >>> config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]
    (2, 32, 2)
    """
    found = _by_key(variables)

    def shape(key):
        if key not in found:
            raise ValueError(
                f"The encoder has no variable {key!r}, so it is not a tf-models BERT encoder. "
                f"Received: variables {sorted(found)[:4]}... Use a TF-Hub BERT encoder "
                "(a bertkit preset or a directory written by bertkit.converter)."
            )
        return tuple(int(d) for d in found[key].shape)

    vocab_size, hidden = shape("word_embeddings/embeddings")
    _, heads, _ = shape("transformer/layer_0/self_attention/query/kernel")
    return {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": classifier.count_transformer_layers(list(variables)),
        "num_attention_heads": heads,
        "intermediate_size": shape("transformer/layer_0/intermediate/kernel")[1],
        "hidden_act": hidden_act,
        "max_position_embeddings": shape("position_embedding/embeddings")[0],
        "type_vocab_size": shape("type_embeddings/embeddings")[0],
    }


def copy_lower_layers(source_variables, student_network) -> list[str]:
    """Assigns every student variable the teacher variable of the same name; returns the names.

    The student has fewer transformer layers, so its `transformer/layer_{i}`
    (i < k) are the teacher's lower layers; embeddings and pooler are copied too.

    Raises:
        ValueError: when a student variable has no teacher variable of the same name and shape.
    """
    source = _by_key(source_variables)
    copied = []
    for var in student_network.weights:
        key = _variable_key(var.name)
        match = source.get(key)
        if match is None or tuple(match.shape) != tuple(var.shape):
            received = "missing" if match is None else f"shape {tuple(match.shape)}"
            raise ValueError(
                f"Cannot copy the student variable {key!r} {tuple(var.shape)} from the teacher. "
                f"Received: teacher variable {received}. The student must have the teacher's "
                "hidden size, heads and vocabulary; only num_layers may be smaller."
            )
        var.assign(match)
        copied.append(key)
    return copied


def _teacher_sources(teacher) -> tuple[object, Path, Path]:
    """(loaded encoder SavedModel, encoder dir, preprocessor dir) of a teacher model or handle.

    For a `build_classifier` model the loaded encoder is the one inside the model,
    so its variables hold the model's current (e.g. fine-tuned) weights.
    """
    if isinstance(teacher, tf_keras.Model):
        classifier.check_classifier(teacher, "teacher")
        encoder_layer = teacher.feature_model.get_layer("encoder")
        loaded = bk_hub._loaded(encoder_layer)
        encoder_dir = bk_hub.resolve(teacher.preset, names.ENCODER_DIR)
        return loaded, encoder_dir, Path(teacher.text_to_inputs.preprocessor_dir)
    encoder_dir = bk_hub.resolve(teacher, names.ENCODER_DIR)
    preprocessor_dir = bk_hub.resolve(teacher, names.PREPROCESSOR_DIR)
    return tf.saved_model.load(str(encoder_dir)), encoder_dir, preprocessor_dir


def _recorded_metadata(encoder_dir: Path) -> dict:
    """The `bertkit.json` of the preset holding `encoder_dir`, else `{}`.

    It records what the variable shapes cannot show: activation and dropout rates
    (`hf_config`) and the mixed-precision encoder variants saved beside `encoder/`.
    """
    metadata = Path(encoder_dir).parent / converter.METADATA_FILE
    return json.loads(metadata.read_text()) if metadata.is_file() else {}


def make_student(
    teacher,
    num_layers: int,
    out_dir: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """Builds a student encoder from the teacher's embeddings, lower `num_layers` blocks and pooler.

    Args:
        teacher: a `build_classifier` model (its current, e.g. fine-tuned, encoder
            weights are copied), or a preset name / preset directory / encoder handle
            (the pretrained weights are copied).
        num_layers: int. Transformer layers of the student, `1 <= num_layers <= L`.
        out_dir: path. The student preset directory (`encoder/`, `preprocessor/`,
            `bertkit.json`), written atomically.
        overwrite: bool. Replace an existing `out_dir`.

    Returns:
        `out_dir`, usable as `build_classifier(out_dir, ...)` and `bertkit.load(out_dir)`.

    Examples: the module's (it builds a student from the tiny preset).
    """
    check_output(out_dir, overwrite, converter.PRESET_LAYOUT)  # before loading the teacher
    loaded, encoder_dir, preprocessor_dir = _teacher_sources(teacher)
    variables = list(loaded.variables)
    recorded = _recorded_metadata(encoder_dir)
    hf_config = recorded.get("hf_config", {})
    config = {**hf_config, **encoder_config(variables, hf_config.get("hidden_act", "gelu"))}
    variants = tuple(recorded.get("variants", ()))
    teacher_layers = config["num_hidden_layers"]
    if not isinstance(num_layers, int) or not 1 <= num_layers <= teacher_layers:
        raise ValueError(
            f"num_layers must be an integer in [1, {teacher_layers}] (the teacher has "
            f"{teacher_layers} layers). Received: num_layers={num_layers!r}. A student with "
            f"about half the layers (e.g. {max(teacher_layers // 2, 1)}) is the usual choice."
        )
    vocab_file = Path(loaded.vocab_file.asset_path.numpy().decode("utf-8"))
    do_lower_case = bool(loaded.do_lower_case.numpy())
    student_config = {**config, "num_hidden_layers": num_layers}
    network = converter.build_encoder_network(student_config)
    copy_lower_layers(variables, network)
    with atomic_dir(out_dir, overwrite=overwrite, layout=converter.PRESET_LAYOUT) as tmp:
        # encoder/ plus the teacher's mixed-precision variants, so both compute alike.
        converter.save_encoders(network, student_config, tmp, vocab_file, do_lower_case, variants)
        shutil.copytree(preprocessor_dir, tmp / names.PREPROCESSOR_DIR)
        metadata = {
            "format": "tfhub-bert",
            "source": "distill.make_student",
            # A classifier (checked by _teacher_sources) or a preset name / directory.
            "teacher": str(teacher.preset if isinstance(teacher, tf_keras.Model) else teacher),
            "teacher_layers": teacher_layers,
            "student_layers": num_layers,
            "do_lower_case": do_lower_case,
            "variants": list(variants),
            "hf_config": student_config,
        }
        (tmp / converter.METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return Path(out_dir)


# ---------------------------------------------------------------------------
# Loss


def validate_distillation(temperature: float, alpha: float) -> None:
    """Raises a clear error for a temperature or alpha that cannot be used.

    Examples:
    >>> validate_distillation(2.0, 0.5)
    >>> validate_distillation(0.0, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a finite number > 0. Received: temperature=0.0. Use 1 (plain softmax) to 4; larger values soften the teacher's probabilities more.
    """
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"temperature must be a finite number > 0. Received: temperature={temperature!r}. "
            "Use 1 (plain softmax) to 4; larger values soften the teacher's probabilities more."
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(
            f"alpha must be a number in [0, 1]. Received: alpha={alpha!r}. It is the weight of "
            "the teacher's soft targets: 0 trains on hard labels only, 1 on the teacher only, "
            "0.5 mixes them equally."
        )


def distillation_loss(labels, student_logits, teacher_logits, temperature, alpha):
    """Per-example `alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(labels)`.

    Args:
        labels: int tensor `[batch]`. Hard class ids.
        student_logits: float tensor `[batch, C]`.
        teacher_logits: float tensor `[batch, C]`.
        temperature: float. Softmax temperature T (> 0) of the soft term.
        alpha: float. Weight of the soft term, in [0, 1].

    Returns:
        float32 tensor `[batch]`.

    Examples:
    >>> loss = distillation_loss([0], [[2.0, 0.0]], [[2.0, 0.0]], temperature=2.0, alpha=1.0)
    >>> round(float(loss[0]), 6)  # identical logits: KL is 0
    0.0
    """
    student_logits = tf.convert_to_tensor(student_logits, tf.float32)
    teacher_logits = tf.convert_to_tensor(teacher_logits, tf.float32)
    labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
    t = tf.cast(temperature, tf.float32)
    teacher_log_p = tf.nn.log_softmax(teacher_logits / t, axis=-1)
    student_log_p = tf.nn.log_softmax(student_logits / t, axis=-1)
    kl = tf.reduce_sum(tf.exp(teacher_log_p) * (teacher_log_p - student_log_p), axis=-1)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=student_logits)
    return alpha * t * t * kl + (1.0 - alpha) * ce


class DistillationLoss(tf_keras.losses.Loss):
    """Keras loss on packed targets: `y_true[:, 0]` the hard label, `y_true[:, 1:]` teacher logits.

    Packing both targets into `y_true` lets Keras' own `fit` (callbacks, early
    stopping, sample weights) train the student unchanged.
    """

    def __init__(self, temperature=DEFAULT_TEMPERATURE, alpha=DEFAULT_ALPHA, name="distillation"):
        validate_distillation(temperature, alpha)
        super().__init__(name=name)
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def call(self, y_true, y_pred):
        return distillation_loss(y_true[:, 0], y_pred, y_true[:, 1:], self.temperature, self.alpha)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha}


def hard_label_accuracy(y_true, y_pred):
    """Per-example accuracy against the hard label in packed targets (`y_true[:, 0]`)."""
    labels = tf.cast(y_true[:, 0], tf.int64)
    return tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), labels), tf.float32)


# ---------------------------------------------------------------------------
# Training


def pack_targets(labels, teacher_logits) -> np.ndarray:
    """`[n, 1 + C]` float32: the hard label, then the teacher's logits (what `DistillationLoss` reads).

    Examples:
    >>> pack_targets([1], [[0.5, -0.5]]).tolist()
    [[1.0, 0.5, -0.5]]
    """
    labels = np.asarray(labels, dtype=np.float32)[:, None]
    return np.concatenate([labels, np.asarray(teacher_logits, dtype=np.float32)], axis=1)


def _targets_dataset(
    encoded, targets, batch_size, shuffle, seed, bucket, sample_weights=None, length_multiple=1
):
    """`inputs.make_dataset` batches with packed targets looked up by example index."""
    table = tf.constant(targets, tf.float32)
    ds = inputs.make_dataset(
        encoded,
        np.arange(len(encoded), dtype=np.int32),  # row indices ride along as "labels"
        batch_size,
        shuffle=shuffle,
        seed=seed,
        bucket=bucket,
        sample_weights=sample_weights,
        length_multiple=length_multiple,
    )
    if sample_weights is None:
        return ds.map(lambda x, idx: (x, tf.gather(table, idx)))
    return ds.map(lambda x, idx, w: (x, tf.gather(table, idx), w))


def _teacher_logits_for(teacher, teacher_logits, texts, num_classes, what) -> np.ndarray:
    if teacher_logits is None:
        teacher_logits = finetune.predict_logits(teacher, texts)
    logits = np.asarray(teacher_logits, dtype=np.float32)
    if logits.shape != (len(texts), num_classes):
        raise ValueError(
            f"The teacher logits for the {what} texts have the wrong shape. Received: "
            f"{logits.shape}, expected {(len(texts), num_classes)}. The teacher must have the "
            "student's classes, in the same order."
        )
    return logits


@dataclasses.dataclass
class DistillResult(finetune.FitResult):
    """What `distill` did: `FitResult` plus the distillation settings and the teacher's cost."""

    temperature: float = DEFAULT_TEMPERATURE
    alpha: float = DEFAULT_ALPHA
    teacher_seconds: float = 0.0


def distill(
    student,
    train_texts,
    train_labels,
    teacher=None,
    teacher_logits=None,
    validation: tuple | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    alpha: float = DEFAULT_ALPHA,
    config: finetune.TrainConfig | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
) -> DistillResult:
    """Trains a student classifier on the teacher's softened logits plus the hard labels.

    Args:
        student: tf_keras.Model. From `build_classifier` (e.g. on a `make_student` directory).
        train_texts: list of str.
        train_labels: array-like of int. Class ids in `[0, num_classes)`.
        teacher: optional tf_keras.Model. A fine-tuned `build_classifier` model with the
            student's classes; its logits are computed once, before training.
        teacher_logits: optional array `[n, num_classes]`. Precomputed teacher logits
            (instead of `teacher`).
        validation: optional `(texts, label_ids)` or `(texts, label_ids, teacher_logits)`.
            Its `val_loss` is the same distillation loss (drives early stopping).
        temperature: float. Softmax temperature T of the soft term (> 0).
        alpha: float. Weight of the soft term in [0, 1]; 0 = hard labels only (no teacher needed).
        config: TrainConfig. Epochs, learning rate, batch size, class weights, seed,
            `micro_batch_size`... as in `finetune.fit`, through the same training loop
            (`bertkit.training_loop.run`; a mixed_float16 student gets loss scaling). The
            freeze fast path is not used: the student trains end to end on tokens. Balanced
            class weights scale each example's whole loss, as Keras does.
        verbose: int. Keras verbosity.
        callbacks: optional list. Extra Keras callbacks.

    Returns:
        DistillResult with `history` (loss, accuracy, val_loss, val_accuracy) and timings.
    """
    validate_distillation(temperature, alpha)
    if teacher is not None and teacher_logits is not None:
        raise ValueError(
            "Exactly one of `teacher` and `teacher_logits` may be set, but got both. Pass the "
            "teacher model, or the logits it predicted for train_texts."
        )
    if alpha > 0 and teacher is None and teacher_logits is None:
        raise ValueError(
            f"Distillation needs the teacher. Received: alpha={alpha}, teacher=None, "
            "teacher_logits=None. Pass `teacher` or `teacher_logits`, or alpha=0 to train on "
            "hard labels only."
        )
    config = config or finetune.TrainConfig()
    config.validate()
    num_classes = int(student.output_shape[-1])
    train_texts, labels = preflight.check_examples(student, train_texts, train_labels)
    if validation is not None:
        val_texts, val_labels, *val_logits = preflight.split_validation(validation, (2, 3))
        val_texts, val_labels = preflight.check_examples(
            student, val_texts, val_labels, name="Validation"
        )
    has_teacher = teacher is not None or teacher_logits is not None

    start = time.perf_counter()
    if has_teacher:
        train_teacher = _teacher_logits_for(
            teacher, teacher_logits, train_texts, num_classes, "training"
        )
    else:
        train_teacher = np.zeros((len(labels), num_classes), np.float32)  # unused when alpha == 0
    val_pack = None
    if validation is not None:
        if val_logits or teacher is not None:
            val_teacher = _teacher_logits_for(
                teacher, val_logits[0] if val_logits else None, val_texts, num_classes, "validation"
            )
        elif alpha > 0:
            raise ValueError(
                "validation needs the teacher's logits when teacher_logits are given. Received: "
                "validation=(texts, labels). Pass validation=(texts, labels, teacher_logits)."
            )
        else:
            val_teacher = np.zeros((len(val_labels), num_classes), np.float32)
        val_pack = (val_texts, pack_targets(val_labels, val_teacher))
    teacher_seconds = time.perf_counter() - start if has_teacher else 0.0

    encoded = inputs.encode_texts(student, train_texts)
    sample_weights = None
    if config.class_weight:
        weights = finetune.balanced_class_weights(labels, num_classes)
        sample_weights = np.array([weights[int(c)] for c in labels], np.float32)
    multiple = inputs.XLA_LENGTH_MULTIPLE if config.jit_compile else 1
    targets = pack_targets(labels, train_teacher)

    def train_data(initial_epoch: int) -> tf.data.Dataset:
        return _targets_dataset(
            encoded,
            targets,
            config.batch_size,
            shuffle=config.shuffle,
            seed=config.seed,
            bucket=config.bucket,
            sample_weights=sample_weights,
            length_multiple=multiple,
        )

    val_data = None
    if val_pack is not None:
        val_encoded = inputs.encode_texts(student, val_pack[0])
        val_data = _targets_dataset(
            val_encoded, val_pack[1], 64, False, 0, False, length_multiple=multiple
        )
    result = training_loop.run(
        student.token_model,
        train_data,
        len(labels),
        config,
        DistillationLoss(temperature, alpha),
        metrics=[tf_keras.metrics.MeanMetricWrapper(hard_label_accuracy, name="accuracy")],
        validation_data=val_data,
        precision=student.precision,
        callbacks=callbacks,
        verbose=verbose,
    )
    return DistillResult(
        **{
            **vars(result),
            "real_tokens_per_epoch": encoded.real_tokens(),
            "num_truncated": encoded.num_truncated,
        },
        temperature=float(temperature),
        alpha=float(alpha),
        teacher_seconds=teacher_seconds,
    )


def prediction_throughput(model, texts, batch_size: int = 64, repeats: int = 3) -> float:
    """Examples per second of `finetune.predict_logits` on `texts` (best of `repeats`, after a warm-up).

    Tokenization is included (it is part of predicting on raw text).

    Examples:
    >>> model = classifier.build_classifier("tiny_random_en_uncased", 2)
    >>> prediction_throughput(model, ["good", "bad"], repeats=1) > 0
    True
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts must not be empty. Received: 0 texts. Pass the texts to time.")
    finetune.predict_logits(model, texts[:batch_size], batch_size)  # trace + warm up
    best = float("inf")
    for _ in range(max(int(repeats), 1)):
        start = time.perf_counter()
        finetune.predict_logits(model, texts, batch_size)
        best = min(best, time.perf_counter() - start)
    return len(texts) / max(best, 1e-9)
