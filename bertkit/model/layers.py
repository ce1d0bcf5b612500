"""The Keras layers a bertkit classifier is built from (`bertkit.model.classifier` assembles them).

- `TextToEncoderInputs`: raw strings -> the three encoder inputs, with the
  preset's TF-Hub preprocessor (tokenize + `bert_pack_inputs`) at any length.
- `SubsetTrainableKerasLayer`: a TF-Hub encoder of which only chosen variables train.
- `MaskedMeanPooling`: the mean of `sequence_output` over real tokens.

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
    """

    def __init__(
        self,
        preprocessor_dir: str,
        seq_length: int,
        num_segments: int = 1,
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
        preprocessor = bk_hub.load_saved_model(self.preprocessor_dir)
        self.preprocessor = preprocessor
        self.tokenize = hub.KerasLayer(getattr(preprocessor, names.TOKENIZE), name="tokenize")
        self.pack = hub.KerasLayer(
            getattr(preprocessor, names.BERT_PACK_INPUTS),
            arguments=dict(seq_length=self.seq_length),
            name="bert_pack_inputs",
        )

    def call(self, texts):
        if self.num_segments == 2:
            texts_a, texts_b = texts
            return self.pack([self.tokenize(texts_a), self.tokenize(texts_b)])
        return self.pack([self.tokenize(texts)])

    def get_config(self):
        return {
            **super().get_config(),
            "preprocessor_dir": self.preprocessor_dir,
            "seq_length": self.seq_length,
            "num_segments": self.num_segments,
        }
