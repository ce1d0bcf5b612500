"""Continue pre-training an encoder on domain text with masked language modelling (MLM).

BERT learns by predicting hidden tokens. bertkit splits that into:

- `bertkit.tasks.masking`: `mask_tokens`, BERT's masking procedure in TensorFlow
  (15% of the real tokens selected; 80% of those become [MASK], 10% a random
  token, 10% stay), and `mlm_dataset`, which masks encoded texts batch by batch;
- `bertkit.tasks.mlm_model`: `MLMHead` (tied to the encoder's word embeddings),
  `MLMModel`, `masked_accuracy` and `predict_masked`;
- this module: `train_mlm` (through `bertkit.train.training_loop.run`, as every
  bertkit trainer), `save_encoder` / `read_metadata` (a bertkit preset
  directory and its `bertkit.json`) and `continue_pretraining`, which adapts an
  encoder to domain text and saves it as a preset directory (`encoder/` +
  `preprocessor/`) that `bertkit.build_classifier` accepts.

A new MLM head starts from random weights: its predictions are meaningless
until it has trained. A few hundred steps with the encoder frozen
(`train_mlm(..., train_encoder=False)`) make masked-token predictions sensible;
`continue_pretraining` does that before it trains the encoder, so random head
gradients never reach the encoder.

Examples:
>>> from bertkit.tasks.mlm_model import MLMModel
>>> model = MLMModel("tiny_random_en_uncased", seq_length=16, max_predictions=4)
>>> history = train_mlm(model, ["the drug is good", "bad side effects"], train_encoder=False)
>>> sorted(history), len(history["loss"])
(['loss', 'masked_accuracy'], 1)
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit import names
from bertkit._atomic import atomic_dir, check_output
from bertkit.model.classifier import DEFAULT_SEQ_LENGTH
from bertkit.presets import converter
from bertkit.tasks.masking import MASKED_LM_POSITIONS, mlm_dataset
from bertkit.tasks.mlm_model import MLMHead, MLMModel
from bertkit.text import inputs
from bertkit.text.text_pairs import check_texts
from bertkit.train import finetune, preflight, training_loop
from bertkit.train.config import TrainConfig

HEAD_LEARNING_RATE = 1e-3
ENCODER_LEARNING_RATE = 5e-5


def train_mlm(
    model: MLMModel,
    texts,
    epochs: int = 1,
    train_encoder: bool = True,
    learning_rate: float | None = None,
    batch_size: int = 16,
    warmup_fraction: float = 0.1,
    weight_decay: float = 0.01,
    mask_rounds: int = 1,
    seed: int = 0,
    verbose: int = 0,
) -> dict:
    """Trains an `MLMModel` on `texts`; returns its per-epoch history.

    Trains through `bertkit.train.training_loop.run`, as every bertkit trainer does:
    AdamW with linear warmup and decay, the NaN guard, the distribution strategy; the
    loss is the mean cross-entropy over the masked tokens, `masked_accuracy` the
    share of masked tokens predicted exactly (top-1).

    With `train_encoder=True` every step masks a batch afresh and trains encoder
    (tied embeddings included) and head. With `train_encoder=False` only the head
    trains, and it takes a fast path (as `bertkit.train.finetune.fit` does for a frozen
    encoder): the frozen encoder reads `mask_rounds` differently masked copies of
    the texts once, in inference mode, and the head trains on the cached vectors at
    the masked positions (`batch_size * 16` masked tokens per step, shuffled per
    epoch as `finetune.feature_dataset` shuffles encoder features).

    Args:
        model: MLMModel. Encoder + MLM head.
        texts: list of str. Domain text.
        epochs: int. Passes over `texts` (or over the cached masked tokens).
        train_encoder: bool. False trains only the head (encoder and tied embeddings frozen).
        learning_rate: optional float. Peak rate; defaults to 1e-3 for the head
            alone and 5e-5 when the encoder trains too.
        batch_size: int. Texts per step.
        warmup_fraction, weight_decay: float. As `bertkit.TrainConfig`.
        mask_rounds: int. Masked copies of the texts for head-only training.
        seed: int. Seeds shuffling, masks and dropout.
        verbose: int. Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        dict: `loss` and `masked_accuracy`, one value per epoch.
    """
    texts = check_texts(texts)  # one string is not a corpus of characters
    if not texts:
        raise ValueError("train_mlm needs texts. Received: an empty list. Pass domain texts.")
    if learning_rate is None:
        learning_rate = ENCODER_LEARNING_RATE if train_encoder else HEAD_LEARNING_RATE
    preflight.check_finite_number(
        learning_rate,
        "learning_rate",
        f"Try {ENCODER_LEARNING_RATE} with the encoder, {HEAD_LEARNING_RATE} for the head alone.",
    )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size if train_encoder else batch_size * 16,
        learning_rate=learning_rate,
        warmup_fraction=warmup_fraction,
        weight_decay=weight_decay,
        class_weight=None,
        early_stopping_patience=None,
        seed=seed,
    )
    config.validate()
    finetune.set_seed(seed)  # before the masks of the head-only path are drawn
    model.encoder.trainable = train_encoder
    encoded = inputs.encode_texts(model.text_to_inputs, texts)
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    accuracy = tf_keras.metrics.SparseCategoricalAccuracy(name="masked_accuracy")
    if train_encoder:
        result = training_loop.run(
            model,
            lambda _: mlm_dataset(encoded, model.masking, batch_size, seed=seed, epochs=epochs),
            len(texts),
            config,
            loss,
            weighted_metrics=[accuracy],  # the loss weights leave out the unused slots
            epochs_in_data=True,
            verbose=verbose,
        )
    else:
        hidden, ids = masked_vectors(model, encoded, rounds=mask_rounds, seed=seed)
        result = training_loop.run(
            _HeadOnVectors(model.head),
            lambda first: finetune.feature_dataset(
                hidden, ids, config.batch_size, seed, first, epochs
            ),
            len(ids),
            config,
            loss,
            metrics=[accuracy],
            epochs_in_data=True,
            verbose=verbose,
        )
    return {k: [float(x) for x in v] for k, v in result.history.history.items()}


class _HeadOnVectors(tf_keras.Model):
    """`MLMHead.project` as a Keras model on encoder vectors `[batch, hidden]` (head-only path).

    Its trainable weights are the head's own (the tied embeddings stay with the
    encoder), so the training loop trains the head alone on cached vectors.
    """

    def __init__(self, head: MLMHead):
        super().__init__(name="mlm_head_on_vectors")
        self.head = head

    def call(self, hidden):
        return self.head.project(hidden[:, None, :])[:, 0, :]  # the head was built on [b, p, H]


def masked_vectors(
    model: MLMModel,
    encoded: inputs.EncodedTexts,
    rounds: int = 1,
    seed: int = 0,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's vectors at masked positions and the original ids there (inference mode).

    Returns:
        `(hidden [m, H] float32, ids [m] int32)` over `rounds` masked copies of `encoded`.
    """
    fn = inputs._cached_function(
        model,
        "_bertkit_masked_vectors_fn",
        lambda x, p: tf.gather(
            model.encoder(x, training=False)[names.SEQUENCE_OUTPUT], p, batch_dims=1
        ),
        [inputs.TOKENS_SIGNATURE[0], tf.TensorSpec([None, None], tf.int32)],
    )
    hidden, ids = [], []
    for r in range(rounds):
        # Bucketed by length (less padding to compute); the order does not matter here.
        ds = mlm_dataset(encoded, model.masking, batch_size, seed=seed + 7919 * r)
        for features, labels, weights in ds:
            positions = features.pop(MASKED_LM_POSITIONS)
            vectors = fn(features, positions).numpy()
            used = weights.numpy() > 0
            hidden.append(vectors[used])
            ids.append(labels.numpy()[used])
    return np.concatenate(hidden), np.concatenate(ids).astype(np.int32)


