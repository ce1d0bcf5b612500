"""Raw strings -> encoder inputs with ops a `.tflite` can run: the tokenizer and packer inside a LiteRT export.

`Packer(vocab, lower_case, special, seq_length)` tokenizes with
`tensorflow_text.FastBertTokenizer`, which the TFLite converter turns into the
custom ops `FastBertNormalize` and `FastWordpieceTokenizeWithOffsets` (the
interpreter gets them from tensorflow-text's registrar), and `RaggedTensorToTensor`
cuts and pads the ids. Everything after that is builtin TFLite ops on dense
tensors: no ragged packing op (`RoundRobinTrim`, `CombineSegments`) is needed,
so a LiteRT runtime without tensorflow-text's packing kernels still runs it.

- `packer(text)` packs `[CLS] text [SEP]`, each batch padded to its longest row,
  with `bertkit.text.long_texts.LongTexts` (the code the SavedModel runs): head, tail
  or head+tail truncation, or chunks (several rows per text).
- `packer(text_a, text_b)` packs `[CLS] A [SEP] B [SEP]` (`input_type_ids` 1 on
  B and the last [SEP]). A pair longer than `seq_length - 3` wordpieces is cut as
  `tensorflow_text.RoundRobinTrimmer` does (the TF-Hub preprocessor's
  truncator): the slots go to A, B, A, B... while each has tokens left, so a
  segment shorter than half the budget stays whole and the longer one loses its end.

Both return `(inputs, text_index, truncated)`: the three encoder inputs (int32,
one row per text or chunk), the text of each row, and a bool per text (pair),
true when wordpieces were cut. `check_tokenizer_parity` compares a
packer with the SavedModel's preprocessor on probe texts and pairs before an
export is written.

Examples:
>>> from bertkit.model import classifier
>>> model = classifier.build_classifier("tiny_random_en_uncased", 2, "freeze", seq_length=8)
>>> inputs, text_index, truncated = packer_for(model)(tf.constant(["a b c d e f g"]))
>>> inputs["input_word_ids"].shape.as_list(), truncated.numpy().tolist()
([1, 8], [True])
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bertkit import names
from bertkit.text import long_texts

# Texts both tokenizers see before an export: accents, case, punctuation, digits, CJK,
# emoji, a long word, an empty string and a text longer than any seq_length.
PROBE_TEXTS = (
    "Hello World, naïve café! It's 3.5mg/day.",
    "",
    "ÉCOLE Straße résumé -- (don't) stop!!",
    "貓追狗 and 東京",
    "emoji 🙂 tabs\tand\nnewlines",
    "supercalifragilisticexpialidocious" * 4,
    "a " * 300,
)
# Pairs for a pair model: every segment length against every other, so each trimming
# case (fits, A short, B short, both long, empty segments) is compared.
PROBE_PAIRS = tuple((a, b) for a in PROBE_TEXTS for b in PROBE_TEXTS[::-1])


class Packer(tf.Module):
    """Raw strings (one or two segments) -> encoder inputs, with TFLite-friendly ops.

    Args:
        vocab: list of str. The WordPiece vocabulary.
        lower_case: bool. Lower-case and strip accents (uncased presets).
        special: dict. Preprocessor special ids (`start_of_sequence_id`,
            `end_of_segment_id`, `padding_id`).
        seq_length: int. Tokens per row, [CLS] and [SEP] included.
        long: optional `long_texts.LongTexts`. How single texts longer than a row
            are cut or chunked (default: the first `seq_length - 2` wordpieces).
    """

    def __init__(self, vocab, lower_case: bool, special: dict, seq_length: int, long=None):
        super().__init__()
        import tensorflow_text as tf_text

        self.tokenizer = tf_text.FastBertTokenizer(
            vocab,
            token_out_type=tf.int32,
            unknown_token=names.UNK_TOKEN,
            lower_case_nfd_strip_accents=lower_case,
        )
        self.vocab = list(vocab)
        self.lower_case = bool(lower_case)
        self.special = {k: int(v) for k, v in special.items()}
        self.seq_length = int(seq_length)
        self.long = long or long_texts.LongTexts(self.seq_length)

    def __call__(self, text, text_b=None):
        """Returns `(inputs, text_index, truncated)` for `text`, or for the pairs `(text, text_b)`."""
        if text_b is None:
            tokens = self.tokenizer.tokenize(text)
            return self.long.rows(tokens.flat_values, tokens.row_splits, self.special)
        inputs, truncated = self._pair(text, text_b)
        return inputs, tf.range(tf.shape(text)[0]), truncated

    def _dense(self, text, budget: int):
        """Wordpiece ids padded to `[batch, budget]`, their kept lengths and full counts."""
        tokens = self.tokenizer.tokenize(text)
        count = tf.cast(tokens.row_lengths(), tf.int32)
        dense = tokens.to_tensor(default_value=self.special["padding_id"], shape=[None, budget])
        return dense, count

    def _assemble(self, ids, length):
        """Mask and padding for `ids` `[batch, width]`: positions past `length` become padding."""
        positions = tf.range(tf.shape(ids)[1])[None, :]
        mask = positions < length[:, None]
        return tf.where(mask, ids, self.special["padding_id"]), tf.cast(mask, tf.int32), positions

    def _pair(self, text_a, text_b):
        budget = self.seq_length - 3  # [CLS] and two [SEP]
        dense_a, count_a = self._dense(text_a, budget)
        dense_b, count_b = self._dense(text_b, budget)
        # RoundRobinTrimmer with two segments, in closed form.
        keep_a = tf.minimum(count_a, tf.maximum(budget - count_b, (budget + 1) // 2))
        keep_b = tf.minimum(count_b, budget - keep_a)
        total = keep_a + keep_b + 3
        width = tf.reduce_max(tf.concat([total, [3]], 0))
        positions = tf.range(width)[None, :] + tf.zeros_like(keep_a)[:, None]  # [batch, width]
        start_b = keep_a[:, None] + 2  # [CLS] A [SEP] come first
        from_a = tf.gather(dense_a, tf.clip_by_value(positions - 1, 0, budget - 1), batch_dims=1)
        from_b = tf.gather(
            dense_b, tf.clip_by_value(positions - start_b, 0, budget - 1), batch_dims=1
        )
        in_b = (positions >= start_b) & (positions < start_b + keep_b[:, None])
        ids = tf.where(in_b, from_b, from_a)
        is_sep = (positions == start_b - 1) | (positions == total[:, None] - 1)
        ids = tf.where(is_sep, self.special["end_of_segment_id"], ids)
        ids = tf.where(positions == 0, self.special["start_of_sequence_id"], ids)
        ids, mask, _ = self._assemble(ids, total)
        type_ids = tf.cast((positions >= start_b) & (positions < total[:, None]), tf.int32)
        inputs = {
            names.INPUT_WORD_IDS: ids,
            names.INPUT_MASK: mask,
            names.INPUT_TYPE_IDS: type_ids,
        }
        return inputs, count_a + count_b > budget


def packer_for(model) -> Packer:
    """The `Packer` that reproduces `model`'s preprocessor (from `build_classifier`)."""
    from bertkit.presets import hub as bk_hub
    from bertkit.text import tokens

    text_to_inputs = model.text_to_inputs
    preprocessor = text_to_inputs.preprocessor
    lower = bk_hub._lower_case_flag(preprocessor)
    return Packer(
        tokens.vocabulary(text_to_inputs.preprocessor_dir),
        True if lower is None else lower,
        bk_hub.preprocessor_special_tokens(preprocessor),
        text_to_inputs.seq_length,
        text_to_inputs.long_texts,
    )


