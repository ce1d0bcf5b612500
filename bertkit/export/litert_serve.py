"""Prediction with a `.tflite` written by `bertkit.export.litert.export_tflite`: the SavedModel interface.

`load_model(path)` is the one loader behind `bertkit predict` and `evaluate`: a
`.tflite` path gives a `LiteClassifier`, a directory a `SavedClassifier`; both
have `label_names`, `info`, `__call__`, `predict_proba` (batched, length-sorted,
truncation counted) and `predict`.

Interpreter: LiteRT (`ai_edge_litert`), not the deprecated `tf.lite.Interpreter`:
it is a dependency of tf-models-official, so it installs beside the pinned
TensorFlow 2.20. tensorflow-text's registrar (`SELECT_TFTEXT_OPS`) adds the
tokenizer ops to it. It runs on all the process's cores with XNNPACK.

Examples:
>>> load_model("runs/model.int8.tflite").predict(["works well"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bertkit.export import saved_classifier
from bertkit.export.litert import SIDECAR_SUFFIX, SIGNATURE, SUFFIX, quiet_native_logs, sidecar_path
from bertkit.text.labels import read_class_names
from bertkit.text.text_pairs import as_pairs, check_texts


def _interpreter(path: Path):
    from ai_edge_litert import interpreter as litert
    from tensorflow_text.core.pybinds import tflite_registrar

    return litert.InterpreterWithCustomOps(
        custom_op_registerers=list(tflite_registrar.SELECT_TFTEXT_OPS),
        model_path=str(path),
        num_threads=len(os.sched_getaffinity(0)),
    )


def _as_bytes(texts) -> np.ndarray:
    return np.array([t if isinstance(t, bytes) else t.encode() for t in texts], dtype=object)


class LiteClassifier(saved_classifier.SavedClassifier):
    """A classifier loaded from a `.tflite` export: the interface of `SavedClassifier`.

    Attributes:
        directory: Path. The `.tflite` file.
        label_names: list of str. Class names in id order (from the sidecar).
        info: dict. The sidecar (`labels`, `quantize`, `seq_length`, `text_pairs`, `source`).
        text_pairs: bool. A sentence-pair model: call it with `(text_a, text_b)` tuples or a
            `bertkit.text.text_pairs.TextPairs`, as a pair `SavedClassifier`.
        last_num_truncated: int. Texts longer than `seq_length` in the last `predict_proba`.
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        side = sidecar_path(path)
        if not path.is_file() or not side.is_file():
            missing = path if not path.is_file() else side
            raise FileNotFoundError(
                f"Not a bertkit LiteRT export: {str(missing)!r} does not exist (a .tflite needs "
                f"its {SIDECAR_SUFFIX} sidecar beside it). Received: {str(path)!r}. Write both "
                "with `bertkit export --model MODEL_DIR --format tflite`."
            )
        self.info = saved_classifier._read_json(side, side.name)
        labels = read_class_names(
            self.info.get("labels") if isinstance(self.info, dict) else None,
            f"The sidecar's 'labels' ({str(side)!r})",
        )
        try:
            with quiet_native_logs():
                self._interp = _interpreter(path)
                self._runner = self._interp.get_signature_runner(SIGNATURE)
                inputs = self._interp.get_signature_list()[SIGNATURE]["inputs"]
                self.text_pairs = set(inputs) == {"text_a", "text_b"}
                self._run([("warm", "up")] if self.text_pairs else ["warm up"])  # XNNPACK logs
        except (ValueError, RuntimeError, KeyError) as err:
            raise ValueError(
                f"Cannot load the .tflite model: it looks corrupt or is not a bertkit export. "
                f"Received: {str(path)!r} ({type(err).__name__}: {str(err)[:200]}). Re-export it."
            ) from err
        self.directory = path
        self.label_names = labels
        self.last_num_truncated = None
        self._serve_with_truncation = self._run  # predict_proba counts truncation

    def _run(self, batch) -> dict[str, np.ndarray]:
        """The signature's outputs for a list of texts, or of `(a, b)` pairs for a pair model."""
        if not len(batch):
            n = len(self.label_names)
            return {
                "logits": np.zeros((0, n), np.float32),
                "probabilities": np.zeros((0, n), np.float32),
                "label_id": np.zeros((0,), np.int64),
                "label": np.zeros((0,), object),
                "truncated": np.zeros((0,), bool),
            }
        if self.text_pairs:
            return self._runner(
                text_a=_as_bytes([a for a, _ in batch]), text_b=_as_bytes([b for _, b in batch])
            )
        return self._runner(text=_as_bytes(batch))

    def __call__(self, texts) -> dict[str, np.ndarray]:
        """Runs the model on a list of strings (pairs for a pair model); the SavedModel's keys plus `truncated`."""

        self._check_input_kind(texts)
        if self.text_pairs:
            return self._run(list(as_pairs(texts)))
        return self._run(check_texts(texts))

    def _predict_batch(self, batch: list) -> tuple[np.ndarray, int]:
        out = self._run(batch)
        return out["probabilities"], int(out["truncated"].sum())


def load_tflite(path: str | os.PathLike) -> LiteClassifier:
    """Loads a `.tflite` written by `export_tflite` (with its sidecar)."""
    return LiteClassifier(path)


def load_model(path: str | os.PathLike, trust_model: bool = False):
    """Loads a model for prediction: a `.tflite` export or a SavedModel directory, same interface.

    Args:
        path: path. A `.tflite` file (with its sidecar) or a model directory.
        trust_model: bool. For a SavedModel: see `saved_classifier.load_model`. A `.tflite` needs no
            trust scan: its interpreter runs builtin TFLite ops and only the tensorflow-text
            tokenizer ops as custom ops, none of which reads files or the network.

    Examples:
    >>> load_model("runs/model.int8.tflite").predict_proba(["works well"]).shape  # doctest: +SKIP
    (1, 3)
    """
    if Path(path).suffix == SUFFIX:
        return load_tflite(path)
    return saved_classifier.load_model(path, trust_model=trust_model)
