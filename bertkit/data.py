"""Load labelled text (CSV/TSV, Parquet, JSON Lines, DataFrame, folders, TFDS), encode labels.

Every loader returns a `TextDataset`: the texts, the raw labels as strings
(`None` for unlabelled data) and a human-readable `source` for messages.
Tokenization happens elsewhere; this module only gets clean strings in.

Bad-input policy (the same for every loader):

- A missing file or folder raises `FileNotFoundError` naming the path.
- An empty file, a file with a header but no rows, or a folder without
  examples raises `ValueError`.
- A text or label column that does not exist raises `ValueError` listing the
  columns that do.
- A bad text is missing (NaN/None/pd.NA), empty or whitespace-only (an empty
  CSV cell is empty), or not a string (e.g. a number in a DataFrame column).
  With `on_bad_text="error"` (the default) a `ValueError` lists up to 10
  places; with `on_bad_text="drop"` those rows are dropped with a warning that
  gives the count. Texts are never converted with `str()` behind your back.
- A missing or empty label raises `ValueError` listing the places. Labels are
  never dropped silently, whatever `on_bad_text` says.
- Labels become strings: `0`/`1` ints become `"0"`/`"1"`, integral floats
  (pandas turns an int column with a gap into floats) and integral decimals
  written as text (`"3.0"` in a CSV) become `"3"`, so `3`, `3.0`, `"3"` and
  `"3.0"` are one class; surrounding whitespace is stripped (`" pos"` is
  `"pos"`). A label that is a list or dict (one-hot, nested JSON) is an error.
- Files are recognised by content and extension (`bertkit.formats`): CSV/TSV
  (separator sniffed unless `sep=` is given), Parquet and JSON Lines; other
  formats (Excel, binary) raise `ValueError` saying how to convert them.
- Duplicate column names (`text,text,label`) raise `ValueError` naming them.
- Invalid UTF-8 in a CSV raises `ValueError` naming the byte offset and line;
  pass `encoding_errors="replace"` to read it anyway. Files in a text folder
  are read with invalid bytes replaced, and a warning counts those files.

Places are named so you can find them: CSV/TSV rows use spreadsheet numbering
(the header is row 1, the first data row is row 2; blank lines are skipped),
DataFrame rows use their index labels (what `frame.loc[...]` takes), folder
examples use file paths and TFDS examples their position in the split (from 0).

CSV cells are read as written: numeric-looking texts (`"007"`) stay text, and
`NA`, `None` or `null` are ordinary values (a class may be called `"None"`);
only an empty cell counts as missing.

Examples:
>>> import pandas as pd
>>> frame = pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, 0, 1]})
>>> dataset = from_dataframe(frame)
>>> dataset.labels
['1', '0', '1']
>>> encoder = LabelEncoder.fit(dataset.labels)
>>> encoder.encode(dataset.labels).tolist()
[1, 0, 1]
>>> encoder.decode([0, 1])
['0', '1']
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bertkit import formats
from bertkit._atomic import atomic_write_text

ON_BAD_TEXT = ("error", "drop")
TFDS_PREFIX = "tfds:"
TFDS_UNLABELLED = -1  # TFDS marks examples without a label (e.g. GLUE test splits) with -1.
MAX_LISTED = 10
MAX_UNKNOWN_LISTED = 5
#: The file of a model directory that holds its class names (`LabelEncoder.save` writes it).
LABELS_FILE = "labels.json"
# The object LabelEncoder.save wrote before the labels format became a plain list.
ENCODER_FORMAT = "bertkit.LabelEncoder"

# "tfds:NAME[:VERSION][:SPLIT]"; a version starts with a digit, a split with a letter.
_TFDS_SOURCE = re.compile(r"^tfds:(?P<name>[^:]+(?::\d[\w.*]*)?)(?::(?P<split>.+))?$")


@dataclasses.dataclass(repr=False)
class TextDataset:
    """Texts with their raw string labels and where they came from.

    Args:
        texts: list[str]. One example per entry.
        labels: list[str] | None. The raw label of each text as a string, or
            `None` for unlabelled data. Encode with `LabelEncoder`.
        source: str. Human-readable origin (a path, `"DataFrame"`,
            `"tfds:imdb_reviews:train"`), used in messages.

    Examples:
    >>> dataset = TextDataset(["good", "bad"], ["pos", "neg"], source="inline")
    >>> len(dataset), dataset
    (2, TextDataset(source='inline', 2 examples, 2 classes))
    """

    texts: list[str]
    labels: list[str] | None
    source: str

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise ValueError(
                "texts and labels must have the same length. Received: "
                f"{len(self.texts)} texts and {len(self.labels)} labels from {self.source}. "
                "Pass one label per text, or labels=None for unlabelled data."
            )

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        if self.labels is None:
            labels = "unlabelled"
        else:
            count = len(set(self.labels))
            labels = f"{count} class" + ("" if count == 1 else "es")
        return f"TextDataset(source={self.source!r}, {len(self.texts)} examples, {labels})"


# --------------------------------------------------------------------------- helpers


def _warn(message: str) -> None:
    """Warns, pointing at the first caller outside this module."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def _is_missing(value) -> bool:
    """True for None, NaN, pd.NA and NaT (scalars only)."""
    if value is None:
        return True
    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(missing) if isinstance(missing, bool | np.bool_) else False


