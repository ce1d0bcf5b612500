"""Tokenize once, then batch with dynamic padding: the fast input pipeline for training.

The preprocessor pads every text to `seq_length`. Training on that wastes
most of the compute on [PAD] tokens (a drug review is ~100 tokens, a topic
sentence ~15). bertkit tokenizes each text once, keeps the ids in memory, and
cuts every batch to its longest real sequence. With `bucket=True`, examples
of similar length are batched together (shuffled within length buckets), so
even less padding is computed.

Examples:
>>> model = build_classifier("tiny_random_en_uncased", num_classes=2)  # doctest: +SKIP
>>> encoded = encode_texts(model, ["a short text", "another"])  # doctest: +SKIP
>>> ds = make_dataset(encoded, labels=[0, 1], batch_size=2)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from bertkit import names
from bertkit.model import classifier
from bertkit.model.layers import TextToEncoderInputs
from bertkit.text.text_pairs import TextPairs, check_model_texts, check_texts


@dataclasses.dataclass
class EncodedTexts:
    """Texts tokenized once: padded ids plus the real length of each row.

    A text is one row, unless its model splits long texts into chunks
    (`build_classifier(..., chunks=N)`, see `bertkit.text.long_texts`): then its rows
    follow each other and `text_index` says which text each row belongs to.

    Args:
        word_ids: np.ndarray. int32 `[rows, seq_length]` token ids ([CLS] ... [SEP] [PAD]...).
        type_ids: np.ndarray. int32 `[rows, seq_length]` segment ids.
        lengths: np.ndarray. int32 `[rows]` number of real tokens per row.
        num_truncated: int. Texts whose wordpieces did not all fit (some were dropped).
        text_index: optional np.ndarray. int32 `[rows]`, ascending: the text of each
            row (None: row i is text i).

    Examples:
    >>> encoded = EncodedTexts(np.zeros((3, 4), np.int32), np.zeros((3, 4), np.int32),
    ...                        np.array([4, 4, 2], np.int32), text_index=np.array([0, 0, 1]))
    >>> encoded.num_texts, encoded.take([1]).lengths.tolist(), encoded.by_row([7, 9]).tolist()
    (2, [2], [7, 7, 9])
    """

    word_ids: np.ndarray
    type_ids: np.ndarray
    lengths: np.ndarray
    num_truncated: int = 0
    text_index: np.ndarray | None = None

    def __post_init__(self):
        if self.text_index is None:
            self.text_index = np.arange(len(self.lengths), dtype=np.int32)
        self.text_index = np.asarray(self.text_index, np.int32)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_texts(self) -> int:
        """Texts encoded (every text has at least one row)."""
        return int(self.text_index[-1]) + 1 if len(self.text_index) else 0

    @property
    def seq_length(self) -> int:
        return int(self.word_ids.shape[1])

    def real_tokens(self) -> int:
        """Total non-padding tokens (what the model actually has to read)."""
        return int(self.lengths.sum())

    def by_row(self, values) -> np.ndarray:
        """Per-text `values` (e.g. labels) repeated for each row of the text."""
        return np.asarray(values)[self.text_index]

    def take(self, indices) -> EncodedTexts:
        """Texts `indices` (all their rows, in that order) as a new `EncodedTexts`."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        starts = np.searchsorted(self.text_index, idx, side="left")
        ends = np.searchsorted(self.text_index, idx, side="right")
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)] or [[]])
        rows = rows.astype(np.int64)
        text_index = np.repeat(np.arange(len(idx), dtype=np.int32), ends - starts)
        return EncodedTexts(
            self.word_ids[rows], self.type_ids[rows], self.lengths[rows], 0, text_index
        )


