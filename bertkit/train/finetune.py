"""Train a classifier: `TrainConfig`, class weights, and `fit` on texts.

`fit` trains through `bertkit.train.training_loop.run`, as every bertkit trainer
does: AdamW (no weight decay on LayerNorm and bias) with the learning rate
rising linearly over the first `warmup_fraction` of the steps, then falling
linearly to zero; early stopping, checkpoints, loss scaling and micro-batches.

`fit` tokenizes once (`bertkit.text.inputs`), trains on dynamically padded
batches, and for `strategy="freeze"` takes the fast path: the frozen encoder
is a fixed function in inference mode, so its features are computed once and
only the head trains on them. `strategy="contrastive"` first trains the encoder
on sentence pairs (`bertkit.train.contrastive`), then takes the same fast path.

Examples:
>>> model = build_classifier("tiny_random_en_uncased", num_classes=2, strategy="freeze")  # doctest: +SKIP
>>> history = fit(model, ["good", "bad"], [1, 0], epochs=1)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit.text import inputs, long_texts
from bertkit.train import checkpoints, contrastive, preflight, training_loop
from bertkit.train.config import CONTRASTIVE_HEAD, TrainConfig

# The optimizer, the seed and the run's result belong to the training loop; named here
# too, where fine-tuning code has always found them.
from bertkit.train.training_loop import (  # noqa: F401
    EpochTimer,
    FitResult,
    LinearWarmupDecay,
    create_optimizer,
    set_seed,
)


def balanced_class_weights(label_ids, num_classes: int) -> dict[int, float]:
    """`n / (k * count_c)` per class, as scikit-learn's "balanced"; absent classes get 1.0.

    Examples:
    >>> balanced_class_weights([0, 0, 0, 1], 2)
    {0: 0.6666666666666666, 1: 2.0}
    """
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=num_classes)
    n = counts.sum()
    return {
        c: (float(n / (num_classes * counts[c])) if counts[c] else 1.0) for c in range(num_classes)
    }


def loss():
    """The classification loss: sparse categorical cross-entropy on float32 logits.

    Examples:
    >>> float(loss()([0], [[2.0, 0.0]]))  # -log(softmax([2, 0])[0])
    0.12692804634571075
    """
    return tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compute_features(
    model,
    encoded: inputs.EncodedTexts,
    batch_size: int = inputs.PREDICT_BATCH_SIZE,
    by_text: bool = True,
) -> np.ndarray:
    """Pooled encoder features of every example, in inference mode (the freeze fast path).

    With `by_text` (the default) one row per text: the mean over its chunks for a
    model with `chunks > 1`, as prediction computes it (`bertkit.text.long_texts`);
    otherwise one row per chunk (what training on chunks uses).
    """
    ds = inputs.make_dataset(encoded, batch_size=batch_size)
    feature_fn = inputs._cached_function(
        model,
        "_bertkit_feature_fn",
        lambda x: model.feature_model(x, training=False),
        inputs.TOKENS_SIGNATURE,
    )
    features = (
        np.concatenate([feature_fn(batch).numpy() for batch in ds])
        if len(encoded)
        else np.zeros((0, model.feature_model.output_shape[-1]), np.float32)
    )
    return _by_text(features, encoded) if by_text else features


def _by_text(rows: np.ndarray, encoded: inputs.EncodedTexts) -> np.ndarray:
    """Per-row values averaged over each text's chunks (unchanged when every text is one row)."""
    if encoded.num_texts == len(encoded):
        return rows
    return long_texts.mean_by_text(rows, encoded.text_index, encoded.num_texts).numpy()


