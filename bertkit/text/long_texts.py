"""Texts longer than `seq_length`: which wordpieces a row keeps, chunks, and pooling the chunks.

A single-text row is `[CLS] wordpieces [SEP]`: at most `seq_length - 2`
wordpieces. `LongTexts` decides what a longer text becomes:

- `truncation="head"` (the default) keeps the first wordpieces, `"tail"` the
  last ones, `"head_tail"` the first `head_tokens` and the last ones after
  them. Sun et al. 2019 ("How to Fine-Tune BERT for Text Classification?",
  Table 3) kept the first 128 and the last 382 of 510 on IMDb and Sogou and
  beat head-only; bertkit's default `head_tokens` is the same share, a quarter
  of the kept wordpieces rounded down: 31 head + 95 tail at `seq_length=128`.
- `chunks=N` (N > 1) splits a text into up to N windows of `seq_length - 2`
  wordpieces, each packed as its own row; window i starts
  `i * (seq_length - 2 - chunk_overlap)` wordpieces in, so neighbours share
  `chunk_overlap` wordpieces. A text needs as many windows as its length
  takes (a short one stays one row). When it has more wordpieces than N
  windows hold (`capacity`), `truncation` chooses which `capacity` of them are
  kept and windowed. At most `MAX_CHUNKS` windows per text.

How a chunked model trains and predicts: in training (`bertkit.fit`) every
chunk is an example carrying its text's label (class weights still count
texts); in prediction the features of a text's chunks are averaged before the
head (`mean_by_text`), which for bertkit's linear head (dropout is off) equals
the mean of the chunks' logits. The SavedModel and the LiteRT export do the
same in-graph: every op here (gather, where, equal, matmul) is a TFLite builtin.
A text counts as truncated when wordpieces were dropped (more than `capacity`).

Sentence pairs keep the TF-Hub preprocessor's round-robin trimming
(`bertkit.model.layers.TextToEncoderInputs`); these options apply to single texts.

Examples:
>>> long = LongTexts(seq_length=6, truncation="head_tail", head_tokens=1)
>>> inputs, text_index, cut = long.rows(tf.constant([11, 12, 13, 14, 15, 16]), [0, 6], SPECIAL)
>>> inputs["input_word_ids"].numpy().tolist(), cut.numpy().tolist()
([[101, 11, 14, 15, 16, 102]], [True])
>>> inputs, text_index, _ = LongTexts(6, chunks=2).rows(tf.constant([11, 12, 13, 14, 15]), [0, 5], SPECIAL)
>>> inputs["input_word_ids"].numpy().tolist(), text_index.numpy().tolist()
([[101, 11, 12, 13, 14, 102], [101, 15, 102, 0, 0, 0]], [0, 0])
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import tensorflow as tf

from bertkit import names

TRUNCATIONS = ("head", "tail", "head_tail")
# The long-text arguments of `build_classifier` (and `TextToEncoderInputs`).
OPTIONS = ("truncation", "head_tokens", "chunks", "chunk_overlap")
# Windows per text at most: 16 * 126 = 2016 wordpieces at seq_length 128, longer than
# any drug review; a predict batch of 32 texts is then at most 512 rows.
MAX_CHUNKS = 16
# Special ids as in the docstring examples (the BERT vocabulary's [CLS], [SEP], [PAD]).
SPECIAL = {"start_of_sequence_id": 101, "end_of_segment_id": 102, "padding_id": 0}
_POSITION_TABLE_RE = re.compile(r"(?:^|/)position_embedding/embeddings(?::\d+)?$")


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def validate_seq_length(
    seq_length, text_pairs: bool = False, max_positions: int | None = None
) -> None:
    """Raises ValueError for a seq_length that cannot work (before any data or model work).

    Args:
        seq_length: int. Tokens per text, [CLS] and [SEP] included.
        text_pairs: bool. Whether the model packs two texts (3 special tokens).
        max_positions: optional int. The encoder's position-table rows (`position_table_size`).

    Examples:
    >>> validate_seq_length(128, max_positions=512)
    >>> validate_seq_length(1000, max_positions=512)
    Traceback (most recent call last):
    ...
    ValueError: seq_length is longer than the encoder's position table. Received: seq_length=1000, the encoder has 512 positions. Pass seq_length <= 512 (--seq-length on the command line); for longer texts see chunks (--chunks).
    """
    if not _is_int(seq_length):
        raise ValueError(
            f"seq_length must be an integer. Received: seq_length={seq_length!r}. Try 128."
        )
    least, layout = (5, "[CLS] A [SEP] B [SEP]") if text_pairs else (3, "[CLS] text [SEP]")
    if seq_length < least:
        raise ValueError(
            f"seq_length is too short: {layout} needs at least {least} tokens. Received: "
            f"seq_length={seq_length}. Pass seq_length >= {least}; 128 suits most texts."
        )
    if max_positions is not None and seq_length > max_positions:
        raise ValueError(
            "seq_length is longer than the encoder's position table. Received: "
            f"seq_length={seq_length}, the encoder has {max_positions} positions. Pass "
            f"seq_length <= {max_positions} (--seq-length on the command line); for longer "
            "texts see chunks (--chunks)."
        )


def position_table_size(variables) -> int | None:
    """Rows of the encoder's position-embedding table (its longest input), or None if not found.

    Every TF-Hub BERT names it `.../position_embedding/embeddings` (shape
    `[max_position_embeddings, hidden]`).

    Args:
        variables: list of tf.Variable. The encoder SavedModel's variables.
    """
    for variable in variables:
        if _POSITION_TABLE_RE.search(variable.name) and len(variable.shape) == 2:
            return int(variable.shape[0])
    return None


def validate(seq_length, truncation, head_tokens, chunks, chunk_overlap, text_pairs=False):
    """Raises ValueError for long-text options that cannot work (`seq_length` already checked).

    Examples:
    >>> validate(128, "middle", None, 1, 0)
    Traceback (most recent call last):
    ...
    ValueError: Unknown truncation. Received: truncation='middle'. Use one of ['head', 'tail', 'head_tail'].
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(
            f"Unknown truncation. Received: truncation={truncation!r}. "
            f"Use one of {list(TRUNCATIONS)}."
        )
    if not _is_int(chunks) or not 1 <= chunks <= MAX_CHUNKS:
        raise ValueError(
            f"chunks must be an integer from 1 (no chunking) to {MAX_CHUNKS}. Received: "
            f"chunks={chunks!r}. Pass e.g. chunks=4 (--chunks 4) to read 4 windows of a long text."
        )
    budget = seq_length - 2
    if not _is_int(chunk_overlap) or not 0 <= chunk_overlap <= budget // 2:
        raise ValueError(
            "chunk_overlap must be an integer from 0 to half a window "
            f"(seq_length - 2 = {budget} wordpieces). Received: chunk_overlap={chunk_overlap!r}. "
            f"Pass 0 (no overlap) up to {budget // 2}."
        )
    if chunk_overlap and chunks == 1:
        raise ValueError(
            "chunk_overlap needs chunks > 1: one window has no neighbour to overlap. Received: "
            f"chunk_overlap={chunk_overlap}, chunks=1. Pass chunks=2 or more, or drop chunk_overlap."
        )
    if head_tokens is not None:
        if truncation != "head_tail":
            raise ValueError(
                "head_tokens only applies to truncation='head_tail'. Received: "
                f"head_tokens={head_tokens!r}, truncation={truncation!r}. Pass "
                "truncation='head_tail' (--truncation head_tail) or drop head_tokens."
            )
        capacity = LongTexts._capacity(seq_length, chunks, chunk_overlap)
        if not _is_int(head_tokens) or not 1 <= head_tokens < capacity:
            raise ValueError(
                f"head_tokens must be an integer from 1 to {capacity - 1} (the wordpieces kept "
                f"are {capacity}). Received: head_tokens={head_tokens!r}. Pass e.g. "
                f"{capacity // 4} (the default: a quarter from the head)."
            )
    if text_pairs and (truncation != "head" or chunks != 1):
        raise ValueError(
            "truncation and chunks apply to single texts; sentence pairs are trimmed round "
            f"robin. Received: text_pairs=True, truncation={truncation!r}, chunks={chunks!r}. "
            "Drop truncation and chunks, or classify single texts."
        )