def check_tokenizer_parity(packer: Packer, preprocessor, text_pairs: bool = False) -> None:
    """Raises ValueError unless `packer` gives the preprocessor's ids on the probe texts.

    Args:
        packer: Packer. The in-model tokenizer.
        preprocessor: a TF-Hub BERT preprocessor (loaded SavedModel or KerasLayer).
        text_pairs: bool. Compare pairs packed as `[CLS] A [SEP] B [SEP]` (`PROBE_PAIRS`)
            instead of single texts (`PROBE_TEXTS`).
    """
    preprocessor = getattr(preprocessor, "resolved_object", preprocessor)
    tokenize = getattr(preprocessor, names.TOKENIZE)
    segments = [list(s) for s in zip(*PROBE_PAIRS, strict=True)] if text_pairs else [PROBE_TEXTS]
    segments = [tf.constant(list(s)) for s in segments]
    # The tokenizer and head truncation: what bert_pack_inputs computes, one row per text.
    plain = Packer(packer.vocab, packer.lower_case, packer.special, packer.seq_length)
    ours, _, _ = plain(*segments)
    theirs = getattr(preprocessor, names.BERT_PACK_INPUTS)(
        [tokenize(s) for s in segments], seq_length=tf.constant(packer.seq_length)
    )
    width = int(ours[names.INPUT_WORD_IDS].shape[1])
    for name in names.ENCODER_INPUTS:
        a, b = ours[name].numpy(), theirs[name].numpy()
        if a.shape[1] > b.shape[1] or not np.array_equal(a, b[:, :width]):
            row = next((i for i in range(len(a)) if not np.array_equal(a[i], b[i, :width])), 0)
            shown = PROBE_PAIRS[row] if text_pairs else PROBE_TEXTS[row]
            raise ValueError(
                "FastBertTokenizer does not reproduce this preset's tokenizer, so the model "
                f"cannot tokenize inside a .tflite. Received: {name} differ on {shown!r:.60}. "
                "Serve the SavedModel instead (bertkit predict --model MODEL_DIR)."
            )