def fit(
    model,
    train_texts,
    train_labels,
    validation: tuple | None = None,
    config: TrainConfig | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    verbose: int = 1,
    callbacks: list | None = None,
    resume: bool = True,
) -> FitResult:
    """Fine-tunes a `build_classifier` model on texts and integer labels.

    With `validation` and early stopping on (`config.early_stopping_patience`, on by
    default), the model ends with the weights of the epoch that had the lowest
    validation loss, also when no early stop happened and all `config.epochs` ran
    (Keras's `restore_best_weights`); its last epoch's weights are discarded then.

    A `strategy="contrastive"` model trains in two phases (`bertkit.train.contrastive`):
    `config` sets the pair phase (`epochs`, `learning_rate`, `batch_size`,
    `pair_iterations`, `pairs_per_example`; checkpoints in `checkpoint_dir/pairs`),
    then the head trains on the tuned encoder's cached features with
    `CONTRASTIVE_HEAD`'s epochs and learning rate. Validation, early stopping,
    `callbacks`, the returned history and `epoch_seconds` belong to the head phase;
    `train_seconds` counts both phases' training.

    Args:
        model: tf_keras.Model. From `bertkit.build_classifier`.
        train_texts: list of str; for a pair model (`text_pairs=True`) a list of
            `(text_a, text_b)` tuples or a `bertkit.text.text_pairs.TextPairs`.
        train_labels: array-like of int. Class ids in `[0, num_classes)`.
        validation: optional `(texts, label_ids)` (texts as in `train_texts`). For
            early stopping and curves.
        config: TrainConfig. Hyperparameters (when None: `TrainConfig()`, or for a
            contrastive model `TrainConfig.for_strategy("contrastive")`).
        checkpoint_dir: optional path. Model, optimizer and progress are saved there
            after every epoch (`bertkit.train.checkpoints`, written atomically).
        verbose: int. Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).
        callbacks: optional list. Extra Keras callbacks.
        resume: bool. If `checkpoint_dir` holds an interrupted run of the same data,
            model and config, continue after its last completed epoch; otherwise its
            checkpoints are discarded and training starts over.

    Returns:
        FitResult with `history` (Keras History: loss, accuracy, val_loss, val_accuracy).

    Raises:
        ValueError, TypeError: bad config, texts or labels (training or validation),
            before anything is tokenized (`bertkit.train.preflight.check_examples`).
        bertkit.train.preflight.NonFiniteLossError: the loss became NaN or infinite; training
            stops at that batch and no checkpoint of the diverged weights is written.
    """
    pairs_first = getattr(model, "strategy", None) == "contrastive"
    if config is None:
        config = TrainConfig.for_strategy("contrastive") if pairs_first else TrainConfig()
    config.validate()
    train_texts, labels = preflight.check_examples(model, train_texts, train_labels)
    if pairs_first:
        contrastive.check_pair_labels(labels)
        contrastive.check_config(config)
    if validation is not None:
        val_texts, val_labels = preflight.check_examples(
            model, *preflight.split_validation(validation), name="Validation"
        )
    num_classes = int(model.output_shape[-1])
    encoded = inputs.encode_for_model(model, train_texts)
    row_labels = encoded.by_row(labels)  # each chunk of a long text is an example with its label
    class_weight = balanced_class_weights(labels, num_classes) if config.class_weight else None
    val_data = None
    if validation is not None:
        val_encoded = inputs.encode_for_model(model, val_texts)

    pair_seconds = 0.0  # the pair phase's training time, counted in train_seconds
    if pairs_first:  # the encoder learns from sentence pairs, then the head as for "freeze"
        digest = checkpoints.texts_digest(train_texts, labels)
        pair_seconds = contrastive.train_on_pairs(
            model, encoded, labels, config, checkpoint_dir, digest, verbose, resume
        ).train_seconds
        config = dataclasses.replace(config, **CONTRASTIVE_HEAD)
    cached = pairs_first or (model.strategy == "freeze" and config.cache_features)
    if cached:
        trained = model.head
        features = compute_features(model, encoded, by_text=False)
        if validation is not None:
            val_data = feature_dataset(compute_features(model, val_encoded), val_labels, 64, None)
    else:
        trained = model.token_model
        if validation is not None:
            val_data = inputs.make_dataset(
                val_encoded, val_encoded.by_row(val_labels), batch_size=inputs.PREDICT_BATCH_SIZE
            )

    def train_data(initial_epoch: int) -> tf.data.Dataset:
        if cached:
            seed = config.seed if config.shuffle else None
            return feature_dataset(
                features, row_labels, config.batch_size, seed, initial_epoch, config.epochs
            )
        return inputs.make_dataset(
            encoded,
            row_labels,
            config.batch_size,
            shuffle=config.shuffle,
            seed=config.seed,
            bucket=config.bucket,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            length_multiple=inputs.XLA_LENGTH_MULTIPLE if config.jit_compile else 1,
        )

    run_id = None
    if checkpoint_dir is not None:
        run_id = checkpoints.fingerprint(
            data=checkpoints.texts_digest(train_texts, labels),
            validation=None
            if validation is None
            else checkpoints.texts_digest(val_texts, val_labels),
            # micro_batch_size only changes memory, so a run may resume under another.
            config={k: v for k, v in dataclasses.asdict(config).items() if k != "micro_batch_size"},
            model=[model.preset, model.strategy, model.unfreeze_top, model.pooling],
            long_texts=[getattr(model, option) for option in long_texts.OPTIONS],
            seq_length=model.seq_length,
            trained=[(v.name, v.shape.as_list()) for v in trained.trainable_variables],
        )
    result = training_loop.run(
        trained,
        train_data,
        len(row_labels),
        config,
        loss(),
        metrics=["accuracy"],
        validation_data=val_data,
        class_weight=class_weight,
        epochs_in_data=config.shuffle,
        precision=model.precision,
        callbacks=callbacks,
        verbose=verbose,
        checkpoint_dir=checkpoint_dir,
        run_id=run_id,
        resume=resume,
    )
    return dataclasses.replace(
        result,
        train_seconds=result.train_seconds + pair_seconds,
        real_tokens_per_epoch=encoded.real_tokens(),
        num_truncated=encoded.num_truncated,
    )


def feature_dataset(features, labels, batch_size, seed, initial_epoch=0, epochs=None):
    """Batches of cached features and labels; with a seed, epochs `[initial_epoch, epochs)` shuffled.

    Without a seed: one pass in order (for validation and prediction).

    Examples:
    >>> ds = feature_dataset(np.zeros((5, 3), "float32"), [0, 1, 0, 1, 0], batch_size=2, seed=None)
    >>> [int(x.shape[0]) for x, _ in ds]
    [2, 2, 1]
    """
    if seed is None:
        return tf.data.Dataset.from_tensor_slices((features, labels)).batch(batch_size)
    ds = inputs.epochs_dataset(
        [features, np.asarray(labels)], None, batch_size, seed, False, initial_epoch, epochs
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def predict_logits(model, texts, batch_size: int = inputs.PREDICT_BATCH_SIZE) -> np.ndarray:
    """Logits for `texts`, tokenized once and dynamically padded (fast batch inference).

    `texts` is a list of str, or for a pair model a list of `(a, b)` tuples / `TextPairs`.
    """
    encoded = inputs.encode_for_model(model, texts)
    ds = inputs.make_dataset(encoded, batch_size=batch_size)
    fn = inputs._cached_function(
        model,
        "_bertkit_predict_fn",
        lambda x: model.token_model(x, training=False),
        inputs.TOKENS_SIGNATURE,
    )
    out = [fn(batch).numpy() for batch in ds]
    if not out:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    # Chunks: the mean of their logits is the head on their mean features (a linear head).
    return _by_text(np.concatenate(out), encoded)
