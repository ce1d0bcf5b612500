"""Recognise data files by extension and content, sniff CSV separators, read Parquet and JSON.

`bertkit.text.data.load` reads these formats (`SUPPORTED`):

- CSV, TSV and other delimited text (`.csv`, `.tsv`, `.txt`, ...), also
  compressed (`.gz`, `.bz2`, `.zip`, `.xz`, `.zst`); the separator is sniffed
  from the first lines (one of `SEPARATORS`) unless it is given;
- Parquet (`.parquet`, `.pq`), read with pandas (pyarrow);
- JSON Lines (`.jsonl`, `.ndjson`, or a `.json` file with one object per line)
  and `.json` files holding a list of records (`[{"text": ..., "label": ...}]`)
  or a dict of columns (`{"text": [...], "label": [...]}`).

The content decides over the name: a Parquet file named `.csv` is read as
Parquet, a gzip file named `.csv` is decompressed, and an Excel workbook, an
other ZIP archive or a binary file fails with `ValueError` naming what it is,
what is supported and how to convert it.

Examples:
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
>>> _ = path.write_text("text;label\\nGood, really;pos\\nBad;neg\\n")
>>> detect(path)
FileFormat(kind='csv', compression=None, sample='text;label\\nGood, really;pos\\nBad;neg\\n')
>>> sniff_separator(detect(path).sample)
';'
"""

from __future__ import annotations

import bz2
import csv
import dataclasses
import json
import lzma
import os
import zipfile
import zlib
from pathlib import Path

import pandas as pd

SEPARATORS = ",;\t|"
TSV_SUFFIXES = (".tsv", ".tab")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
SAMPLE_BYTES = 64 * 1024
SNIFF_LINES = 20
SUPPORTED = (
    "CSV/TSV/TXT (optionally compressed .gz, .bz2, .zip, .xz, .zst), Parquet (.parquet) "
    "and JSON Lines (.jsonl, or .json holding a list of records)"
)
CONVERT = (
    "Convert it with pandas, e.g. pd.read_excel(path).to_csv('data.csv', index=False), "
    "or save it as one of those."
)

