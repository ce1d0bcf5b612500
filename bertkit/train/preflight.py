"""Checks that run before training starts, and the guard that stops a diverging run.

Every trainer (`finetune.fit`, `curves.fit_head`, `distill.distill`,
`mlm.train_mlm`) checks its examples with `check_examples` / `check_label_ids`
before it tokenizes or builds anything, and trains with `StopOnNonFiniteLoss`
among its Keras callbacks: the first batch whose loss is NaN or infinite ends
training with `NonFiniteLossError`, before any later callback (checkpoints,
early stopping) can save the diverged weights.

Examples:
>>> check_label_ids([0, 1.0, True], ["a", "b", "c"], num_classes=2).tolist()
[0, 1, 1]
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
import tf_keras

from bertkit.model import classifier
from bertkit.text import text_pairs

_ENCODE_HINT = (
    "Encode class names with bertkit.LabelEncoder: encoder = LabelEncoder.fit(labels); "
    "label_ids = encoder.encode(labels)."
)


class NonFiniteLossError(FloatingPointError):
    """Training diverged: the loss became NaN or infinite (nothing was saved)."""


def _label_array(labels, name: str) -> np.ndarray:
    """`labels` as a 1-D numeric array, or ValueError for strings, one-hot rows or scalars."""
    if isinstance(labels, str | bytes):
        raise ValueError(
            f"{name} labels must be a list of class ids, not one string. Received: "
            f"{labels!r:.80}. {_ENCODE_HINT}"
        )
    try:
        array = np.asarray(labels)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"{name} labels must be one class id per example. Received: a ragged nested "
            f"sequence ({err}). Pass a flat list of integer class ids."
        ) from None
    if array.ndim == 2:
        fix = "labels.ravel()" if array.shape[1] == 1 else "labels.argmax(axis=1)"
        raise ValueError(
            f"{name} labels must be one class id per example, not one-hot or probability rows. "
            f"Received: an array of shape {array.shape}. Pass {fix}."
        )
    if array.ndim != 1:
        raise ValueError(
            f"{name} labels must be a list of class ids, one per example. Received: "
            f"{labels!r:.80} (shape {array.shape}). Pass e.g. [0, 1, 1]."
        )
    if array.dtype.kind == "O":
        not_numbers = [
            i
            for i, x in enumerate(array)
            if not isinstance(x, numbers.Real | np.bool_) or isinstance(x, str)
        ]
        if not not_numbers:
            return array.astype(np.float64)
        first = array[not_numbers[0]]
        raise ValueError(
            f"{name} labels must be integer class ids. Received: {first!r:.80} of type "
            f"{type(first).__name__} at position {not_numbers[0]}. {_ENCODE_HINT}"
        )
    if array.dtype.kind in "US":
        raise ValueError(
            f"{name} labels must be integer class ids, not strings. Received: "
            f"{array[0].item()!r:.80} at position 0. {_ENCODE_HINT}"
        )
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} labels must be integer class ids. Received: dtype {array.dtype}. "
            "Pass a list of ints, e.g. [0, 1, 1]."
        )
    return array


def check_label_ids(
    labels, examples, num_classes: int, name: str = "Training", unit: str = "texts"
) -> np.ndarray:
    """`labels` as int32 class ids, or ValueError saying what is wrong and how to fix it.

    Integers, booleans and whole-valued floats (`1.0`) are accepted; fractions
    (`0.5`), NaN, strings and one-hot rows are refused, as are a count that
    differs from `examples`, no examples at all, and ids outside `[0, num_classes)`.

    Args:
        labels: array-like. One class id per example.
        examples: sized. The texts (or feature rows) the labels belong to.
        num_classes: int. The model's number of classes.
        name: str. Which data this is, for the messages ("Training", "Validation").
        unit: str. What `examples` holds, for the messages ("texts", "feature rows").

    Examples:
    >>> check_label_ids([0, 1], ["a", "b"], 2).tolist()
    [0, 1]
    """
    array = _label_array(labels, name)
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
        if bad.size:
            first = array[bad[0]].item()
            what = "missing" if math.isnan(first) else "not a whole number"
            raise ValueError(
                f"{name} labels must be whole class ids. Received: {first!r} at position "
                f"{bad[0]} ({what}; {bad.size} such label{'s' if bad.size > 1 else ''}). "
                "Labels are class ids in [0, num_classes), not probabilities: fill in or drop "
                "missing labels and round the others, or encode class names with "
                "bertkit.LabelEncoder."
            )
    if len(array) != len(examples):
        raise ValueError(
            f"{name} {unit} and labels differ in length. Received: {len(examples)} {unit}, "
            f"{len(array)} labels. Pass one label per example."
        )
    if len(array) == 0:
        raise ValueError(
            f"No {name.lower()} examples. Received: 0 {unit} and 0 labels. Pass at least one "
            "labelled text (a few dozen per class to learn anything)."
        )
    ids = array.astype(np.int64)
    if ids.min() < 0 or ids.max() >= num_classes:
        raise ValueError(
            f"Label ids must be in [0, {num_classes}) (the model has {num_classes} classes). "
            f"Received: {name.lower()} labels with min={ids.min()}, max={ids.max()}. "
            f"{_ENCODE_HINT} Or build the model with num_classes={max(ids.max() + 1, 2)}."
        )
    return ids.astype(np.int32)


@dataclasses.dataclass(frozen=True)
class PlannedModel:
    """What `check_examples` needs of a classifier that is not built yet (e.g. in a grid search).

    Args:
        num_classes: int. Number of classes.
        text_pairs: bool. Whether the model will classify sentence pairs.
    """

    num_classes: int
    text_pairs: bool = False

    @property
    def output_shape(self) -> tuple:
        """`(None, num_classes)`, as the built model's."""
        return (None, self.num_classes)


