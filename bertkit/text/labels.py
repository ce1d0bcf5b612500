"""Class names: `LabelEncoder` (labels <-> class ids) and the one labels file format.

A model directory's `labels.json` (written by `LabelEncoder.save` and
`bertkit.save_model`) and a LiteRT sidecar's `labels` are a JSON list of class
names, class id `i` being entry `i`; `read_class_names` is its one reader.
Labels are compared after the loaders' conversion (`text_dataset.label_to_str`:
`1`, `1.0` and `"1"` are one class).

Examples:
>>> encoder = LabelEncoder.fit([1, 0, 1])
>>> encoder.classes, encoder.encode([1, 0, 1]).tolist()
(['0', '1'], [1, 0, 1])
>>> encoder.decode([0, 1])
['0', '1']
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bertkit._atomic import atomic_write_text
from bertkit.text.text_dataset import format_places, label_to_str

#: The file of a model directory that holds its class names (`LabelEncoder.save` writes it).
LABELS_FILE = "labels.json"
# The object LabelEncoder.save wrote before the labels format became a plain list.
ENCODER_FORMAT = "bertkit.LabelEncoder"
MAX_UNKNOWN_LISTED = 5


def _sorted_classes(classes: Iterable[str]) -> list[str]:
    """Sorts class names; all-integer names sort by value so "2" < "10".

    Examples:
    >>> _sorted_classes(["10", "2", "0"]), _sorted_classes(["pos", "neg"])
    (['0', '2', '10'], ['neg', 'pos'])
    """
    classes = list(classes)
    if classes and all(re.fullmatch(r"-?\d+", c) for c in classes):
        return sorted(classes, key=int)
    return sorted(classes)


def read_class_names(value, source: str) -> list[str]:
    """Checks saved class names and returns them: the one reader of the labels format.

    The format is a JSON list of at least 2 distinct, non-empty strings, class
    id `i` being entry `i`: a model directory's `labels.json` and the `labels`
    of a LiteRT sidecar. A `{"format": "bertkit.LabelEncoder", "classes": [...]}`
    object, which `LabelEncoder.save` wrote before bertkit 0.1.0 settled on the
    list, is read too.

    Args:
        value: object. The parsed JSON (a list of str).
        source: str. What it was read from, for the error message, e.g.
            `"The model's labels.json ('runs/model/labels.json')"`.

    Returns:
        The class names in id order.

    Examples:
    >>> read_class_names(["neg", "pos"], "labels.json")
    ['neg', 'pos']
    >>> read_class_names(["neg"], "labels.json")
    Traceback (most recent call last):
    ...
    ValueError: labels.json must hold the class names as a JSON list of at least 2 distinct, non-empty strings (class id i is entry i). Received: ['neg']. Re-run training or re-export the model.
    """
    if isinstance(value, dict) and value.get("format") == ENCODER_FORMAT:
        value = value.get("classes")
    if not (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(name, str) and name.strip() for name in value)
        and len(set(value)) == len(value)
    ):
        raise ValueError(
            f"{source} must hold the class names as a JSON list of at least 2 distinct, "
            f"non-empty strings (class id i is entry i). Received: {str(value)[:100]}. "
            "Re-run training or re-export the model."
        )
    return list(value)


class LabelEncoder:
    """Maps string labels to class ids `0..num_classes-1` and back; save it with the model.

    `fit` sorts the distinct labels (numerically if they are all integers,
    so labels 0..N keep their ids). Labels are compared as strings after the
    loaders' conversion (`1`, `1.0` and `"1"` are the same class).

    The saved file is the model directory's `labels.json`: a JSON list of the
    class names, class id `i` being entry `i` (`export.save_model` writes the
    same file; `read_class_names` reads both).

    Args:
        classes: list[str] | None. Class names in id order; `None` for an
            encoder that `fit` has not filled yet.

    Examples:
    >>> encoder = LabelEncoder.fit(["pos", "neg", "pos"])
    >>> encoder.classes, encoder.num_classes
    (['neg', 'pos'], 2)
    >>> encoder.encode(["pos", "neg"]).tolist(), encoder.decode([1, 0])
    ([1, 0], ['pos', 'neg'])
    >>> encoder.to_json()
    '["neg", "pos"]'
    >>> LabelEncoder.from_json(encoder.to_json()) == encoder
    True
    """

    def __init__(self, classes: Sequence | None = None):
        if classes is None:
            self.classes: list[str] = []
            return
        if isinstance(classes, str):
            raise TypeError(
                f"classes must be a list of class names. Received: the string {classes!r}. "
                f"Pass a list, e.g. [{classes!r}, ...]."
            )
        names = [label_to_str(c) for c in classes]
        if any(n is None for n in names):
            raise ValueError(
                f"Class names must not be missing or empty. Received: classes={list(classes)!r}. "
                "Remove the empty entries."
            )
        duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
        if duplicates:
            raise ValueError(
                f"Class names must be unique. Received: {duplicates} more than once in "
                f"classes={names}. Remove the duplicates (or build with LabelEncoder.fit(labels))."
            )
        if len(names) < 2:
            raise ValueError(
                f"A classifier needs at least 2 classes. Received: classes={names}. "
                "Pass every class name."
            )
        self.classes = names

    @classmethod
    def fit(cls, labels: Iterable) -> LabelEncoder:
        """Returns an encoder whose classes are the sorted distinct `labels`.

        Args:
            labels: iterable. Raw labels (strings, ints, ...), e.g. `TextDataset.labels`.

        Examples:
        >>> LabelEncoder.fit([0, 1, 10, 2]).classes
        ['0', '1', '2', '10']
        """
        if isinstance(labels, str):
            raise TypeError(
                f"labels must be a list of labels. Received: the string {labels!r}. "
                "Pass a list of labels, e.g. dataset.labels."
            )
        if labels is None:
            raise ValueError(
                "Cannot fit a LabelEncoder without labels. Received: labels=None "
                "(unlabelled data). Load the data with a label column."
            )
        raw = list(labels)
        names = [label_to_str(label) for label in raw]
        missing = [i for i, name in enumerate(names) if name is None]
        if missing:
            raise ValueError(
                f"Labels must not be missing or empty. Received: {len(missing)} missing at "
                f"positions {format_places(missing)} (from 0). Fill them in or drop those "
                "examples."
            )
        distinct = _sorted_classes(set(names))
        if len(distinct) < 2:
            shown = f" ({distinct[0]!r})" if distinct else ""
            raise ValueError(
                "A classifier needs at least 2 classes. Received: "
                f"{len(distinct)} class{'' if len(distinct) == 1 else 'es'}{shown} in "
                f"{len(raw)} labels. Check the label column or add examples of other classes."
            )
        return cls(distinct)

    @property
    def num_classes(self) -> int:
        """Number of classes (the size of the classifier's output)."""
        return len(self.classes)

    def _require_fitted(self) -> None:
        if not self.classes:
            raise ValueError(
                "This LabelEncoder has no classes. Received: LabelEncoder(classes=None). "
                "Create it with LabelEncoder.fit(labels) or LabelEncoder.load(path)."
            )

    def encode(self, labels: Iterable) -> np.ndarray:
        """Returns the int32 class ids of `labels`.

        Args:
            labels: iterable. Raw labels, converted like the loaders convert them.

        Examples:
        >>> LabelEncoder(["neg", "pos"]).encode(["pos"]).dtype
        dtype('int32')
        """
        self._require_fitted()
        if isinstance(labels, str):
            raise TypeError(
                f"encode takes a list of labels. Received: the string {labels!r}. "
                f"Pass [{labels!r}]."
            )
        index = {name: i for i, name in enumerate(self.classes)}
        names = [label_to_str(label) for label in labels]
        unknown = [name for name in dict.fromkeys(names) if name not in index]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:MAX_UNKNOWN_LISTED])
            more = len(unknown) - MAX_UNKNOWN_LISTED
            rows = sum(1 for name in names if name not in index)
            raise ValueError(
                f"{'Label' if len(unknown) == 1 else 'Labels'} {shown}"
                + (f" and {more} more" if more > 0 else "")
                + f" {'was' if len(unknown) == 1 else 'were'} never seen in training. "
                f"Received: {rows} of {len(names)} labels outside the known classes "
                f"{self.classes}. Fix those labels, or fit the encoder on data with every class."
            )
        return np.asarray([index[name] for name in names], dtype=np.int32)

    def decode(self, ids: Iterable) -> list[str]:
        """Returns the class names of class ids.

        Args:
            ids: iterable of int. Class ids, e.g. `logits.argmax(-1)`.

        Examples:
        >>> LabelEncoder(["neg", "pos"]).decode(np.array([1, 0]))
        ['pos', 'neg']
        """
        self._require_fitted()
        ids = np.asarray(ids).reshape(-1)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(
                f"Class ids must be integers. Received: dtype {ids.dtype}. For logits or "
                "probabilities pass .argmax(axis=-1)."
            )
        bad = sorted({int(i) for i in ids if not 0 <= int(i) < self.num_classes})
        if bad:
            raise ValueError(
                f"Class ids must be in [0, {self.num_classes}). Received: {format_places(bad)}. "
                "Check that the ids come from a model trained with this encoder."
            )
        return [self.classes[int(i)] for i in ids]

    def to_json(self) -> str:
        """Returns the class names as a JSON list, the format of a model's `labels.json`."""
        self._require_fitted()
        return json.dumps(self.classes, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> LabelEncoder:
        """Returns the encoder that `to_json` wrote."""
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"Not a saved LabelEncoder: invalid JSON. Received: {err}. "
                "Pass the text written by LabelEncoder.to_json()."
            ) from err
        return cls(read_class_names(value, "The JSON text"))

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the JSON to `path` atomically (temp file + rename) and returns the path."""
        path = Path(path).expanduser()
        atomic_write_text(path, self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelEncoder:
        """Reads an encoder written by `save`, or the `labels.json` of a model directory.

        Examples:
        >>> import pathlib, tempfile
        >>> path = LabelEncoder(["neg", "pos"]).save(pathlib.Path(tempfile.mkdtemp()) / "labels.json")
        >>> LabelEncoder.load(path).classes
        ['neg', 'pos']
        """
        path = Path(path).expanduser()
        if path.is_dir():
            path = path / LABELS_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"Label encoder file not found. Received: path={str(path)!r}. "
                "Pass the file written by LabelEncoder.save() or the labels.json of a model "
                "directory (bertkit.save_model writes it)."
            )
        return cls.from_json(path.read_text(encoding="utf-8"))

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelEncoder) and self.classes == other.classes

    def __repr__(self) -> str:
        return f"LabelEncoder(classes={self.classes if self.classes else None!r})"
