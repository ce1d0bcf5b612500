"""The masked-LM model: an encoder with BERT's MLM head tied to its word embeddings.

- `MLMHead`: dense(H) + exact GELU + LayerNorm, then logits = h @ E^T + b, where
  E IS the encoder's word-embedding variable (tied weights, as in BERT).
- `MLMModel`: encoder inputs + `masked_lm_positions` ->
  logits, a class whose fields (`encoder`, `head`, `masking`, ...) the trainer
  (`bertkit.tasks.mlm`) reads directly.
- `masked_accuracy` and `predict_masked`: its top-k accuracy on masked tokens
  and fill-mask for a text with `[MASK]`.

TF-Hub encoders ship without an MLM head (the embedded default,
all-MiniLM-L6-v2, has only encoder + pooler weights), so the head starts from
random weights: its predictions are meaningless until it has trained
(`bertkit.tasks.mlm.train_mlm`).

Examples:
>>> model = MLMModel("tiny_random_en_uncased", max_predictions=3)
>>> model.output_shape, model.masking.max_predictions, model.head.vocab_size
((None, 3, 512), 3, 512)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from bertkit import names
from bertkit.model.classifier import DEFAULT_SEQ_LENGTH
from bertkit.model.layers import TextToEncoderInputs
from bertkit.presets import DEFAULT_PRESET
from bertkit.presets import hub as bk_hub
from bertkit.tasks.masking import (
    DEFAULT_MAX_PREDICTIONS,
    MASKED_LM_POSITIONS,
    MaskingConfig,
    mlm_dataset,
)
from bertkit.text import inputs, tokens

_MASK_IN_TEXT = re.compile(re.escape(names.MASK_TOKEN), re.IGNORECASE)
_CONFIG_FIELDS = ("preset", "seq_length", "max_predictions", "train_encoder", "preprocessor")
_CONFIG_FIELDS += ("seed", "name")


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


class MLMModel(tf_keras.Model):
    """Encoder + tied MLM head: encoder inputs + `masked_lm_positions` -> logits.

    A functional model built in `__init__`, as `bertkit.model.classifier.TextClassifier`
    is; the head is new (random): see `MLMHead`. Its fields, set once and read
    directly: `encoder` (hub.KerasLayer), `encoder_object` (the loaded SavedModel,
    for saving), `head` (MLMHead), `text_to_inputs`, `masking` (MaskingConfig),
    `preprocessor_dir`, and the arguments `preset`, `seq_length`,
    `max_predictions`, `preprocessor`, `seed`. `train_encoder` reads whether the
    encoder trains now (`bertkit.tasks.mlm.train_mlm` switches it). `get_config()`
    returns the arguments, so `from_config` builds an equal model (with a new head).

    Args:
        preset: str. Preset name or encoder directory (bertkit preset directory).
        seq_length: int. Tokens per text ([CLS] and [SEP] included) when encoding texts.
        max_predictions: int. Masked slots per text.
        train_encoder: bool. Whether the encoder's weights train (the head always does).
        preprocessor: optional str. Preprocessor handle; defaults to the preset's.
        seed: int. Seeds the head's initialisation.
        name: str. The model's name.

    Call args:
        A dict `{input_word_ids, input_mask, input_type_ids, masked_lm_positions}`.

    Returns:
        Logits `[batch, max_predictions, vocab_size]`.

    Examples:
    >>> model = MLMModel("tiny_random_en_uncased", max_predictions=3)
    >>> model.seq_length, model.train_encoder, model.preprocessor_dir.name
    (128, True, 'preprocessor')
    >>> MLMModel.from_config(model.get_config()).get_config() == model.get_config()
    True
    """

    def __init__(
        self,
        preset: str | os.PathLike = DEFAULT_PRESET,
        seq_length: int = DEFAULT_SEQ_LENGTH,
        max_predictions: int = DEFAULT_MAX_PREDICTIONS,
        train_encoder: bool = True,
        preprocessor: str | os.PathLike | None = None,
        seed: int = 0,
        name: str = "bert_mlm",
    ):
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
        positions = tf_keras.Input(
            shape=(max_predictions,), dtype=tf.int32, name=MASKED_LM_POSITIONS
        )
        logits = head(encoder(token_inputs)[names.SEQUENCE_OUTPUT], positions)
        super().__init__({**token_inputs, MASKED_LM_POSITIONS: positions}, logits, name=name)
        encoder.trainable = train_encoder
        self.encoder = encoder
        self.encoder_object = encoder_object
        self.head = head
        self.text_to_inputs = text_to_inputs
        self.masking = MaskingConfig.from_preprocessor(
            str(preprocessor_dir), max_predictions=max_predictions
        )
        self.preprocessor_dir = Path(preprocessor_dir)
        self.preset = os.fspath(preset)
        self.seq_length = seq_length
        self.max_predictions = max_predictions
        self.preprocessor = None if preprocessor is None else os.fspath(preprocessor)
        self.seed = seed

    @property
    def train_encoder(self) -> bool:
        """Whether the encoder's weights train (the head always does)."""
        return bool(self.encoder.trainable)

    def get_config(self) -> dict:
        """The arguments that build this model (`from_config` passes them to `__init__`)."""
        return {field: getattr(self, field) for field in _CONFIG_FIELDS}


def masked_accuracy(
    model: MLMModel, texts, top_k=(1, 5), seed: int = 1234, batch_size: int = 32
) -> dict:
    """Top-k accuracy at the masked positions of `texts` (fixed seed, so comparable).

    Every selected token counts, whichever of [MASK] / random / unchanged it became.

    Returns:
        dict: `top1`, `top5` (one key per k) and `num_masked`.

    Examples:
    >>> model = MLMModel("tiny_random_en_uncased")
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


def predict_masked(model: MLMModel, text: str, top_k: int = 5) -> list[list[tuple]]:
    """Fill-mask: the `top_k` most likely tokens for each `[MASK]` in `text`.

    Args:
        model: tf_keras.Model. An `MLMModel` (with a trained head, or the
            answers are random).
        text: str. Text with one or more `[MASK]` (any case).
        top_k: int. Candidates per mask.

    Returns:
        One list per `[MASK]`, in order: `(token, probability)` pairs, most likely
        first. Probabilities are over the regular tokens (special `[...]` entries,
        which are never masked, are left out).

    Examples:
    >>> model = MLMModel("tiny_random_en_uncased")
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