_INTEGRAL_DECIMAL = re.compile(r"([+-]?\d+)\.0*")


def _label_to_str(value) -> str | None:
    """Returns a label as a stripped string, or None when it is missing or empty.

    The one place labels are canonicalised: integral numbers lose their
    fractional zeros whether they come as floats or as text (`"3.0"` is `"3"`).

    Examples:
    >>> [_label_to_str(v) for v in (1, 1.0, "1.0", " 2.00 ", "2.5", " pos ", float("nan"), "")]
    ['1', '1', '1', '2', '2.5', 'pos', None, None]
    >>> _label_to_str(True), _label_to_str("007"), _label_to_str("1e3")
    ('True', '007', '1e3')
    """
    if _is_missing(value):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, bool | np.bool_):
        text = str(bool(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.strip()
    integral = _INTEGRAL_DECIMAL.fullmatch(text)
    if integral:
        text = integral[1]
    return text or None


def _show(value) -> str:
    """Formats an index label or class name for messages: numbers bare, strings quoted.

    Examples:
    >>> _show(np.int64(11)), _show("r2")
    ('11', "'r2'")
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return str(float(value))
    return repr(value)


def _format_places(places: Sequence, limit: int = MAX_LISTED) -> str:
    """Formats up to `limit` places, then "and N more".

    Examples:
    >>> _format_places([2, 3, 5], limit=2)
    '2, 3 and 1 more'
    """
    shown = ", ".join(str(place) for place in places[:limit])
    return shown + (f" and {len(places) - limit} more" if len(places) > limit else "")


def _check_on_bad_text(on_bad_text: str) -> None:
    if on_bad_text not in ON_BAD_TEXT:
        raise ValueError(
            f"on_bad_text must be one of {list(ON_BAD_TEXT)}. "
            f"Received: on_bad_text={on_bad_text!r}. "
            'Use "error" to stop at bad texts or "drop" to skip them with a warning.'
        )


def _missing_column_error(kind: str, column, columns: list, source: str) -> ValueError:
    flag = f"--{kind}-column"
    message = (
        f"Column {column!r} not found in {source}. Received: {kind}_column={column!r}. "
        f"Available columns: {columns}. Pass {kind}_column=... ({flag} on the CLI) "
        "with one of these"
        + (", or label_column=None for unlabelled data." if kind == "label" else ".")
    )
    if isinstance(column, str):
        by_lower = {str(c).strip().lower(): c for c in columns}
        close = difflib.get_close_matches(column.strip().lower(), list(by_lower), n=1)
        if close:
            message += f" Did you mean {by_lower[close[0]]!r}?"
    if len(columns) == 1 and isinstance(columns[0], str):
        for sep, name, flag in (("\t", "sep='\\t'", "tab"), *((c, f"sep={c!r}", c) for c in ",;|")):
            if sep in columns[0]:
                message += (
                    f" The file was read as a single column whose name contains {sep!r}: "
                    f"pass {name} (--sep '{flag}' on the CLI) if that is the separator."
                )
                break
    return ValueError(message)


def _check_unique_columns(columns: list, source: str) -> None:
    """Raises when a column name occurs twice (pandas would silently use the first).

    Args:
        columns: list. The column names as written in the file or frame.
        source: str. Where they came from, for the message.
    """
    duplicates = [name for name, count in Counter(columns).items() if count > 1]
    if duplicates:
        raise ValueError(
            f"Column names must be unique: {source} has "
            f"{_format_places([repr(d) for d in duplicates])} more than "
            f"once. Received: columns {columns}. Rename or remove the duplicate columns so "
            "it is clear which one holds the texts and which the labels."
        )


def _check_frame(
    frame: pd.DataFrame,
    text_column,
    label_column,
    source: str,
    on_bad_text: str,
    place_of: Callable[[int], object],
    places_are: str,
    places_note: str = "",
) -> TextDataset:
    """Validates `frame` by the module's bad-input policy and builds the dataset.

    Args:
        frame: pd.DataFrame. The data, one example per row.
        text_column: column name. Where the texts are.
        label_column: column name or None. Where the labels are; None for unlabelled.
        source: str. Where the frame came from, for messages.
        on_bad_text: str. `"error"` or `"drop"`.
        place_of: callable. Maps a row position (0-based) to what messages print.
        places_are: str. What the printed places are, e.g. "rows".
        places_note: str. Sentence explaining the numbering, added to messages.
    """
    _check_on_bad_text(on_bad_text)
    columns = list(frame.columns)
    _check_unique_columns(columns, source)
    if text_column not in frame.columns:
        raise _missing_column_error("text", text_column, columns, source)
    if label_column is not None and label_column not in frame.columns:
        raise _missing_column_error("label", label_column, columns, source)
    if len(frame) == 0:
        raise ValueError(
            f"No examples to load. Received: {source} has the columns {columns} but no rows. "
            "Check that this is the right file and that it is not truncated."
        )

    problems: dict[str, list[int]] = {
        "missing": [],
        "empty or whitespace-only": [],
        "not a string": [],
    }
    example_non_string = None
    texts = frame[text_column].tolist()
    for position, text in enumerate(texts):
        if _is_missing(text):
            problems["missing"].append(position)
        elif not isinstance(text, str):
            problems["not a string"].append(position)
            if example_non_string is None:
                example_non_string = f"{text!r} of type {type(text).__name__}"
        elif not text.strip():
            problems["empty or whitespace-only"].append(position)
    bad = sorted(position for positions in problems.values() for position in positions)
    if bad:
        details = "; ".join(
            f"{kind} in {places_are} {_format_places([place_of(p) for p in positions])}"
            + (f" (e.g. {example_non_string})" if kind == "not a string" else "")
            for kind, positions in problems.items()
            if positions
        )
        if on_bad_text == "error":
            raise ValueError(
                f"Text column {text_column!r} of {source} has {len(bad)} bad "
                f"value{'s' if len(bad) != 1 else ''} (missing, empty or not a string). "
                f'Received: {details}.{places_note} Fix those rows, or pass on_bad_text="drop" '
                "(--on-bad-text drop on the command line) to drop them with a warning."
            )
        if len(bad) == len(texts):
            raise ValueError(
                f"No examples left. Received: all {len(texts)} texts in column "
                f"{text_column!r} of {source} are bad ({details}). Check the text column."
            )
        _warn(
            f"Dropped {len(bad)} of {len(texts)} rows of {source} whose text in column "
            f"{text_column!r} is missing, empty or not a string: {details}.{places_note} "
            "Fix those rows to keep them."
        )
    keep = sorted(set(range(len(texts))) - set(bad))

    labels = None
    if label_column is not None:
        raw_labels = frame[label_column].tolist()
        labels, missing, nested = [], [], []
        for position in keep:
            if isinstance(raw_labels[position], list | tuple | dict | np.ndarray):
                nested.append(position)
            label = _label_to_str(raw_labels[position])
            if label is None:
                missing.append(position)
            labels.append(label)
        if nested:
            raise ValueError(
                f"Label column {label_column!r} of {source} holds lists or dicts, not one label "
                f"per example. Received: {raw_labels[nested[0]]!r} in {places_are} "
                f"{_format_places([place_of(p) for p in nested])}.{places_note} Give each "
                "example one class name or id (for one-hot labels, the index of the 1)."
            )
        if missing:
            raise ValueError(
                f"Label column {label_column!r} of {source} has {len(missing)} missing or empty "
                f"label{'s' if len(missing) != 1 else ''}. Received: missing in {places_are} "
                f"{_format_places([place_of(p) for p in missing])}.{places_note} "
                "Labels are never dropped: "
                "fill them in, remove those rows, or pass label_column=None for unlabelled data."
            )
    return TextDataset(texts=[texts[p] for p in keep], labels=labels, source=source)


# --------------------------------------------------------------------------- loaders


def from_dataframe(
    frame: pd.DataFrame,
    text_column: str = "text",
    label_column: str | None = "label",
    source: str = "DataFrame",
    on_bad_text: str = "error",
) -> TextDataset:
    """Returns the texts and labels of a DataFrame, checked by the bad-input policy.

    Args:
        frame: pd.DataFrame. One example per row.
        text_column: str. Column holding the texts (strings).
        label_column: str | None. Column holding the labels; `None` for unlabelled data.
        source: str. Name for messages, e.g. the file the frame came from.
        on_bad_text: str. `"error"` raises on missing, empty or non-string
            texts, naming the rows by their index labels; `"drop"` drops them
            with a warning.

    Examples:
    >>> frame = pd.DataFrame({"review": ["Great!", "  "], "stars": [5, 1]})
    >>> from_dataframe(frame, "review", "stars", on_bad_text="drop").texts
    ['Great!']
    >>> from_dataframe(frame, "review", None, on_bad_text="drop").labels is None
    True
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"frame must be a pandas DataFrame. Received: {type(frame).__name__}. "
            "Build one with pd.DataFrame({'text': texts, 'label': labels})."
        )
    index = frame.index
    return _check_frame(
        frame,
        text_column,
        label_column,
        source,
        on_bad_text,
        place_of=lambda position: _show(index[position]),
        places_are="rows with index",
    )


def _first_invalid_utf8(path: Path) -> tuple[int, int, bytes]:
    """Returns (byte offset, line number, bad bytes) of the first invalid UTF-8 in `path`."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start, raw.count(b"\n", 0, err.start) + 1, raw[err.start : err.end]
    return -1, -1, b""


def load_csv(
    path: str | os.PathLike,
    text_column: str = "text",
    label_column: str | None = "label",
    sep: str | None = None,
    on_bad_text: str = "error",
    encoding_errors: str = "strict",
) -> TextDataset:
    """Loads texts and labels from a UTF-8 CSV or TSV file with a header row.

    Args:
        path: str | PathLike. The file; pandas handles `.gz`/`.zip`/... compression.
        text_column: str. Header of the column with the texts.
        label_column: str | None. Header of the column with the labels;
            `None` for unlabelled data.
        sep: str | None. Field separator, one character; `None` picks `"\\t"`
            for `.tsv`/`.tab` files and otherwise sniffs `,` `;` `\\t` or `|`
            from the first lines (`","` when unsure).
        on_bad_text: str. `"error"` raises on missing, empty or whitespace-only
            texts, naming the rows (spreadsheet numbering: header is row 1);
            `"drop"` drops them with a warning.
        encoding_errors: str. How to treat invalid UTF-8 bytes (as in `open()`):
            `"strict"` raises, `"replace"` reads them as U+FFFD.

    Examples:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.tsv"
    >>> _ = path.write_text("text\\tlabel\\nLoved it\\tpos\\n007\\tneg\\n")
    >>> dataset = load_csv(path)
    >>> dataset.texts, dataset.labels
    (['Loved it', '007'], ['pos', 'neg'])
    """
    path = Path(path).expanduser()
    if not path.exists():
        hint = ""
        if not path.suffix and TFDS_PREFIX not in str(path):
            hint = f" For a TensorFlow Datasets name use load('tfds:{path}')."
        raise FileNotFoundError(
            f"Data file not found. Received: path={str(path)!r} "
            f"(working directory {os.getcwd()!r}). Check the path.{hint}"
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"Expected a CSV/TSV file but got a directory. Received: path={str(path)!r}. "
            "For one sub-folder of .txt files per class use load_text_directory(path) "
            "or load(path)."
        )
    _check_sep(sep)
    fmt = formats.detect(path)
    if fmt.kind != "csv":
        raise ValueError(
            f"Expected a CSV/TSV file but got {fmt.kind.replace('_', ' ')}. Received: "
            f"path={str(path)!r}. Use data.load(path), which reads Parquet and JSON Lines too."
        )
    if sep is None:
        sep = formats.sniff_separator(fmt.sample, path)
    kind = "TSV" if sep == "\t" else "CSV"
    read = dict(
        sep=sep,
        dtype=str,
        keep_default_na=False,  # "NA"/"None"/"null" stay values; empty cells become "".
        encoding="utf-8",
        encoding_errors=encoding_errors,
        compression=fmt.compression or "infer",
    )
    try:
        frame = pd.read_csv(path, **read)
    except pd.errors.EmptyDataError as err:
        raise ValueError(
            f"The data file is empty. Received: path={str(path)!r} ({path.stat().st_size} bytes, "
            "no header row). Expected a header row naming the columns, then one row per example."
        ) from err
    except UnicodeDecodeError as err:
        offset, line, bad = _first_invalid_utf8(path)
        raise ValueError(
            f"{str(path)!r} is not valid UTF-8. Received: invalid bytes {bad!r} at byte offset "
            f"{offset} (line {line}). Re-save the file as UTF-8, or pass "
            'encoding_errors="replace" to read invalid bytes as U+FFFD.'
        ) from err
    except pd.errors.ParserError as err:
        sniffed = formats.sniff_separator(fmt.sample, path)
        hint = (
            f"pass sep={sniffed!r} (--sep '{'tab' if sniffed == chr(9) else sniffed}' on the CLI): "
            "the first lines are separated by it"
            if sniffed != sep
            else "pass the right sep= (--sep on the CLI)"
        )
        raise ValueError(
            f"Could not parse {str(path)!r} as {kind} (sep={sep!r}). Received: {str(err).strip()}. "
            f"Quote texts that contain the separator, or {hint}."
        ) from err
    if not isinstance(frame.index, pd.RangeIndex):
        raise ValueError(
            f"The first data row of {str(path)!r} has more fields than the header, so its first "
            "field would silently become a row index. Received: header columns "
            f"{list(frame.columns)}, sep={sep!r}. Quote texts that contain the separator, "
            "fix the header, or pass the right sep=."
        )
    if any(re.fullmatch(r".+\.\d+", str(c)) for c in frame.columns):  # pandas renames dup to dup.1
        _check_unique_columns(
            pd.read_csv(path, header=None, nrows=1, **read).iloc[0].tolist(), str(path)
        )
    return _check_frame(
        frame,
        text_column,
        label_column,
        str(path),
        on_bad_text,
        place_of=lambda position: position + 2,
        places_are="rows",
        places_note=" Rows are numbered as in a spreadsheet: the header is row 1, the first "
        "data row is row 2.",
    )


def _check_sep(sep) -> None:
    """Raises unless `sep` is None or one character."""
    if sep is not None and not (isinstance(sep, str) and len(sep) == 1):
        raise ValueError(
            f"sep must be one character. Received: sep={sep!r}. Use e.g. sep=';' or "
            "sep='\\t' (--sep ';' or --sep tab on the command line), or None to sniff it."
        )


def load_text_directory(path: str | os.PathLike, on_bad_text: str = "error") -> TextDataset:
    """Loads one example per `.txt` file, labelled by the name of its class folder.

    The layout of `tf.keras.utils.text_dataset_from_directory`:
    `path/<class>/*.txt`, with `.txt` files in nested folders belonging to the
    top-level class folder. Hidden files and folders (starting with `.`) are
    skipped. Files are read as UTF-8 (a byte-order mark is removed); invalid
    bytes become U+FFFD and a warning counts the files that had them.

    Args:
        path: str | PathLike. Folder holding one sub-folder per class.
        on_bad_text: str. `"error"` raises on empty or whitespace-only files,
            naming them; `"drop"` skips them with a warning.

    Examples:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label, text in [("neg", "Dull."), ("pos", "Loved it.")]:
    ...     (root / label).mkdir()
    ...     _ = (root / label / "1.txt").write_text(text)
    >>> load_text_directory(root).labels
    ['neg', 'pos']
    """
    _check_on_bad_text(on_bad_text)
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"Data folder not found. Received: path={str(root)!r} "
            f"(working directory {os.getcwd()!r}). Check the path."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"Expected a folder with one sub-folder per class. Received: the file {str(root)!r}. "
            "For a CSV/TSV file use load_csv(path) or load(path)."
        )
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p.name for p in root.glob("*.txt")]
    if not class_dirs:
        raise ValueError(
            f"No class folders found. Received: {str(root)!r} has no sub-folders"
            + (f" (but {len(loose)} .txt files directly inside)" if loose else "")
            + ". Expected one sub-folder per class holding one .txt file per example, "
            "e.g. path/pos/1.txt and path/neg/2.txt."
        )
    if loose:
        _warn(
            f"Ignored {len(loose)} .txt files directly in {str(root)!r} (e.g. {loose[0]!r}): "
            "examples must be inside a class folder, whose name is their label."
        )
    files: list[tuple[Path, str]] = []
    empty_classes = []
    for class_dir in class_dirs:
        found = sorted(
            p
            for p in class_dir.rglob("*.txt")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        if not found:
            empty_classes.append(class_dir.name)
        files.extend((file, class_dir.name) for file in found)
    if not files:
        raise ValueError(
            f"No .txt files found. Received: class folders {[d.name for d in class_dirs]} in "
            f"{str(root)!r} hold no .txt files. Put one example per .txt file in its class folder."
        )
    if empty_classes:
        _warn(f"Class folders without .txt files in {str(root)!r} are skipped: {empty_classes}.")

    texts, replaced = [], []
    for file, _ in files:
        raw = file.read_bytes()
        try:
            texts.append(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            texts.append(raw.decode("utf-8-sig", errors="replace"))
            replaced.append(file)
    if replaced:
        _warn(
            f"{len(replaced)} of {len(files)} files in {str(root)!r} had invalid UTF-8 bytes, "
            f"read as U+FFFD (first: {str(replaced[0].relative_to(root))!r}). Re-save them as "
            "UTF-8 to keep every character."
        )
    frame = pd.DataFrame({"text": texts, "label": [label for _, label in files]})
    return _check_frame(
        frame,
        "text",
        "label",
        str(root),
        on_bad_text,
        place_of=lambda position: repr(str(files[position][0].relative_to(root))),
        places_are="files",
    )


def _string_features(features) -> list[str]:
    """Names of the scalar string features of a TFDS FeaturesDict."""
    names = []
    for key, feature in features.items():
        try:
            info = feature.get_tensor_info()
        except (AttributeError, TypeError, NotImplementedError):
            continue
        # Older TFDS has only `dtype`; newer TFDS logs a deprecation warning for it.
        np_dtype = getattr(info, "np_dtype", None)
        if np_dtype is not None:
            is_string = np.dtype(np_dtype).kind in "OSU"
        else:
            is_string = str(getattr(info, "dtype", "")).endswith("string")
        if is_string and tuple(info.shape) == ():
            names.append(key)
    return names


def import_tfds(doing: str):
    """Imports tensorflow_datasets, or says which packages to install.

    Args:
        doing: str. What needs it, for the message ("Loading", "Storing").
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            f"{doing} TFDS datasets needs tensorflow-datasets. Received: ImportError {err}. "
            "Run: pip install tensorflow-datasets importlib-resources."
        ) from err
    return tfds


