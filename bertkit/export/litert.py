"""LiteRT (TFLite) export of a bertkit model directory: one small file that classifies raw strings.

`export_tflite(MODEL_DIR, quantize="int8")` writes two files side by side
(each through a temp file and a rename; the sidecar first, the model last):

    MODEL.tflite        the model: raw strings in, logits out
    MODEL.tflite.json   {"labels": [...], "quantize": ..., "seq_length": ...,
                         "truncation": ..., "head_tokens": ..., "chunks": ...,
                         "chunk_overlap": ..., "text_pairs": ..., "source": {...}}

The `.tflite` has one signature, `serving_default`:

- input `text`: string `[batch]`; for a sentence-pair model
  (`build_classifier(..., text_pairs=True)`) two inputs instead, `text_a` and
  `text_b` (string `[batch]` each), packed as `[CLS] A [SEP] B [SEP]` like the
  pair SavedModel's signature;
- outputs `logits` float32 `[batch, num_classes]`, `probabilities` float32
  `[batch, num_classes]`, `label_id` int64 `[batch]`, `label` string `[batch]`
  (the class names are constants inside the model, so a LiteRT user on a phone
  needs no sidecar), `truncated` bool `[batch]` (texts, or pairs, of which
  wordpieces were dropped).

The model's long-text options (`truncation`, `head_tokens`, `chunks`,
`chunk_overlap`, recorded in `bertkit_model.json` and copied to the sidecar)
hold inside the `.tflite` too: `bertkit.text.long_texts` selects and windows the
wordpieces and averages a text's chunk features before the head with builtin
TFLite ops (gather, where, matmul), so the export predicts like the SavedModel.

Tokenization and packing run inside the model (`bertkit.export.litert_pack`):
`tensorflow_text.FastBertTokenizer` converts to the custom ops `FastBertNormalize`
and `FastWordpieceTokenizeWithOffsets`, and `RaggedTensorToTensor` cuts and pads
the ids; the packing (special tokens, pair trimming as `RoundRobinTrimmer` does,
padding only to the longest row of the batch) is builtin TFLite ops. The
interpreter needs tensorflow-text's op registrar
(`tensorflow_text.core.pybinds.tflite_registrar.SELECT_TFTEXT_OPS`), which
`load_tflite` passes. `export_tflite` refuses a preset whose tokenizer
FastBertTokenizer does not reproduce: it compares the ids on probe texts (probe
pairs for a pair model) with the SavedModel's preprocessor first.

The encoder is rebuilt in float32 from the model's preset (a SavedModel trained
under mixed_bfloat16 holds bfloat16 ops, which TFLite does not run) and gets the
saved weights. `quantize`: `"int8"` is dynamic-range quantization
(`tf.lite.Optimize.DEFAULT`: int8 weights, activations quantized per batch at run
time), `"float16"` stores float16 weights, `"none"` keeps float32.

`bertkit.export.litert_serve` loads the file for prediction with LiteRT's interpreter.

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

import tensorflow as tf

from bertkit import export
from bertkit._atomic import atomic_write_bytes
from bertkit.export import litert_pack, saved_classifier
from bertkit.text import long_texts

QUANTIZE = ("int8", "float16", "none")
FORMATS = ("tflite",)
SUFFIX = ".tflite"
SIDECAR_SUFFIX = ".json"
SIGNATURE = "serving_default"


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
    if output.is_file() and not sidecar_path(output).is_file():  # overwrite=True here
        raise FileExistsError(
            "The output file exists and is not a bertkit LiteRT export (it has no "
            f"{sidecar_path(output).name} beside it), so overwrite does not replace it. "
            f"Received: {str(output)!r}. Choose another path, or delete the file first."
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


class _LiteServing(tf.Module):
    """The `.tflite`'s one signature: raw strings in, the SavedModel's outputs plus `truncated`."""

    def __init__(self, packer: litert_pack.Packer, model, label_names: list[str]):
        super().__init__()
        self.packer = packer
        self.model = model
        self.label_names = tf.constant(label_names, dtype=tf.string)

    def _outputs(self, *texts):
        inputs, text_index, truncated = self.packer(*texts)
        logits = long_texts.logits_by_text(self.model, inputs, text_index, tf.shape(texts[0])[0])
        label_id = tf.argmax(logits, axis=-1)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_id": label_id,
            "label": tf.gather(self.label_names, label_id),
            "truncated": truncated,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return self._outputs(text)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text_a"),
            tf.TensorSpec([None], tf.string, name="text_b"),
        ]
    )
    def serve_pairs(self, text_a, text_b):
        return self._outputs(text_a, text_b)


def _float32_classifier(saved: saved_classifier.SavedClassifier):
    """The saved model's network rebuilt in float32 from its preset, with the saved weights."""
    from bertkit.model import classifier

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
        text_pairs=saved.text_pairs,
        **{option: info[option] for option in long_texts.OPTIONS if option in info},
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
        overwrite: bool. Replace an existing export (a `.tflite` with its sidecar); a file
            without a sidecar is not bertkit's and is never replaced.
        trust_model: bool. Load a SavedModel that uses ops touching files, the network or
            the process (see `saved_classifier.load_model`).
    """
    model_dir, output = _check_export_args(model_dir, output, quantize, overwrite)
    saved = saved_classifier.load_model(model_dir, trust_model=trust_model)
    model = _float32_classifier(saved)
    packer = litert_pack.packer_for(model)
    preprocessor = saved._loaded.model.text_to_inputs.preprocessor
    litert_pack.check_tokenizer_parity(packer, preprocessor, text_pairs=saved.text_pairs)
    module = _LiteServing(packer, model, saved.label_names)
    serve = module.serve_pairs if saved.text_pairs else module.serve
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], module
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
        **{option: getattr(model, option) for option in long_texts.OPTIONS},
        "text_pairs": saved.text_pairs,
        "source": {k: saved.info.get(k) for k in ("preset", "strategy", "pooling", "precision")},
        "source_dir": str(model_dir),
    }
    atomic_write_bytes(sidecar_path(output), json.dumps(facts, indent=1).encode())
    atomic_write_bytes(output, blob)
    return output
