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


@dataclasses.dataclass
class EncodedTexts:
    """Texts tokenized once: padded ids plus the real length of each row.

    Args:
        word_ids: np.ndarray. int32 `[n, seq_length]` token ids ([CLS] ... [SEP] [PAD]...).
        type_ids: np.ndarray. int32 `[n, seq_length]` segment ids.
        lengths: np.ndarray. int32 `[n]` number of real tokens per row.
        num_truncated: int. Texts longer than `seq_length` that were cut.
    """

    word_ids: np.ndarray
    type_ids: np.ndarray
    lengths: np.ndarray
    num_truncated: int = 0

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def seq_length(self) -> int:
        return int(self.word_ids.shape[1])

    def real_tokens(self) -> int:
        """Total non-padding tokens (what the model actually has to read)."""
        return int(self.lengths.sum())

    def take(self, indices) -> EncodedTexts:
        """Rows `indices` as a new `EncodedTexts`."""
        idx = np.asarray(indices)
        return EncodedTexts(self.word_ids[idx], self.type_ids[idx], self.lengths[idx], 0)


def check_texts(texts) -> list:
    """`texts` as a list, or TypeError naming the positions of entries that are not strings.

    Examples:
    >>> check_texts(("a", "b"))
    ['a', 'b']
    """
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"texts must be a list of strings, not one string. Received: {texts!r:.80}. "
            f"Pass a list: [{texts!r:.60}]."
        )
    texts = list(texts)
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str | bytes)]
    if bad:
        first = texts[bad[0]]
        shown = ", ".join(map(str, bad[:10])) + (
            f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        )
        raise TypeError(
            f"Every text must be a string. Received: {first!r:.80} of type {type(first).__name__} "
            f"at position{'s' if len(bad) > 1 else ''} {shown} (counting from 0). Drop or fill in "
            'missing texts first, e.g. load them with bertkit.text.data.load(..., on_bad_text="drop").'
        )
    return texts


def encode_texts(model, texts, batch_size: int = 256) -> EncodedTexts:
    """Tokenizes `texts` with a classifier's preprocessor (`model.text_to_inputs`), once.

    Args:
        model: a model from `build_classifier` (or its `TextToEncoderInputs` layer).
        texts: list of str.
        batch_size: int. Texts tokenized per call.
    """
    text_to_inputs = _text_to_inputs(model)
    texts = check_texts(texts)
    seq_length = text_to_inputs.seq_length
    tokenize_fn = _cached_function(
        text_to_inputs,
        "_bertkit_encode_fn",
        lambda x: _encode_batch(text_to_inputs, x, seq_length),
        TEXT_SIGNATURE,
    )
    word_ids, type_ids, lengths, truncated = [], [], [], 0
    for start in range(0, len(texts), batch_size):
        chunk = tf.constant(texts[start : start + batch_size], dtype=tf.string)
        ids, types, mask, n_trunc = tokenize_fn(chunk)
        word_ids.append(ids.numpy())
        type_ids.append(types.numpy())
        lengths.append(mask.numpy().sum(axis=1).astype(np.int32))
        truncated += int(n_trunc)
    if not texts:
        empty = np.zeros((0, seq_length), np.int32)
        return EncodedTexts(empty, empty.copy(), np.zeros((0,), np.int32), 0)
    return EncodedTexts(
        np.concatenate(word_ids), np.concatenate(type_ids), np.concatenate(lengths), truncated
    )


@dataclasses.dataclass
class TextPairs:
    """Sentence pairs for a pair classifier (`build_classifier(..., text_pairs=True)`).

    Iterating yields `(a, b)` tuples; `len` is the number of pairs.

    Args:
        texts_a: list of str. First segments (input_type_ids 0).
        texts_b: list of str. Second segments (input_type_ids 1).

    Examples:
    >>> pairs = TextPairs(["is it raining?"], ["yes, take an umbrella"])
    >>> len(pairs), list(pairs)[0][1]
    (1, 'yes, take an umbrella')
    """

    texts_a: list
    texts_b: list

    def __post_init__(self):
        self.texts_a = check_texts(self.texts_a)
        self.texts_b = check_texts(self.texts_b)
        if len(self.texts_a) != len(self.texts_b):
            raise ValueError(
                "texts_a and texts_b must have one entry per pair. Received: "
                f"{len(self.texts_a)} texts_a and {len(self.texts_b)} texts_b. Pass lists of "
                "the same length (pair i is (texts_a[i], texts_b[i]))."
            )

    def __len__(self) -> int:
        return len(self.texts_a)

    def __iter__(self):
        return iter(zip(self.texts_a, self.texts_b, strict=True))

    def take(self, indices) -> TextPairs:
        """Pairs `indices` as a new `TextPairs`."""
        return TextPairs([self.texts_a[i] for i in indices], [self.texts_b[i] for i in indices])


def is_pairs(texts) -> bool:
    """Whether `texts` holds sentence pairs: a `TextPairs`, or a list of `(a, b)` tuples.

    Examples:
    >>> is_pairs([("a", "b")]), is_pairs(["a b"]), is_pairs([["a"]]), is_pairs(TextPairs([], []))
    (True, False, False, True)
    """
    if isinstance(texts, TextPairs):
        return True
    if isinstance(texts, np.ndarray):
        return texts.ndim == 2 and texts.shape[1] == 2
    if hasattr(texts, "iloc"):  # a pandas Series: look at its first row, whatever its index
        return len(texts) > 0 and _is_pair(texts.iloc[0])
    if isinstance(texts, list | tuple):
        return len(texts) > 0 and _is_pair(texts[0])
    return False