def load_tfds(
    name: str,
    split: str = "train",
    text_key: str | None = None,
    label_key: str | None = "label",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    on_bad_text: str = "error",
) -> TextDataset:
    """Loads a split of a TensorFlow Datasets text classification dataset.

    Labels of a `ClassLabel` feature become their names (`imdb_reviews`:
    `"neg"`/`"pos"`), other labels `str()` of their value. A split with no
    labels at all (TFDS marks them `-1`, e.g. `glue/sst2` `test`) loads as
    unlabelled with a warning.

    Args:
        name: str. TFDS name, optionally with config and version
            (`"imdb_reviews"`, `"glue/sst2"`, `"glue/sst2:2.0.0"`).
        split: str. TFDS split, slicing allowed (`"train"`, `"validation[:10%]"`).
        text_key: str | None. Feature with the texts; `None` picks the only
            scalar string feature (`"text"` for imdb_reviews, `"sentence"` for glue/sst2).
        label_key: str | None. Feature with the labels; `None` for unlabelled data.
        data_dir: str | PathLike | None. TFDS data directory (default `~/tensorflow_datasets`).
        download: bool. Download and prepare the dataset if it is not there yet.
        on_bad_text: str. `"error"` or `"drop"`, for empty texts (positions from 0).

    Examples:
    >>> dataset = load_tfds("glue/sst2", split="validation")  # doctest: +SKIP
    >>> len(dataset), sorted(set(dataset.labels))  # doctest: +SKIP
    (872, ['negative', 'positive'])
    """
    tfds = import_tfds("Loading")
    dataset, info = tfds.load(
        name, split=split, with_info=True, data_dir=data_dir, download=download
    )
    features = info.features
    available = list(features.keys())
    if text_key is None:
        candidates = _string_features(features)
        if len(candidates) != 1:
            raise ValueError(
                f"Cannot tell which feature of tfds:{name} holds the text. Received: "
                f"{len(candidates)} scalar string features {candidates} among {available}. "
                "Pass text_key=... (--text-column on the CLI)."
            )
        text_key = candidates[0]
    elif text_key not in features:
        raise ValueError(
            f"Feature {text_key!r} not found in tfds:{name}. Received: text_key={text_key!r}. "
            f"Available features: {available}. Pass text_key=... with one of these."
        )
    if label_key is not None and label_key not in features:
        raise ValueError(
            f"Feature {label_key!r} not found in tfds:{name}. Received: label_key={label_key!r}. "
            f"Available features: {available}. Pass label_key=... with one of these, or "
            "label_key=None for unlabelled data."
        )
    keys = [text_key] + ([label_key] if label_key is not None else [])
    dataset = dataset.map(lambda example: {key: example[key] for key in keys})

    texts: list[str] = []
    raw_labels: list = []
    for batch in tfds.as_numpy(dataset.batch(1024)):
        texts.extend(
            t.decode("utf-8", errors="replace") if isinstance(t, bytes) else t
            for t in batch[text_key].tolist()
        )
        if label_key is not None:
            raw_labels.extend(batch[label_key].tolist())

    source = f"tfds:{name}:{split}"
    labels: list | None = None
    if label_key is not None:
        unlabelled = [i for i, label in enumerate(raw_labels) if label == TFDS_UNLABELLED]
        if raw_labels and len(unlabelled) == len(raw_labels):
            _warn(
                f"{source} has no labels (every {label_key!r} is -1, as in TFDS test splits "
                "without public labels); loaded it as unlabelled data."
            )
        elif unlabelled:
            raise ValueError(
                f"{len(unlabelled)} examples of {source} have no label. Received: "
                f"{label_key}=-1 at positions {_format_places(unlabelled)} (from 0). Use a split "
                "where every example is labelled, or pass label_key=None."
            )
        else:
            label_feature = features[label_key]
            if hasattr(label_feature, "int2str"):
                labels = [label_feature.int2str(int(label)) for label in raw_labels]
            else:
                labels = raw_labels
    frame = pd.DataFrame({"text": texts, "label": labels if labels is not None else None})
    return _check_frame(
        frame,
        "text",
        "label" if labels is not None else None,
        source,
        on_bad_text,
        place_of=lambda position: position,
        places_are="positions",
        places_note=" Positions count examples of the split from 0.",
    )


