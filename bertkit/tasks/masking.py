"""BERT's masking procedure for masked language modelling, as pure TensorFlow.

`mask_tokens` works inside `tf.data` and is seeded with a stateless RNG, so it
is reproducible. Of the real tokens ([CLS], [SEP], [PAD] and every other
`[...]` vocabulary entry are never chosen) 15% are selected; of those 80%
become [MASK], 10% a random vocabulary token and 10% stay unchanged. The output
follows tf-models' pre-training convention: `masked_lm_positions`,
`masked_lm_ids`, `masked_lm_weights` (fixed `max_predictions` slots, padding
slots weigh 0) and the modified `input_word_ids`. `mlm_dataset` masks encoded
texts batch by batch for `bertkit.tasks.mlm.train_mlm` and `bertkit.tasks.mlm_model`.

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
import re

import numpy as np
import tensorflow as tf

from bertkit import names
from bertkit.text import inputs, tokens

# Pre-training feature names (tf-models' BERT pre-training convention).
MASKED_LM_POSITIONS = "masked_lm_positions"
MASKED_LM_IDS = "masked_lm_ids"
MASKED_LM_WEIGHTS = "masked_lm_weights"

MASK_RATE = 0.15
MASK_TOKEN_RATE = 0.8
RANDOM_TOKEN_RATE = 0.1
DEFAULT_MAX_PREDICTIONS = 20  # ceil(0.15 * 126): enough for seq_length 128
_SPECIAL_PIECE = re.compile(r"^\[.+\]$")  # [PAD], [CLS], [unused17], ...


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

    Dynamically padded batches of similar lengths (`bertkit.text.inputs.make_dataset`),
    repeated `epochs` times, each batch masked afresh (dynamic masking, as RoBERTa).

    Args:
        encoded: EncodedTexts. Texts tokenized once (`bertkit.text.inputs.encode_texts`).
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
