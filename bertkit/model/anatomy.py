"""Look inside a BERT encoder: its blocks, embedding tables, self-attention and contextual vectors.

For teaching and debugging (notebook 00). A TF-Hub encoder SavedModel returns
only `pooled_output`, `sequence_output` and `encoder_outputs`. This module reads
the encoder's variables and

- `architecture_table`: lists its blocks and their parameter counts;
- `embedding_tables` / `embed`: rebuilds the input embeddings in NumPy, the
  sum token + position + segment embedding followed by LayerNorm;
- `InspectableEncoder`: the same tf-models `BertEncoderV2`, rebuilt around a
  copy of the weights with dropout off, which also returns the embedding
  output (`embedding_output`, `[batch, seq_length, H]`) and every layer's
  attention probabilities (`attention_probs`, L tensors
  `[batch, heads, seq_length, seq_length]`, each row summing to 1);
- `attention_maps`: one layer's attention over the real tokens of a text;
- `contextual_vectors`: the vector of one word in several texts.

`tests/test_anatomy.py` checks that the rebuilt encoder's `encoder_outputs`
equal the SavedModel's, and the embeddings and attention against NumPy.

Examples:
>>> preprocessor, encoder = bertkit.load("tiny_random_en_uncased")
>>> tables = embedding_tables(encoder)
>>> tables["token"].shape, tables["position"].shape, tables["segment"].shape
((512, 32), (512, 32), (2, 32))
>>> tokens, probs = attention_maps(preprocessor, encoder, "good movie", layer=0)
>>> tokens, probs.shape
(['[CLS]', 'good', 'movie', '[SEP]'], (2, 4, 4))
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras

from bertkit import names
from bertkit.presets import converter
from bertkit.presets import hub as bk_hub
from bertkit.tasks import student
from bertkit.text import tokens

EMBEDDING_OUTPUT = (
    "embedding_output"  # [batch, seq_length, H]: LayerNorm(token + position + segment)
)
ATTENTION_PROBS = "attention_probs"  # L x [batch, heads, seq_length, seq_length]
LAYER_NORM_EPSILON = 1e-12  # BERT's (tf-models BertEncoderV2 and Hugging Face)

# embedding_tables() key -> encoder variable (without the network's scope).
_TABLES = {
    "token": "word_embeddings/embeddings",
    "position": "position_embedding/embeddings",
    "segment": "type_embeddings/embeddings",
    "gamma": "embeddings/layer_norm/gamma",
    "beta": "embeddings/layer_norm/beta",
}
# architecture_table(): (block, part) of each variable, by name.
_PARTS = (
    (r"word_embeddings/", "embeddings", "token embeddings"),
    (r"position_embedding/", "embeddings", "position embeddings"),
    (r"type_embeddings/", "embeddings", "segment embeddings"),
    (r"embeddings/layer_norm/", "embeddings", "LayerNorm"),
    (
        r"transformer/layer_\d+/self_attention/",
        "transformer layer",
        "self-attention Q, K, V, output",
    ),
    (r"transformer/layer_\d+/self_attention_layer_norm/", "transformer layer", "add & LayerNorm"),
    (r"transformer/layer_\d+/(intermediate|output)/", "transformer layer", "feed-forward"),
    (r"transformer/layer_\d+/output_layer_norm/", "transformer layer", "add & LayerNorm 2"),
    (r"pooler_transform/", "pooler", "dense + tanh on [CLS]"),
)


def _float_variables(encoder) -> list:
    """The encoder's weights (the SavedModel's `do_lower_case` flag left out)."""
    return [v for v in bk_hub._loaded(encoder).variables if v.dtype.is_floating]


def _recorded_hidden_act(encoder) -> str:
    """The activation recorded in the preset's `bertkit.json`, else `"gelu"` (exact erf GELU)."""
    handle = getattr(encoder, "_handle", None)
    if isinstance(handle, (str, os.PathLike)) and not bk_hub.is_remote(str(handle)):
        recorded = student.recorded_metadata(Path(handle))
        return recorded.get("hf_config", {}).get("hidden_act", "gelu")
    return "gelu"


def encoder_config(encoder, hidden_act: str | None = None) -> dict:
    """The Hugging Face-style config of a loaded encoder (layers, hidden size, heads, ...).

    Args:
        encoder: `bertkit.load_encoder` layer or a SavedModel loaded with `hub.load`.
        hidden_act: optional str. Activation; defaults to the one in the preset's `bertkit.json`.

    Examples:
    >>> encoder_config(bertkit.load_encoder("tiny_random_en_uncased"))["num_hidden_layers"]
    2
    """
    act = hidden_act or _recorded_hidden_act(encoder)
    return student.encoder_config(_float_variables(encoder), act)


