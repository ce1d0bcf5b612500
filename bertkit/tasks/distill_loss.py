"""The distillation loss: softened teacher logits (KL) plus hard labels (cross-entropy).

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
        + (1 - alpha) * CE(hard labels, student)

The `T^2` factor keeps the soft term's gradients on the same scale whatever
the temperature; `alpha=0` trains on hard labels only. `DistillationLoss` reads
targets packed as `[hard label, teacher logits...]` (`bertkit.tasks.distill.pack_targets`).

Examples:
>>> float(distillation_loss([1], [[0.0, 2.0]], [[0.0, 2.0]], temperature=2.0, alpha=0.0)[0])
0.12692804634571075
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


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
