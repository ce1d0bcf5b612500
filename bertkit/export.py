"""Save a fine-tuned classifier as a SavedModel that serves raw strings, and load it back.

The model directory (written atomically: temp dir, then rename):

    MODEL_DIR/
      saved_model.pb, variables/, assets/   the SavedModel
      labels.json                            class names, index = class id
      bertkit_model.json                     how it was built and trained (preset, strategy, metrics)

The SavedModel has one signature, `serving_default`:

- input `text`: string `[batch]`;
- outputs `logits` float32 `[batch, num_classes]`, `probabilities` float32
  `[batch, num_classes]`, `label_id` int64 `[batch]`, `label` string `[batch]`.

Each batch is padded only to its longest text (not to `seq_length`). It
reloads with TensorFlow and tensorflow_text alone, no bertkit needed:

    import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    serve = tf.saved_model.load(MODEL_DIR).signatures["serving_default"]
    serve(text=tf.constant(["great drug, no side effects"]))["label"]

Examples:
>>> save_model(model, "runs/model", ["negative", "neutral", "positive"])  # doctest: +SKIP
>>> load_model("runs/model").predict(["works well"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bertkit import _env

_env.setup()

import tensorflow as tf  # noqa: E402

from bertkit import names  # noqa: E402
from bertkit._atomic import atomic_dir  # noqa: E402

LABELS_FILE = "labels.json"
INFO_FILE = "bertkit_model.json"
SIGNATURE = "serving_default"


class _ServingModule(tf.Module):
    def __init__(self, model, label_names: list[str]):
        super().__init__()
        self.model = model
        self.label_names = tf.Variable(
            label_names, dtype=tf.string, trainable=False, name="label_names"
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        packed = self.model.text_to_inputs(text)
        lengths = tf.reduce_sum(packed[names.INPUT_MASK], axis=1)
        longest = tf.maximum(tf.reduce_max(tf.concat([lengths, [1]], 0)), 1)
        trimmed = {k: v[:, :longest] for k, v in packed.items()}
        logits = tf.cast(self.model.token_model(trimmed, training=False), tf.float32)
        label_id = tf.argmax(logits, axis=-1)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_id": label_id,
            "label": tf.gather(self.label_names, label_id),
        }


def save_model(
    model,
    directory: str | os.PathLike,
    label_names: list[str],
    info: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Saves `model` (from `build_classifier`) with a raw-string serving signature.

    Args:
        model: tf_keras.Model. A bertkit classifier.
        directory: path. Model directory (written atomically).
        label_names: list of str. Class names in id order.
        info: optional dict. Extra facts stored in `bertkit_model.json`.
        overwrite: bool. Replace an existing directory.
    """
    label_names = [str(x) for x in label_names]
    if len(label_names) != int(model.output_shape[-1]):
        raise ValueError(
            f"label_names must have one name per class. Received: {len(label_names)} names for a "
            f"model with {model.output_shape[-1]} outputs."
        )
    module = _ServingModule(model, label_names)
    with atomic_dir(directory, overwrite=overwrite) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        (tmp / LABELS_FILE).write_text(json.dumps(label_names, ensure_ascii=False, indent=1))
        import tensorflow_text

        import bertkit

        facts = {
            "versions": {
                "bertkit": bertkit.__version__,
                "tensorflow": tf.__version__,
                "tensorflow_text": tensorflow_text.__version__,
            },
            "preset": getattr(model, "preset", None),
            "strategy": getattr(model, "strategy", None),
            "pooling": getattr(model, "pooling", None),
            "seq_length": getattr(model, "seq_length", None),
            **(info or {}),
        }
        (tmp / INFO_FILE).write_text(json.dumps(facts, indent=2, default=str))
    return Path(directory)


class SavedClassifier:
    """A classifier loaded from a model directory (TensorFlow + tensorflow_text only)."""

    def __init__(self, directory: str | os.PathLike):
        directory = Path(directory)
        if not (directory / "saved_model.pb").is_file() or not (directory / LABELS_FILE).is_file():
            raise FileNotFoundError(
                "Not a bertkit model directory: it needs saved_model.pb and labels.json. "
                f"Received: {str(directory)!r}. Pass the --output directory of `bertkit train` "
                "(or a directory written by bertkit.save_model)."
            )
        try:
            self._loaded = tf.saved_model.load(str(directory))
        except Exception as err:  # corrupt or truncated files
            raise ValueError(
                f"Cannot load the SavedModel: it looks corrupt or incomplete. Received: "
                f"{str(directory)!r} ({type(err).__name__}: {str(err)[:200]}). Re-run training "
                "or re-export the model."
            ) from err
        self._serve = self._loaded.signatures[SIGNATURE]
        self.directory = directory
        self.label_names = json.loads((directory / LABELS_FILE).read_text())
        info_path = directory / INFO_FILE
        self.info = json.loads(info_path.read_text()) if info_path.is_file() else {}

    def __call__(self, texts) -> dict[str, np.ndarray]:
        """Runs the serving signature on a list of strings; returns NumPy outputs."""
        out = self._serve(text=tf.constant(list(texts), dtype=tf.string))
        return {k: v.numpy() for k, v in out.items()}

    def predict_proba(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Class probabilities `[n, num_classes]`, computed in batches.

        Args:
            texts: list of str.
            batch_size: int. Texts per call.
            progress: bool. Show a progress bar (on stderr).
        """
        from tqdm.auto import tqdm

        texts = list(texts)
        starts = range(0, len(texts), batch_size)
        chunks = [
            self(texts[i : i + batch_size])["probabilities"]
            for i in tqdm(starts, desc="predict", unit="batch", disable=not progress)
        ]
        if not chunks:
            return np.zeros((0, len(self.label_names)), np.float32)
        return np.concatenate(chunks)

    def predict(self, texts, batch_size: int = 64) -> list[str]:
        """Predicted class names."""
        probs = self.predict_proba(texts, batch_size)
        return [self.label_names[i] for i in probs.argmax(axis=1)]


def load_model(directory: str | os.PathLike) -> SavedClassifier:
    """Loads a model directory written by `save_model` (or `bertkit train`)."""
    return SavedClassifier(directory)
