"""Masked language modelling (MLM): mask tokens, predict them, continue pre-training on domain text.

BERT learns by predicting hidden tokens. bertkit splits that into four pieces:

- `mask_tokens`: the masking procedure as a pure TensorFlow function (usable
  inside `tf.data`, seeded with a stateless RNG so it is reproducible). Of the
  real tokens ([CLS], [SEP], [PAD] and every other `[...]` vocabulary entry are
  never chosen) 15% are selected; of those 80% become [MASK], 10% a random
  vocabulary token and 10% stay unchanged. The output follows tf-models'
  pre-training convention: `masked_lm_positions`, `masked_lm_ids`,
  `masked_lm_weights` (fixed `max_predictions` slots, padding slots weigh 0)
  and the modified `input_word_ids`.
- `MLMHead`: dense(H) + exact GELU + LayerNorm, then logits = h @ E^T + b, where
  E IS the encoder's word-embedding variable (tied weights, as in BERT).
- `build_mlm_model`, `train_mlm`, `masked_accuracy`, `predict_masked`: an
  encoder + head model, its training, its top-k accuracy on masked tokens and
  fill-mask for a text with `[MASK]`.
- `continue_pretraining`: adapt an encoder to domain text with MLM and save it
  as a bertkit preset directory (`encoder/` + `preprocessor/`) that
  `bertkit.build_classifier` accepts.

TF-Hub encoders ship without an MLM head (the embedded default,
all-MiniLM-L6-v2, has only encoder + pooler weights), so the head starts from
random weights: its predictions are meaningless until it has trained. A few
hundred steps with the encoder frozen (`train_mlm(..., train_encoder=False)`)
make masked-token predictions sensible; `continue_pretraining` does that
before it trains the encoder, so random head gradients never reach the encoder.

Examples:
>>> config = MaskingConfig.from_preprocessor("tiny_random_en_uncased", max_predictions=4)
>>> out = mask_tokens(tf.constant([[2, 50, 60, 70, 80, 90, 100, 3, 0]]), seed=0, config=config)
>>> sorted(out)
['input_word_ids', 'masked_lm_ids', 'masked_lm_positions', 'masked_lm_weights']
>>> out["masked_lm_positions"].shape
TensorShape([1, 4])
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from bertkit import finetune, inputs, names, preflight, tokens, training_loop
from bertkit import hub as bk_hub
from bertkit._atomic import atomic_dir, check_output
from bertkit.classifier import DEFAULT_SEQ_LENGTH
from bertkit.converter import PRESET_LAYOUT
from bertkit.layers import TextToEncoderInputs
from bertkit.presets import DEFAULT_PRESET

# Pre-training feature names (tf-models' BERT pre-training convention).
MASKED_LM_POSITIONS = "masked_lm_positions"
MASKED_LM_IDS = "masked_lm_ids"
MASKED_LM_WEIGHTS = "masked_lm_weights"

MASK_RATE = 0.15
MASK_TOKEN_RATE = 0.8
RANDOM_TOKEN_RATE = 0.1
DEFAULT_MAX_PREDICTIONS = 20  # ceil(0.15 * 126): enough for seq_length 128
HEAD_LEARNING_RATE = 1e-3
ENCODER_LEARNING_RATE = 5e-5
METADATA_FILE = "bertkit.json"
_SPECIAL_PIECE = re.compile(r"^\[.+\]$")  # [PAD], [CLS], [unused17], ...
_MASK_IN_TEXT = re.compile(re.escape(names.MASK_TOKEN), re.IGNORECASE)


@dataclasses.dataclass
class MaskingConfig:
    """What `mask_tokens` may select and what it puts in place of a selected token.

    Args:
        mask_id: int. Id of `[MASK]`.
        pad_id: int. Id of `[PAD]` (used when no `input_mask` is given).
        vocab_size: int. Rows of the word-embedding table.
        unselectable_ids: tuple of int. Never selected ([CLS], [SEP], [PAD], [MASK], ...).
        replacement_ids: np.ndarray. Ids a "random token" is drawn from (uniformly).
        mask_rate: float. Share of the selectable tokens that are selected.
        mask_token_rate: float. Share of the selected tokens replaced by `[MASK]`.
        random_token_rate: float. Share replaced by a random token (the rest stay unchanged).
        max_predictions: int. Slots in `masked_lm_positions` per sequence.
    """

    mask_id: int
    pad_id: int
    vocab_size: int
    unselectable_ids: tuple
    replacement_ids: np.ndarray
    mask_rate: float = MASK_RATE
    mask_token_rate: float = MASK_TOKEN_RATE
    random_token_rate: float = RANDOM_TOKEN_RATE
    max_predictions: int = DEFAULT_MAX_PREDICTIONS

    def __post_init__(self):
        self.validate()

    @classmethod
    def from_vocabulary(cls, vocab: list[str], **overrides) -> MaskingConfig:
        """A config for a WordPiece vocabulary: every `[...]` entry is special.

        Examples:
        >>> c = MaskingConfig.from_vocabulary(["[PAD]", "[CLS]", "[SEP]", "[MASK]", "a", "b"])
        >>> c.mask_id, c.unselectable_ids, c.replacement_ids.tolist()
        (3, (0, 1, 2, 3), [4, 5])
        """
        for token in (names.MASK_TOKEN, names.PAD_TOKEN):
            if token not in vocab:
                raise ValueError(
                    f"The vocabulary has no {token} token. Received: {len(vocab)} tokens "
                    f"starting {vocab[:5]}. MLM needs a BERT WordPiece vocabulary."
                )
        special = [i for i, piece in enumerate(vocab) if _SPECIAL_PIECE.match(piece)]
        regular = np.array([i for i, piece in enumerate(vocab) if not _SPECIAL_PIECE.match(piece)])
        return cls(
            mask_id=vocab.index(names.MASK_TOKEN),
            pad_id=vocab.index(names.PAD_TOKEN),
            vocab_size=len(vocab),
            unselectable_ids=tuple(special),
            replacement_ids=regular.astype(np.int32),
            **overrides,
        )

    @classmethod
    def from_preprocessor(cls, preprocessor, **overrides) -> MaskingConfig:
        """A config from a preprocessor (preset name, directory or `load_preprocessor` layer).

        Examples:
        >>> MaskingConfig.from_preprocessor("tiny_random_en_uncased").mask_id
        4
        """
        return cls.from_vocabulary(tokens.vocabulary(preprocessor), **overrides)

    def validate(self) -> None:
        """Raises on rates outside [0, 1] or an impossible `max_predictions`."""
        for field in ("mask_rate", "mask_token_rate", "random_token_rate"):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"{field} must be in [0, 1]. Received: {field}={value!r}. "
                    "BERT uses mask_rate=0.15, mask_token_rate=0.8, random_token_rate=0.1."
                )
        if self.mask_token_rate + self.random_token_rate > 1.0:
            raise ValueError(
                "mask_token_rate + random_token_rate must be <= 1 (the rest stay unchanged). "
                f"Received: {self.mask_token_rate} + {self.random_token_rate}."
            )
        if not isinstance(self.max_predictions, int) or self.max_predictions < 1:
            raise ValueError(
                f"max_predictions must be a positive integer. Received: "
                f"max_predictions={self.max_predictions!r}. Use about 0.15 * seq_length."
            )
        if len(self.replacement_ids) == 0:
            raise ValueError(
                "There are no regular tokens to draw random replacements from. Received: "
                f"a vocabulary of {self.vocab_size} tokens, all special. Use a real vocabulary."
            )


def _seed_pair(seed) -> tf.Tensor:
    """A shape-[2] int64 seed for the stateless RNG from an int, a scalar or a pair."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.constant(0, tf.int64)])
    return seed