@dataclasses.dataclass(frozen=True)
class LongTexts:
    """What a single text becomes: the rows `[CLS] wordpieces [SEP]` it is packed into.

    Args:
        seq_length: int. Tokens per row, [CLS] and [SEP] included.
        truncation: str. `"head"`, `"tail"` or `"head_tail"`: which wordpieces are kept.
        head_tokens: optional int. With `"head_tail"`: wordpieces kept from the head
            (default: a quarter of `capacity`, rounded down).
        chunks: int. Windows per text at most (1: no chunking).
        chunk_overlap: int. Wordpieces a window shares with the previous one.
    """

    seq_length: int = 128
    truncation: str = "head"
    head_tokens: int | None = None
    chunks: int = 1
    chunk_overlap: int = 0

    def __post_init__(self):
        validate_seq_length(self.seq_length)
        validate(
            self.seq_length, self.truncation, self.head_tokens, self.chunks, self.chunk_overlap
        )

    @staticmethod
    def _capacity(seq_length: int, chunks: int, chunk_overlap: int) -> int:
        budget = seq_length - 2
        return budget + (chunks - 1) * (budget - chunk_overlap)

    @property
    def capacity(self) -> int:
        """Wordpieces of a text that are kept; the rest are dropped (truncation)."""
        return self._capacity(self.seq_length, self.chunks, self.chunk_overlap)

    @property
    def head_kept(self) -> int:
        """Wordpieces kept from the head of a text longer than `capacity`."""
        if self.truncation == "head_tail":
            return self.capacity // 4 if self.head_tokens is None else self.head_tokens
        return self.capacity if self.truncation == "head" else 0

    def rows(self, values, row_splits, special: dict, width: int | None = None):
        """Packs a batch of wordpiece ids into rows; returns `(inputs, text_index, truncated)`.

        Args:
            values: int tensor `[total]`. The batch's wordpiece ids, text after text.
            row_splits: int tensor `[batch + 1]`. Text i is `values[row_splits[i]:row_splits[i+1]]`.
            special: dict. `start_of_sequence_id`, `end_of_segment_id`, `padding_id`.
            width: optional int. Pad rows to this many tokens (`seq_length`); None pads
                to the batch's longest row.

        Returns:
            The three encoder inputs (int32 `[rows, width]`), `text_index` (int32
            `[rows]`: the text of each row, ascending) and `truncated` (bool `[batch]`).
        """
        budget, step = self.seq_length - 2, self.seq_length - 2 - self.chunk_overlap
        values = tf.cast(values, tf.int32)
        row_splits = tf.cast(row_splits, tf.int32)
        starts, counts = row_splits[:-1], row_splits[1:] - row_splits[:-1]
        kept = tf.minimum(counts, self.capacity)
        window_starts = np.arange(self.chunks, dtype=np.int32) * step
        grid = (window_starts[:, None] + np.arange(budget, dtype=np.int32)[None, :]).reshape(-1)
        position = tf.constant(grid)[None, :]  # [1, chunks * budget] positions among the kept
        source = tf.where(position < self.head_kept, position, (counts - kept)[:, None] + position)
        valid = position < kept[:, None]
        # Invalid positions read one padding id appended after the batch's wordpieces.
        padded = tf.concat([values, [special["padding_id"]]], 0)
        index = tf.where(valid, starts[:, None] + source, tf.shape(values)[0])
        ids = tf.reshape(tf.gather(padded, index), [-1, self.chunks, budget])
        lengths = tf.clip_by_value(kept[:, None] - window_starts[None, :], 0, budget)
        if self.chunks == 1:
            body, length = ids[:, 0], lengths[:, 0]
            text_index = tf.range(tf.shape(counts)[0])
        else:
            needed = (window_starts == 0)[None, :] | (
                kept[:, None] > window_starts[None, :] + self.chunk_overlap
            )
            where = tf.cast(tf.where(needed), tf.int32)  # [rows, 2]: (text, window)
            body, length = tf.gather_nd(ids, where), tf.gather_nd(lengths, where)
            text_index = where[:, 0]
        return pack_rows(body, length, special, width), text_index, counts > self.capacity


