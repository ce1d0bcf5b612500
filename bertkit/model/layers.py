"""The Keras layers a bertkit classifier is built from (`bertkit.model.classifier` assembles them).

- `TextToEncoderInputs`: raw strings -> the three encoder inputs, with the
  preset's TF-Hub preprocessor (tokenize + `bert_pack_inputs`) at any length.
- `SubsetTrainableKerasLayer`: a TF-Hub encoder of which only chosen variables train.
- `MaskedMeanPooling`: the mean of `sequence_output` over real tokens.
- `ChunkMeanPooling`: the mean of the features of each text's chunks
  (`bertkit.text.long_texts`).

TF-Hub SavedModels are opaque: `hub.KerasLayer(trainable=True)` exposes all
of their variables at once (google-research/bert #637). `SubsetTrainableKerasLayer`
decides per variable, from the variable names every TF-Hub BERT uses
(`transformer/layer_{i}/...`, `pooler_transform/...`, `word_embeddings/...`),
which ones the optimizer may touch (`bertkit.model.classifier.trainable_filter`).

Examples:
>>> to_inputs = TextToEncoderInputs(bk_hub.resolve("tiny_random_en_uncased", "preprocessor"), 8)
>>> to_inputs(tf.constant(["the job is good"]))[names.INPUT_MASK].numpy().tolist()
[[1, 1, 1, 1, 1, 1, 0, 0]]
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from bertkit import names
from bertkit.presets import hub as bk_hub
from bertkit.text import long_texts


class SubsetTrainableKerasLayer(hub.KerasLayer):
    """A `hub.KerasLayer` whose trainable weights are the variables `trainable_fn` accepts.

    Args:
        handle: str. SavedModel directory.
        trainable_fn: callable. `variable name -> bool`.
        **kwargs: passed to `hub.KerasLayer`.
    """

    def __init__(self, handle, trainable_fn: Callable[[str], bool], **kwargs):
        # Set before hub.KerasLayer.__init__, which registers the weights.
        object.__setattr__(self, "_bertkit_trainable_fn", trainable_fn)
        kwargs["trainable"] = True
        super().__init__(handle, **kwargs)

    def _add_existing_weight(self, weight, trainable=None):
        if trainable:
            trainable = self._bertkit_trainable_fn(weight.name)
        super()._add_existing_weight(weight, trainable=trainable)


class MaskedMeanPooling(tf_keras.layers.Layer):
    """Mean of `sequence_output` over real tokens (input_mask == 1), as sentence-transformers pools.

    Examples:
    >>> seq = tf.constant([[[1.0], [3.0], [100.0]]]); mask = tf.constant([[1, 1, 0]])
    >>> MaskedMeanPooling()(seq, mask).numpy().tolist()
    [[2.0]]
    """

    def call(self, sequence_output, input_mask):
        # expand_dims, not [:, :, None]: TFLite has no builtin for a strided slice with new_axis.
        mask = tf.expand_dims(tf.cast(input_mask, sequence_output.dtype), -1)
        total = tf.reduce_sum(sequence_output * mask, axis=1)
        count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        return total / count


class ChunkMeanPooling(tf_keras.layers.Layer):
    """Features of a text's chunks (rows) averaged: `[rows, hidden]` -> `[texts, hidden]`.

    Called on `(features, text_index, texts)`; `texts` (the model's string input)
    only gives the number of texts.

    Examples:
    >>> ChunkMeanPooling()(tf.constant([[1.0], [3.0]]), tf.constant([0, 0]), tf.constant(["a"])).numpy()
    array([[2.]], dtype=float32)
    """

    def call(self, features, text_index, texts):
        return long_texts.mean_by_text(features, text_index, tf.shape(texts)[0])


class TextToEncoderInputs(tf_keras.layers.Layer):
    """Raw strings -> encoder inputs of length `seq_length` (tokenize + bert_pack_inputs).

    Uses the preprocessor's `.tokenize` and `.bert_pack_inputs` so the sequence
    length is a choice, not the preprocessor's fixed default.

    With `num_segments=2` the layer is called on `[texts_a, texts_b]` and packs
    `[CLS] A [SEP] B [SEP]`: `input_type_ids` are 0 for [CLS], A and the first
    [SEP], 1 for B and the last [SEP]. When the pair does not fit, the TF-Hub
    preprocessor (tf-models `export_tfhub_lib`, `BertPackInputs` with its default
    `truncator="round_robin"`, i.e. `tensorflow_text.RoundRobinTrimmer`) gives the
    `seq_length - 3` wordpiece slots one at a time to A, B, A, B... while each
    still has tokens left: a segment shorter than half the budget is kept whole,
    and the longer segment loses its end first.

    Single texts are packed by `bertkit.text.long_texts.LongTexts` (the same ops the
    LiteRT export runs): with the defaults exactly as `bert_pack_inputs` packs
    them (the first `seq_length - 2` wordpieces); `truncation`, `head_tokens`,
    `chunks` and `chunk_overlap` are its arguments. With `chunks > 1` a text may
    give several rows: `encode` returns which text each row belongs to.
    """

    def __init__(
        self,
        preprocessor_dir: str,
        seq_length: int,
        num_segments: int = 1,
        truncation: str = "head",
        head_tokens: int | None = None,
        chunks: int = 1,
        chunk_overlap: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_segments not in (1, 2):
            raise ValueError(
                f"num_segments must be 1 (single texts) or 2 (text pairs). Received: "
                f"num_segments={num_segments!r}. Pass 1 or 2."
            )
        self.preprocessor_dir = str(preprocessor_dir)
        self.seq_length = int(seq_length)
        self.num_segments = int(num_segments)
        long_texts.validate(
            seq_length, truncation, head_tokens, chunks, chunk_overlap, num_segments == 2
        )
        self.long_texts = long_texts.LongTexts(
            self.seq_length, truncation, head_tokens, chunks, chunk_overlap
        )
        preprocessor = bk_hub.load_saved_model(self.preprocessor_dir)
        self.preprocessor = preprocessor
        self.special = bk_hub.preprocessor_special_tokens(preprocessor)
        self.tokenize = hub.KerasLayer(getattr(preprocessor, names.TOKENIZE), name="tokenize")
        self.pack = hub.KerasLayer(
            getattr(preprocessor, names.BERT_PACK_INPUTS),
            arguments=dict(seq_length=self.seq_length),
            name="bert_pack_inputs",
        )

    def encode(self, texts):
        """`(inputs, text_index, truncated)`: rows of width `seq_length`, the text of each row,
        and per text (or pair) whether wordpieces were dropped."""
        if self.num_segments == 2:
            tokens_a, tokens_b = self.tokenize(texts[0]), self.tokenize(texts[1])
            wordpieces = (
                tokens_a.merge_dims(-2, -1).row_lengths()
                + tokens_b.merge_dims(-2, -1).row_lengths()
            )
            # [CLS] and two [SEP] take three of the seq_length positions.
            truncated = wordpieces > self.seq_length - 3
            text_index = tf.range(tf.shape(texts[0])[0])
            return self.pack([tokens_a, tokens_b]), text_index, truncated
        tokens = self.tokenize(texts).merge_dims(-2, -1)
        return self.long_texts.rows(
            tokens.flat_values, tokens.row_splits, self.special, self.seq_length
        )

    def call(self, texts, with_text_index: bool = False):
        inputs, text_index, _ = self.encode(texts)
        return (inputs, text_index) if with_text_index else inputs

    def get_config(self):
        long = self.long_texts
        return {
            **super().get_config(),
            "preprocessor_dir": self.preprocessor_dir,
            "seq_length": self.seq_length,
            "num_segments": self.num_segments,
            "truncation": long.truncation,
            "head_tokens": long.head_tokens,
            "chunks": long.chunks,
            "chunk_overlap": long.chunk_overlap,
        }
