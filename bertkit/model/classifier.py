"""Build a Keras text classifier: raw strings -> preprocessor -> encoder -> pooling -> dropout -> logits.

Four fine-tuning strategies, one validated argument:

- `"freeze"`: the encoder is a fixed feature extractor; only the head trains.
- `"partial"`: the top `unfreeze_top` transformer layers (and the pooler, when
  `pooling="pooled"`) train; embeddings and lower layers stay frozen.
- `"full"`: every encoder weight the chosen pooling uses trains.
- `"contrastive"`: few-shot (`bertkit.train.contrastive`): the whole encoder trains on pairs.

`trainable_filter` names the encoder variables a strategy trains (by the
variable names every TF-Hub BERT uses); the layers that apply it, pool and
tokenize are in `bertkit.model.layers`.

`build_classifier` returns a `TextClassifier`: a `[batch]` string tensor in,
`[batch, num_classes]` float32 logits out. Its `token_model` is the same network
from the three encoder inputs (any sequence length), used to train on inputs
tokenized once (see `bertkit.text.inputs`).

Examples:
>>> model = build_classifier("tiny_random_en_uncased", num_classes=3, strategy="freeze")
>>> model(tf.constant(["the job is good"])).shape
TensorShape([1, 3])
"""

from __future__ import annotations

import inspect
import os
import re
import types
from collections.abc import Callable

import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from bertkit import names
from bertkit.model import precision as bk_precision
from bertkit.model.layers import (
    ChunkMeanPooling,
    MaskedMeanPooling,
    SubsetTrainableKerasLayer,
    TextToEncoderInputs,
)
from bertkit.presets import DEFAULT_PRESET
from bertkit.presets import hub as bk_hub
from bertkit.text import long_texts

STRATEGIES = ("freeze", "partial", "full", "contrastive")
POOLINGS = ("mean", "pooled")
DEFAULT_SEQ_LENGTH = 128
_LAYER_RE = re.compile(r"(?:^|/)layer_(\d+)/")
_POOLER_PREFIX = "pooler_transform/"
_CONFIG_FIELDS = ("preset", "num_classes", "strategy", "unfreeze_top", "pooling", "dropout")
_CONFIG_FIELDS += ("seq_length", "preprocessor", "precision", "text_pairs", "truncation")
_CONFIG_FIELDS += ("head_tokens", "chunks", "chunk_overlap", "name")
_TEXT_INPUTS = {False: ("text",), True: ("text_a", "text_b")}  # by text_pairs


def transformer_layer_index(variable_name: str) -> int | None:
    """Returns i for a variable of transformer layer i, else None.

    Examples:
    >>> transformer_layer_index("transformer/layer_5/self_attention/query/kernel:0")
    5
    >>> transformer_layer_index("word_embeddings/embeddings:0") is None
    True
    """
    match = _LAYER_RE.search(variable_name)
    return int(match.group(1)) if match else None


def count_transformer_layers(variables) -> int:
    """Number of transformer layers, from the variable names of an encoder."""
    indices = {transformer_layer_index(v.name) for v in variables} - {None}
    if not indices:
        raise ValueError(
            "Cannot find transformer layers in the encoder's variables. Received: "
            f"{[v.name for v in variables[:4]]}... Is this a TF-Hub BERT encoder?"
        )
    return max(indices) + 1


def trainable_filter(
    strategy: str, num_layers: int, unfreeze_top: int = 0, pooling: str = "mean"
) -> Callable[[str], bool]:
    """Returns `name -> bool`: whether an encoder variable trains under `strategy`.

    Examples:
    >>> f = trainable_filter("partial", num_layers=6, unfreeze_top=2, pooling="pooled")
    >>> [f("transformer/layer_3/output/kernel:0"), f("transformer/layer_4/output/kernel:0")]
    [False, True]
    >>> f("pooler_transform/kernel:0"), f("word_embeddings/embeddings:0")
    (True, False)
    """
    validate_strategy(strategy, num_layers, unfreeze_top)
    first_trainable = {"freeze": num_layers, "partial": num_layers - unfreeze_top}.get(strategy, 0)

    def is_trainable(name: str) -> bool:
        if _POOLER_PREFIX in name:
            return pooling == "pooled" and strategy != "freeze"
        index = transformer_layer_index(name)
        if index is None:  # embeddings and their layer norm
            return strategy in ("full", "contrastive")
        return index >= first_trainable

    return is_trainable