def pack_rows(body, length, special: dict, width: int | None = None) -> dict:
    """`[CLS] body[:length] [SEP] [PAD]...` per row: the three encoder inputs, int32.

    Examples:
    >>> pack_rows(tf.constant([[7, 8, 9]]), tf.constant([2]), SPECIAL)["input_word_ids"].numpy()
    array([[101,   7,   8, 102]], dtype=int32)
    """
    rows = tf.shape(body)[0]
    if width is None:
        width = tf.reduce_max(tf.concat([length, [0]], 0)) + 2
    body = body[:, : width - 2]
    cls = tf.fill([rows, 1], special["start_of_sequence_id"])
    ids = tf.concat([cls, body, tf.zeros([rows, 1], tf.int32)], axis=1)
    positions = tf.range(width)[None, :]
    ids = tf.where(positions == length[:, None] + 1, special["end_of_segment_id"], ids)
    mask = positions < length[:, None] + 2
    ids = tf.where(mask, ids, special["padding_id"])
    return {
        names.INPUT_WORD_IDS: ids,
        names.INPUT_MASK: tf.cast(mask, tf.int32),
        names.INPUT_TYPE_IDS: tf.zeros_like(ids),
    }


def mean_by_text(values, text_index, num_texts):
    """Mean of the rows of `values` that belong to each text: `[num_texts, ...]`.

    A matmul with a 0/1 membership matrix (builtin in TFLite, unlike segment ops).

    Examples:
    >>> mean_by_text(tf.constant([[1.0], [3.0], [5.0]]), tf.constant([0, 0, 1]), 2).numpy().tolist()
    [[2.0], [5.0]]
    """
    values = tf.convert_to_tensor(values)
    member = tf.range(num_texts)[:, None] == tf.cast(text_index, tf.int32)[None, :]
    member = tf.cast(member, values.dtype)  # [num_texts, rows]
    count = tf.maximum(tf.reduce_sum(member, axis=1, keepdims=True), 1.0)
    return tf.matmul(member, values) / count


def logits_by_text(model, inputs: dict, text_index, num_texts):
    """Float32 logits per text: chunk features averaged, then the head (`model`: a classifier).

    Without chunks (`model.chunks == 1`) every row is a text: `model.token_model(inputs)`.
    """
    if model.chunks == 1:
        return tf.cast(model.token_model(inputs, training=False), tf.float32)
    features = model.feature_model(inputs, training=False)
    return tf.cast(model.head(mean_by_text(features, text_index, num_texts)), tf.float32)
