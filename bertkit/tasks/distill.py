"""Knowledge distillation: a fine-tuned teacher classifier teaches a smaller student.

Two steps (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"):

1. `make_student` (`bertkit.tasks.student`) builds a smaller encoder from the teacher's
   lower `k` layers, copied by variable name, and saves it as a preset directory
   that `build_classifier` and `bertkit.load` accept.

2. `distill` trains a student classifier on the loss (`bertkit.tasks.distill_loss`)

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
>>> from bertkit.tasks.student import make_student
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
import time

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit.tasks.distill_loss import (
    DEFAULT_ALPHA,
    DEFAULT_TEMPERATURE,
    DistillationLoss,
    hard_label_accuracy,
    validate_distillation,
)
from bertkit.text import inputs
from bertkit.train import finetune, preflight, training_loop
from bertkit.train.config import TrainConfig


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
    config: TrainConfig | None = None,
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
            (`bertkit.train.training_loop.run`; a mixed_float16 student gets loss scaling). The
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
    config = config or TrainConfig()
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
    >>> model = bertkit.build_classifier("tiny_random_en_uncased", 2)
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
