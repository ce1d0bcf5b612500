"""Load labelled text from any source with one call: `load`.

`load` picks the reader for a source: a DataFrame, a CSV/TSV, Parquet or JSON
Lines file, a folder of `.txt` files per class (`bertkit.text.loaders`) or a
`"tfds:NAME[:SPLIT]"` TensorFlow Datasets name (`bertkit.text.tfds_data`). Every
reader returns a `TextDataset` (the texts, the raw labels as strings, and a
`source` for messages), checked by one bad-input policy
(`bertkit.text.text_dataset`). Then encode the labels with `bertkit.LabelEncoder`
(`bertkit.text.labels`) and hold out validation data with
`bertkit.text.splits.stratified_split`. Tokenization happens elsewhere; this step
only gets clean strings in.

Examples:
>>> import pandas as pd
>>> dataset = load(pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, 0, 1]}))
>>> dataset
TextDataset(source='DataFrame', 3 examples, 2 classes)
>>> dataset.labels
['1', '0', '1']
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from bertkit.text import formats, loaders, tfds_data
from bertkit.text.text_dataset import TextDataset

# "tfds:NAME[:VERSION][:SPLIT]"; a version starts with a digit, a split with a letter.
_TFDS_SOURCE = re.compile(r"^tfds:(?P<name>[^:]+(?::\d[\w.*]*)?)(?::(?P<split>.+))?$")


def load(
    source,
    text_column: str = "text",
    label_column: str | None = "label",
    sep: str | None = None,
    **kwargs,
) -> TextDataset:
    """Loads labelled text from a DataFrame, folder, TFDS name or data file.

    Dispatch:

    - a `pd.DataFrame` goes to `loaders.from_dataframe`;
    - an existing directory goes to `loaders.load_text_directory` (the column
      arguments do not apply and are ignored);
    - a string `"tfds:NAME[:VERSION][:SPLIT]"` goes to `tfds_data.load_tfds`
      (`"tfds:glue/sst2:validation"`); `text_column` is the text feature,
      except that the default `"text"` means "the only string feature";
    - a Parquet or JSON (Lines) file, recognised by `formats.detect`, is read
      with pandas (`loaders.load_table`) (rows count from 0; JSON Lines lines from 1);
    - anything else is a CSV/TSV path for `loaders.load_csv`.

    Args:
        source: DataFrame | str | PathLike. What to load.
        text_column: str. Column (or TFDS feature) holding the texts.
        label_column: str | None. Column (or TFDS feature) holding the labels;
            `None` for unlabelled data.
        sep: str | None. Separator of a CSV/TSV file; `None` sniffs it (see `loaders.load_csv`).
        **kwargs: Passed on to the loader (`on_bad_text`, `split`, ...).

    Examples:
    >>> load(pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})).labels
    ['x', 'y']
    >>> load("tfds:imdb_reviews:test", download=False)  # doctest: +SKIP
    """
    loaders.check_sep(sep)

    def no_sep(what: str) -> None:
        if sep is not None:
            raise ValueError(
                f"sep only applies to CSV/TSV files. Received: sep={sep!r} for {what}. "
                "Drop sep (--sep on the command line) for this source."
            )

    if isinstance(source, pd.DataFrame):
        no_sep("a DataFrame")
        return loaders.from_dataframe(source, text_column, label_column, **kwargs)
    if isinstance(source, str) and source.startswith(tfds_data.TFDS_PREFIX):
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
        return tfds_data.load_tfds(match["name"], **kwargs)
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            "source must be a pandas DataFrame, a path or a 'tfds:NAME[:SPLIT]' string. "
            f"Received: {type(source).__name__}. For in-memory lists use "
            "pd.DataFrame({'text': texts, 'label': labels})."
        )
    path = Path(source).expanduser()
    if path.is_dir():
        no_sep(f"the folder {str(path)!r}")
        return loaders.load_text_directory(source, **kwargs)
    if path.is_file() and (fmt := formats.detect(path)).kind != "csv":
        no_sep(f"the {fmt.kind.replace('_', ' ')} file {str(path)!r}")
        return loaders.load_table(path, fmt, text_column, label_column, **kwargs)
    return loaders.load_csv(source, text_column, label_column, sep=sep, **kwargs)
