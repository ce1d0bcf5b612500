"""Read labelled text from DataFrames, CSV/TSV, Parquet and JSON Lines files and text folders.

Each loader reads its source into a DataFrame and hands it to
`text_dataset.check_frame`, which applies the bad-input policy
(`bertkit.text.text_dataset`) and returns a `TextDataset`. `bertkit.text.data.load`
picks the loader for a source; TFDS datasets are read by `bertkit.text.tfds_data`.

Examples:
>>> import pandas as pd
>>> dataset = from_dataframe(pd.DataFrame({"text": ["good", "bad"], "label": [1, 0]}))
>>> dataset.texts, dataset.labels
(['good', 'bad'], ['1', '0'])
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from bertkit.text import formats
from bertkit.text.text_dataset import (
    TextDataset,
    check_frame,
    check_on_bad_text,
    check_unique_columns,
    show_value,
    warn,
)
from bertkit.text.tfds_data import TFDS_PREFIX


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
    return check_frame(
        frame,
        text_column,
        label_column,
        source,
        on_bad_text,
        place_of=lambda position: show_value(index[position]),
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
    check_sep(sep)
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
        check_unique_columns(
            pd.read_csv(path, header=None, nrows=1, **read).iloc[0].tolist(), str(path)
        )
    return check_frame(
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


def check_sep(sep) -> None:
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
    check_on_bad_text(on_bad_text)
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
        warn(
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
        warn(f"Class folders without .txt files in {str(root)!r} are skipped: {empty_classes}.")

    texts, replaced = [], []
    for file, _ in files:
        raw = file.read_bytes()
        try:
            texts.append(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            texts.append(raw.decode("utf-8-sig", errors="replace"))
            replaced.append(file)
    if replaced:
        warn(
            f"{len(replaced)} of {len(files)} files in {str(root)!r} had invalid UTF-8 bytes, "
            f"read as U+FFFD (first: {str(replaced[0].relative_to(root))!r}). Re-save them as "
            "UTF-8 to keep every character."
        )
    frame = pd.DataFrame({"text": texts, "label": [label for _, label in files]})
    return check_frame(
        frame,
        "text",
        "label",
        str(root),
        on_bad_text,
        place_of=lambda position: repr(str(files[position][0].relative_to(root))),
        places_are="files",
    )


def load_table(
    path: Path,
    fmt: formats.FileFormat,
    text_column,
    label_column,
    on_bad_text: str = "error",
    encoding_errors: str = "strict",
) -> TextDataset:
    """Loads a Parquet or JSON (Lines) file by the bad-input policy.

    Args:
        path: Path. The file.
        fmt: formats.FileFormat. What `formats.detect(path)` found.
        text_column: column name. Where the texts are.
        label_column: column name or None. Where the labels are.
        on_bad_text: str. `"error"` or `"drop"`.
        encoding_errors: str. How to treat invalid UTF-8 in JSON.
    """
    check_on_bad_text(on_bad_text)
    frame = formats.read_table(path, fmt, encoding_errors)
    if fmt.kind == "json_lines":
        numbering = dict(place_of=lambda p: p + 1, places_are="lines", places_note="")
    else:
        numbering = dict(
            place_of=lambda p: p,
            places_are="rows",
            places_note=" Rows count from 0, as in frame.iloc[...].",
        )
    return check_frame(frame, text_column, label_column, str(path), on_bad_text, **numbering)
