"""Gradient accumulation: one optimizer step per batch, computed in micro-batches.

The memory that fine-tuning needs on top of the model grows with
batch x length: every layer keeps its activations for the backward pass.
Splitting each batch into micro-batches and adding up their gradients before
the single optimizer step keeps only one micro-batch's activations alive at a
time, yet takes the same step as the whole batch: each micro-batch's mean loss
is weighted by its share of the batch, so the summed gradient is the gradient
of the batch's mean loss. (Dropout draws different masks, as it would on any
other run.) Loss and metrics are averaged over the whole batch as usual.

This is the out-of-memory remedy that keeps the effective batch size, and so
the learning rate and schedule, unchanged. It costs some speed: smaller
matrix multiplications and one extra pass over the gradients per micro-batch.

A bertkit classifier takes it through `TrainConfig(micro_batch_size=...)`;
any compiled Keras model can install it (here one step of 8 examples, in 4
micro-batches of 2):

Examples:
>>> model = tf_keras.Sequential([tf_keras.Input(shape=(3,)), tf_keras.layers.Dense(2)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> install(model, micro_batch_size=2)
>>> history = model.fit(tf.ones([8, 3]), tf.zeros([8, 2]), batch_size=8, verbose=0)
>>> len(history.history["loss"])
1
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

TRAIN_STEP_ATTRIBUTE = "train_step"


def check_micro_batch_size(micro_batch_size, batch_size: int | None = None) -> None:
    """Raises unless `micro_batch_size` is None or an int in `[1, batch_size]`.

    Examples:
    >>> check_micro_batch_size(8, 32)
    >>> check_micro_batch_size(None, 32)
    """
    if micro_batch_size is None:
        return
    if (
        isinstance(micro_batch_size, bool)
        or not isinstance(micro_batch_size, int)
        or micro_batch_size < 1
        or (batch_size is not None and micro_batch_size > batch_size)
    ):
        raise ValueError(
            "micro_batch_size must be a positive integer no larger than batch_size. "
            f"Received: micro_batch_size={micro_batch_size!r}, batch_size={batch_size!r}. "
            "Use e.g. batch_size // 2 to halve the activation memory, or None to train "
            "on whole batches."
        )


def _take(structure, start, stop):
    return tf.nest.map_structure(lambda t: t[start:stop], structure)


def micro_batch_train_step(model: tf_keras.Model, micro_batch_size: int):
    """A Keras `train_step` for `model` that splits each batch into micro-batches.

    The returned function computes the loss and gradients of
    `micro_batch_size` examples at a time, in a `tf.while_loop` that runs one
    micro-batch after the other, sums the gradients (each micro-batch's mean
    loss weighted by its share of the batch) and applies them in one optimizer
    step. A final micro-batch may be smaller. The model must be compiled; a
    `LossScaleOptimizer` (float16) gets its loss scaling.

    Args:
        model: tf_keras.Model. Compiled, with a single-tensor target.
        micro_batch_size: int. Examples per forward/backward pass (>= 1).

    Returns:
        A function `data -> dict of metric results`, the signature of
        `tf_keras.Model.train_step`.

    Examples:
    >>> model = tf_keras.Sequential([tf_keras.Input(shape=(3,)), tf_keras.layers.Dense(2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> callable(micro_batch_train_step(model, 8))
    True
    """
    check_micro_batch_size(micro_batch_size)
    scaled = isinstance(model.optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

    def chunk_gradients(x, y, sample_weight, start, stop, batch):
        xs, ys = _take(x, start, stop), _take(y, start, stop)
        ws = None if sample_weight is None else _take(sample_weight, start, stop)
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = model(xs, training=True)
            loss = model.compute_loss(xs, ys, y_pred, ws)
            loss = loss * tf.cast(stop - start, loss.dtype) / tf.cast(batch, loss.dtype)
            if scaled:
                loss = model.optimizer.get_scaled_loss(loss)
        grads = tape.gradient(loss, variables)
        if scaled:
            grads = model.optimizer.get_unscaled_gradients(grads)
        model.compute_metrics(xs, ys, y_pred, ws)
        return [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables, strict=True)
        ]

    def train_step(data):
        x, y, sample_weight = tf_keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(tf.nest.flatten(y)[0])[0]
        size = tf.constant(micro_batch_size, batch.dtype)
        num_chunks = (batch + size - 1) // size
        # The first micro-batch runs outside the loop: its trace builds the loss
        # and metric variables, which cannot be created inside a while loop.
        first = chunk_gradients(x, y, sample_weight, 0, tf.minimum(size, batch), batch)

        def body(i, *summed):
            start = i * size
            grads = chunk_gradients(
                x, y, sample_weight, start, tf.minimum(start + size, batch), batch
            )
            return (i + 1, *[s + g for s, g in zip(summed, grads, strict=True)])

        _, *summed = tf.while_loop(
            lambda i, *_: i < num_chunks,
            body,
            (tf.constant(1, batch.dtype), *first),
            parallel_iterations=1,  # one micro-batch's activations alive at a time
        )
        model.optimizer.apply_gradients(zip(summed, model.trainable_variables, strict=True))
        return model.get_metrics_result()

    return train_step


def install(model: tf_keras.Model, micro_batch_size: int | None) -> None:
    """Makes `model.fit` accumulate gradients over micro-batches (None: whole batches).

    Call after `model.compile`, before `model.fit`; `uninstall` (or
    `install(model, None)`) restores Keras's own train step.

    Examples:
    >>> model = tf_keras.Sequential([tf_keras.Input(shape=(3,)), tf_keras.layers.Dense(2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> install(model, 8)
    >>> TRAIN_STEP_ATTRIBUTE in vars(model)
    True
    """
    uninstall(model)
    if micro_batch_size is not None:
        setattr(model, TRAIN_STEP_ATTRIBUTE, micro_batch_train_step(model, micro_batch_size))
        model.train_function = None  # traced anew with the accumulating step


def uninstall(model: tf_keras.Model) -> None:
    """Restores Keras's own `train_step` on `model` (no-op when none was installed).

    Examples:
    >>> model = tf_keras.Sequential([tf_keras.Input(shape=(3,)), tf_keras.layers.Dense(2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> install(model, 8)
    >>> uninstall(model)
    >>> TRAIN_STEP_ATTRIBUTE in vars(model)
    False
    """
    if TRAIN_STEP_ATTRIBUTE in vars(model):
        delattr(model, TRAIN_STEP_ATTRIBUTE)
        model.train_function = None