def encode_texts(model, texts, batch_size: int = 256) -> EncodedTexts:
    """Tokenizes `texts` with a classifier's preprocessor (`model.text_to_inputs`), once.

    Long texts are truncated, or split into chunks, as the model's
    `truncation` and `chunks` say (`bertkit.text.long_texts`).

    Args:
        model: a model from `build_classifier` (or its `TextToEncoderInputs` layer).
        texts: list of str.
        batch_size: int. Texts tokenized per call.
    """
    return _encode(_text_to_inputs(model), [check_texts(texts)], batch_size)


def encode_pairs(model, texts_a, texts_b, batch_size: int = 256) -> EncodedTexts:
    """Tokenizes sentence pairs once, as `[CLS] A [SEP] B [SEP]` with segment ids 0/1.

    The result is an `EncodedTexts` like `encode_texts` returns (type ids
    kept), so `make_dataset` and dynamic padding work unchanged.
    `num_truncated` counts pairs with more than `seq_length - 3` wordpieces.

    Args:
        model: a model from `build_classifier(..., text_pairs=True)` (or its
            `TextToEncoderInputs` layer with `num_segments=2`).
        texts_a: list of str. First segments.
        texts_b: list of str. Second segments (same length as `texts_a`).
        batch_size: int. Pairs tokenized per call.

    Examples:
    >>> model = build_classifier("tiny_random_en_uncased", 2, text_pairs=True)  # doctest: +SKIP
    >>> encode_pairs(model, ["a"], ["b"]).type_ids[0, :5].tolist()  # doctest: +SKIP
    [0, 0, 0, 1, 1]
    """
    text_to_inputs = _text_to_inputs(model)
    pairs = TextPairs(texts_a, texts_b)
    if text_to_inputs.num_segments != 2:
        raise ValueError(
            "encode_pairs needs a sentence-pair model. Received: a single-text model "
            "(num_segments=1). Build it with build_classifier(..., text_pairs=True), or use "
            "encode_texts for single texts."
        )
    return _encode(text_to_inputs, [pairs.texts_a, pairs.texts_b], batch_size)


def _encode(text_to_inputs, segments: list[list], batch_size: int) -> EncodedTexts:
    """Tokenizes one list of texts (or two, for pairs) in batches with one traced function."""
    encode_fn = _cached_function(
        text_to_inputs,
        f"_bertkit_encode_fn_{len(segments)}",
        lambda *texts: _encode_batch(text_to_inputs, texts),
        [tf.TensorSpec([None], tf.string)] * len(segments),
    )
    word_ids, type_ids, lengths, text_index, truncated = [], [], [], [], 0
    for start in range(0, len(segments[0]), batch_size):
        batch = [tf.constant(s[start : start + batch_size], dtype=tf.string) for s in segments]
        ids, types, mask, rows_text, n_trunc = encode_fn(*batch)
        word_ids.append(ids.numpy())
        type_ids.append(types.numpy())
        lengths.append(mask.numpy().sum(axis=1).astype(np.int32))
        text_index.append(rows_text.numpy() + start)
        truncated += int(n_trunc)
    if not word_ids:
        empty = np.zeros((0, text_to_inputs.seq_length), np.int32)
        return EncodedTexts(empty, empty.copy(), np.zeros((0,), np.int32), 0)
    return EncodedTexts(
        *(np.concatenate(x) for x in (word_ids, type_ids, lengths)),
        truncated,
        np.concatenate(text_index),
    )


def encode_for_model(model, texts, batch_size: int = 256) -> EncodedTexts:
    """`encode_texts` for a single-text model, `encode_pairs` for a pair model.

    Args:
        model: a model from `build_classifier`.
        texts: list of str, or (pair models) a `TextPairs` / list of `(a, b)` tuples.
        batch_size: int. Texts tokenized per call.
    """
    texts = check_model_texts(classifier.check_classifier(model), texts)
    if isinstance(texts, TextPairs):
        return encode_pairs(model, texts.texts_a, texts.texts_b, batch_size)
    return encode_texts(model, texts, batch_size)