def load(
    source,
    text_column: str = "text",
    label_column: str | None = "label",
    sep: str | None = None,
    **kwargs,
) -> TextDataset:
    """Loads labelled text from a DataFrame, folder, TFDS name or data file.

    Dispatch:

    - a `pd.DataFrame` goes to `from_dataframe`;
    - an existing directory goes to `load_text_directory` (the column
      arguments do not apply and are ignored);
    - a string `"tfds:NAME[:VERSION][:SPLIT]"` goes to `load_tfds`
      (`"tfds:glue/sst2:validation"`); `text_column` is the text feature,
      except that the default `"text"` means "the only string feature";
    - a Parquet or JSON (Lines) file, recognised by `formats.detect`, is read
      with pandas (rows count from 0; JSON Lines lines from 1);
    - anything else is a CSV/TSV path for `load_csv`.

    Args:
        source: DataFrame | str | PathLike. What to load.
        text_column: str. Column (or TFDS feature) holding the texts.
        label_column: str | None. Column (or TFDS feature) holding the labels;
            `None` for unlabelled data.
        sep: str | None. Separator of a CSV/TSV file; `None` sniffs it (see `load_csv`).
        **kwargs: Passed on to the loader (`on_bad_text`, `split`, ...).

    Examples:
    >>> load(pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})).labels
    ['x', 'y']
    >>> load("tfds:imdb_reviews:test", download=False)  # doctest: +SKIP
    """
    _check_sep(sep)

    def no_sep(what: str) -> None:
        if sep is not None:
            raise ValueError(
                f"sep only applies to CSV/TSV files. Received: sep={sep!r} for {what}. "
                "Drop sep (--sep on the command line) for this source."
            )

    if isinstance(source, pd.DataFrame):
        no_sep("a DataFrame")
        return from_dataframe(source, text_column, label_column, **kwargs)
    if isinstance(source, str) and source.startswith(TFDS_PREFIX):
        no_sep(repr(source))
        match = _TFDS_SOURCE.match(source)
        if not match:
            raise ValueError(
                "TFDS sources read 'tfds:NAME[:SPLIT]'. Received: "
                f"{source!r}. Example: 'tfds:glue/sst2:validation'."
            )
        if match["split"] is not None:
            if "split" in kwargs:
                raise ValueError(
                    "Exactly one of the split in the source and `split` must be set, but got "
                    f"{source!r} and split={kwargs['split']!r}."
                )
            kwargs["split"] = match["split"]
        if text_column != "text":
            kwargs.setdefault("text_key", text_column)
        kwargs.setdefault("label_key", label_column)
        return load_tfds(match["name"], **kwargs)
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            "source must be a pandas DataFrame, a path or a 'tfds:NAME[:SPLIT]' string. "
            f"Received: {type(source).__name__}. For in-memory lists use "
            "pd.DataFrame({'text': texts, 'label': labels})."
        )
    path = Path(source).expanduser()
    if path.is_dir():
        no_sep(f"the folder {str(path)!r}")
        return load_text_directory(source, **kwargs)
    if path.is_file() and (fmt := formats.detect(path)).kind != "csv":
        no_sep(f"the {fmt.kind.replace('_', ' ')} file {str(path)!r}")
        return _load_table(path, fmt, text_column, label_column, **kwargs)
    return load_csv(source, text_column, label_column, sep=sep, **kwargs)


