"""The one training loop: every bertkit trainer compiles and fits its model through `run`.

`finetune.fit` (texts), `curves.fit_head` (cached encoder features),
`distill.distill` (teacher logits) and `mlm.train_mlm` (masked tokens, or the
MLM head on cached vectors) only prepare their data; `run` does the rest, in
one order, so a setting works the same in all of them:

1. validate the `bertkit.TrainConfig`, seed Python, NumPy and TensorFlow;
2. with a checkpoint directory, read the progress of an interrupted run
   (`bertkit.train.checkpoints`) and continue after its last completed epoch;
3. AdamW with linear warmup and decay (`create_optimizer`), wrapped in a
   `LossScaleOptimizer` under mixed_float16, created and compiled in the
   model's `tf.distribute` strategy scope (`bertkit.train.distribute`);
4. with `config.micro_batch_size`, gradient accumulation over micro-batches
   (`bertkit.train.accumulation`; refused up front under a distribution strategy);
5. callbacks, in this order: the NaN guard (first, so nothing after it sees
   diverged weights), the epoch timer, the caller's, early stopping on
   `val_loss` (best weights restored), per-epoch checkpoints;
6. Keras `fit`, which splits each batch across the strategy's replicas.

Examples:
>>> from bertkit.train import finetune
>>> from bertkit.train.config import TrainConfig
>>> model = tf_keras.Sequential([tf_keras.Input(shape=(3,)), tf_keras.layers.Dense(2)])
>>> def batches(initial_epoch):
...     return tf.data.Dataset.from_tensor_slices((tf.ones([8, 3]), [0, 1] * 4)).batch(4)
>>> config = TrainConfig(epochs=2, batch_size=4, micro_batch_size=2)
>>> result = run(model, batches, 8, config, finetune.loss(), metrics=["accuracy"])
>>> len(result.history.history["loss"]), result.num_train_steps
(2, 4)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import tensorflow as tf
import tf_keras

from bertkit.model import precision as bk_precision
from bertkit.text import inputs
from bertkit.train import accumulation, checkpoints, distribute, preflight

NO_DECAY = ["LayerNorm", "layer_norm", "bias"]


class LinearWarmupDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate rising linearly from 0 to `peak` over the warmup steps, then linearly to 0.

    Unlike BERT's original schedule (decay computed from step 0, so the peak is
    never reached), the decay starts where the warmup ends.

    Examples:
    >>> schedule = LinearWarmupDecay(1e-4, total_steps=10, warmup_fraction=0.2)
    >>> [round(float(schedule(s)), 7) for s in (0, 1, 2, 6, 10)]
    [0.0, 5e-05, 0.0001, 5e-05, 0.0]
    """

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float = 0.1):
        super().__init__()
        self.peak = float(peak)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = int(round(warmup_fraction * self.total_steps))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = tf.cast(self.warmup_steps, tf.float32)
        total = tf.cast(self.total_steps, tf.float32)
        rising = self.peak * step / tf.maximum(warmup, 1.0)
        falling = self.peak * tf.maximum(total - step, 0.0) / tf.maximum(total - warmup, 1.0)
        return tf.where(step < warmup, rising, falling)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_steps / self.total_steps,
        }


def create_optimizer(
    learning_rate: float,
    num_train_steps: int,
    warmup_fraction: float = 0.1,
    weight_decay: float = 0.01,
):
    """Returns `(optimizer, schedule)`: AdamW + linear warmup then linear decay to zero.

    The optimizer is tf-models' BERT recipe (`official.nlp.optimization`):
    AdamW without weight decay on LayerNorm and bias.

    Examples:
    >>> _, schedule = create_optimizer(1e-4, num_train_steps=100, warmup_fraction=0.1)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 55, 100)]
    [0.0, 5e-05, 0.0001, 5e-05, 0.0]
    """
    from official.nlp import optimization

    schedule = LinearWarmupDecay(learning_rate, num_train_steps, warmup_fraction)
    optimizer = optimization.AdamWeightDecay(
        learning_rate=schedule,
        weight_decay_rate=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        exclude_from_weight_decay=NO_DECAY,
    )
    return optimizer, schedule


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seeds Python, NumPy and TensorFlow; optionally makes TensorFlow ops deterministic.

    What is reproducible: on CPU, with the same seed, data and bertkit-built
    encoder (its dropout ops carry a fixed graph seed), training gives the same
    metrics run after run; with `deterministic=True` they are bit-identical.
    Encoders downloaded from TF Hub may contain unseeded dropout ops: they vary
    from process to process, and op determinism rejects them. On GPUs, some
    kernels (e.g. atomics in reductions, cuDNN autotuning) are nondeterministic
    unless op determinism is on, which costs speed.

    Examples:
    >>> set_seed(0)
    """
    tf_keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


class EpochTimer(tf_keras.callbacks.Callback):
    """Keras callback recording the wall time of each epoch in `epoch_seconds`."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []  # stays empty when no epoch runs (e.g. a finished run resumed)

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)


@dataclasses.dataclass
class FitResult:
    """What a training run did: Keras History, the LR schedule, timings and token counts.

    `real_tokens_per_epoch` and `num_truncated` are set by trainers that see texts.
    """

    history: tf_keras.callbacks.History
    schedule: object
    train_seconds: float
    epoch_seconds: list
    num_train_steps: int
    real_tokens_per_epoch: int | None = None
    num_truncated: int | None = None
    initial_epoch: int = 0