def architecture_table(encoder) -> pd.DataFrame:
    """One row per kind of block, with its parameter count.

    Columns: `block`, `part`, `layers` (how many transformer layers have the part; 1
    outside them), `per_layer` (parameters in one copy), `parameters` (all copies).

    Examples:
    >>> table = architecture_table(bertkit.load_encoder("tiny_random_en_uncased"))
    >>> int(table["layers"].max()), int(table["parameters"].sum())
    (2, 51040)
    """
    rows = []
    for var in _float_variables(encoder):
        key = student.variable_key(var.name)
        match = next(((b, p) for pattern, b, p in _PARTS if re.match(pattern, key)), None)
        if match is None:
            raise ValueError(
                f"Unknown encoder variable {key!r}, so this is not a tf-models BERT encoder. "
                "Received: a variable outside embeddings, transformer layers and pooler. "
                "Use a TF-Hub BERT encoder (a bertkit preset or a TF-Hub BERT handle)."
            )
        layer = re.match(r"transformer/layer_(\d+)/", key)
        rows.append((*match, int(layer.group(1)) if layer else 0, var.shape.num_elements()))
    df = pd.DataFrame(rows, columns=["block", "part", "layer", "size"])
    table = []
    for _, block, part in _PARTS:
        group = df[(df["block"] == block) & (df["part"] == part)]
        if len(group):
            layers, total = group["layer"].nunique(), int(group["size"].sum())
            table.append((block, part, layers, total // layers, total))
    return pd.DataFrame(table, columns=["block", "part", "layers", "per_layer", "parameters"])


def embedding_tables(encoder) -> dict[str, np.ndarray]:
    """The embedding weights: `token` [V, H], `position` [P, H], `segment` [2, H], `gamma`, `beta`.

    `gamma` and `beta` are the embedding LayerNorm's scale and offset.

    Args:
        encoder: `bertkit.load_encoder` layer or a SavedModel loaded with `hub.load`.
    """
    found = student.by_key(_float_variables(encoder))
    missing = [v for v in _TABLES.values() if v not in found]
    if missing:
        raise ValueError(
            f"The encoder has no variables {missing}, so it is not a tf-models BERT encoder. "
            f"Received: variables {sorted(found)[:4]}... Use a TF-Hub BERT encoder."
        )
    return {key: found[name].numpy() for key, name in _TABLES.items()}


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis: `(x - mean) / sqrt(var + 1e-12) * gamma + beta`."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPSILON) * gamma + beta


def embed(tables: dict[str, np.ndarray], encoder_inputs: dict) -> dict[str, np.ndarray]:
    """BERT's input embeddings in NumPy, part by part, each `[batch, seq_length, H]`.

    Returns `token` (row `input_word_ids` of the token table), `position` (row 0, 1,
    2, ... of the position table), `segment` (row `input_type_ids` of the segment
    table), their `sum`, and `output` = LayerNorm(`sum`): what the first transformer
    layer receives.

    Args:
        tables: dict. From `embedding_tables`.
        encoder_inputs: dict. `input_word_ids` and `input_type_ids`, `[batch, seq_length]`.
    """
    word_ids = np.asarray(encoder_inputs[names.INPUT_WORD_IDS])
    type_ids = np.asarray(encoder_inputs[names.INPUT_TYPE_IDS])
    length = word_ids.shape[-1]
    if length > len(tables["position"]):
        raise ValueError(
            f"The inputs are longer than the position table. Received: seq_length={length}, "
            f"{len(tables['position'])} positions. Truncate the inputs to at most that many tokens."
        )
    hidden = tables["position"].shape[-1]
    parts = {
        "token": tables["token"][word_ids],
        "position": np.broadcast_to(tables["position"][:length], word_ids.shape + (hidden,)),
        "segment": tables["segment"][type_ids],
    }
    parts["sum"] = parts["token"] + parts["position"] + parts["segment"]
    parts["output"] = layer_norm(parts["sum"], tables["gamma"], tables["beta"])
    return parts


class InspectableEncoder(tf_keras.Model):
    """A BERT encoder rebuilt with the same weights that also returns embeddings and attention.

    The encoder's variables are copied into tf-models' `BertEncoderV2` (the network
    bertkit's converter saves), with dropout off. Call it like the encoder, on a dict
    of `input_word_ids`, `input_mask`, `input_type_ids`; it returns `sequence_output`,
    `pooled_output`, `encoder_outputs` and

    - `embedding_output`: `[batch, seq_length, H]`, LayerNorm(token + position + segment);
    - `attention_probs`: one `[batch, heads, seq_length, seq_length]` tensor per layer,
      the softmax weights each token (row) gives every token (column); padding gets 0.

    Args:
        encoder: `bertkit.load_encoder` layer or a SavedModel loaded with `hub.load`.
        hidden_act: optional str. Activation (see `encoder_config`).

    Examples:
    >>> inspectable = InspectableEncoder(bertkit.load_encoder("tiny_random_en_uncased"))
    >>> out = inspectable(bertkit.load_preprocessor("tiny_random_en_uncased")(tf.constant(["hi"])))
    >>> out["embedding_output"].shape, len(out["attention_probs"]), out["attention_probs"][0].shape
    (TensorShape([1, 128, 32]), 2, TensorShape([1, 2, 128, 128]))
    """

    def __init__(self, encoder, hidden_act: str | None = None, **kwargs):
        config = encoder_config(encoder, hidden_act)
        network = converter.build_encoder_network(
            config, dropout=False, return_attention_scores=True, return_word_embeddings=True
        )
        student.copy_lower_layers(_float_variables(encoder), network)  # every layer: same depth
        inputs = {
            name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
            for name in names.ENCODER_INPUTS
        }
        out = network(inputs)
        outputs = {
            names.SEQUENCE_OUTPUT: out[names.SEQUENCE_OUTPUT],
            names.POOLED_OUTPUT: out[names.POOLED_OUTPUT],
            names.ENCODER_OUTPUTS: out[names.ENCODER_OUTPUTS],
            EMBEDDING_OUTPUT: out["word_embeddings"],  # tf-models' name for it
            ATTENTION_PROBS: out["attention_scores"],
        }
        kwargs.setdefault("name", "inspectable_encoder")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.encoder_config = config

    def get_config(self) -> dict:
        """The encoder's config (the weights come from the encoder it was built from)."""
        return {"encoder_config": self.encoder_config, "name": self.name}


def _inspectable(encoder) -> InspectableEncoder:
    return encoder if isinstance(encoder, InspectableEncoder) else InspectableEncoder(encoder)


def _single_text_inputs(preprocessor, text: str) -> tuple[list[str], dict]:
    """The tokens of `text` ([CLS] ... [SEP]) and its encoder inputs without padding."""
    pieces = tokens.wordpieces(preprocessor, [text])[0]
    length = sum(len(word) for word in pieces) + 2
    packed = tokens.pack(preprocessor, [text], seq_length=length)
    vocab = tokens.vocabulary(preprocessor)
    return [vocab[i] for i in packed[names.INPUT_WORD_IDS][0]], packed


def attention_maps(preprocessor, encoder, text: str, layer: int) -> tuple[list[str], np.ndarray]:
    """How each token of `text` spreads its attention in `layer`, for every head.

    Args:
        preprocessor: preset name, directory or `bertkit.load_preprocessor` layer.
        encoder: `bertkit.load_encoder` layer, or an `InspectableEncoder` (faster when
            called many times: it is built once).
        text: str. One text; it must fit in the encoder's positions.
        layer: int. Transformer layer, 0-based (negative counts from the top).

    Returns:
        `(tokens, probs)`: the n tokens ([CLS] ... [SEP]) and an array `[heads, n, n]`;
        `probs[h, i, j]` is how much token i attends to token j in head h (rows sum to 1).
    """
    config = encoder.encoder_config if isinstance(encoder, InspectableEncoder) else None
    num_layers = (config or encoder_config(encoder))["num_hidden_layers"]
    if not -num_layers <= layer < num_layers:  # checked before the (slower) rebuild
        raise ValueError(
            f"layer must be in [0, {num_layers}) (or negative from the top). Received: "
            f"layer={layer!r}. The encoder has {num_layers} transformer layers."
        )
    words, packed = _single_text_inputs(preprocessor, text)
    inspectable = _inspectable(encoder)
    probs = inspectable({k: tf.constant(v) for k, v in packed.items()})[ATTENTION_PROBS][layer]
    return words, probs.numpy()[0]


def _locate(pieces: list[list[str]], word: list[str]) -> int | None:
    """Position (after [CLS]) of the first word whose WordPieces are `word`, else None."""
    position = 1
    for candidate in pieces:
        if candidate == word:
            return position
        position += len(candidate)
    return None


def contextual_vectors(
    preprocessor, encoder, texts: list[str], word: str, layer: int = -1
) -> np.ndarray:
    """The vector the encoder gives `word` in each text, `[len(texts), H]`.

    The mean of the word's WordPiece vectors at its first occurrence, from
    `encoder_outputs[layer]` (the last layer, `sequence_output`, by default).

    Args:
        preprocessor: preset name, directory or `bertkit.load_preprocessor` layer.
        encoder: `bertkit.load_encoder` layer.
        texts: list of str. Each must contain `word` as a whole word.
        word: str. One word (it may split into several WordPieces).
        layer: int. Which of `encoder_outputs`.

    Examples:
    >>> pre, enc = bertkit.load("tiny_random_en_uncased")
    >>> contextual_vectors(pre, enc, ["good movie", "a good day"], "good").shape
    (2, 32)
    """
    target = tokens.wordpieces(preprocessor, [word])[0]
    if len(target) != 1:
        raise ValueError(
            f"word must be a single word. Received: word={word!r}, which splits into "
            f"{len(target)} words. Pass one word without spaces or punctuation."
        )
    pieces = tokens.wordpieces(preprocessor, list(texts))
    starts = [_locate(p, target[0]) for p in pieces]
    missing = [t for t, s in zip(texts, starts, strict=True) if s is None]
    if missing:
        raise ValueError(
            f"Every text must contain the word {word!r}. Received: {len(missing)} without it, "
            f"e.g. {missing[0]!r}. Check the spelling (whole words only)."
        )
    length = max(sum(len(w) for w in p) for p in pieces) + 2
    packed = tokens.pack(preprocessor, list(texts), seq_length=length)
    hidden = encoder({k: tf.constant(v) for k, v in packed.items()})[names.ENCODER_OUTPUTS][layer]
    n = len(target[0])
    return np.stack([hidden[i, s : s + n].numpy().mean(0) for i, s in enumerate(starts)])


def draw_architecture(config: dict, example: str = "[CLS] i love dogs [SEP]"):
    """Draws BERT as a stack of boxes, inputs at the bottom; returns the matplotlib Figure.

    Args:
        config: dict. From `encoder_config` (layers, hidden size, heads, vocabulary...).
        example: str. Token sequence written under the embeddings.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    h, layers = config["hidden_size"], config["num_hidden_layers"]
    fig, ax = plt.subplots(figsize=(7.5, 8.5))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 13.4)
    ax.axis("off")

    def box(x, y, w, text, color, height=0.8, style="round,pad=0.05", **kw):
        ax.add_patch(FancyBboxPatch((x, y), w, height, boxstyle=style, fc=color, ec="0.3", **kw))
        if text:
            ax.text(x + w / 2, y + height / 2, text, ha="center", va="center", fontsize=9)

    def arrow(y0, y1, x=5.0):
        ax.annotate("", (x, y1), (x, y0), arrowprops={"arrowstyle": "->", "color": "0.3"})

    heads, inner = config["num_attention_heads"], config["intermediate_size"]
    ax.text(5, 0.3, f"tokens: {example}", ha="center", fontsize=9, family="monospace")
    arrow(0.6, 1.0)
    for name, rows, x in (("token", "vocab_size", 0.3), ("segment", "type_vocab_size", 3.5),
                          ("position", "max_position_embeddings", 6.7)):  # fmt: skip
        box(x, 1.0, 3.0, f"{name}\n{config[rows]} x {h} table", "#cfe2f3", height=1.0)
    ax.text(5, 2.35, "sum  ->  LayerNorm  =  embedding output", ha="center", fontsize=9)
    arrow(2.6, 3.1)
    box(0.6, 3.1, 8.8, "", "#fff2cc", height=5.2, style="round,pad=0.1", linestyle="--")
    ax.text(9.3, 7.95, f"x {layers} layers", ha="right", fontsize=10, weight="bold")
    box(1.5, 3.4, 7.0, f"self-attention, {heads} heads: every token sees all tokens", "#f4cccc")
    box(1.5, 4.6, 7.0, "add & LayerNorm", "#eeeeee")
    box(1.5, 5.8, 7.0, f"feed-forward {h} -> {inner} -> {h} (GELU)", "#d9ead3")
    box(1.5, 7.0, 7.0, "add & LayerNorm", "#eeeeee")
    for y in (4.2, 5.4, 6.6):
        arrow(y, y + 0.4)
    arrow(8.4, 8.9)
    box(1.0, 8.9, 8.0, f"sequence_output: one {h}-vector per token", "#d0e0e3")
    arrow(9.7, 10.2, x=2.0)
    box(0.3, 10.2, 4.2, f"pooler: dense {h} + tanh\non the [CLS] vector", "#ead1dc", height=1.0)
    arrow(11.2, 11.7, x=2.0)
    box(0.3, 11.7, 4.2, f"pooled_output: {h}", "#d0e0e3")
    box(5.5, 10.2, 4.2, "task head (classifier,\nmasked LM, ...)", "#eeeeee", height=1.0)
    arrow(9.7, 10.2, x=7.6)
    ax.set_title(f"BERT encoder: L={layers}, H={h}, A={heads}")
    return fig