def _is_pair(row) -> bool:
    return isinstance(row, tuple | list) and len(row) == 2 and all(isinstance(t, str) for t in row)


def as_pairs(texts) -> TextPairs:
    """`texts` (a `TextPairs` or a list of `(a, b)` tuples) as a `TextPairs`.

    Examples:
    >>> as_pairs([("a", "b"), ("c", "d")]).texts_b
    ['b', 'd']
    """
    if isinstance(texts, TextPairs):
        return texts
    rows = [tuple(row) if isinstance(row, np.ndarray) else row for row in texts]
    bad = [i for i, row in enumerate(rows) if not (isinstance(row, tuple | list) and len(row) == 2)]
    if bad:
        raise ValueError(
            "Every sentence pair must be a (text_a, text_b) tuple. Received: "
            f"{rows[bad[0]]!r:.80} at position {bad[0]} (counting from 0). Pass a list of "
            "2-tuples, or bertkit.text.inputs.TextPairs(texts_a, texts_b)."
        )
    return TextPairs([row[0] for row in rows], [row[1] for row in rows])


def check_model_texts(model, texts):
    """`texts` in the form `model` takes: a `TextPairs` for a pair model, else a list of str.

    Raises a clear error when a single-text model gets pairs or a pair model
    gets single texts. `model` is a `TextClassifier`, or a `preflight.PlannedModel`
    before it is built (`encode_for_model` and `preflight.check_examples` check which).
    """
    pair_model = model.text_pairs
    if pair_model and not is_pairs(texts):
        if hasattr(texts, "__len__") and len(texts) == 0:
            return TextPairs([], [])
        shown = texts if isinstance(texts, str | bytes) else list(texts)[:1]
        raise ValueError(
            "This model classifies sentence pairs, but got single texts. Received: "
            f"{shown!r:.80}. Pass a list of (text_a, text_b) tuples or "
            "bertkit.text.inputs.TextPairs(texts_a, texts_b)."
        )
    if not pair_model and is_pairs(texts):
        raise ValueError(
            "This model classifies single texts, but got sentence pairs. Received: "
            f"{list(texts)[:1]!r:.80}. Pass a list of strings, or build the model with "
            "build_classifier(..., text_pairs=True)."
        )
    return as_pairs(texts) if pair_model else check_texts(texts)


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
    seq_length = text_to_inputs.seq_length
    tokenize_fn = _cached_function(
        text_to_inputs,
        "_bertkit_encode_pairs_fn",
        lambda a, b: _encode_pair_batch(text_to_inputs, a, b, seq_length),
        PAIR_SIGNATURE,
    )
    word_ids, type_ids, lengths, truncated = [], [], [], 0
    for start in range(0, len(pairs), batch_size):
        chunk_a = tf.constant(pairs.texts_a[start : start + batch_size], dtype=tf.string)
        chunk_b = tf.constant(pairs.texts_b[start : start + batch_size], dtype=tf.string)
        ids, types, mask, n_trunc = tokenize_fn(chunk_a, chunk_b)
        word_ids.append(ids.numpy())
        type_ids.append(types.numpy())
        lengths.append(mask.numpy().sum(axis=1).astype(np.int32))
        truncated += int(n_trunc)
    if not len(pairs):
        empty = np.zeros((0, seq_length), np.int32)
        return EncodedTexts(empty, empty.copy(), np.zeros((0,), np.int32), 0)
    return EncodedTexts(
        np.concatenate(word_ids), np.concatenate(type_ids), np.concatenate(lengths), truncated
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

TEXT_SIGNATURE = [tf.TensorSpec([None], tf.string)]
PAIR_SIGNATURE = [tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)]
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


def _encode_batch(text_to_inputs, texts, seq_length):
    tokens = text_to_inputs.tokenize(texts)
    wordpieces = tokens.merge_dims(-2, -1).row_lengths()
    packed = text_to_inputs.pack([tokens])
    truncated = tf.reduce_sum(tf.cast(wordpieces > seq_length - 2, tf.int32))
    return (
        packed[names.INPUT_WORD_IDS],
        packed[names.INPUT_TYPE_IDS],
        packed[names.INPUT_MASK],
        truncated,
    )


def _encode_pair_batch(text_to_inputs, texts_a, texts_b, seq_length):
    tokens_a = text_to_inputs.tokenize(texts_a)
    tokens_b = text_to_inputs.tokenize(texts_b)
    wordpieces = (
        tokens_a.merge_dims(-2, -1).row_lengths() + tokens_b.merge_dims(-2, -1).row_lengths()
    )
    packed = text_to_inputs.pack([tokens_a, tokens_b])
    truncated = tf.reduce_sum(tf.cast(wordpieces > seq_length - 3, tf.int32))
    return (
        packed[names.INPUT_WORD_IDS],
        packed[names.INPUT_TYPE_IDS],
        packed[names.INPUT_MASK],
        truncated,
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
