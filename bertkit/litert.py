"""LiteRT (TFLite) export of a bertkit model directory: one small file that classifies raw strings.

`export_tflite(MODEL_DIR, quantize="int8")` writes two files side by side
(each through a temp file and a rename; the sidecar first, the model last):

    MODEL.tflite        the model: raw strings in, logits out
    MODEL.tflite.json   {"labels": [...], "quantize": ..., "seq_length": ..., "source": {...}}

The `.tflite` has one signature, `serving_default`:

- input `text`: string `[batch]`;
- outputs `logits` float32 `[batch, num_classes]`, `probabilities` float32
  `[batch, num_classes]`, `label_id` int64 `[batch]`, `label` string `[batch]`
  (the class names are constants inside the model, so a LiteRT user on a phone
  needs no sidecar), `truncated` bool `[batch]` (texts longer than `seq_length`
  tokens, which were cut).

Tokenization and packing run inside the model: `tensorflow_text.FastBertTokenizer`
converts to the custom ops `FastBertNormalize` and `FastWordpieceTokenizeWithOffsets`,
and `RaggedTensorToTensor` cuts and pads the ids; the packing ([CLS] ... [SEP],
padding only to the longest text of the batch) is builtin TFLite ops. The
interpreter needs tensorflow-text's op registrar
(`tensorflow_text.core.pybinds.tflite_registrar.SELECT_TFTEXT_OPS`), which
`load_tflite` passes. `export_tflite` refuses a preset whose tokenizer
FastBertTokenizer does not reproduce (it compares the ids on probe texts with
the SavedModel's preprocessor first), and sentence-pair models (not built yet).

The encoder is rebuilt in float32 from the model's preset (a SavedModel trained
under mixed_bfloat16 holds bfloat16 ops, which TFLite does not run) and gets the
saved weights. `quantize`: `"int8"` is dynamic-range quantization
(`tf.lite.Optimize.DEFAULT`: int8 weights, activations quantized per batch at run
time), `"float16"` stores float16 weights, `"none"` keeps float32.

`bertkit.litert_serve` loads the file for prediction with LiteRT's interpreter.

Examples:
>>> path = export_tflite("runs/model", quantize="int8")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from bertkit import _env

_env.setup()

import tensorflow as tf  # noqa: E402

from bertkit import export, names  # noqa: E402
from bertkit._atomic import atomic_write_bytes  # noqa: E402

QUANTIZE = ("int8", "float16", "none")
FORMATS = ("tflite",)
SUFFIX = ".tflite"
SIDECAR_SUFFIX = ".json"
SIGNATURE = "serving_default"
# Texts the export tokenizes both ways before converting: accents, case, punctuation,
# digits, CJK, emoji, a long word and an empty string.
PROBE_TEXTS = (
    "Hello World, naïve café! It's 3.5mg/day.",
    "",
    "ÉCOLE Straße résumé -- (don't) stop!!",
    "貓追狗 and 東京",
    "emoji 🙂 tabs\tand\nnewlines",
    "supercalifragilisticexpialidocious" * 4,
    "a " * 300,
)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """The sidecar JSON beside a `.tflite` file: `MODEL.tflite.json`.

    Examples:
    >>> sidecar_path("runs/model.int8.tflite").name
    'model.int8.tflite.json'
    """
    return Path(str(model_path) + SIDECAR_SUFFIX)


def default_output(model_dir: str | os.PathLike, quantize: str) -> Path:
    """Where `export_tflite` writes without `output`: `MODEL_DIR.QUANTIZE.tflite` beside the directory.

    Examples:
    >>> default_output("runs/model/", "int8").as_posix()
    'runs/model.int8.tflite'
    """
    model_dir = Path(model_dir)
    return model_dir.with_name(f"{model_dir.name}.{quantize}{SUFFIX}")


def _check_export_args(model_dir, output, quantize, overwrite) -> tuple[Path, Path]:
    """Validates everything cheap before any model is loaded; returns `(model_dir, output)`."""
    if quantize not in QUANTIZE:
        raise ValueError(
            f"Unknown quantization. Received: quantize={quantize!r}. Use one of {list(QUANTIZE)} "
            "(int8: smallest and fastest on CPUs; none: float32)."
        )
    model_dir = Path(model_dir)
    if not (model_dir / "saved_model.pb").is_file():
        raise FileNotFoundError(
            "Not a bertkit model directory: it needs saved_model.pb and labels.json. Received: "
            f"--model {str(model_dir)!r}. Pass the --output directory of `bertkit train`."
        )
    output = Path(output) if output is not None else default_output(model_dir, quantize)
    if output.suffix != SUFFIX:
        raise ValueError(
            f"The LiteRT model file must end in {SUFFIX}. Received: output={str(output)!r}. "
            f"Pass e.g. {str(output.with_suffix(SUFFIX))!r}."
        )
    for path in (output, sidecar_path(output)):
        if path.is_dir():
            raise FileExistsError(
                f"The output path is a directory. Received: {str(path)!r}. Choose a file path "
                f"ending in {SUFFIX}; bertkit never replaces a directory here."
            )
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"Output file already exists. Received: {str(path)!r}. Choose a new path, "
                "delete it, or pass overwrite=True (--overwrite on the CLI)."
            )
    if not output.parent.is_dir():
        raise FileNotFoundError(
            f"The output's folder does not exist. Received: {str(output)!r}. Create "
            f"{str(output.parent)!r} first or choose another path."
        )
    if not os.access(output.parent, os.W_OK):
        raise PermissionError(
            f"The output's folder is not writable. Received: {str(output)!r}. Choose a "
            "writable location."
        )
    return model_dir, output


class _Packer(tf.Module):
    """Raw strings -> encoder inputs with FastBertTokenizer and dense ops only (TFLite-friendly).

    Args:
        vocab: list of str. The WordPiece vocabulary.
        lower_case: bool. Lower-case and strip accents (uncased presets).
        special: dict. Preprocessor special ids (`start_of_sequence_id`,
            `end_of_segment_id`, `padding_id`).
        seq_length: int. Tokens per text, [CLS] and [SEP] included.
    """

    def __init__(self, vocab, lower_case: bool, special: dict, seq_length: int):
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

    def __call__(self, text):
        """Returns `(inputs, truncated)`: the encoder inputs cut to the longest text, and a bool mask."""
        tokens = self.tokenizer.tokenize(text)
        budget = self.seq_length - 2  # [CLS] and [SEP]
        count = tf.cast(tokens.row_lengths(), tf.int32)
        lengths = tf.minimum(count, budget)
        longest = tf.reduce_max(tf.concat([lengths, [0]], 0))
        pad = self.special["padding_id"]
        body = tokens.to_tensor(default_value=pad, shape=[None, budget])[:, :longest]
        batch = tf.shape(text)[0]
        ids = tf.concat(
            [
                tf.fill([batch, 1], self.special["start_of_sequence_id"]),
                body,
                tf.fill([batch, 1], pad),
            ],
            axis=1,
        )
        positions = tf.range(longest + 2)[None, :]
        ids = tf.where(positions == lengths[:, None] + 1, self.special["end_of_segment_id"], ids)
        inputs = {
            names.INPUT_WORD_IDS: ids,
            names.INPUT_MASK: tf.cast(positions < lengths[:, None] + 2, tf.int32),
            names.INPUT_TYPE_IDS: tf.zeros_like(ids),
        }
        return inputs, count > budget


class _LiteServing(tf.Module):
    def __init__(self, packer: _Packer, token_model, label_names: list[str]):
        super().__init__()
        self.packer = packer
        self.token_model = token_model
        self.label_names = tf.constant(label_names, dtype=tf.string)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        inputs, truncated = self.packer(text)
        logits = tf.cast(self.token_model(inputs, training=False), tf.float32)
        label_id = tf.argmax(logits, axis=-1)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_id": label_id,
            "label": tf.gather(self.label_names, label_id),
            "truncated": truncated,
        }


def _float32_classifier(saved: export.SavedClassifier):
    """The saved model's network rebuilt in float32 from its preset, with the saved weights."""
    from bertkit import classifier

    info = saved.info
    if not info.get("preset"):
        raise ValueError(
            "The model directory does not say which preset it was trained from, so its "
            f"encoder cannot be rebuilt for LiteRT. Received: {str(saved.directory)!r} without "
            f"'preset' in {export.INFO_FILE}. Re-train with a current bertkit."
        )
    model = classifier.build_classifier(
        info["preset"],
        len(saved.label_names),
        "freeze",
        pooling=info.get("pooling") or "mean",
        seq_length=int(info.get("seq_length") or classifier.DEFAULT_SEQ_LENGTH),
        precision="float32",
    )
    source = saved._loaded.model.token_model.variables
    target = model.token_model.variables

    def key(variable):  # the encoder's name prefix carries a per-process counter
        return re.sub(r"^bert_encoder(_v\d+)?(_\d+)?/", "bert_encoder/", variable.name)

    # Matched by name: the order differs with the strategy (trainable variables come first).
    saved_by_name = {key(v): v for v in source}
    if sorted(saved_by_name) != sorted(key(v) for v in target) or any(
        saved_by_name[key(t)].shape != t.shape for t in target
    ):
        raise ValueError(
            "The saved weights do not fit the preset's encoder, so the model cannot be rebuilt "
            f"in float32. Received: {len(source)} saved variables for {len(target)} in "
            f"preset {info['preset']!r}. Is the preset in the cache the one the model was "
            "trained from?"
        )
    for t in target:
        t.assign(tf.cast(saved_by_name[key(t)], t.dtype))
    return model