# Batch lengths are rounded up to this multiple under XLA (one compiled program per length).
XLA_LENGTH_MULTIPLE = 32
# Texts per forward pass when predicting or computing features. On a 2-core CPU,
# MiniLM-L6 predicts faster at 32 than at 64 or 128 (45 vs 37 vs 33 reviews/s:
# smaller activations stay in the caches); 16 is as fast as 32.
PREDICT_BATCH_SIZE = 32

TOKENS_SIGNATURE = [{name: tf.TensorSpec([None, None], tf.int32) for name in names.ENCODER_INPUTS}]


def _text_to_inputs(model) -> TextToEncoderInputs:
    """`model` if it is a `TextToEncoderInputs` layer, else the layer of the classifier `model`."""
    if isinstance(model, TextToEncoderInputs):
        return model
    return classifier.check_classifier(model).text_to_inputs


def _cached_function(owner, attribute: str, python_function, input_signature):
    """A `tf.function` stored on `owner`, so repeated calls reuse one trace (any batch/length)."""
    fn = getattr(owner, attribute, None)
    if fn is None:
        fn = tf.function(python_function, input_signature=input_signature)
        object.__setattr__(owner, attribute, fn)
    return fn


def _encode_batch(text_to_inputs, texts):
    inputs, text_index, truncated = text_to_inputs.encode(texts if len(texts) == 2 else texts[0])
    return (
        inputs[names.INPUT_WORD_IDS],
        inputs[names.INPUT_TYPE_IDS],
        inputs[names.INPUT_MASK],
        text_index,
        tf.reduce_sum(tf.cast(truncated, tf.int32)),
    )