def mask_tokens(input_word_ids, seed, config: MaskingConfig, input_mask=None) -> dict:
    """Selects and corrupts tokens for MLM; a pure TF function, usable in `tf.data.Dataset.map`.

    Per sequence with n selectable tokens (real tokens except [CLS], [SEP] and other
    `[...]` entries), k = floor(mask_rate * n + u), u ~ U[0, 1) tokens are selected
    uniformly at random (so E[k] = 0.15 n exactly; capped at `max_predictions`).
    Each selected token becomes [MASK] with probability `mask_token_rate`, a random
    regular token with probability `random_token_rate`, else stays unchanged.
    Randomness comes from stateless ops: the same seed gives the same result.

    Args:
        input_word_ids: int32 tensor `[batch, seq_length]` (or `[seq_length]`).
        seed: int, or int tensor of shape `[]` or `[2]` (e.g. `(base_seed, batch_index)`).
        config: MaskingConfig. Special ids, rates and `max_predictions`.
        input_mask: optional int tensor like `input_word_ids`; 1 = real token.
            Defaults to `input_word_ids != pad_id`.

    Returns:
        dict: `input_word_ids` (corrupted copy), `masked_lm_positions` int32
        `[batch, max_predictions]` (ascending, 0 in unused slots), `masked_lm_ids`
        int32 (original ids, 0 in unused slots), `masked_lm_weights` float32 (1 for
        used slots, 0 for unused ones). Rank-1 inputs give rank-1 outputs.

    Examples:
    >>> config = MaskingConfig.from_vocabulary(["[PAD]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghij"], max_predictions=2)
    >>> ids = tf.constant([1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 2, 0])
    >>> out = mask_tokens(ids, seed=3, config=config)
    >>> int(tf.reduce_sum(out["masked_lm_weights"]))  # floor(0.15 * 10 + u) is 1 or 2
    2
    """
    ids = tf.convert_to_tensor(input_word_ids)
    ids = tf.cast(ids, tf.int32)
    rank_one = ids.shape.rank == 1
    if rank_one:
        ids = ids[None, :]
        input_mask = None if input_mask is None else tf.convert_to_tensor(input_mask)[None, :]
    if input_mask is None:
        real = tf.not_equal(ids, config.pad_id)
    else:
        real = tf.cast(input_mask, tf.bool)
    unselectable = tf.constant(config.unselectable_ids, tf.int32)
    special = tf.reduce_any(tf.equal(ids[:, :, None], unselectable[None, None, :]), axis=-1)
    selectable = tf.logical_and(real, tf.logical_not(special))

    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), num=4)
    shape = tf.shape(ids)
    batch, length = shape[0], shape[1]
    num_selectable = tf.reduce_sum(tf.cast(selectable, tf.float32), axis=1)
    rounding = tf.random.stateless_uniform([batch], seed=seeds[0])
    count = tf.cast(tf.floor(config.mask_rate * num_selectable + rounding), tf.int32)
    count = tf.minimum(count, config.max_predictions)

    # A uniformly random subset of size `count`: the `count` selectable positions with
    # the smallest random scores (unselectable positions score 2, after all others).
    scores = tf.where(selectable, tf.random.stateless_uniform(shape, seed=seeds[1]), 2.0)
    rank = tf.argsort(tf.argsort(scores, axis=1, stable=True), axis=1, stable=True)
    selected = rank < count[:, None]

    action = tf.random.stateless_uniform(shape, seed=seeds[2])
    to_mask = tf.logical_and(selected, action < config.mask_token_rate)
    to_random = tf.logical_and(
        selected,
        tf.logical_and(
            action >= config.mask_token_rate,
            action < config.mask_token_rate + config.random_token_rate,
        ),
    )
    table = tf.constant(config.replacement_ids, tf.int32)
    random_ids = tf.gather(
        table,
        tf.random.stateless_uniform(
            shape, seed=seeds[3], minval=0, maxval=len(config.replacement_ids), dtype=tf.int32
        ),
    )
    corrupted = tf.where(to_mask, tf.fill(shape, tf.constant(config.mask_id, tf.int32)), ids)
    corrupted = tf.where(to_random, random_ids, corrupted)

    # Positions of the selected tokens, ascending, padded to `max_predictions` slots.
    slots = config.max_predictions
    positions = tf.sort(tf.where(selected, tf.range(length)[None, :], length), axis=1)
    positions = tf.pad(
        positions, [[0, 0], [0, tf.maximum(slots - length, 0)]], constant_values=length
    )
    positions = positions[:, :slots]
    used = positions < length
    positions = tf.where(used, positions, 0)
    weights = tf.cast(used, tf.float32)
    masked_ids = tf.gather(ids, positions, batch_dims=1) * tf.cast(used, tf.int32)
    positions.set_shape([None, slots])
    masked_ids.set_shape([None, slots])
    weights.set_shape([None, slots])
    out = {
        names.INPUT_WORD_IDS: corrupted,
        MASKED_LM_POSITIONS: positions,
        MASKED_LM_IDS: masked_ids,
        MASKED_LM_WEIGHTS: weights,
    }
    return {k: v[0] for k, v in out.items()} if rank_one else out


