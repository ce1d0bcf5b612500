"""Read a split of a TensorFlow Datasets text classification dataset into a `TextDataset`.

`bertkit.text.data.load("tfds:NAME[:SPLIT]")` comes here; `bertkit.text.tfds_local`
writes bertkit data as a TFDS dataset, which `load_tfds` reads back. The
examples go through the bad-input policy (`bertkit.text.text_dataset`) like any
other loader's, named by their position in the split.

Examples:
>>> TFDS_PREFIX + "glue/sst2:validation"
'tfds:glue/sst2:validation'
>>> dataset = load_tfds("glue/sst2", split="validation")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from bertkit.text.text_dataset import TextDataset, check_frame, format_places, warn

TFDS_PREFIX = "tfds:"
TFDS_UNLABELLED = -1  # TFDS marks examples without a label (e.g. GLUE test splits) with -1.


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
            warn(
                f"{source} has no labels (every {label_key!r} is -1, as in TFDS test splits "
                "without public labels); loaded it as unlabelled data."
            )
        elif unlabelled:
            raise ValueError(
                f"{len(unlabelled)} examples of {source} have no label. Received: "
                f"{label_key}=-1 at positions {format_places(unlabelled)} (from 0). Use a split "
                "where every example is labelled, or pass label_key=None."
            )
        else:
            label_feature = features[label_key]
            if hasattr(label_feature, "int2str"):
                labels = [label_feature.int2str(int(label)) for label in raw_labels]
            else:
                labels = raw_labels
    frame = pd.DataFrame({"text": texts, "label": labels if labels is not None else None})
    return check_frame(
        frame,
        "text",
        "label" if labels is not None else None,
        source,
        on_bad_text,
        place_of=lambda position: position,
        places_are="positions",
        places_note=" Positions count examples of the split from 0.",
    )