def save_encoder(
    model: MLMModel,
    output_dir: str | os.PathLike,
    metadata: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Saves the (adapted) encoder of an MLM model as a bertkit preset directory.

    Writes atomically:

        output_dir/
          encoder/        TF-Hub encoder SavedModel: the trained weights, the same
                          serving signature, `vocab_file` asset and `do_lower_case`
                          variable as the original (`bertkit.presets.converter` documents them)
          preprocessor/   copy of the model's preprocessor SavedModel
          bertkit.json    {"format": "tfhub-bert", "base": ..., "mlm": metadata}

    The directory loads with `bertkit.load(output_dir)` and trains with
    `bertkit.build_classifier(output_dir, ...)`. The MLM head is not saved.
    """
    with atomic_dir(output_dir, overwrite=overwrite, layout=converter.PRESET_LAYOUT) as tmp:
        tf.saved_model.save(model.encoder_object, str(tmp / names.ENCODER_DIR))
        shutil.copytree(model.preprocessor_dir, tmp / names.PREPROCESSOR_DIR)
        record = {"format": "tfhub-bert", "base": model.preset, "mlm": metadata or {}}
        (tmp / converter.METADATA_FILE).write_text(json.dumps(record, indent=2))
    return Path(output_dir)


def read_metadata(preset_dir: str | os.PathLike) -> dict:
    """The `bertkit.json` record of a directory written by `save_encoder`."""
    path = Path(preset_dir) / converter.METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No {converter.METADATA_FILE} in the directory. Received: {str(preset_dir)!r}. "
            "Pass a directory written by bertkit.tasks.mlm.continue_pretraining."
        )
    return json.loads(path.read_text())


def continue_pretraining(
    preset_or_model: str | os.PathLike | tf_keras.Model,
    texts,
    output_dir: str | os.PathLike,
    epochs: int = 2,
    head_epochs: int = 8,
    learning_rate: float = ENCODER_LEARNING_RATE,
    head_learning_rate: float = HEAD_LEARNING_RATE,
    batch_size: int = 16,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    seed: int = 0,
    overwrite: bool = False,
    verbose: int = 0,
) -> Path:
    """Adapts an encoder to domain text with MLM and saves it for `build_classifier`.

    1. Train the new (random) MLM head alone for `head_epochs` (encoder frozen), so
       that its random gradients never reach the encoder.
    2. Train encoder + head for `epochs` (every encoder weight, tied embeddings included).
    3. Save the encoder and a copy of the preprocessor to `output_dir` (`save_encoder`).

    Args:
        preset_or_model: preset name, encoder directory, or a model from
            `MLMModel` (e.g. with a head you already trained: `head_epochs=0`).
        texts: list of str. Unlabelled domain text.
        output_dir: path. Bertkit preset directory to write.
        epochs: int. Epochs of full MLM training.
        head_epochs: int. Epochs of head-only training first (0 to skip).
        learning_rate, head_learning_rate: float. Peak learning rates of the two phases.
        batch_size: int. Texts per step.
        seq_length: int. Tokens per text (when building the model here).
        seed: int. Seeds head init, shuffling, masks and dropout.
        overwrite: bool. Replace an existing `output_dir`.
        verbose: int. Keras verbosity.

    Returns:
        `output_dir`, usable as `bertkit.build_classifier(output_dir, ...)`. Its
        `bertkit.json` (`read_metadata`) records the settings and both loss curves.

    Examples:
    >>> out = continue_pretraining("tiny_random_en_uncased", ["the drug is good"] * 8, "/tmp/x", epochs=1)  # doctest: +SKIP
    >>> classifier = bertkit.build_classifier(out, num_classes=3)  # doctest: +SKIP
    """
    check_output(output_dir, overwrite, converter.PRESET_LAYOUT)  # before any training
    if isinstance(preset_or_model, tf_keras.Model):
        model = preset_or_model
    else:
        model = MLMModel(preset_or_model, seq_length=seq_length, seed=seed)
    start = time.perf_counter()
    head_history = {}
    if head_epochs:
        head_history = train_mlm(
            model,
            texts,
            head_epochs,
            train_encoder=False,
            learning_rate=head_learning_rate,
            batch_size=batch_size,
            seed=seed,
            verbose=verbose,
        )
    history = train_mlm(
        model,
        texts,
        epochs,
        train_encoder=True,
        learning_rate=learning_rate,
        batch_size=batch_size,
        seed=seed + 1,
        verbose=verbose,
    )
    metadata = {
        "num_texts": len(texts),
        "epochs": epochs,
        "head_epochs": head_epochs,
        "learning_rate": learning_rate,
        "head_learning_rate": head_learning_rate,
        "batch_size": batch_size,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - start, 1),
        "head_history": head_history,
        "history": history,
    }
    return save_encoder(model, output_dir, metadata, overwrite=overwrite)