def _packer_for(model) -> _Packer:
    from bertkit import hub as bk_hub
    from bertkit import tokens

    text_to_inputs = model.text_to_inputs
    preprocessor = text_to_inputs.preprocessor
    special = bk_hub.preprocessor_special_tokens(preprocessor)
    lower = bk_hub._lower_case_flag(preprocessor)
    return _Packer(
        tokens.vocabulary(text_to_inputs.preprocessor_dir),
        True if lower is None else lower,
        special,
        text_to_inputs.seq_length,
    )


def check_tokenizer_parity(packer: _Packer, preprocessor, texts=PROBE_TEXTS) -> None:
    """Raises ValueError unless `packer` gives the preprocessor's ids on `texts`.

    Args:
        packer: _Packer. The in-model tokenizer.
        preprocessor: a TF-Hub BERT preprocessor (loaded SavedModel or KerasLayer).
        texts: sequence of str. Texts to compare.
    """
    preprocessor = getattr(preprocessor, "resolved_object", preprocessor)
    text = tf.constant(list(texts))
    ours, _ = packer(text)
    tokens = getattr(preprocessor, names.TOKENIZE)(text)
    theirs = getattr(preprocessor, names.BERT_PACK_INPUTS)(
        [tokens], seq_length=tf.constant(packer.seq_length)
    )
    width = int(ours[names.INPUT_WORD_IDS].shape[1])
    for name in names.ENCODER_INPUTS:
        a, b = ours[name].numpy(), theirs[name].numpy()
        if a.shape[1] > b.shape[1] or not np.array_equal(a, b[:, :width]):
            row = next((i for i in range(len(a)) if not np.array_equal(a[i], b[i, :width])), 0)
            raise ValueError(
                "FastBertTokenizer does not reproduce this preset's tokenizer, so the model "
                f"cannot tokenize inside a .tflite. Received: {name} differ on {texts[row]!r:.60}. "
                "Serve the SavedModel instead (bertkit predict --model MODEL_DIR)."
            )