def masking_fn(config: MaskingConfig, seed: int = 0):
    """A `tf.data` map function `(index, inputs) -> (features, masked_lm_ids, loss_weights)`.

    Use after `Dataset.enumerate()` on batches of encoder-input dicts: batch `index`
    is masked with the seed `(seed, index)`, so every batch (and every epoch of a
    repeated dataset) gets its own reproducible masks. `features` are the encoder
    inputs (word ids corrupted) plus `masked_lm_positions`; `loss_weights` are the
    `masked_lm_weights` rescaled to average 1 per slot in the batch, so Keras' mean
    over slots equals the mean loss over the masked tokens.

    Examples:
    >>> config = MaskingConfig.from_preprocessor("tiny_random_en_uncased", max_predictions=2)
    >>> batch = {"input_word_ids": tf.constant([[2, 50, 60, 70, 3]]),
    ...          "input_mask": tf.ones((1, 5), tf.int32), "input_type_ids": tf.zeros((1, 5), tf.int32)}
    >>> ds = tf.data.Dataset.from_tensors(batch).enumerate().map(masking_fn(config, seed=0))
    >>> features, labels, weights = next(iter(ds))
    >>> sorted(features)
    ['input_mask', 'input_type_ids', 'input_word_ids', 'masked_lm_positions']
    """
    base = tf.constant(seed, tf.int64)

    def fn(index, batch):
        out = mask_tokens(
            batch[names.INPUT_WORD_IDS],
            tf.stack([base, tf.cast(index, tf.int64)]),
            config,
            input_mask=batch[names.INPUT_MASK],
        )
        features = dict(batch)
        features[names.INPUT_WORD_IDS] = out[names.INPUT_WORD_IDS]
        features[MASKED_LM_POSITIONS] = out[MASKED_LM_POSITIONS]
        weights = out[MASKED_LM_WEIGHTS]
        scale = tf.cast(tf.size(weights), tf.float32) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return features, out[MASKED_LM_IDS], weights * scale

    return fn


