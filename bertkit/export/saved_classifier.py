"""Load a model directory written by `bertkit.export.save_model` and predict with it.

`load_model(MODEL_DIR)` returns a `SavedClassifier`: it runs the SavedModel's
serving function (TensorFlow and tensorflow_text only: the tokenizer, long-text
truncation or chunking and the head all run inside it) in batches sorted by
length, reads texts lazily, keeps the input order and counts truncated texts.
`bertkit.export.litert_serve.LiteClassifier` gives a `.tflite` export the same interface.

Examples:
>>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, "freeze", seq_length=8)
>>> directory = bertkit.save_model(model, "runs/model", ["negative", "positive"])
>>> loaded = load_model(directory)
>>> loaded.predict_proba(["works well", "a b c d e f g h i j"]).shape, loaded.last_num_truncated
((2, 2), 1)
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from bertkit import _env
from bertkit.export import INFO_FILE, SIGNATURE
from bertkit.presets import trust
from bertkit.text.inputs import PREDICT_BATCH_SIZE
from bertkit.text.labels import LABELS_FILE, read_class_names
from bertkit.text.text_pairs import as_pairs, check_texts, is_pairs

# predict_proba reads this many batches ahead and batches them by length (less padding).
SORT_WINDOW_BATCHES = 16


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"The model's {what} file is corrupt: not valid JSON. Received: {str(path)!r} "
            f"({type(err).__name__}: {err}). Re-run training or re-export the model "
            "(bertkit.save_model writes it)."
        ) from err


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"batch_size must be a positive integer. Received: batch_size={batch_size!r}. "
            "Use e.g. 64 (--batch-size on the command line)."
        )


def _batches(texts, batch_size: int):
    """Yields `(offset, batch)` lists of at most `batch_size` texts, reading `texts` lazily."""
    if isinstance(texts, str | bytes):
        check_texts(texts)  # raises: one string, not a list
    iterator, offset = iter(texts), 0
    while batch := list(itertools.islice(iterator, batch_size)):
        check_texts(batch, offset)
        yield offset, batch
        offset += len(batch)


def _length_sorted_batches(window: list, batch_size: int) -> list[np.ndarray]:
    """Positions of `window`, grouped into batches of texts of similar length.

    Length is counted in characters (both texts of a pair), a cheap stand-in for
    word pieces. The sort is stable, so equal lengths keep their order.

    Examples:
    >>> [p.tolist() for p in _length_sorted_batches(["aaaa", "b", "cc", "ddd"], 2)]
    [[1, 2], [3, 0]]
    """
    lengths = [
        sum(len(part) for part in item) if isinstance(item, tuple) else len(item) for item in window
    ]
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _pair_batches(pairs, batch_size: int):
    """Yields `(offset, batch)` lists of at most `batch_size` `(a, b)` pairs."""
    pairs = as_pairs(pairs)
    for offset in range(0, len(pairs), batch_size):
        end = offset + batch_size
        batch = list(zip(pairs.texts_a[offset:end], pairs.texts_b[offset:end], strict=True))
        yield offset, batch


class SavedClassifier:
    """A classifier loaded from a model directory (TensorFlow + tensorflow_text only).

    Attributes:
        directory: Path. The model directory.
        label_names: list of str. Class names in id order.
        info: dict. `bertkit_model.json` (preset, strategy, seq_length, metrics...).
        last_num_truncated: int or None. Texts that lost wordpieces (longer than
            `seq_length` tokens, or than all their chunks) in the last `predict_proba` call (None for model directories saved
            before bertkit recorded truncation).

    Args:
        directory: path. A model directory written by `save_model`.
        trust_model: bool. Run the model even if it uses ops that touch files, the
            network or the process (`bertkit.presets.trust`); only for models you trust.
    """

    def __init__(self, directory: str | os.PathLike, trust_model: bool = False):
        directory = Path(directory)
        if directory.is_file():
            raise FileNotFoundError(
                "Not a bertkit model directory: it is a file. Received: "
                f"{str(directory)!r}. Pass the --output directory of `bertkit train` (or a "
                "directory written by bertkit.save_model)."
            )
        if not (directory / "saved_model.pb").is_file() or not (directory / LABELS_FILE).is_file():
            missing = "does not exist" if not directory.exists() else "is incomplete"
            raise FileNotFoundError(
                f"Not a bertkit model directory: the directory {missing}; it needs "
                f"saved_model.pb and labels.json. Received: {str(directory)!r}. Pass the "
                "--output directory of `bertkit train` (or a directory written by "
                "bertkit.save_model)."
            )
        labels_path = directory / LABELS_FILE
        label_names = read_class_names(
            _read_json(labels_path, LABELS_FILE),
            f"The model's {LABELS_FILE} ({str(labels_path)!r})",
        )
        info_path = directory / INFO_FILE
        self.info = _read_json(info_path, INFO_FILE) if info_path.is_file() else {}
        try:
            trust.check(directory, trust_model)  # reads the graph; runs nothing
            self._loaded = tf.saved_model.load(str(directory))
        except trust.UntrustedModelError:
            raise
        except Exception as err:  # corrupt or truncated files
            raise ValueError(
                f"Cannot load the SavedModel: it looks corrupt or incomplete. Received: "
                f"{str(directory)!r} ({type(err).__name__}: {str(err)[:200]}). Re-run training "
                "or re-export the model."
            ) from err
        _env.drop_onednn_int64_noise()
        if SIGNATURE not in self._loaded.signatures:
            raise ValueError(
                f"The SavedModel has no {SIGNATURE!r} signature, so it is not a bertkit "
                f"classifier. Received: signatures {list(self._loaded.signatures)} in "
                f"{str(directory)!r}. Pass a directory written by bertkit.save_model."
            )
        _check_saved_labels(self._loaded, label_names, directory)
        self._serve = self._loaded.signatures[SIGNATURE]
        self._serve_with_truncation = getattr(self._loaded, "serve_with_truncation", None)
        self.directory = directory
        self.label_names = label_names
        self.last_num_truncated: int | None = None
        _, input_specs = self._serve.structured_input_signature
        self.text_pairs = set(input_specs) == {"text_a", "text_b"}

    def _check_input_kind(self, texts) -> None:
        given_pairs = is_pairs(texts)
        if self.text_pairs and not given_pairs and not (hasattr(texts, "__len__") and not texts):
            raise ValueError(
                "This model classifies sentence pairs, but got single texts. Received: "
                f"{texts if isinstance(texts, str | bytes) else list(texts)[:1]!r:.80}. Pass a "
                "list of (text_a, text_b) tuples or bertkit.text.text_pairs.TextPairs(texts_a, texts_b)."
            )
        if not self.text_pairs and given_pairs:
            raise ValueError(
                "This model classifies single texts, but got sentence pairs. Received: "
                f"{list(texts)[:1]!r:.80}. Pass a list of strings, or load a model trained "
                "with build_classifier(..., text_pairs=True)."
            )

    def _inputs(self, batch) -> dict:
        if self.text_pairs:
            return {
                "text_a": tf.constant([a for a, _ in batch], dtype=tf.string),
                "text_b": tf.constant([b for _, b in batch], dtype=tf.string),
            }
        return {"text": tf.constant(batch, dtype=tf.string)}

    def __call__(self, texts) -> dict[str, np.ndarray]:
        """Runs the serving signature on a list of strings (pairs for a pair model)."""
        self._check_input_kind(texts)
        if self.text_pairs:
            out = self._serve(**self._inputs(list(as_pairs(texts))))
        else:
            out = self._serve(text=tf.constant(list(texts), dtype=tf.string))
        return {k: v.numpy() for k, v in out.items()}

    def predict_proba(
        self,
        texts,
        batch_size: int = PREDICT_BATCH_SIZE,
        progress: bool = False,
        sort_window: int = SORT_WINDOW_BATCHES,
    ) -> np.ndarray:
        """Class probabilities `[n, num_classes]`, computed in batches.

        `texts` is read lazily, a window of `sort_window` batches at a time, so a
        generator (e.g. the lines of a file) streams with memory bounded by
        `batch_size * sort_window` texts; only the probabilities are kept. Inside a
        window, texts are grouped by length (characters) before batching: the
        model pads each batch only to its longest text, so similar lengths waste
        less compute on padding. The output keeps the input order. Empty strings
        are allowed; anything that is not a string raises `TypeError` naming its
        position. Texts longer than the model reads (`seq_length` tokens, times
        `chunks`) lose wordpieces as its `truncation` says: `last_num_truncated`
        holds how many, and a warning says so.

        Args:
            texts: iterable of str. A list, array or generator. For a pair model
                (`text_pairs` is True): a list of `(text_a, text_b)` tuples or a
                `bertkit.text.text_pairs.TextPairs`.
            batch_size: int. Texts per call (> 0).
            progress: bool. Show a progress bar (on stderr).
            sort_window: int. Batches read ahead and sorted by length (>= 1; 1 keeps
                the input order within every batch, as a plain loop would).

        Examples:
        >>> load_model("runs/model").predict_proba(["works well", ""]).shape  # doctest: +SKIP
        (2, 3)
        """
        from tqdm.auto import tqdm

        _check_batch_size(batch_size)
        if isinstance(sort_window, bool) or not isinstance(sort_window, int) or sort_window < 1:
            raise ValueError(
                f"sort_window must be a positive integer. Received: sort_window={sort_window!r}. "
                f"Use {SORT_WINDOW_BATCHES} (the default) or 1 to keep the input order."
            )
        self._check_input_kind(texts)
        window_size = batch_size * sort_window
        total = math.ceil(len(texts) / batch_size) if hasattr(texts, "__len__") else None
        windows = (
            _pair_batches(texts, window_size) if self.text_pairs else _batches(texts, window_size)
        )
        chunks, truncated, n = [], 0, 0
        with tqdm(total=total, desc="predict", unit="batch", disable=not progress) as bar:
            for _, window in windows:
                probs = np.zeros((len(window), len(self.label_names)), np.float32)
                for positions in _length_sorted_batches(window, batch_size):
                    batch_probs, batch_truncated = self._predict_batch(
                        [window[i] for i in positions]
                    )
                    probs[positions] = batch_probs
                    truncated += batch_truncated
                    bar.update(1)
                chunks.append(probs)
                n += len(window)
        self.last_num_truncated = None if self._serve_with_truncation is None else truncated
        if truncated:
            warnings.warn(_truncation_warning(truncated, n, self.info), UserWarning, stacklevel=2)
        if not chunks:
            return np.zeros((0, len(self.label_names)), np.float32)
        return np.concatenate(chunks)

    def _predict_batch(self, batch: list) -> tuple[np.ndarray, int]:
        """Probabilities of one batch and how many of its texts were truncated."""
        feed = self._inputs(batch)
        if self._serve_with_truncation is None:
            return self._serve(**feed)["probabilities"].numpy(), 0
        out = self._serve_with_truncation(*feed.values())
        return out["probabilities"].numpy(), int(out["truncated"].numpy().sum())

    def predict(self, texts, batch_size: int = PREDICT_BATCH_SIZE) -> list[str]:
        """Predicted class names."""
        probs = self.predict_proba(texts, batch_size)
        return [self.label_names[i] for i in probs.argmax(axis=1)]


def _truncation_warning(truncated: int, n: int, info: dict) -> str:
    """What `predict_proba` says when texts lost wordpieces (`info`: the model's facts)."""
    seq_length, chunks = info.get("seq_length"), info.get("chunks") or 1
    kept = f"{chunks} chunks of {seq_length} tokens" if chunks > 1 else f"{seq_length} tokens"
    return (
        f"{truncated} of {n} texts were longer than the model reads and were cut to {kept} "
        f"([CLS] and [SEP] included; truncation={info.get('truncation') or 'head'!r} chose "
        f"which wordpieces to keep). Received: seq_length={seq_length}, chunks={chunks} from "
        "training. To read more of each text, train with a larger seq_length or more chunks "
        "(--seq-length, --chunks on the command line)."
    )


def _check_saved_labels(loaded, label_names: list[str], directory: Path) -> None:
    """Raises if `labels.json` disagrees with the class names saved inside the SavedModel."""
    saved = getattr(loaded, "label_names", None)
    if saved is None:  # not written by save_model: nothing to compare
        return
    inside = [x.decode("utf-8") for x in saved.numpy().tolist()]
    if inside != label_names:
        raise ValueError(
            f"The model's {LABELS_FILE} does not match the class names saved inside its "
            "SavedModel, so predictions would be labelled wrongly. Received: "
            f"{label_names} in {str(directory / LABELS_FILE)!r}, {inside} in the SavedModel. "
            f"Restore {LABELS_FILE} from the original model directory (or write {inside}), "
            "or re-export the model."
        )


def load_model(directory: str | os.PathLike, trust_model: bool = False) -> SavedClassifier:
    """Loads a model directory written by `save_model` (or `bertkit train`).

    Args:
        directory: path. The model directory.
        trust_model: bool. Run it even if it uses ops that touch files, the network or
            the process (see `bertkit.presets.trust`); only for models you trust.
    """
    return SavedClassifier(directory, trust_model=trust_model)
