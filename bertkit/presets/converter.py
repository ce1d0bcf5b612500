"""Convert a Hugging Face BERT checkpoint into TF-Hub-format SavedModels.

Input: a directory with `config.json`, `model.safetensors` and `vocab.txt`
(a `transformers` `BertModel` checkpoint, e.g. all-MiniLM-L6-v2).

Output directory layout:

    OUT/
      encoder/                  TF-Hub encoder SavedModel (float32)
      encoder_mixed_bfloat16/   the same weights, computing in bfloat16 (see bertkit.model.precision)
      preprocessor/             TF-Hub preprocessor SavedModel
      bertkit.json              what was converted (config, casing, source, variants)

The encoder is tf-models' `official.nlp.modeling.networks.BertEncoderV2`
(nothing of BERT is re-implemented here), saved with the TF-Hub text API:

- call with a dict of int32 tensors, each `[batch, seq_length]`:
  `input_word_ids`, `input_mask`, `input_type_ids`;
- returns a dict: `pooled_output` `[batch, H]` float32, `sequence_output`
  `[batch, seq_length, H]` float32, `encoder_outputs`: list of L tensors
  `[batch, seq_length, H]` float32, and `default` (= `pooled_output`);
- attributes `vocab_file` (asset) and `do_lower_case` (bool variable).

The preprocessor is built by tf-models' `export_tfhub_lib.export_preprocessing`:

- call on a `[batch]` string tensor -> the three encoder inputs, each
  `[batch, 128]` int32;
- `.tokenize(strings)` -> RaggedTensor `[batch, words, wordpieces]` int32;
- `.bert_pack_inputs([segment, ...], seq_length=N)` -> the three inputs
  `[batch, N]` int32 (`[CLS] A [SEP] B [SEP]`, segment ids 0/1);
- `.tokenize.get_special_tokens_dict()` -> ids of the special tokens and `vocab_size`.

Activation: Hugging Face's `"gelu"` is the exact erf GELU, while tf-models'
string `"gelu"` is the tanh approximation; the converter maps names
explicitly (see `ACTIVATIONS`) so outputs agree to ~1e-6.

Dropout: the encoder's dropout ops are traced with a fixed graph seed
(`DROPOUT_SEED`), so fine-tuning is reproducible from process to process
(unseeded random ops in a SavedModel draw fresh randomness in every process,
and are rejected under `tf.config.experimental.enable_op_determinism()`).

Examples:
>>> convert(hf_dir, "/tmp/minilm_tfhub")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit import _env, names
from bertkit._atomic import Layout, atomic_dir, check_output
from bertkit.model import precision

DEFAULT_SEQ_LENGTH = 128
METADATA_FILE = "bertkit.json"
# What a preset directory holds (converter, local presets, MLM and distilled encoders):
# `overwrite` replaces only such a directory (see bertkit._atomic).
PRESET_LAYOUT = Layout(
    "bertkit preset directory",
    required=(METADATA_FILE,),
    allowed=(
        METADATA_FILE,
        names.ENCODER_DIR,
        f"{names.ENCODER_DIR}_*",
        "preprocessor",
        "vocab.txt",
    ),
)
# Graph seed for the dropout ops traced into saved encoders (see module docs).
DROPOUT_SEED = 1234
# Version of the saved layout; bump when saved encoders change so caches are rebuilt.
FORMAT_VERSION = 2
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt")


def _tanh_gelu(x):
    return tf_keras.activations.gelu(x, approximate=True)


# Hugging Face activation name -> Keras callable with the same maths.
ACTIVATIONS = {
    "gelu": tf_keras.activations.gelu,  # tf_keras' gelu defaults to the exact erf form
    "gelu_new": _tanh_gelu,
    "gelu_pytorch_tanh": _tanh_gelu,
    "relu": tf_keras.activations.relu,
}


def read_hf_config(src: str | os.PathLike) -> dict:
    """Reads and validates `config.json` of a Hugging Face BERT checkpoint."""
    src = Path(src)
    missing = [f for f in REQUIRED_FILES if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Not a Hugging Face BERT checkpoint directory: missing {missing}. "
            f"Received: {str(src)!r}. The directory needs {list(REQUIRED_FILES)} "
            "(save a model with save_pretrained(..., safe_serialization=True))."
        )
    config = json.loads((src / "config.json").read_text())
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(
            f"Only BERT checkpoints can be converted. Received: model_type={model_type!r}. "
            "Convert a BertModel checkpoint (model_type 'bert')."
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            "Only absolute position embeddings are supported. Received: "
            f"position_embedding_type={config['position_embedding_type']!r}."
        )
    if config.get("hidden_act", "gelu") not in ACTIVATIONS:
        raise ValueError(
            f"Unsupported activation. Received: hidden_act={config['hidden_act']!r}. "
            f"Supported: {sorted(ACTIVATIONS)}."
        )
    return config


def build_encoder_network(config: dict, dropout: bool = True, **network_kwargs):
    """Returns an `official.nlp` `BertEncoderV2` shaped like the HF `config`.

    Args:
        config: dict. Hugging Face BERT config (`config.json`).
        dropout: bool. Keep the checkpoint's dropout rates (used when fine-tuning).
        **network_kwargs: more `BertEncoderV2` arguments, e.g. `return_attention_scores=True`
            (see `bertkit.model.anatomy`).
    """
    from official.nlp.modeling import networks

    network = networks.BertEncoderV2(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        inner_dim=config["intermediate_size"],
        inner_activation=ACTIVATIONS[config.get("hidden_act", "gelu")],
        output_dropout=config.get("hidden_dropout_prob", 0.1) if dropout else 0.0,
        attention_dropout=config.get("attention_probs_dropout_prob", 0.1) if dropout else 0.0,
        max_sequence_length=config.get("max_position_embeddings", 512),
        type_vocab_size=config.get("type_vocab_size", 2),
        norm_first=False,
        initializer=tf_keras.initializers.TruncatedNormal(
            stddev=config.get("initializer_range", 0.02)
        ),
        **network_kwargs,
    )
    dummy = tf.zeros((1, 2), tf.int32)
    network({name: dummy for name in names.ENCODER_INPUTS})  # creates the variables
    return network


def _hf_to_tf_name(hf_name: str) -> str | None:
    """Maps a HF BertModel tensor name to the BertEncoderV2 variable path suffix."""
    fixed = {
        "embeddings.word_embeddings.weight": "word_embeddings/embeddings",
        "embeddings.position_embeddings.weight": "position_embedding/embeddings",
        "embeddings.token_type_embeddings.weight": "type_embeddings/embeddings",
        "embeddings.LayerNorm.weight": "embeddings/layer_norm/gamma",
        "embeddings.LayerNorm.bias": "embeddings/layer_norm/beta",
        "pooler.dense.weight": "pooler_transform/kernel",
        "pooler.dense.bias": "pooler_transform/bias",
    }
    if hf_name in fixed:
        return fixed[hf_name]
    match = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", hf_name)
    if not match:
        return None
    index, module, kind = match.groups()
    modules = {
        "attention.self.query": "self_attention/query",
        "attention.self.key": "self_attention/key",
        "attention.self.value": "self_attention/value",
        "attention.output.dense": "self_attention/attention_output",
        "attention.output.LayerNorm": "self_attention_layer_norm",
        "intermediate.dense": "intermediate",
        "output.dense": "output",
        "output.LayerNorm": "output_layer_norm",
    }
    if module not in modules:
        return None
    if module.endswith("LayerNorm"):
        leaf = "gamma" if kind == "weight" else "beta"
    else:
        leaf = "kernel" if kind == "weight" else "bias"
    return f"transformer/layer_{index}/{modules[module]}/{leaf}"


def _strip_hf_prefix(name: str) -> str:
    return name[len("bert.") :] if name.startswith("bert.") else name


def load_hf_weights(encoder_network, tensors: dict[str, np.ndarray]) -> None:
    """Copies HF BertModel tensors into a built `BertEncoderV2`, checking every variable.

    HF stores `nn.Linear` weights as `[out, in]`; Keras kernels are `[in, out]`,
    and the attention projections are EinsumDense kernels shaped
    `[H, heads, head_dim]` (query/key/value) and `[heads, head_dim, H]` (output).
    """
    variables = {}
    for var in encoder_network.weights:
        key = var.name.split(":")[0]
        variables[key] = var
    assigned = set()
    for hf_name, value in tensors.items():
        tf_suffix = _hf_to_tf_name(_strip_hf_prefix(hf_name))
        if tf_suffix is None:
            continue  # position_ids buffers, MLM/NSP heads: not part of the encoder
        found = [k for k in variables if k == tf_suffix or k.endswith("/" + tf_suffix)]
        if len(found) != 1:
            raise ValueError(
                f"Cannot place checkpoint tensor {hf_name!r}: expected one encoder variable "
                f"ending in {tf_suffix!r}, found {found}."
            )
        var = variables[found[0]]
        if tf_suffix.endswith("kernel") and value.ndim == 2:
            value = value.T  # [out, in] -> [in, out]
        value = np.reshape(value, var.shape)
        var.assign(value.astype(np.float32))
        assigned.add(found[0])
    unassigned = sorted(set(variables) - assigned)
    if unassigned:
        raise ValueError(
            f"The checkpoint does not provide {len(unassigned)} encoder variables, e.g. "
            f"{unassigned[:3]}. Check that config.json matches model.safetensors."
        )


def _encoder_inputs() -> dict:
    return {
        name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
        for name in names.ENCODER_INPUTS
    }


def save_encoder(
    encoder_network,
    export_dir: str | os.PathLike,
    vocab_file: str | os.PathLike,
    do_lower_case: bool,
) -> None:
    """Saves `encoder_network` as a TF-Hub-format encoder SavedModel (see module docs)."""
    tf.random.set_seed(DROPOUT_SEED)  # seeds the dropout ops traced below
    inputs = _encoder_inputs()
    outputs = dict(encoder_network(inputs))
    outputs[names.DEFAULT_OUTPUT] = outputs[names.POOLED_OUTPUT]
    core = tf_keras.Model(inputs=inputs, outputs=outputs, name="bert_encoder")
    # The encoder carries its vocabulary and casing so a preprocessor can be checked against it.
    core.vocab_file = tf.saved_model.Asset(str(vocab_file))
    core.do_lower_case = tf.Variable(do_lower_case, trainable=False, name="do_lower_case")
    _env.save_keras_savedmodel(core, export_dir)


def _check_variants(variants) -> tuple[str, ...]:
    variants = tuple(variants or ())
    for variant in variants:
        if variant not in precision.MIXED_PRECISIONS:
            raise ValueError(
                f"Unknown encoder variant. Received: {variant!r}. "
                f"Use any of {list(precision.MIXED_PRECISIONS)} (float32 is always saved)."
            )
    return variants


def save_encoders(
    encoder_network,
    config: dict,
    out_dir: str | os.PathLike,
    vocab_file: str | os.PathLike,
    do_lower_case: bool,
    variants: tuple[str, ...] = precision.DEFAULT_VARIANTS,
) -> None:
    """Saves the float32 `encoder/` and one mixed-precision copy per entry of `variants`.

    Each variant is the same network rebuilt under a Keras mixed-precision policy
    with the float32 weights copied in, so it computes in bfloat16/float16 while
    its variables stay float32.
    """
    out_dir = Path(out_dir)
    save_encoder(encoder_network, out_dir / names.ENCODER_DIR, vocab_file, do_lower_case)
    weights = encoder_network.get_weights()
    for variant in _check_variants(variants):
        previous = tf_keras.mixed_precision.global_policy()
        tf_keras.mixed_precision.set_global_policy(variant)
        try:
            network = build_encoder_network(config)
            network.set_weights(weights)
            save_encoder(
                network, out_dir / precision.variant_dir_name(variant), vocab_file, do_lower_case
            )
        finally:
            tf_keras.mixed_precision.set_global_policy(previous)


def save_preprocessor(
    export_dir: str | os.PathLike,
    vocab_file: str | os.PathLike,
    do_lower_case: bool,
    seq_length: int = DEFAULT_SEQ_LENGTH,
) -> None:
    """Saves a TF-Hub-format WordPiece preprocessor SavedModel (see module docs)."""
    from official.nlp.tools import export_tfhub_lib

    preprocessing = export_tfhub_lib.create_preprocessing(
        vocab_file=str(vocab_file),
        do_lower_case=do_lower_case,
        tokenize_with_offsets=True,
        default_seq_length=seq_length,
    )
    # Recorded like the encoder's, so `bertkit.load` can check casing.
    preprocessing.do_lower_case = tf.Variable(do_lower_case, trainable=False, name="do_lower_case")
    _env.save_keras_savedmodel(preprocessing, export_dir)


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads every tensor of a `.safetensors` file as NumPy arrays."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def _guess_lower_case(src: Path, config: dict) -> bool:
    tokenizer_config = src / "tokenizer_config.json"
    if tokenizer_config.is_file():
        value = json.loads(tokenizer_config.read_text()).get("do_lower_case")
        if value is not None:
            return bool(value)
    return "uncased" in config.get("_name_or_path", "uncased")


def convert(
    src: str | os.PathLike,
    out: str | os.PathLike,
    do_lower_case: bool | None = None,
    seq_length: int = DEFAULT_SEQ_LENGTH,
    overwrite: bool = False,
    variants: tuple[str, ...] = precision.DEFAULT_VARIANTS,
) -> Path:
    """Converts a HF BERT checkpoint directory into TF-Hub encoder + preprocessor SavedModels.

    Args:
        src: path. Directory with `config.json`, `model.safetensors`, `vocab.txt`.
        out: path. Output directory; gets `encoder/`, `preprocessor/`, `bertkit.json`.
            Written atomically (temp dir, then rename).
        do_lower_case: optional bool. Defaults to `tokenizer_config.json`'s value.
        seq_length: int. Default sequence length of the preprocessor.
        overwrite: bool. Replace an existing `out`.
        variants: tuple of str. Mixed-precision encoder variants to save next to the
            float32 `encoder/` (`"mixed_bfloat16"`, `"mixed_float16"`; see bertkit.model.precision).

    Returns:
        The output directory.
    """
    src = Path(src).expanduser()
    config = read_hf_config(src)
    check_output(out, overwrite, PRESET_LAYOUT)  # before reading the weights
    lower = _guess_lower_case(src, config) if do_lower_case is None else do_lower_case
    tensors = read_safetensors(src / "model.safetensors")
    vocab_size = sum(1 for _ in (src / "vocab.txt").open(encoding="utf-8"))
    if vocab_size != config["vocab_size"]:
        raise ValueError(
            "vocab.txt does not match config.json. Received: "
            f"{vocab_size} lines in vocab.txt, vocab_size={config['vocab_size']} in config.json."
        )
    variants = _check_variants(variants)
    network = build_encoder_network(config)
    load_hf_weights(network, tensors)
    with atomic_dir(out, overwrite=overwrite, layout=PRESET_LAYOUT) as tmp:
        save_encoders(network, config, tmp, src / "vocab.txt", lower, variants)
        save_preprocessor(tmp / names.PREPROCESSOR_DIR, src / "vocab.txt", lower, seq_length)
        metadata = {
            "format": "tfhub-bert",
            "format_version": FORMAT_VERSION,
            "source": str(src),
            "do_lower_case": lower,
            "seq_length": seq_length,
            "variants": list(variants),
            "hf_config": config,
        }
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return Path(out)