def mlm_dataset(
    encoded: inputs.EncodedTexts,
    config: MaskingConfig,
    batch_size: int = 16,
    seed: int = 0,
    shuffle: bool = True,
    epochs: int = 1,
) -> tf.data.Dataset:
    """Batches of masked texts for `tf_keras.Model.fit`: `(features, masked_lm_ids, weights)`.

    Dynamically padded batches of similar lengths (`bertkit.inputs.make_dataset`),
    repeated `epochs` times, each batch masked afresh (dynamic masking, as RoBERTa).

    Args:
        encoded: EncodedTexts. Texts tokenized once (`bertkit.inputs.encode_texts`).
        config: MaskingConfig.
        batch_size: int. Texts per batch.
        seed: int. Seeds the shuffling and the masks.
        shuffle: bool. Shuffle (by length buckets) every epoch.
        epochs: int. Passes over the texts.
    """
    ds = inputs.make_dataset(
        encoded, batch_size=batch_size, shuffle=shuffle, seed=seed, bucket=shuffle
    )
    return ds.repeat(epochs).enumerate().map(masking_fn(config, seed)).prefetch(tf.data.AUTOTUNE)


def exact_gelu(x):
    """GELU with the erf (as BERT and Hugging Face's `"gelu"`), not the tanh approximation."""
    return tf_keras.activations.gelu(x, approximate=False)