@contextlib.contextmanager
def quiet_native_logs():
    """Holds back what TensorFlow's converter and LiteRT print (C++ logs on fd 2, TF's logger).

    The converter's "Ignored output_format" lines and the interpreter's "Created
    TensorFlow Lite XNNPACK delegate" say nothing to a user. On an exception the
    held-back text is printed after all, so nothing that explains a failure is lost.
    """
    logger = tf.get_logger()
    level = logger.level
    with tempfile.TemporaryFile() as held:
        saved_fd = os.dup(2)
        os.dup2(held.fileno(), 2)
        logger.setLevel("ERROR")
        try:
            yield
        except BaseException:
            os.dup2(saved_fd, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            logger.setLevel(level)


def export_tflite(
    model_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    quantize: str = "int8",
    overwrite: bool = False,
    trust_model: bool = False,
) -> Path:
    """Converts a model directory to a `.tflite` that classifies raw strings; returns its path.

    Args:
        model_dir: path. A directory written by `bertkit train` / `save_model`.
        output: optional path ending in `.tflite`. Default: `default_output(model_dir, quantize)`.
        quantize: str. `"int8"` (dynamic range), `"float16"` or `"none"` (float32).
        overwrite: bool. Replace an existing output file (and its sidecar).
        trust_model: bool. Load a SavedModel that uses ops touching files, the network or
            the process (see `export.load_model`).
    """
    model_dir, output = _check_export_args(model_dir, output, quantize, overwrite)
    saved = export.load_model(model_dir, trust_model=trust_model)
    if saved.text_pairs:
        raise ValueError(
            "LiteRT export of sentence-pair models is not supported yet. Received: a pair model "
            f"(inputs text_a, text_b) in {str(model_dir)!r}. Serve its SavedModel instead."
        )
    model = _float32_classifier(saved)
    packer = _packer_for(model)
    check_tokenizer_parity(packer, saved._loaded.model.text_to_inputs.preprocessor)
    module = _LiteServing(packer, model.token_model, saved.label_names)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module
    )
    converter.allow_custom_ops = True  # the tensorflow-text tokenizer ops
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    with quiet_native_logs():
        blob = converter.convert()
    facts = {
        "labels": saved.label_names,
        "quantize": quantize,
        "seq_length": packer.seq_length,
        "source": {k: saved.info.get(k) for k in ("preset", "strategy", "pooling", "precision")},
        "source_dir": str(model_dir),
    }
    atomic_write_bytes(sidecar_path(output), json.dumps(facts, indent=1).encode())
    atomic_write_bytes(output, blob)
    return output