def validate_strategy(strategy: str, num_layers: int | None = None, unfreeze_top: int = 0) -> None:
    """Raises a clear error for an unknown strategy or an impossible `unfreeze_top`."""
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown fine-tuning strategy. Received: strategy={strategy!r}. "
            f"Use one of {list(STRATEGIES)}."
        )
    if strategy == "partial":
        if unfreeze_top < 1:
            raise ValueError(
                "strategy='partial' trains the top N transformer layers, so N must be >= 1. "
                f"Received: unfreeze_top={unfreeze_top}. Pass unfreeze_top=1 or more, or use "
                "strategy='freeze'."
            )
        if num_layers is not None and unfreeze_top > num_layers:
            raise ValueError(
                f"unfreeze_top is larger than the number of transformer layers. Received: "
                f"unfreeze_top={unfreeze_top}, the encoder has {num_layers} layers. Pass "
                f"unfreeze_top <= {num_layers}, or strategy='full' to train all of them."
            )


def _encoder_inputs() -> dict:
    return {n: tf_keras.Input(shape=(None,), dtype=tf.int32, name=n) for n in names.ENCODER_INPUTS}


def _check_arguments(
    num_classes, strategy, unfreeze_top, pooling, dropout, seq_length, precision, text_pairs, **long
) -> None:
    """Raises for arguments that cannot work, before any SavedModel is loaded."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"num_classes must be >= 2. Received: num_classes={num_classes!r}. "
            "For a single yes/no label use num_classes=2."
        )
    if pooling not in POOLINGS:
        raise ValueError(
            f"Unknown pooling. Received: pooling={pooling!r}. Use one of {list(POOLINGS)}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}.")
    long_texts.validate_seq_length(seq_length, text_pairs)
    long_texts.validate(seq_length, **long, text_pairs=text_pairs)
    validate_strategy(strategy, None, unfreeze_top)
    if strategy == "contrastive" and text_pairs:  # it compares embeddings of single texts
        raise ValueError(
            "strategy='contrastive' cannot train a sentence-pair model. Received: "
            "text_pairs=True. Use strategy='full' for sentence pairs."
        )
    bk_precision.validate(precision)


@tf_keras.saving.register_keras_serializable(package="bertkit")
class TextClassifier(tf_keras.Model):
    """The model `build_classifier` returns: `[batch]` strings -> `[batch, num_classes]` logits.

    A functional model built in `__init__`, as keras-hub's `BertTextClassifier`
    and tf-models' `BertClassifier` are; `build_classifier` documents the
    arguments. Its fields, set once and read directly: `token_model` (the same
    network on the three encoder inputs, any length), `feature_model` (encoder +
    pooling: float32 features), `head` (dropout + logits on the features),
    `text_to_inputs` (`bertkit.model.layers.TextToEncoderInputs`), `num_layers`, and the
    arguments: `preset`, `num_classes`, `strategy`, `pooling`, `dropout`,
    `seq_length`, `preprocessor`, `text_pairs`, `truncation`, `head_tokens`,
    `chunks`, `chunk_overlap`, `precision` as resolved (never
    `"auto"`) and `unfreeze_top` as the transformer layers that train (0 for
    `"freeze"`, `num_layers` for `"full"` and `"contrastive"`). `get_config()` returns
    the arguments, so `from_config` builds an equal model (new head: copy weights).

    Examples:
    >>> model = build_classifier("tiny_random_en_uncased", 2, "partial", unfreeze_top=1)
    >>> model.strategy, model.unfreeze_top, model.num_layers, model.seq_length
    ('partial', 1, 2, 128)
    >>> TextClassifier.from_config(model.get_config()).get_config() == model.get_config()
    True
    """

    def __init__(self, *args, name: str | None = None, **kwargs):
        # The arguments are declared once, on build_classifier: bound here with its defaults.
        bound = inspect.signature(build_classifier).bind(*args, **kwargs)
        bound.apply_defaults()
        a = types.SimpleNamespace(**bound.arguments)
        long = {k: bound.arguments[k] for k in long_texts.OPTIONS}
        _check_arguments(
            a.num_classes,
            a.strategy,
            a.unfreeze_top,
            a.pooling,
            a.dropout,
            a.seq_length,
            a.precision,
            a.text_pairs,
            **long,
        )

        encoder_dir, precision = bk_precision.select_encoder(
            bk_hub.resolve(a.preset, names.ENCODER_DIR), a.precision
        )
        preprocessor_dir = bk_hub.resolve(
            a.preprocessor if a.preprocessor is not None else a.preset, names.PREPROCESSOR_DIR
        )
        encoder_obj = bk_hub.load_saved_model(encoder_dir)  # loaded once, wrapped below
        num_layers = count_transformer_layers(encoder_obj.variables)
        long_texts.validate_seq_length(
            a.seq_length, a.text_pairs, long_texts.position_table_size(encoder_obj.variables)
        )
        validate_strategy(a.strategy, num_layers, a.unfreeze_top)
        if a.strategy == "freeze":
            encoder = hub.KerasLayer(encoder_obj, trainable=False, name="encoder")
        else:
            fn = trainable_filter(a.strategy, num_layers, a.unfreeze_top, a.pooling)
            encoder = SubsetTrainableKerasLayer(encoder_obj, fn, name="encoder")
        text_to_inputs = TextToEncoderInputs(
            str(preprocessor_dir),
            a.seq_length,
            2 if a.text_pairs else 1,
            **long,
            name="preprocessor",
        )
        bk_hub.check_match(text_to_inputs.preprocessor, encoder_obj)

        token_inputs = _encoder_inputs()
        outputs = encoder(token_inputs)
        if a.pooling == "mean":
            features = MaskedMeanPooling(name="mean_pooling")(
                outputs[names.SEQUENCE_OUTPUT], token_inputs[names.INPUT_MASK]
            )
        else:
            features = outputs[names.POOLED_OUTPUT]
        features = tf_keras.layers.Activation("linear", dtype="float32", name="to_float32")(
            features
        )
        feature_model = tf_keras.Model(token_inputs, features, name="features")

        head_input = tf_keras.Input(shape=(features.shape[-1],), dtype=tf.float32, name="features")
        x = tf_keras.layers.Dropout(a.dropout, name="classifier_dropout")(head_input)
        logits = tf_keras.layers.Dense(
            a.num_classes,
            kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.02),
            name="logits",
            dtype="float32",
        )(x)
        head = tf_keras.Model(head_input, logits, name="head")

        token_model = tf_keras.Model(
            token_inputs, head(feature_model(token_inputs)), name="bert_classifier_tokens"
        )
        texts = [
            tf_keras.Input(shape=(), dtype=tf.string, name=n) for n in _TEXT_INPUTS[a.text_pairs]
        ]
        text_input = texts if a.text_pairs else texts[0]
        if a.chunks == 1:
            outputs = token_model(text_to_inputs(text_input))
        else:  # a text's chunks are rows: their features are averaged before the head
            rows, text_index = text_to_inputs(text_input, with_text_index=True)
            pooled = ChunkMeanPooling(name="chunk_mean")(
                feature_model(rows), text_index, text_input
            )
            outputs = head(pooled)
        super().__init__(
            inputs=text_input,
            outputs=outputs,
            name=name or ("bert_pair_classifier" if a.text_pairs else "bert_classifier"),
        )
        # Tracked sub-models: exported SavedModels keep them (bertkit.export.litert reads them back).
        self.token_model = token_model
        self.feature_model = feature_model
        self.head = head
        self.text_to_inputs = text_to_inputs
        for field in _CONFIG_FIELDS[:-1]:  # the arguments (name: Keras keeps it), then resolved
            setattr(self, field, bound.arguments[field])
        self.preset = os.fspath(a.preset)
        self.num_layers = num_layers
        self.unfreeze_top = {"freeze": 0, "partial": a.unfreeze_top}.get(a.strategy, num_layers)
        self.dropout = float(a.dropout)
        self.preprocessor = None if a.preprocessor is None else os.fspath(a.preprocessor)
        self.precision = precision
        self.text_pairs = bool(a.text_pairs)

    def get_config(self) -> dict:
        """The arguments that build this model (`from_config` passes them to `__init__`)."""
        return {field: getattr(self, field) for field in _CONFIG_FIELDS}


def check_classifier(model, argument: str = "model") -> TextClassifier:
    """Returns `model`, or TypeError when it is not a `TextClassifier` (from `build_classifier`).

    Examples:
    >>> check_classifier(tf_keras.Sequential(name="mine"))
    Traceback (most recent call last):
    ...
    TypeError: Expected a bertkit classifier (bertkit.build_classifier). Received: model=Sequential 'mine'. Build it with bertkit.build_classifier(preset, num_classes); a model saved with bertkit.save_model loads for predictions with bertkit.load_model.
    """
    if not isinstance(model, TextClassifier):
        shown = f"{type(model).__name__} {model.name!r}" if hasattr(model, "name") else repr(model)
        raise TypeError(
            "Expected a bertkit classifier (bertkit.build_classifier). Received: "
            f"{argument}={shown:.100}. Build it with bertkit.build_classifier(preset, "
            "num_classes); a model saved with bertkit.save_model loads for predictions with "
            "bertkit.load_model."
        )
    return model


def build_classifier(
    preset: str | os.PathLike = DEFAULT_PRESET,
    num_classes: int = 2,
    strategy: str = "full",
    unfreeze_top: int = 2,
    pooling: str = "mean",
    dropout: float = 0.1,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    preprocessor: str | os.PathLike | None = None,
    precision: str = "auto",
    text_pairs: bool = False,
    truncation: str = "head",
    head_tokens: int | None = None,
    chunks: int = 1,
    chunk_overlap: int = 0,
) -> TextClassifier:
    """Builds a classifier on raw strings with the chosen fine-tuning strategy.

    Args:
        preset: str. Preset name, encoder URL or directory.
        num_classes: int. Number of classes (>= 2; binary tasks use 2 logits).
        strategy: str. `"freeze"`, `"partial"`, `"full"` or `"contrastive"`.
        unfreeze_top: int. Top transformer layers to train when `strategy="partial"`.
        pooling: str. `"mean"` (masked mean of `sequence_output`, how
            all-MiniLM-L6-v2 was trained) or `"pooled"` (the [CLS] pooler).
        dropout: float. Dropout rate before the dense head.
        seq_length: int. Tokens per text after truncation ([CLS] and [SEP] included).
        preprocessor: optional str. Preprocessor handle; defaults to the preset's.
        precision: str. `"auto"` (bfloat16 compute on CPUs that support it, when the
            encoder has that variant), `"float32"`, `"mixed_bfloat16"` or
            `"mixed_float16"`; see `bertkit.model.precision`. Logits are always float32.
        text_pairs: bool. Classify sentence pairs: the model takes two string
            inputs, `text_a` and `text_b` (`model([a, b])`), packed as
            `[CLS] A [SEP] B [SEP]` with segment ids 0 and 1 (see
            `TextToEncoderInputs`). `seq_length` then counts both texts and 3
            special tokens.
        truncation: str. Which wordpieces of a text longer than `seq_length - 2`
            are kept: `"head"` (the first), `"tail"` (the last) or `"head_tail"`
            (see `bertkit.text.long_texts`).
        head_tokens: optional int. With `"head_tail"`: wordpieces kept from the head
            (default: a quarter of those kept).
        chunks: int. Up to this many windows of `seq_length - 2` wordpieces per
            text, each encoded as its own row; their features are averaged before
            the head (1: no chunking; at most `long_texts.MAX_CHUNKS`).
        chunk_overlap: int. Wordpieces each window shares with the previous one.

    Returns:
        A `TextClassifier` (its docstring lists the fields) from `[batch]` strings
        (two of them with `text_pairs=True`) to `[batch, num_classes]` logits.

    Examples:
    >>> pair_model = build_classifier("tiny_random_en_uncased", 2, text_pairs=True)
    >>> pair_model([tf.constant(["a question"]), tf.constant(["an answer"])]).shape
    TensorShape([1, 2])
    """
    return TextClassifier(**locals())  # every argument above, by name


# help(TextClassifier) and editors show the arguments it binds: build_classifier's, and name.
TextClassifier.__init__.__signature__ = inspect.signature(build_classifier).replace(
    parameters=[
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *inspect.signature(build_classifier).parameters.values(),
        inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None),
    ],
    return_annotation=None,
)


def count_parameters(model: tf_keras.Model) -> dict[str, int]:
    """Trainable and frozen parameter counts, as `model.summary()` reports them.

    Examples:
    >>> counts = count_parameters(build_classifier("tiny_random_en_uncased", 2, "freeze"))
    >>> counts["trainable"]
    66
    """

    def total(weights):
        return int(sum(int(tf.size(w)) for w in weights))

    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    return {"trainable": total(trainable), "frozen": total(frozen)}