class MLMHead(tf_keras.layers.Layer):
    """BERT's masked-LM head with the output matrix tied to the word embeddings.

    logits = LayerNorm(gelu(dense(h))) @ E^T + b, where `E` is the encoder's
    word-embedding variable itself (not a copy): training the encoder trains the
    output matrix and vice versa. The head's own weights are the dense layer,
    the LayerNorm and the output bias; `E` is deliberately not one of them, so
    freezing the encoder freezes `E` (the same maths as tf-models' `MaskedLM`).

    TF-Hub encoders come without a pre-trained head: a new head starts from random
    weights and predicts nonsense until trained (see `train_mlm`).

    Args:
        embeddings: tf.Variable. `[vocab_size, hidden]` word-embedding table.
        initializer_range: float. Stddev of the truncated-normal dense initializer.
        seed: optional int. Seeds that initializer.
        layer_norm_epsilon: float. As BERT (1e-12).

    Call args:
        sequence_output: float tensor `[batch, seq_length, hidden]`.
        masked_lm_positions: int tensor `[batch, max_predictions]`.

    Returns:
        logits `[batch, max_predictions, vocab_size]` float32.
    """

    def __init__(
        self,
        embeddings: tf.Variable,
        initializer_range: float = 0.02,
        seed: int | None = None,
        layer_norm_epsilon: float = 1e-12,
        **kwargs,
    ):
        kwargs.setdefault("name", "mlm_head")
        super().__init__(**kwargs)
        # object.__setattr__: Keras would otherwise track E as a weight of the head too.
        object.__setattr__(self, "_embeddings", embeddings)
        vocab_size, hidden = embeddings.shape
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden)
        init = tf_keras.initializers.TruncatedNormal(stddev=initializer_range, seed=seed)
        self.transform = tf_keras.layers.Dense(
            self.hidden_size, activation=exact_gelu, kernel_initializer=init, name="transform"
        )
        self.layer_norm = tf_keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="layer_norm"
        )

    @property
    def embeddings(self) -> tf.Variable:
        """The tied output matrix: the encoder's word-embedding variable."""
        return self._embeddings

    def build(self, input_shape):
        self.output_bias = self.add_weight(
            "output_bias", shape=(self.vocab_size,), initializer="zeros"
        )
        super().build(input_shape)

    def call(self, sequence_output, masked_lm_positions):
        positions = tf.cast(masked_lm_positions, tf.int32)
        return self.project(tf.gather(sequence_output, positions, batch_dims=1))

    def project(self, hidden):
        """Logits `[..., vocab_size]` from encoder vectors `[..., hidden]` at masked positions."""
        hidden = self.layer_norm(self.transform(hidden))
        return tf.matmul(hidden, self._embeddings, transpose_b=True) + self.output_bias


def find_word_embeddings(variables) -> tf.Variable:
    """The `word_embeddings/embeddings` variable among an encoder's variables."""
    found = [v for v in variables if "word_embeddings/embeddings" in v.name and len(v.shape) == 2]
    if len(found) != 1:
        raise ValueError(
            "Expected exactly one word-embedding table in the encoder. Received: "
            f"{[v.name for v in found] or [v.name for v in list(variables)[:4]]}. "
            "Use a TF-Hub BERT encoder (variables named .../word_embeddings/embeddings)."
        )
    return found[0]


