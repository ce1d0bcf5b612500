"""`TextDataset`, what every loader returns, and the bad-input policy that builds it.

The loaders (`bertkit.text.loaders`, `bertkit.text.tfds_data`, reached through
`bertkit.text.data.load`) read a source into a DataFrame; `check_frame` checks it
by the policy below and returns the `TextDataset`. The helpers here also write
the policy's messages: `format_places` lists rows, `show_value` prints a value,
`warn` points a warning at the caller outside the data modules.

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
- Files are recognised by content and extension (`bertkit.text.formats`): CSV/TSV
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
>>> frame = pd.DataFrame({"text": ["good", "  "], "label": [1, 0]})
>>> check_frame(frame, "text", "label", "inline", "error", place_of=int, places_are="rows")
Traceback (most recent call last):
...
ValueError: Text column 'text' of inline has 1 bad value (missing, empty or not a string). Received: empty or whitespace-only in rows 1. Fix those rows, or pass on_bad_text="drop" (--on-bad-text drop on the command line) to drop them with a warning.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

ON_BAD_TEXT = ("error", "drop")
MAX_LISTED = 10
# The modules that read data: their warnings point at the first caller outside them.
_DATA_MODULES = frozenset(
    {
        "bertkit.text.data",
        "bertkit.text.loaders",
        "bertkit.text.splits",
        "bertkit.text.text_dataset",
        "bertkit.text.tfds_data",
    }
)


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


def warn(message: str) -> None:
    """Warns, pointing at the first caller outside the data modules."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__") in _DATA_MODULES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def is_missing(value) -> bool:
    """True for None, NaN, pd.NA and NaT (scalars only)."""
    if value is None:
        return True
    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(missing) if isinstance(missing, bool | np.bool_) else False


_INTEGRAL_DECIMAL = re.compile(r"([+-]?\d+)\.0*")


def label_to_str(value) -> str | None:
    """Returns a label as a stripped string, or None when it is missing or empty.

    The one place labels are canonicalised: integral numbers lose their
    fractional zeros whether they come as floats or as text (`"3.0"` is `"3"`).

    Examples:
    >>> [label_to_str(v) for v in (1, 1.0, "1.0", " 2.00 ", "2.5", " pos ", float("nan"), "")]
    ['1', '1', '1', '2', '2.5', 'pos', None, None]
    >>> label_to_str(True), label_to_str("007"), label_to_str("1e3")
    ('True', '007', '1e3')
    """
    if is_missing(value):
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


def show_value(value) -> str:
    """Formats an index label or class name for messages: numbers bare, strings quoted.

    Examples:
    >>> show_value(np.int64(11)), show_value("r2")
    ('11', "'r2'")
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return str(float(value))
    return repr(value)


def format_places(places: Sequence, limit: int = MAX_LISTED) -> str:
    """Formats up to `limit` places, then "and N more".

    Examples:
    >>> format_places([2, 3, 5], limit=2)
    '2, 3 and 1 more'
    """
    shown = ", ".join(str(place) for place in places[:limit])
    return shown + (f" and {len(places) - limit} more" if len(places) > limit else "")


def check_on_bad_text(on_bad_text: str) -> None:
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


def check_unique_columns(columns: list, source: str) -> None:
    """Raises when a column name occurs twice (pandas would silently use the first).

    Args:
        columns: list. The column names as written in the file or frame.
        source: str. Where they came from, for the message.
    """
    duplicates = [name for name, count in Counter(columns).items() if count > 1]
    if duplicates:
        raise ValueError(
            f"Column names must be unique: {source} has "
            f"{format_places([repr(d) for d in duplicates])} more than "
            f"once. Received: columns {columns}. Rename or remove the duplicate columns so "
            "it is clear which one holds the texts and which the labels."
        )


def check_frame(
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
    check_on_bad_text(on_bad_text)
    columns = list(frame.columns)
    check_unique_columns(columns, source)
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
        if is_missing(text):
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
            f"{kind} in {places_are} {format_places([place_of(p) for p in positions])}"
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
        warn(
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
            label = label_to_str(raw_labels[position])
            if label is None:
                missing.append(position)
            labels.append(label)
        if nested:
            raise ValueError(
                f"Label column {label_column!r} of {source} holds lists or dicts, not one label "
                f"per example. Received: {raw_labels[nested[0]]!r} in {places_are} "
                f"{format_places([place_of(p) for p in nested])}.{places_note} Give each "
                "example one class name or id (for one-hot labels, the index of the 1)."
            )
        if missing:
            raise ValueError(
                f"Label column {label_column!r} of {source} has {len(missing)} missing or empty "
                f"label{'s' if len(missing) != 1 else ''}. Received: missing in {places_are} "
                f"{format_places([place_of(p) for p in missing])}.{places_note} "
                "Labels are never dropped: "
                "fill them in, remove those rows, or pass label_column=None for unlabelled data."
            )
    return TextDataset(texts=[texts[p] for p in keep], labels=labels, source=source)