# Magic bytes of compressed files pandas reads: (magic, pandas compression, head decompressor).
_COMPRESSED = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(wbits=31)),
    (b"BZh", "bz2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
)
# Magic bytes of formats bertkit does not read.
_UNSUPPORTED = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or other OLE document"),
    (b"%PDF", "a PDF document"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclasses.dataclass(frozen=True)
class FileFormat:
    """How to read a data file.

    Args:
        kind: str. `"csv"` (any delimited text), `"parquet"`, `"json_lines"` or `"json"`.
        compression: str | None. The pandas `compression=` found from the
            content (`"gzip"`, `"zip"`, ...), or None to let pandas infer it
            from the extension.
        sample: str. The first lines of the (decompressed) text, for sniffing
            the separator and the header; empty for Parquet.
    """

    kind: str
    compression: str | None
    sample: str


def unsupported(path: Path, what: str, fix: str = CONVERT) -> ValueError:
    """Returns the error for a file bertkit cannot read.

    Args:
        path: Path. The file.
        what: str. What it is, e.g. "an Excel workbook (.xlsx)".
        fix: str. What to do.
    """
    return ValueError(
        f"Unsupported data file format. Received: {str(path)!r} is {what}. "
        f"Supported: {SUPPORTED}. {fix}"
    )


def _base_suffix(path: Path) -> str:
    """The last suffix that is not a compression suffix (lower case), or ''."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _zip_head(path: Path) -> tuple[list[str], bytes]:
    """The member names of a ZIP archive and the first bytes of its first file."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        files = [info for info in archive.infolist() if not info.is_dir()]
        if not files:
            return names, b""
        with archive.open(files[0]) as member:
            return names, member.read(SAMPLE_BYTES)


def detect(path: str | os.PathLike) -> FileFormat:
    """Returns how to read `path`, from its content first and its extension second.

    Args:
        path: str | PathLike. An existing file.

    Raises:
        ValueError: for Excel, other ZIP archives, binary files, and a
            `.parquet` file that is not Parquet; the message lists what is supported.
    """
    path = Path(path)
    with open(path, "rb") as stream:
        head = stream.read(SAMPLE_BYTES)
    if head.startswith(b"PAR1"):
        return FileFormat("parquet", None, "")
    compression = None
    if head.startswith(b"PK\x03\x04"):
        try:
            names, head = _zip_head(path)
        except zipfile.BadZipFile:
            raise unsupported(path, "a damaged ZIP archive") from None
        if "xl/workbook.xml" in names:
            raise unsupported(path, "an Excel workbook (.xlsx)")
        if "content.xml" in names and "mimetype" in names:
            raise unsupported(path, "an OpenDocument file (.ods/.odt)")
        if path.suffix.lower() != ".zip" or len(names) != 1:
            raise unsupported(
                path,
                f"a ZIP archive holding {len(names)} entries ({names[:3]})",
                "Unzip it and pass the CSV/TSV inside (pandas reads a .zip only when it "
                "holds one file).",
            )
        compression = "zip"
    for magic, name, decompressor in _COMPRESSED:
        if head.startswith(magic):
            compression = name
            try:
                head = decompressor().decompress(head)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
                raise unsupported(path, f"a damaged {name} file") from None
            break
    for magic, what in _UNSUPPORTED:
        if head.startswith(magic):
            raise unsupported(path, what)
    if head.startswith(b"PAR1"):
        raise unsupported(path, f"a {compression}-compressed Parquet file", "Decompress it first.")
    suffix = _base_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        raise unsupported(
            path,
            f"named {suffix} but not a Parquet file (it does not start with PAR1)",
            "Check that the file is complete, or rename it after its real format.",
        )
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise unsupported(path, "a binary file (it holds NUL bytes), not text")
    sample = head.decode("utf-8", errors="replace")
    if len(head) == SAMPLE_BYTES:  # drop the cut-off last line
        sample = sample[: sample.rfind("\n") + 1] or sample
    sample = "".join(sample.splitlines(keepends=True)[:SNIFF_LINES])
    if suffix in JSON_LINES_SUFFIXES:
        kind = "json_lines"
    elif suffix == ".json":
        kind = "json_lines" if _is_json_lines(sample) else "json"
    else:
        kind = "csv"
    return FileFormat(kind, compression, sample)


def _is_json_lines(sample: str) -> bool:
    """True when a `.json` file holds JSON Lines rather than one JSON document.

    That is: its first line alone is an object, and more lines follow or the
    object's values are scalars (a one-line dict of columns is not JSON Lines).

    Args:
        sample: str. The first lines of the file.

    Examples:
    >>> _is_json_lines('{"text": "a", "label": 1}\\n'), _is_json_lines('{"text": ["a", "b"]}')
    (True, False)
    """
    lines = [line for line in sample.lstrip("\ufeff").splitlines() if line.strip()]
    try:
        first = json.loads(lines[0]) if lines else None
    except ValueError:
        return False
    if not isinstance(first, dict):
        return False
    return len(lines) > 1 or not any(isinstance(v, list | dict) for v in first.values())


def sniff_separator(sample: str, path: str | os.PathLike | None = None) -> str:
    """Returns the separator of delimited text: one of `SEPARATORS`, `","` when unsure.

    `.tsv`/`.tab` files (also compressed) are tab-separated; for other files
    the separator is sniffed from the first lines and must occur in the header
    (the first line), so a comma file whose texts hold semicolons stays a comma file.

    Args:
        sample: str. The first lines of the file (`FileFormat.sample`).
        path: str | PathLike | None. The file, whose extension may say "tab".

    Examples:
    >>> sniff_separator("text|label\\nfine|pos\\n"), sniff_separator("text\\nhello\\n")
    ('|', ',')
    >>> sniff_separator("text,label\\n", path="data.tsv.gz")
    '\\t'
    """
    if path is not None and _base_suffix(Path(path)) in TSV_SUFFIXES:
        return "\t"
    lines = sample.lstrip("\ufeff").splitlines()
    if not lines:
        return ","
    try:
        separator = csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","
    return separator if separator in lines[0] else ","


def read_table(path: Path, fmt: FileFormat, encoding_errors: str = "strict") -> pd.DataFrame:
    """Reads a Parquet or JSON (Lines) file into a DataFrame, keeping the values' own types.

    JSON strings stay strings (`"007"` is not turned into 7, dates are not parsed).

    Args:
        path: Path. The file.
        fmt: FileFormat. What `detect(path)` returned (kind "parquet", "json_lines" or "json").
        encoding_errors: str. How to treat invalid UTF-8 in JSON (as in `open()`).
    """
    if fmt.kind == "parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as err:  # pragma: no cover - pyarrow is a dependency
            raise ImportError(
                f"Reading Parquet needs pyarrow. Received: ImportError {err}. "
                "Run: pip install pyarrow."
            ) from err
        except (OSError, ValueError) as err:
            raise ValueError(
                f"Could not read {str(path)!r} as Parquet. Received: {err}. "
                "Check that the file is complete (re-write it with DataFrame.to_parquet)."
            ) from err
    lines = fmt.kind == "json_lines"
    try:
        return pd.read_json(
            path,
            lines=lines,
            orient=None if lines else _json_orient(fmt.sample),
            dtype=False,
            convert_dates=False,
            keep_default_dates=False,
            compression=fmt.compression or "infer",
            encoding="utf-8",
            encoding_errors=encoding_errors,
        )
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{str(path)!r} is not valid UTF-8. Received: invalid bytes "
            f"{err.object[err.start : err.end]!r}. Re-save the file as UTF-8, or pass "
            'encoding_errors="replace" to read invalid bytes as U+FFFD.'
        ) from err
    except ValueError as err:
        expected = (
            'one JSON object per line, e.g. {"text": "Loved it", "label": "pos"}'
            if lines
            else 'a list of records, e.g. [{"text": "Loved it", "label": "pos"}]'
        )
        raise ValueError(
            f"Could not parse {str(path)!r} as {'JSON Lines' if lines else 'JSON'}. "
            f"Received: {err}. Expected {expected}."
        ) from err


def _json_orient(sample: str) -> str | None:
    """`"records"` for a JSON list, None (pandas' default: columns) for a JSON object."""
    return "records" if sample.lstrip("\ufeff \t\r\n").startswith("[") else None