def build_mlm_model(
    preset: str | os.PathLike = DEFAULT_PRESET,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    max_predictions: int = DEFAULT_MAX_PREDICTIONS,
    train_encoder: bool = True,
    preprocessor: str | os.PathLike | None = None,
    seed: int = 0,
) -> tf_keras.Model:
    """Builds encoder + tied MLM head: encoder inputs + `masked_lm_positions` -> logits.

    The head is new (random): see `MLMHead`.

    Args:
        preset: str. Preset name or encoder directory (bertkit preset directory).
        seq_length: int. Tokens per text ([CLS] and [SEP] included) when encoding texts.
        max_predictions: int. Masked slots per text.
        train_encoder: bool. Whether the encoder's weights train (the head always does).
        preprocessor: optional str. Preprocessor handle; defaults to the preset's.
        seed: int. Seeds the head's initialisation.

    Returns:
        A `tf_keras.Model` from `{input_word_ids, input_mask, input_type_ids,
        masked_lm_positions}` to logits `[batch, max_predictions, vocab_size]`,
        with attributes `encoder` (hub.KerasLayer), `encoder_object` (the loaded
        SavedModel, for saving), `head` (MLMHead), `text_to_inputs`, `masking`
        (MaskingConfig), `preset`, `preprocessor_dir`, `seq_length`.

    Examples:
    >>> model = build_mlm_model("tiny_random_en_uncased", max_predictions=3)
    >>> model.output_shape
    (None, 3, 512)
    """
    encoder_dir = bk_hub.resolve(preset, names.ENCODER_DIR)
    preprocessor_dir = bk_hub.resolve(
        preprocessor if preprocessor is not None else preset, names.PREPROCESSOR_DIR
    )
    encoder_object = hub.load(str(encoder_dir))
    encoder = hub.KerasLayer(encoder_object, trainable=True, name="encoder")
    text_to_inputs = TextToEncoderInputs(str(preprocessor_dir), seq_length, name="preprocessor")
    bk_hub.check_match(text_to_inputs.preprocessor, encoder_object)
    embeddings = find_word_embeddings(encoder.variables)
    head = MLMHead(embeddings, seed=seed, name="mlm_head")

    token_inputs = {
        n: tf_keras.Input(shape=(None,), dtype=tf.int32, name=n) for n in names.ENCODER_INPUTS
    }
    positions = tf_keras.Input(shape=(max_predictions,), dtype=tf.int32, name=MASKED_LM_POSITIONS)
    sequence_output = encoder(token_inputs)[names.SEQUENCE_OUTPUT]
    logits = head(sequence_output, positions)
    model = tf_keras.Model(
        {**token_inputs, MASKED_LM_POSITIONS: positions}, logits, name="bert_mlm"
    )
    encoder.trainable = train_encoder
    model.encoder = encoder
    model.encoder_object = encoder_object
    model.head = head
    model.text_to_inputs = text_to_inputs
    model.masking = MaskingConfig.from_preprocessor(
        str(preprocessor_dir), max_predictions=max_predictions
    )
    model.preset = os.fspath(preset)
    model.preprocessor_dir = Path(preprocessor_dir)
    model.seq_length = seq_length
    return model