def check_examples(model, texts, labels, name: str = "Training"):
    """Checks `(texts, labels)` for `model` before any tokenizing; returns them cleaned.

    Texts must be a list of strings (a `TextPairs` / list of `(a, b)` tuples for
    a pair model), labels as `check_label_ids` accepts them.

    Args:
        model: tf_keras.Model. From `build_classifier`, or a `PlannedModel` before it is built.
        texts: list of str, or pairs.
        labels: array-like of int. Class ids.
        name: str. Which data this is, for the messages ("Training", "Validation").

    Returns:
        `(texts, label_ids)`: texts as a list (or `TextPairs`), label ids as int32.
    """
    if not isinstance(model, PlannedModel):
        classifier.check_classifier(model)
    texts = text_pairs.check_model_texts(model, texts)
    return texts, check_label_ids(labels, texts, int(model.output_shape[-1]), name)


def split_validation(validation, sizes: tuple[int, ...] = (2,)) -> tuple:
    """`validation` as a tuple, or ValueError when it is not `(texts, labels)` (or longer `sizes`).

    Examples:
    >>> split_validation((["a"], [0]))
    (['a'], [0])
    """
    if isinstance(validation, str | bytes) or not hasattr(validation, "__len__"):
        size = None
    else:
        size = len(validation)
    if size not in sizes:
        shapes = " or ".join(
            {2: "(texts, labels)", 3: "(texts, labels, teacher_logits)"}[n] for n in sizes
        )
        raise ValueError(
            f"validation must be a tuple {shapes}. Received: {validation!r:.80}. "
            f"Pass validation={shapes.split(' or ')[0]}, or None to train without it."
        )
    return tuple(validation)


def check_finite_number(value, name: str, hint: str, positive: bool = True) -> None:
    """Raises ValueError unless `value` is a finite real number (> 0 when `positive`, else >= 0).

    Examples:
    >>> check_finite_number(1e-4, "learning_rate", "Try 1e-4.")
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{name} must be a finite number {bound}. Received: {name}={value!r}. {hint}"
        )


class StopOnNonFiniteLoss(tf_keras.callbacks.Callback):
    """Ends training at the first batch whose loss is NaN or infinite, with a clear error.

    Like Keras's `TerminateOnNaN`, but it raises `NonFiniteLossError` instead of
    stopping quietly, so nothing after it saves the diverged weights: put it
    first in the callback list (before checkpoints and early stopping). A
    non-finite loss in the epoch's logs (`val_loss`) stops training the same way.

    Args:
        learning_rate: float. The peak learning rate, named in the message.
        hint: str. What to do, for the message (defaults to lowering the learning rate).
    """

    def __init__(self, learning_rate: float, hint: str | None = None):
        super().__init__()
        self.learning_rate = learning_rate
        self.hint = hint or (
            "Lower the learning rate (BERT fine-tuning uses 3e-5 to 3e-4; --learning-rate on "
            "the command line), and check the data for extreme inputs."
        )
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(
                f"the training loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}"
            )

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if key.endswith("loss") and not math.isfinite(float(value)):
                self._stop(f"{key} became {float(value)} at the end of epoch {epoch + 1}")

    def _stop(self, what: str) -> None:
        self.model.stop_training = True
        raise NonFiniteLossError(
            f"Training diverged: {what}. Received: learning_rate={self.learning_rate!r}. "
            f"Training stopped and nothing was saved. {self.hint}"
        )
