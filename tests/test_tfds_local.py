"""bertkit.text.tfds_local: text stored with TFDS's own builder and read back, offline."""

import doctest

import numpy as np
import pytest

from bertkit.text import tfds_data, tfds_local
from bertkit.text.labels import LabelEncoder
from bertkit.text.text_dataset import TextDataset

TRAIN = TextDataset(
    ["good film", "bad film", "great cast", "awful"], ["pos", "neg", "pos", "neg"], "t"
)
TEST = TextDataset(["dull plot", "fine acting", "meh"], ["neg", "pos", "mid"], "t")


def test_splits_round_trip_through_load_tfds_and_tfds_load(tmp_path, capsys):
    import tensorflow_datasets as tfds

    builder = tfds_local.store_as_tfds({"train": TRAIN, "test": TEST}, "reviews", tmp_path)
    assert capsys.readouterr().out == ""  # no "prepared to PATH" print
    assert {s: builder.info.splits[s].num_examples for s in ("train", "test")} == {
        "train": 4,
        "test": 3,
    }
    # The classes of all splits, sorted as LabelEncoder.fit sorts them.
    classes = builder.info.features["label"].names
    assert classes == LabelEncoder.fit(TRAIN.labels + TEST.labels).classes == ["mid", "neg", "pos"]

    back = tfds_data.load_tfds("reviews", split="test", data_dir=tmp_path, download=False)
    assert (back.texts, back.labels) == (TEST.texts, TEST.labels)  # order kept
    ds = tfds.load("reviews", split="train", data_dir=tmp_path, download=False, as_supervised=True)
    pairs = [(t.decode(), int(y)) for t, y in tfds.as_numpy(ds)]
    assert pairs == [(t, classes.index(y)) for t, y in zip(TRAIN.texts, TRAIN.labels, strict=True)]


def test_refuses_to_overwrite_an_existing_dataset(tmp_path):
    tfds_local.store_as_tfds({"train": TRAIN}, "reviews", tmp_path)
    with pytest.raises(ValueError, match="already exists.*download=False"):
        tfds_local.store_as_tfds({"train": TRAIN}, "reviews", tmp_path)
    # Another version is another dataset.
    builder = tfds_local.store_as_tfds({"train": TEST}, "reviews", tmp_path, version="1.0.1")
    assert builder.info.splits["train"].num_examples == 3


@pytest.mark.parametrize(
    "splits, name, error, message",
    [
        ({"train": TRAIN}, "My-Data", ValueError, "lower case.*Received: name='My-Data'"),
        ({}, "reviews", ValueError, "non-empty dict"),
        ({"train": ["good"]}, "reviews", TypeError, "TextDataset. Received: list"),
        (
            {"train": TextDataset(["a"], None, "x")},
            "reviews",
            ValueError,
            "split 'train' from x has no labels",
        ),
    ],
)
def test_bad_arguments_fail_before_anything_is_written(tmp_path, splits, name, error, message):
    with pytest.raises(error, match=message):
        tfds_local.store_as_tfds(splits, name, tmp_path)
    assert list(tmp_path.iterdir()) == []


class _Info:
    def __init__(self, np_dtype):
        self.np_dtype, self.shape = np_dtype, ()

    @property
    def dtype(self):  # newer TFDS logs a deprecation warning here
        raise AssertionError("TensorInfo.dtype read although np_dtype exists")


class _Feature:
    def __init__(self, np_dtype):
        self.info = _Info(np_dtype)

    def get_tensor_info(self):
        return self.info


def test_text_feature_is_found_from_np_dtype_without_reading_dtype():
    features = {"label": _Feature(np.int64), "text": _Feature(np.object_)}
    assert tfds_data._string_features(features) == ["text"]


def test_docstring_examples_run():
    assert doctest.testmod(tfds_local).failed == 0