def train_mlm(
    model: tf_keras.Model,
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
    """Trains a `build_mlm_model` model on `texts`; returns its per-epoch history.

    Trains through `bertkit.training_loop.run`, as every bertkit trainer does:
    AdamW with linear warmup and decay, the NaN guard, the distribution strategy; the
    loss is the mean cross-entropy over the masked tokens, `masked_accuracy` the
    share of masked tokens predicted exactly (top-1).

    With `train_encoder=True` every step masks a batch afresh and trains encoder
    (tied embeddings included) and head. With `train_encoder=False` only the head
    trains, and it takes a fast path (as `bertkit.finetune.fit` does for a frozen
    encoder): the frozen encoder reads `mask_rounds` differently masked copies of
    the texts once, in inference mode, and the head trains on the cached vectors at
    the masked positions (`batch_size * 16` masked tokens per step, shuffled per
    epoch as `finetune.feature_dataset` shuffles encoder features).

    Args:
        model: tf_keras.Model. From `build_mlm_model`.
        texts: list of str. Domain text.
        epochs: int. Passes over `texts` (or over the cached masked tokens).
        train_encoder: bool. False trains only the head (encoder and tied embeddings frozen).
        learning_rate: optional float. Peak rate; defaults to 1e-3 for the head
            alone and 5e-5 when the encoder trains too.
        batch_size: int. Texts per step.
        warmup_fraction, weight_decay: float. As `bertkit.finetune.TrainConfig`.
        mask_rounds: int. Masked copies of the texts for head-only training.
        seed: int. Seeds shuffling, masks and dropout.
        verbose: int. Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        dict: `loss` and `masked_accuracy`, one value per epoch.
    """
    texts = inputs.check_texts(texts)  # one string is not a corpus of characters
    if not texts:
        raise ValueError("train_mlm needs texts. Received: an empty list. Pass domain texts.")
    if learning_rate is None:
        learning_rate = ENCODER_LEARNING_RATE if train_encoder else HEAD_LEARNING_RATE
    preflight.check_finite_number(
        learning_rate,
        "learning_rate",
        f"Try {ENCODER_LEARNING_RATE} with the encoder, {HEAD_LEARNING_RATE} for the head alone.",
    )
    config = finetune.TrainConfig(
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
    model: tf_keras.Model,
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


def masked_accuracy(
    model: tf_keras.Model, texts, top_k=(1, 5), seed: int = 1234, batch_size: int = 32
) -> dict:
    """Top-k accuracy at the masked positions of `texts` (fixed seed, so comparable).

    Every selected token counts, whichever of [MASK] / random / unchanged it became.

    Returns:
        dict: `top1`, `top5` (one key per k) and `num_masked`.

    Examples:
    >>> model = build_mlm_model("tiny_random_en_uncased")
    >>> sorted(masked_accuracy(model, ["the drug is good", "bad side effects"]))
    ['num_masked', 'top1', 'top5']
    """
    encoded = inputs.encode_texts(model.text_to_inputs, list(texts))
    # In input order: the masks then depend only on the texts and the seed, so two models
    # (or two calls) are graded on exactly the same masked tokens.
    ds = mlm_dataset(encoded, model.masking, batch_size, seed=seed, shuffle=False)
    hits = dict.fromkeys(top_k, 0.0)
    total = 0.0
    for features, labels, weights in ds:
        logits = model(features, training=False)
        used = tf.cast(weights > 0, tf.float32)
        total += float(tf.reduce_sum(used))
        flat_logits = tf.reshape(logits, [-1, logits.shape[-1]])
        flat_labels = tf.reshape(labels, [-1])
        for k in top_k:
            correct = tf.cast(tf.math.in_top_k(flat_labels, flat_logits, k), tf.float32)
            hits[k] += float(tf.reduce_sum(correct * tf.reshape(used, [-1])))
    result = {f"top{k}": (hits[k] / total if total else float("nan")) for k in top_k}
    result["num_masked"] = int(total)
    return result


def predict_masked(model: tf_keras.Model, text: str, top_k: int = 5) -> list[list[tuple]]:
    """Fill-mask: the `top_k` most likely tokens for each `[MASK]` in `text`.

    Args:
        model: tf_keras.Model. From `build_mlm_model` (with a trained head, or the
            answers are random).
        text: str. Text with one or more `[MASK]` (any case).
        top_k: int. Candidates per mask.

    Returns:
        One list per `[MASK]`, in order: `(token, probability)` pairs, most likely
        first. Probabilities are over the regular tokens (special `[...]` entries,
        which are never masked, are left out).

    Examples:
    >>> model = build_mlm_model("tiny_random_en_uncased")
    >>> [len(c) for c in predict_masked(model, "the [MASK] is [MASK].", top_k=3)]
    [3, 3]
    """
    pieces = _MASK_IN_TEXT.split(text)
    if len(pieces) < 2:
        raise ValueError(
            f"The text has no {names.MASK_TOKEN} token. Received: {text!r}. "
            f"Put {names.MASK_TOKEN} where a word should be predicted."
        )
    config = model.masking
    vocab = tokens.vocabulary(str(model.preprocessor_dir))
    pieces_ids = model.text_to_inputs.tokenize(tf.constant(pieces)).merge_dims(-2, -1).to_list()
    ids = [vocab.index(names.CLS_TOKEN)]
    for i, piece in enumerate(pieces_ids):
        if i:
            ids.append(config.mask_id)
        ids.extend(piece)
    ids.append(vocab.index(names.SEP_TOKEN))
    positions = [i for i, t in enumerate(ids) if t == config.mask_id]
    if len(ids) > model.seq_length or len(positions) > config.max_predictions:
        raise ValueError(
            f"The text is too long or has too many masks. Received: {len(ids)} tokens "
            f"(seq_length={model.seq_length}), {len(positions)} masks "
            f"(max_predictions={config.max_predictions}). Shorten the text."
        )
    slots = positions + [0] * (config.max_predictions - len(positions))
    features = {
        names.INPUT_WORD_IDS: tf.constant([ids], tf.int32),
        names.INPUT_MASK: tf.ones((1, len(ids)), tf.int32),
        names.INPUT_TYPE_IDS: tf.zeros((1, len(ids)), tf.int32),
        MASKED_LM_POSITIONS: tf.constant([slots], tf.int32),
    }
    logits = model(features, training=False)[0, : len(positions)]
    # Special entries ([CLS], [unused17], ...) are never targets: rank regular tokens only.
    never = np.zeros(config.vocab_size, bool)
    never[list(config.unselectable_ids)] = True
    logits = tf.where(tf.constant(never)[None, :], float("-inf"), logits)
    probs = tf.nn.softmax(logits).numpy()
    results = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:top_k]
        results.append([(vocab[i], float(row[i])) for i in best])
    return results


def save_encoder(
    model: tf_keras.Model,
    output_dir: str | os.PathLike,
    metadata: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Saves the (adapted) encoder of an MLM model as a bertkit preset directory.

    Writes atomically:

        output_dir/
          encoder/        TF-Hub encoder SavedModel: the trained weights, the same
                          serving signature, `vocab_file` asset and `do_lower_case`
                          variable as the original (`bertkit.converter` documents them)
          preprocessor/   copy of the model's preprocessor SavedModel
          bertkit.json    {"format": "tfhub-bert", "base": ..., "mlm": metadata}

    The directory loads with `bertkit.load(output_dir)` and trains with
    `bertkit.build_classifier(output_dir, ...)`. The MLM head is not saved.
    """
    with atomic_dir(output_dir, overwrite=overwrite, layout=PRESET_LAYOUT) as tmp:
        tf.saved_model.save(model.encoder_object, str(tmp / names.ENCODER_DIR))
        shutil.copytree(model.preprocessor_dir, tmp / names.PREPROCESSOR_DIR)
        record = {"format": "tfhub-bert", "base": model.preset, "mlm": metadata or {}}
        (tmp / METADATA_FILE).write_text(json.dumps(record, indent=2))
    return Path(output_dir)


def read_metadata(preset_dir: str | os.PathLike) -> dict:
    """The `bertkit.json` record of a directory written by `save_encoder`."""
    path = Path(preset_dir) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No {METADATA_FILE} in the directory. Received: {str(preset_dir)!r}. "
            "Pass a directory written by bertkit.mlm.continue_pretraining."
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
            `build_mlm_model` (e.g. with a head you already trained: `head_epochs=0`).
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
    check_output(output_dir, overwrite, PRESET_LAYOUT)  # before any training
    if isinstance(preset_or_model, tf_keras.Model):
        model = preset_or_model
    else:
        model = build_mlm_model(preset_or_model, seq_length=seq_length, seed=seed)
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