def run(
    model: tf_keras.Model,
    train_data: Callable[[int], tf.data.Dataset],
    num_examples: int,
    config,
    loss,
    metrics: list | None = None,
    weighted_metrics: list | None = None,
    validation_data: tf.data.Dataset | None = None,
    class_weight: dict | None = None,
    epochs_in_data: bool = False,
    precision: str = bk_precision.FLOAT32,
    callbacks: list | None = None,
    verbose: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    run_id: str | None = None,
    resume: bool = True,
) -> FitResult:
    """Trains `model` (the Keras model whose trainable weights train) as the module docs say.

    Args:
        model: tf_keras.Model. Compiled and fitted here.
        train_data: callable. `train_data(initial_epoch)` returns the training batches
            `(x, y)` or `(x, y, sample_weight)`; it is called after seeding, so its
            shuffles are seeded, and after a resume with the first epoch to train.
        num_examples: int. Training examples per epoch (with `config.batch_size`, the
            steps of the learning-rate schedule).
        config: bertkit.TrainConfig. Epochs, batch size, optimizer, early stopping,
            seed, `micro_batch_size`, `jit_compile`.
        loss: a Keras loss.
        metrics, weighted_metrics: optional lists. As Keras `compile`.
        validation_data: optional tf.data.Dataset. Drives early stopping.
        class_weight: optional dict. As Keras `fit`.
        epochs_in_data: bool. Whether `train_data` holds all remaining epochs one after
            the other (Keras then counts `steps_per_epoch`) rather than one epoch.
        precision: str. The model's precision (`bertkit.model.precision`); `"mixed_float16"`
            scales the loss (`LossScaleOptimizer`).
        callbacks: optional list. Extra Keras callbacks.
        verbose: int. Keras verbosity.
        checkpoint_dir: optional path. Model, optimizer and progress are saved there
            after every epoch (`bertkit.train.checkpoints`).
        run_id: str. With `checkpoint_dir`: the run's `checkpoints.fingerprint`.
        resume: bool. Continue an interrupted run found in `checkpoint_dir`; False
            discards its checkpoints.

    Returns:
        FitResult; epochs run by an interrupted earlier process come first in its history.

    Raises:
        ValueError: `config.micro_batch_size` is set and the model has a distribution
            strategy (`bertkit.train.distribute.check_micro_batches`).
        bertkit.train.preflight.NonFiniteLossError: the loss became NaN or infinite.
    """
    config.validate()
    # Before any work: accumulation's loop cannot run under tf.distribute (it would fail mid-fit).
    distribute.check_micro_batches(config.micro_batch_size, model.distribute_strategy)
    set_seed(config.seed, config.deterministic)
    state = None
    if checkpoint_dir is not None:
        if not resume:
            checkpoints.clear(checkpoint_dir)
        state = checkpoints.load_state(checkpoint_dir, run_id)
        if state is not None and verbose:
            checkpoints.announce_resume(state, config.epochs, checkpoint_dir)
    initial_epoch = state.epoch if state else 0
    steps_each = inputs.steps_per_epoch(num_examples, config.batch_size)
    with model.distribute_strategy.scope():
        optimizer, schedule = create_optimizer(
            config.learning_rate,
            steps_each * config.epochs,
            config.warmup_fraction,
            config.weight_decay,
        )
        if precision == bk_precision.MIXED_FLOAT16:
            optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            jit_compile=config.jit_compile,
        )

    timer = EpochTimer()
    # First: a diverged batch raises before checkpoints or early stopping see its weights.
    all_callbacks = [preflight.StopOnNonFiniteLoss(config.learning_rate), timer, *(callbacks or [])]
    early_stopping = None
    if validation_data is not None and config.early_stopping_patience is not None:
        early_stopping = checkpoints.ResumableEarlyStopping(
            monitor="val_loss",
            patience=config.early_stopping_patience,
            restore_best_weights=True,
            resume_from=state.early_stopping if state else None,
            best_weights=checkpoints.load_best_weights(checkpoint_dir) if state else None,
        )
        all_callbacks.append(early_stopping)
    if checkpoint_dir is not None:
        all_callbacks.append(
            checkpoints.TrainingCheckpoint(checkpoint_dir, run_id, early_stopping, state)
        )

    accumulation.install(model, config.micro_batch_size)
    try:  # later fits of the same model train on whole batches again
        if state is not None:
            checkpoints.restore(checkpoint_dir, state, model, optimizer)
        start = time.perf_counter()
        if initial_epoch < config.epochs and not (state and state.stopped):
            history = model.fit(
                train_data(initial_epoch),
                validation_data=validation_data,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_each if epochs_in_data else None,
                class_weight=class_weight,
                callbacks=all_callbacks,
                verbose=verbose,
            )
        else:  # everything was trained before the interruption
            history = tf_keras.callbacks.History()
            history.history = {}
            best = checkpoints.load_best_weights(checkpoint_dir)
            if early_stopping is not None and best is not None:
                model.set_weights(best)
        train_seconds = time.perf_counter() - start
    finally:
        accumulation.uninstall(model)
    if state is not None:  # the epochs run by earlier processes come first
        merged = {k: list(v) for k, v in state.history.items()}
        for key, values in history.history.items():
            merged.setdefault(key, []).extend(values)
        history.history = merged
        history.epoch = list(range(len(next(iter(merged.values()), []))))
    return FitResult(
        history=history,
        schedule=schedule,
        train_seconds=train_seconds,
        epoch_seconds=timer.epoch_seconds,
        num_train_steps=steps_each * config.epochs,
        initial_epoch=initial_epoch,
    )