def _load_table(
    path: Path,
    fmt: formats.FileFormat,
    text_column,
    label_column,
    on_bad_text: str = "error",
    encoding_errors: str = "strict",
) -> TextDataset:
    """Loads a Parquet or JSON (Lines) file by the module's bad-input policy.

    Args:
        path: Path. The file.
        fmt: formats.FileFormat. What `formats.detect(path)` found.
        text_column: column name. Where the texts are.
        label_column: column name or None. Where the labels are.
        on_bad_text: str. `"error"` or `"drop"`.
        encoding_errors: str. How to treat invalid UTF-8 in JSON.
    """
    _check_on_bad_text(on_bad_text)
    frame = formats.read_table(path, fmt, encoding_errors)
    if fmt.kind == "json_lines":
        numbering = dict(place_of=lambda p: p + 1, places_are="lines", places_note="")
    else:
        numbering = dict(
            place_of=lambda p: p,
            places_are="rows",
            places_note=" Rows count from 0, as in frame.iloc[...].",
        )
    return _check_frame(frame, text_column, label_column, str(path), on_bad_text, **numbering)


# --------------------------------------------------------------------------- labels


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
    module's conversion (`1`, `1.0` and `"1"` are the same class).

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
        names = [_label_to_str(c) for c in classes]
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
        names = [_label_to_str(label) for label in raw]
        missing = [i for i, name in enumerate(names) if name is None]
        if missing:
            raise ValueError(
                f"Labels must not be missing or empty. Received: {len(missing)} missing at "
                f"positions {_format_places(missing)} (from 0). Fill them in or drop those "
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
        names = [_label_to_str(label) for label in labels]
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
                f"Class ids must be in [0, {self.num_classes}). Received: {_format_places(bad)}. "
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


# --------------------------------------------------------------------------- splits


def stratified_split(
    dataset: TextDataset, validation_fraction: float = 0.1, seed: int = 0
) -> tuple[TextDataset, TextDataset]:
    """Splits into (train, validation), keeping class proportions.

    Stratification needs at least 2 examples of every class and a validation
    part with room for every class; otherwise the split is random, with a
    warning. Unlabelled datasets are split at random.

    Args:
        dataset: TextDataset. The examples to split.
        validation_fraction: float. Share of examples for validation, in (0, 1).
        seed: int. Seed of the shuffle; the same seed gives the same split.

    Examples:
    >>> data = TextDataset(["a", "b", "c", "d"], ["x", "x", "y", "y"], "inline")
    >>> train, validation = stratified_split(data, validation_fraction=0.5)
    >>> sorted(validation.labels)
    ['x', 'y']
    """
    from sklearn.model_selection import train_test_split

    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, numbers.Real)
        or not 0 < validation_fraction < 1
    ):
        raise ValueError(
            "validation_fraction must be a number strictly between 0 and 1. Received: "
            f"validation_fraction={validation_fraction!r}. Use e.g. 0.1 for 10% validation."
        )
    n = len(dataset)
    n_validation = math.ceil(n * validation_fraction)
    if n < 2 or n_validation >= n:
        raise ValueError(
            f"Too few examples to split. Received: {n} examples and validation_fraction="
            f"{validation_fraction}, leaving {n - n_validation} for training. Add examples or "
            "lower validation_fraction."
        )
    indices = np.arange(n)
    stratify = None
    if dataset.labels is not None:
        counts = Counter(dataset.labels)
        rare = sorted(label for label, count in counts.items() if count < 2)
        if rare:
            shown = _format_places([_show(label) for label in rare])
            _warn(
                f"Split {dataset.source} without stratification: classes {shown} "
                "have fewer than 2 examples. Add examples of those classes to keep proportions."
            )
        elif n_validation < len(counts) or n - n_validation < len(counts):
            _warn(
                f"Split {dataset.source} without stratification: {n_validation} validation and "
                f"{n - n_validation} training examples cannot hold all {len(counts)} classes. "
                "Raise validation_fraction or add examples."
            )
        else:
            stratify = dataset.labels
    train_idx, validation_idx = train_test_split(
        indices, test_size=n_validation, random_state=seed, stratify=stratify
    )

    def subset(idx, part: str) -> TextDataset:
        labels = None if dataset.labels is None else [dataset.labels[i] for i in idx]
        return TextDataset([dataset.texts[i] for i in idx], labels, f"{dataset.source} [{part}]")

    return subset(train_idx, "train"), subset(validation_idx, "validation")