def _trim_to_longest(word_ids, type_ids, lengths, *rest, multiple=1, max_length=None):
    longest = tf.reduce_max(lengths)
    if multiple > 1:
        longest = tf.minimum((longest + multiple - 1) // multiple * multiple, max_length)
    positions = tf.range(longest)[None, :]
    inputs = {
        names.INPUT_WORD_IDS: word_ids[:, :longest],
        names.INPUT_MASK: tf.cast(positions < lengths[:, None], tf.int32),
        names.INPUT_TYPE_IDS: type_ids[:, :longest],
    }
    return (inputs, *rest) if rest else inputs


def bucketed_order(lengths: np.ndarray, batch_size: int, seed: int, window: int = 50) -> np.ndarray:
    """A shuffled order in which each batch holds examples of similar length.

    Shuffle, cut into windows of `window` batches, sort each window by length,
    cut into batches, shuffle the (full) batches.

    Examples:
    >>> order = bucketed_order(np.array([5, 50, 6, 51]), batch_size=2, seed=0)
    >>> sorted(sorted(np.array([5, 50, 6, 51])[order[i:i + 2]].tolist()) for i in (0, 2))
    [[5, 6], [50, 51]]
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    span = batch_size * window
    chunks = [order[i : i + span] for i in range(0, len(order), span)]
    batches = []
    for chunk in chunks:
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    # Only the very last batch can be short; keep it last so that cutting the
    # order into consecutive batches of `batch_size` gives back these batches.
    full = [b for b in batches if len(b) == batch_size]
    short = [b for b in batches if len(b) < batch_size]
    rng.shuffle(full)
    batches = full + short
    return np.concatenate(batches) if batches else order


def epoch_order(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, bucket: bool
) -> np.ndarray:
    """The example order of one epoch: a function of `(seed, epoch)` only.

    Because it does not depend on how many epochs ran before in this process,
    training resumed at epoch k sees exactly the batches an uninterrupted run sees.

    Examples:
    >>> a = epoch_order(np.arange(10), 2, seed=0, epoch=3, bucket=False)
    >>> b = epoch_order(np.arange(10), 2, seed=0, epoch=3, bucket=False)
    >>> bool((a == b).all()), sorted(a.tolist()) == list(range(10))
    (True, True)
    """
    epoch_seed = np.random.SeedSequence([seed, epoch]).generate_state(1)[0]
    if bucket:
        return bucketed_order(lengths, batch_size, int(epoch_seed))
    return np.random.default_rng(epoch_seed).permutation(len(lengths))


def make_dataset(
    encoded: EncodedTexts,
    labels=None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    bucket: bool = False,
    sample_weights=None,
    epochs: int | None = None,
    initial_epoch: int = 0,
    length_multiple: int = 1,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of `(inputs, labels[, weights])` batches cut to their longest row.

    Args:
        encoded: EncodedTexts. From `encode_texts` (tokenized once, held in memory).
        labels: optional array-like. Integer label ids.
        batch_size: int. Examples per batch (> 0).
        shuffle: bool. Reshuffle every epoch (seeded).
        seed: int. Shuffle seed.
        bucket: bool. Batch examples of similar length together (needs `shuffle`).
        sample_weights: optional array-like. Per-example loss weights.
        epochs: optional int. With `shuffle`, return the batches of epochs
            `[initial_epoch, epochs)` back to back, each epoch ordered by
            `epoch_order(seed, epoch)` (pass `steps_per_epoch` to Keras `fit`).
            This is what makes resumed training see the same batches.
        initial_epoch: int. First epoch, when resuming.
        length_multiple: int. Round each batch's length up to a multiple of this
            (fewer distinct shapes, for XLA); 1 cuts batches to their longest row.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"batch_size must be a positive integer. Received: batch_size={batch_size!r}. "
            "Try 8, 16 or 32 on a CPU."
        )
    arrays = [encoded.word_ids, encoded.type_ids, encoded.lengths]
    if labels is not None:
        arrays.append(np.asarray(labels, dtype=np.int32))
    if sample_weights is not None:
        arrays.append(np.asarray(sample_weights, dtype=np.float32))
    if shuffle and epochs is not None:
        ds = epochs_dataset(
            arrays, encoded.lengths, batch_size, seed, bucket, initial_epoch, epochs
        )
    elif bucket and shuffle:
        # Batches of similar lengths, fixed once; their order is reshuffled every epoch.
        order = bucketed_order(encoded.lengths, batch_size, seed)
        ds = tf.data.Dataset.from_tensor_slices(tuple(a[order] for a in arrays)).batch(batch_size)
        ds = ds.shuffle(
            steps_per_epoch(len(encoded), batch_size), seed=seed, reshuffle_each_iteration=True
        )
    else:
        ds = tf.data.Dataset.from_tensor_slices(tuple(arrays))
        if shuffle:
            ds = ds.shuffle(len(encoded), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
    max_length = encoded.seq_length

    def trim(*batch):
        return _trim_to_longest(*batch, multiple=length_multiple, max_length=max_length)

    return ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def epochs_dataset(arrays, lengths, batch_size, seed, bucket, first, last) -> tf.data.Dataset:
    """Batches of `arrays` rows for epochs `[first, last)`, never mixing two epochs in a batch.

    Args:
        arrays: list of np.ndarray. Row-aligned arrays (ids, labels, features...).
        lengths: optional np.ndarray. Real lengths, for `bucket=True`.
        batch_size: int. Rows per batch.
        seed: int. With the epoch number, fixes each epoch's order (`epoch_order`).
        bucket: bool. Batch rows of similar length together.
        first: int. First epoch.
        last: int. One past the last epoch.
    """
    n = len(arrays[0])
    lengths = np.zeros(n, np.int32) if lengths is None else lengths
    orders = [epoch_order(lengths, batch_size, seed, e, bucket) for e in range(first, last)]
    tables = tuple(tf.constant(a) for a in arrays)
    stacked = np.stack(orders) if orders else np.zeros((0, n), np.int64)
    epochs = tf.data.Dataset.from_tensor_slices(stacked)
    batches = epochs.flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    )
    return batches.map(lambda idx: tuple(tf.gather(t, idx) for t in tables))


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Batches per epoch (the last one may be smaller)."""
    return math.ceil(num_examples / batch_size)
