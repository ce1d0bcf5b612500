"""Store labelled text as a TensorFlow Datasets (TFDS) dataset, offline, with TFDS's own builder.

`store_as_tfds` writes `TextDataset` splits with TFDS's ad-hoc builder
(`tfds.dataset_builders.AdhocBuilder`, what `store_as_tfds_dataset` uses: no
builder class to write, nothing downloaded) into `data_dir/NAME/VERSION/`: one
TFRecord file per split plus `dataset_info.json`, `features.json` and
`label.labels.txt`. The features are:

- `text`: `tfds.features.Text()`, a scalar `tf.string`;
- `label`: `tfds.features.ClassLabel(names=classes)`, a scalar `tf.int64` whose
  names are the sorted class names (the order `bertkit.LabelEncoder.fit`
  gives), so label id `i` means the same class in TFDS and in bertkit;
- supervised keys `("text", "label")`, so `tfds.load(..., as_supervised=True)`
  yields `(text, label)` pairs ready for Keras.

Read it back like any prepared TFDS dataset:
`bertkit.text.tfds_data.load_tfds(NAME, split=..., data_dir=data_dir, download=False)`
or `tfds.load(NAME, split=..., data_dir=data_dir, download=False)`.

Examples:
>>> import tempfile
>>> from bertkit.text.text_dataset import TextDataset
>>> from bertkit.text.tfds_data import load_tfds
>>> train = TextDataset(["good film", "bad film", "great cast"], ["pos", "neg", "pos"], "inline")
>>> test = TextDataset(["dull plot", "fine acting"], ["neg", "pos"], "inline")
>>> with tempfile.TemporaryDirectory() as tmp:
...     builder = store_as_tfds({"train": train, "test": test}, "tiny_reviews", tmp)
...     back = load_tfds("tiny_reviews", split="test", data_dir=tmp, download=False)
>>> builder.info.splits["train"].num_examples, builder.info.features["label"].names
(3, ['neg', 'pos'])
>>> back.texts, back.labels
(['dull plot', 'fine acting'], ['neg', 'pos'])
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

from bertkit.text.labels import LabelEncoder
from bertkit.text.text_dataset import TextDataset
from bertkit.text.tfds_data import import_tfds

DEFAULT_VERSION = "1.0.0"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@contextlib.contextmanager
def _quiet_tfds(tfds):
    """No progress bars, absl INFO/WARNING lines or "prepared to PATH" prints while TFDS writes."""
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    tfds.display_progress_bar(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tfds.display_progress_bar(True)
        absl_logging.set_verbosity(verbosity)


def _check_splits(splits) -> None:
    if not isinstance(splits, Mapping) or not splits:
        raise ValueError(
            "splits must be a non-empty dict of split name -> TextDataset. Received: "
            f"{type(splits).__name__} {splits!r:.80}. Pass e.g. {{'train': train, 'test': test}}."
        )
    for split, dataset in splits.items():
        if not isinstance(dataset, TextDataset):
            raise TypeError(
                f"Every split must be a bertkit.text.text_dataset.TextDataset. Received: "
                f"{type(dataset).__name__} for split {split!r}. Load it with bertkit.text.data.load."
            )
        if dataset.labels is None or len(dataset) == 0:
            what = "no labels" if dataset.labels is None else "no examples"
            raise ValueError(
                f"Every split needs labelled examples. Received: split {split!r} from "
                f"{dataset.source} has {what}. Load it with a label column, or leave it out."
            )


def store_as_tfds(
    splits: Mapping[str, TextDataset],
    name: str,
    data_dir: str | os.PathLike,
    version: str = DEFAULT_VERSION,
    description: str | None = None,
):
    """Writes labelled text splits as a prepared TFDS dataset `name` under `data_dir`.

    Examples keep their order within each split. The class names are the
    sorted labels of all splits together, stored as a `ClassLabel`.

    Args:
        splits: dict[str, TextDataset]. Split name (`"train"`, `"test"`...) -> examples.
        name: str. Dataset name: lower case letters, digits and `_`, starting with a letter.
        data_dir: str | PathLike. TFDS data directory to write into (created if needed).
        version: str. Dataset version, `"MAJOR.MINOR.PATCH"`.
        description: str | None. One line for `info.description`.

    Returns:
        The `tfds.core.DatasetBuilder` that wrote the data (`builder.info` has the
        splits and features).

    Raises:
        ValueError: a bad name, an empty or unlabelled split, or a dataset of that
            name and version already in `data_dir`.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "name must be lower case letters, digits and underscores, starting with a letter. "
            f"Received: name={name!r}. Try e.g. 'topics'."
        )
    _check_splits(splits)
    target = Path(data_dir).expanduser() / name / version
    if target.exists():
        raise ValueError(
            f"A TFDS dataset {name!r} version {version} already exists. Received: "
            f"data_dir={os.fspath(data_dir)!r}. Load it with load_tfds({name!r}, "
            "data_dir=..., download=False), or delete it or pass another data_dir to rebuild."
        )
    tfds = import_tfds("Storing")
    classes = LabelEncoder.fit([label for d in splits.values() for label in d.labels]).classes
    features = tfds.features.FeaturesDict(
        {"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=classes)}
    )
    examples = {
        split: [
            (index, {"text": text, "label": label})
            for index, (text, label) in enumerate(zip(d.texts, d.labels, strict=True))
        ]
        for split, d in splits.items()
    }
    builder = _text_builder_class(tfds)(
        name=name,
        version=version,
        features=features,
        split_datasets=examples,
        data_dir=os.fspath(Path(data_dir).expanduser()),
        description=description or f"Labelled text stored by bertkit ({len(classes)} classes).",
        disable_shuffling=True,
    )
    with _quiet_tfds(tfds):
        builder.download_and_prepare()
    return builder


def _text_builder_class(tfds):
    """TFDS's ad-hoc builder, declaring `(text, label)` as the supervised keys."""

    class TextBuilder(tfds.dataset_builders.AdhocBuilder, skip_registration=True):
        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                description=self._description,
                features=self._feature_spec,
                supervised_keys=("text", "label"),
                disable_shuffling=self._disable_shuffling,
            )

    return TextBuilder
