"""Loading labelled text (CSV/TSV, DataFrame, folders, TFDS), label encoding and splits."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bertkit.text import data, loaders, splits, tfds_data
from bertkit.text.labels import LabelEncoder, read_class_names
from bertkit.text.text_dataset import TextDataset


def write_bytes(path, content: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_text(path, content: str):
    return write_bytes(path, content.encode("utf-8"))


@contextlib.contextmanager
def no_warnings():
    """Turns every warning inside the block into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------- CSV / TSV


def test_load_csv_keeps_texts_as_written_and_labels_as_strings(tmp_path):
    path = write_text(
        tmp_path / "reviews.csv",
        'text,label\n007,1\nNA,0\n"Long, with a comma\nand a newline",1\n  padded  ,None\n',
    )
    dataset = loaders.load_csv(path)
    assert dataset.texts == ["007", "NA", "Long, with a comma\nand a newline", "  padded  "]
    assert dataset.labels == ["1", "0", "1", "None"]  # "None" is a class name, not missing
    assert dataset.source == str(path)
    assert len(dataset) == 4


def test_load_csv_strips_labels_and_reads_a_byte_order_mark(tmp_path):
    path = write_bytes(tmp_path / "bom.csv", b"\xef\xbb\xbftext,label\nhello, pos\nbye,neg \n")
    dataset = loaders.load_csv(path)
    assert dataset.texts == ["hello", "bye"]
    assert dataset.labels == ["pos", "neg"]


@pytest.mark.parametrize("name", ["data.tsv", "data.TAB", "data.tsv.gz"])
def test_tab_separator_is_detected_from_the_extension(tmp_path, name):
    content = b"text\tlabel\nfirst, with commas, here\ta\nsecond\tb\n"
    if name.endswith(".gz"):
        content = gzip.compress(content)
    dataset = loaders.load_csv(write_bytes(tmp_path / name, content))
    assert dataset.texts == ["first, with commas, here", "second"]
    assert dataset.labels == ["a", "b"]


def test_explicit_separator_overrides_the_extension(tmp_path):
    path = write_text(tmp_path / "data.txt", "text;label\nx,y;a\nz;b\n")
    dataset = loaders.load_csv(path, sep=";")
    assert dataset.texts == ["x,y", "z"]
    assert dataset.labels == ["a", "b"]


def test_custom_columns_and_unlabelled_csv(tmp_path):
    path = write_text(tmp_path / "d.csv", "id,review,stars\n1,good,5\n2,bad,1\n")
    dataset = loaders.load_csv(path, text_column="review", label_column="stars")
    assert (dataset.texts, dataset.labels) == (["good", "bad"], ["5", "1"])
    unlabelled = loaders.load_csv(path, text_column="review", label_column=None)
    assert unlabelled.texts == ["good", "bad"]
    assert unlabelled.labels is None


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        loaders.load_csv(path)


def test_missing_extensionless_file_suggests_tfds(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfds:"):
        loaders.load_csv(tmp_path / "imdb_reviews")


def test_directory_passed_to_load_csv_points_to_the_folder_loader(tmp_path):
    with pytest.raises(IsADirectoryError, match="load_text_directory"):
        loaders.load_csv(tmp_path)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        loaders.load_csv(write_text(tmp_path / "empty.csv", ""))


def test_header_without_rows_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"no rows"):
        loaders.load_csv(write_text(tmp_path / "header.csv", "text,label\n"))


def test_wrong_text_column_lists_available_columns(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,x\n")
    with pytest.raises(ValueError) as info:
        loaders.load_csv(path, text_column="txt")
    message = str(info.value)
    assert "Column 'txt' not found" in message
    assert "Received: text_column='txt'" in message
    assert "Available columns: ['text', 'label']" in message
    assert "--text-column" in message
    assert "Did you mean 'text'?" in message


def test_wrong_label_column_lists_available_columns(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,sentiment\na,x\n")
    with pytest.raises(
        ValueError, match=r"Column 'label' not found.*\['text', 'sentiment'\]"
    ) as info:
        loaders.load_csv(path)
    assert "label_column=None for unlabelled data" in str(info.value)


def test_tsv_read_as_csv_hints_at_the_separator(tmp_path):
    path = write_text(tmp_path / "data.csv", "text\tlabel\na\tx\n")
    with pytest.raises(ValueError, match=r"sep='\\t' \(--sep 'tab' on the CLI\)"):
        loaders.load_csv(path, sep=",")


def test_bad_texts_raise_with_spreadsheet_row_numbers(tmp_path):
    # Data rows 1..5 are spreadsheet rows 2..6: the empty cell is row 3, the blank text row 5.
    path = write_text(tmp_path / "d.csv", 'text,label\nok,a\n,b\nfine,a\n"   ",b\ngood,a\n')
    with pytest.raises(ValueError) as info:
        loaders.load_csv(path)
    message = str(info.value)
    assert "2 bad values" in message
    assert "empty or whitespace-only in rows 3, 5." in message
    assert "the header is row 1" in message
    assert 'on_bad_text="drop"' in message


def test_bad_text_rows_are_capped_at_ten(tmp_path):
    rows = "".join(f",x{i}\n" for i in range(13))
    path = write_text(tmp_path / "d.csv", "text,label\nok,a\n" + rows)
    with pytest.raises(ValueError, match=r"rows 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 3 more\."):
        loaders.load_csv(path)


def test_drop_bad_texts_warns_with_the_count(tmp_path):
    path = write_text(tmp_path / "d.csv", 'text,label\nok,a\n,b\nfine,b\n" ",a\n')
    with pytest.warns(UserWarning, match="Dropped 2 of 4 rows") as record:
        dataset = loaders.load_csv(path, on_bad_text="drop")
    assert record[0].filename == __file__  # the warning points at the caller, not bertkit
    assert dataset.texts == ["ok", "fine"]
    assert dataset.labels == ["a", "b"]
    # Through data.load and from the splitter too: past every data module to this file.
    with pytest.warns(UserWarning, match="Dropped 2 of 4 rows") as record:
        data.load(path, on_bad_text="drop")
    with pytest.warns(UserWarning, match="without stratification") as split_record:
        splits.stratified_split(dataset, validation_fraction=0.5)
    assert [record[0].filename, split_record[0].filename] == [__file__, __file__]


def test_drop_with_every_text_bad_is_an_error(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\n,a\n ,b\n")
    with pytest.raises(ValueError, match="No examples left"):
        loaders.load_csv(path, on_bad_text="drop")


def test_missing_labels_are_never_dropped(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,x\nb,\nc,y\nd,  \n")
    for on_bad_text in ("error", "drop"):
        with pytest.raises(ValueError, match=r"2 missing or empty labels.*rows 3, 5"):
            loaders.load_csv(path, on_bad_text=on_bad_text)


def test_unknown_on_bad_text_is_an_error(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,x\n")
    with pytest.raises(ValueError, match=r"on_bad_text must be one of \['error', 'drop'\]"):
        loaders.load_csv(path, on_bad_text="skip")


def test_invalid_utf8_names_the_byte_offset_and_the_option(tmp_path):
    content = b"text,label\nfine,a\nbro\xffken,b\n"
    path = write_bytes(tmp_path / "latin.csv", content)
    offset = content.index(b"\xff")
    with pytest.raises(ValueError) as info:
        loaders.load_csv(path)
    message = str(info.value)
    assert f"byte offset {offset} (line 3)" in message
    assert 'encoding_errors="replace"' in message
    dataset = loaders.load_csv(path, encoding_errors="replace")
    assert dataset.texts == ["fine", "bro\ufffdken"]


def test_rows_with_too_many_fields_are_a_parse_error(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,x\nb, c,y\n")
    with pytest.raises(ValueError, match=r"Could not parse .* as CSV.*Quote texts"):
        loaders.load_csv(path)


def test_first_row_with_an_extra_field_is_not_silently_an_index(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\nI liked it, a lot,pos\nmeh, ok,neg\n")
    with pytest.raises(ValueError, match="more fields than the header"):
        loaders.load_csv(path)


def test_labels_3_and_3_point_0_are_one_class(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,3\nb,3.0\nc, 4.00 \nd,x\n")
    dataset = loaders.load_csv(path)
    assert dataset.labels == ["3", "3", "4", "x"]
    assert LabelEncoder.fit(dataset.labels).classes == ["3", "4", "x"]


def test_semicolon_csv_is_sniffed_without_sep(tmp_path):
    path = write_text(tmp_path / "d.csv", "text;label\nhello, world;pos\nbye;neg\n")
    for dataset in (data.load(path), data.load(path, sep=";")):
        assert dataset.texts == ["hello, world", "bye"]
        assert dataset.labels == ["pos", "neg"]


@pytest.mark.parametrize("sep", ["|", "\t"])
def test_other_separators_are_sniffed_in_a_csv_named_file(tmp_path, sep):
    path = write_text(tmp_path / "d.txt", f"text{sep}label\nhello, world{sep}pos\nbye{sep}neg\n")
    assert loaders.load_csv(path).texts == ["hello, world", "bye"]


def test_semicolons_in_texts_do_not_make_a_comma_csv_a_semicolon_one(tmp_path):
    rows = "".join(f'"one; two; {i}",pos\n' for i in range(5))
    path = write_text(tmp_path / "d.csv", "text,label\n" + rows)
    assert loaders.load_csv(path).texts[0] == "one; two; 0"


def test_sep_must_be_one_character_and_only_for_delimited_files(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label\na,x\nb,y\n")
    with pytest.raises(ValueError, match=r"sep must be one character\. Received: sep=';;'"):
        data.load(path, sep=";;")
    with pytest.raises(ValueError, match=r"sep only applies to CSV/TSV files"):
        data.load(pd.DataFrame({"text": ["a"], "label": ["x"]}), sep=",")


def test_duplicate_column_names_are_refused_not_first_one_used(tmp_path):
    path = write_text(tmp_path / "d.csv", "text,label,text\na,x,b\nc,y,d\n")
    with pytest.raises(ValueError, match=r"'text' more than once\. Received: columns "):
        loaders.load_csv(path)
    frame = pd.DataFrame([["a", "x", "b"]], columns=["text", "label", "label"])
    with pytest.raises(ValueError, match=r"'label' more than once"):
        loaders.from_dataframe(frame)
    # A column really called "text.1" is not a duplicate.
    path = write_text(tmp_path / "e.csv", "text,text.1,label\na,b,x\n")
    assert loaders.load_csv(path).texts == ["a"]


# --------------------------------------------------------------------------- formats


FRAME = pd.DataFrame({"text": ["007", "Loved it", "2020-01-01"], "label": [3, 3.0, 4]})


@pytest.mark.parametrize("name", ["d.parquet", "parquet_named.csv"])
def test_parquet_is_read_not_called_invalid_utf8(tmp_path, name):
    FRAME.to_parquet(tmp_path / name)
    dataset = data.load(tmp_path / name)
    assert dataset.texts == ["007", "Loved it", "2020-01-01"]
    assert dataset.labels == ["3", "3", "4"]
    with pytest.raises(ValueError, match=r"got parquet\. .* Use data\.load\(path\)"):
        loaders.load_csv(tmp_path / name)


@pytest.mark.parametrize(
    "name, orient, lines",
    [("d.jsonl", "records", True), ("d.json", "records", True), ("d.json", "records", False)]
    + [("d.json", "columns", False)],
)
def test_json_is_read_as_records_not_as_fake_columns(tmp_path, name, orient, lines):
    FRAME.to_json(tmp_path / name, orient=orient, lines=lines)
    dataset = data.load(tmp_path / name)
    assert dataset.texts == ["007", "Loved it", "2020-01-01"]  # strings stay strings
    assert dataset.labels == ["3", "3", "4"]


def test_json_lines_bad_texts_and_nested_labels_name_the_lines(tmp_path):
    path = write_text(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n{"text": "", "label": 0}\n')
    with pytest.raises(ValueError, match=r"empty or whitespace-only in lines 2\."):
        data.load(path)
    path = write_text(tmp_path / "e.jsonl", '{"text": "a", "label": [0, 1]}\n')
    with pytest.raises(ValueError, match=r"holds lists or dicts.*Received: \[0, 1\] in lines 1"):
        data.load(path)
    path = write_text(tmp_path / "f.jsonl", '{"text": "a", "label": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"Could not parse .* as JSON Lines"):
        data.load(path)


def test_gzip_named_csv_is_decompressed(tmp_path):
    path = write_bytes(tmp_path / "d.csv", gzip.compress(b"text;label\na;x\nb;y\n"))
    assert data.load(path).labels == ["x", "y"]


def _xlsx(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return path


@pytest.mark.parametrize(
    "name, make, what",
    [
        ("d.xlsx", _xlsx, r"an Excel workbook \(\.xlsx\)"),
        ("xlsx_named.csv", _xlsx, r"an Excel workbook \(\.xlsx\)"),
        ("d.bin", lambda p: write_bytes(p, b"\x00\x01\x02\xff" * 10), "a binary file"),
        ("d.xls", lambda p: write_bytes(p, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(8)), "xls"),
        ("d.parquet", lambda p: write_text(p, "text,label\na,x\n"), "not a Parquet file"),
    ],
)
def test_unsupported_formats_say_what_they_are_and_what_is_supported(tmp_path, name, make, what):
    path = make(tmp_path / name)
    with pytest.raises(ValueError, match="Unsupported data file format") as info:
        data.load(path)
    assert re.search(what, str(info.value))
    assert "Parquet (.parquet) and JSON Lines (.jsonl" in str(info.value)
    with pytest.raises(ValueError, match="Unsupported data file format"):
        loaders.load_csv(path)


# --------------------------------------------------------------------------- DataFrame


def test_from_dataframe_converts_labels_to_strings():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "ints": [0, 1, 0],
            "floats": [1.0, 0.0, 2.5],
            "strings": ["pos", "neg", "pos"],
        }
    )
    assert loaders.from_dataframe(frame, label_column="ints").labels == ["0", "1", "0"]
    assert loaders.from_dataframe(frame, label_column="floats").labels == ["1", "0", "2.5"]
    assert loaders.from_dataframe(frame, label_column="strings").labels == ["pos", "neg", "pos"]
    assert loaders.from_dataframe(frame, label_column=None).labels is None


def test_nan_promoted_int_labels_become_ints_and_the_gap_is_an_error():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1, None, 0]}, index=[10, 11, 12])
    assert frame["label"].dtype == float  # what pandas does to an int column with a gap
    with pytest.raises(ValueError, match=r"1 missing or empty label.*index 11"):
        loaders.from_dataframe(frame)
    kept = loaders.from_dataframe(frame.drop(index=11))
    assert kept.labels == ["1", "0"]


def test_dataframe_bad_texts_are_named_by_index_label():
    frame = pd.DataFrame(
        {"text": ["ok", None, float("nan"), "", 42, pd.NA], "label": list("abcdef")},
        index=["r1", "r2", "r3", "r4", "r5", "r6"],
    )
    with pytest.raises(ValueError) as info:
        loaders.from_dataframe(frame, source="my frame")
    message = str(info.value)
    assert "of my frame has 5 bad values" in message
    assert "missing in rows with index 'r2', 'r3', 'r6'" in message
    assert "empty or whitespace-only in rows with index 'r4'" in message
    assert "not a string in rows with index 'r5' (e.g. 42 of type int)" in message


def test_dataframe_non_string_texts_are_dropped_not_converted():
    frame = pd.DataFrame({"text": ["ok", 3.5, "fine"], "label": ["a", "b", "c"]})
    with pytest.warns(UserWarning, match=r"Dropped 1 of 3 rows.*not a string"):
        dataset = loaders.from_dataframe(frame, on_bad_text="drop")
    assert dataset.texts == ["ok", "fine"]
    assert dataset.labels == ["a", "c"]


def test_from_dataframe_rejects_other_types():
    with pytest.raises(TypeError, match="pandas DataFrame. Received: list"):
        loaders.from_dataframe([("a", "x")])


def test_empty_dataframe_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        loaders.from_dataframe(pd.DataFrame({"text": [], "label": []}))


def test_text_dataset_checks_lengths_and_summarises():
    with pytest.raises(ValueError, match="2 texts and 1 labels"):
        TextDataset(["a", "b"], ["x"], "inline")
    assert repr(TextDataset(["a"], None, "inline")) == (
        "TextDataset(source='inline', 1 examples, unlabelled)"
    )


# --------------------------------------------------------------------------- folders


def make_text_tree(root):
    write_text(root / "pos" / "b.txt", "Loved it.")
    write_text(root / "pos" / "a.txt", "Great.")
    write_text(root / "neg" / "1.txt", "Dull.")
    write_text(root / "neg" / "nested" / "2.txt", "Boring.")
    write_text(root / "neg" / "notes.md", "not an example")
    write_text(root / ".hidden" / "x.txt", "skipped")
    write_text(root / "pos" / ".draft.txt", "skipped")
    return root


def test_load_text_directory_labels_by_folder(tmp_path):
    root = make_text_tree(tmp_path / "reviews")
    with no_warnings():
        dataset = loaders.load_text_directory(root)
    assert dataset.texts == ["Dull.", "Boring.", "Great.", "Loved it."]
    assert dataset.labels == ["neg", "neg", "pos", "pos"]
    assert dataset.source == str(root)


def test_invalid_utf8_files_are_replaced_and_counted(tmp_path):
    write_bytes(tmp_path / "a" / "1.txt", b"caf\xe9")
    write_bytes(tmp_path / "a" / "2.txt", b"ok")
    write_bytes(tmp_path / "b" / "3.txt", b"\xff\xfebad")
    write_bytes(tmp_path / "b" / "4.txt", "na\u00efve".encode())
    with pytest.warns(UserWarning, match="2 of 4 files .* invalid UTF-8"):
        dataset = loaders.load_text_directory(tmp_path)
    assert dataset.texts == ["caf\ufffd", "ok", "\ufffd\ufffdbad", "na\u00efve"]


def test_text_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        loaders.load_text_directory(tmp_path / "missing_dir")
    file = write_text(tmp_path / "file.csv", "text,label\n")
    with pytest.raises(NotADirectoryError, match="file.csv"):
        loaders.load_text_directory(file)
    flat = tmp_path / "flat"
    write_text(flat / "1.txt", "loose")
    with pytest.raises(ValueError, match=r"no sub-folders \(but 1 .txt files directly inside\)"):
        loaders.load_text_directory(flat)
    (tmp_path / "hollow" / "pos").mkdir(parents=True)
    with pytest.raises(ValueError, match="No .txt files found"):
        loaders.load_text_directory(tmp_path / "hollow")


def test_text_directory_warns_about_loose_files_and_empty_classes(tmp_path):
    write_text(tmp_path / "pos" / "1.txt", "yes")
    write_text(tmp_path / "neg" / "1.txt", "no")
    (tmp_path / "neutral").mkdir()
    write_text(tmp_path / "stray.txt", "where do I go")
    with pytest.warns(UserWarning) as record:
        dataset = loaders.load_text_directory(tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "Ignored 1 .txt files" in messages
    assert "['neutral']" in messages
    assert dataset.labels == ["neg", "pos"]


def test_empty_text_files_follow_on_bad_text(tmp_path):
    write_text(tmp_path / "pos" / "1.txt", "yes")
    write_text(tmp_path / "pos" / "2.txt", " \n")
    write_text(tmp_path / "neg" / "1.txt", "no")
    with pytest.raises(ValueError, match=r"empty or whitespace-only in files 'pos/2.txt'"):
        loaders.load_text_directory(tmp_path)
    with pytest.warns(UserWarning, match="Dropped 1 of 3"):
        dataset = loaders.load_text_directory(tmp_path, on_bad_text="drop")
    assert dataset.texts == ["no", "yes"]


# --------------------------------------------------------------------------- TFDS


@pytest.fixture
def tfds():
    return pytest.importorskip("tensorflow_datasets")


def test_load_tfds_imdb_reviews_from_mock_data(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=9):
        dataset = tfds_data.load_tfds("imdb_reviews", split="train", data_dir=tmp_path)
    assert len(dataset) == 9
    assert all(isinstance(text, str) for text in dataset.texts)
    assert set(dataset.labels) <= {"neg", "pos"}
    assert dataset.source == "tfds:imdb_reviews:train"


def test_load_tfds_glue_sst2_detects_the_sentence_feature(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        auto = tfds_data.load_tfds("glue/sst2", split="validation", data_dir=tmp_path)
        explicit = tfds_data.load_tfds(
            "glue/sst2", split="validation", text_key="sentence", data_dir=tmp_path
        )
    assert len(auto) == 6
    assert auto.texts == explicit.texts
    assert set(auto.labels) <= {"negative", "positive"}


def test_load_tfds_unlabelled_and_wrong_keys(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=4):
        unlabelled = tfds_data.load_tfds("imdb_reviews", label_key=None, data_dir=tmp_path)
        assert unlabelled.labels is None and len(unlabelled) == 4
        with pytest.raises(ValueError, match=r"Feature 'text' not found.*'sentence'"):
            tfds_data.load_tfds("glue/sst2", text_key="text", data_dir=tmp_path)
        with pytest.raises(ValueError, match=r"Feature 'stars' not found.*'label'"):
            tfds_data.load_tfds("imdb_reviews", label_key="stars", data_dir=tmp_path)
        with pytest.raises(ValueError, match=r"Cannot tell which feature.*'premise'"):
            tfds_data.load_tfds("glue/mnli", split="validation_matched", data_dir=tmp_path)


def _fixed_examples(sentences, labels):
    import tensorflow as tf

    def as_dataset(self, split, **kwargs):
        return tf.data.Dataset.from_tensor_slices(
            {
                "sentence": tf.constant(sentences),
                "label": tf.constant(labels, tf.int64),
                "idx": tf.range(len(labels), dtype=tf.int32),
            }
        )

    return as_dataset


def test_load_tfds_minus_one_labels(tfds, tmp_path):
    with tfds.testing.mock_data(as_dataset_fn=_fixed_examples(["a", "b"], [-1, -1])):
        with pytest.warns(UserWarning, match="no labels"):
            dataset = tfds_data.load_tfds("glue/sst2", split="test", data_dir=tmp_path)
    assert dataset.labels is None and dataset.texts == ["a", "b"]
    with tfds.testing.mock_data(as_dataset_fn=_fixed_examples(["a", "b", "c"], [1, -1, 0])):
        with pytest.raises(ValueError, match=r"1 examples of tfds:glue/sst2:test have no label"):
            tfds_data.load_tfds("glue/sst2", split="test", data_dir=tmp_path)


def test_load_tfds_maps_class_ids_to_names_and_checks_texts(tfds, tmp_path):
    fixed = _fixed_examples(["good", "", "bad"], [1, 1, 0])
    with tfds.testing.mock_data(as_dataset_fn=fixed):
        with pytest.raises(ValueError, match=r"empty or whitespace-only in positions 1\."):
            tfds_data.load_tfds("glue/sst2", data_dir=tmp_path)
        with pytest.warns(UserWarning, match="Dropped 1 of 3"):
            dataset = tfds_data.load_tfds("glue/sst2", data_dir=tmp_path, on_bad_text="drop")
    assert dataset.texts == ["good", "bad"]
    assert dataset.labels == ["positive", "negative"]


# --------------------------------------------------------------------------- load()


def test_load_dispatches_dataframes_directories_and_files(tmp_path):
    frame = pd.DataFrame({"review": ["a", "b"], "y": [1, 0]})
    assert data.load(frame, "review", "y").labels == ["1", "0"]
    root = make_text_tree(tmp_path / "tree")
    assert data.load(root).labels == ["neg", "neg", "pos", "pos"]
    assert data.load(str(root)).texts == loaders.load_text_directory(root).texts
    path = write_text(tmp_path / "d.tsv", "t\tl\nx\tp\n")
    assert data.load(path, text_column="t", label_column="l").labels == ["p"]
    with pytest.warns(UserWarning, match="Dropped 1"):
        assert data.load(
            write_text(tmp_path / "e.csv", "text,label\n,a\nb,c\n"), on_bad_text="drop"
        ).texts == ["b"]
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        data.load(tmp_path / "nothing.csv")
    with pytest.raises(TypeError, match="Received: list"):
        data.load(["a", "b"])


@pytest.mark.parametrize(
    "source, name, split",
    [
        ("tfds:imdb_reviews", "imdb_reviews", None),
        ("tfds:glue/sst2:validation", "glue/sst2", "validation"),
        ("tfds:imdb_reviews:train[:10%]", "imdb_reviews", "train[:10%]"),
        ("tfds:mnist:3.0.1:test", "mnist:3.0.1", "test"),
    ],
)
def test_load_parses_tfds_sources(monkeypatch, source, name, split):
    calls = []
    monkeypatch.setattr(tfds_data, "load_tfds", lambda name, **kwargs: calls.append((name, kwargs)))
    data.load(source)
    expected = {"label_key": "label"} | ({"split": split} if split else {})
    assert calls == [(name, expected)]  # default text column -> auto-detect (no text_key)
    calls.clear()
    data.load(source, text_column="sentence", label_column=None)
    assert calls[0][1]["text_key"] == "sentence"
    assert calls[0][1]["label_key"] is None


def test_load_rejects_two_splits(monkeypatch):
    monkeypatch.setattr(tfds_data, "load_tfds", lambda name, **kwargs: None)
    with pytest.raises(ValueError, match="Exactly one of"):
        data.load("tfds:imdb_reviews:test", split="train")


def test_load_tfds_source_through_mock(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=5):
        dataset = data.load("tfds:glue/sst2:validation", data_dir=tmp_path)
    assert len(dataset) == 5
    assert dataset.source == "tfds:glue/sst2:validation"


# --------------------------------------------------------------------------- LabelEncoder


def test_label_encoder_round_trip():
    labels = ["pos", "neg", "neutral", "pos"]
    encoder = LabelEncoder.fit(labels)
    assert encoder.classes == ["neg", "neutral", "pos"]
    assert encoder.num_classes == 3
    ids = encoder.encode(labels)
    assert ids.dtype == np.int32
    assert ids.tolist() == [2, 0, 1, 2]
    assert encoder.decode(ids) == labels
    assert encoder.decode(np.array([[0], [2]])) == ["neg", "pos"]


def test_label_encoder_fit_treats_1_and_1_point_0_as_one_class():
    encoder = LabelEncoder.fit(["1", "1.0", "x", 1, 1.0])
    assert encoder.classes == ["1", "x"]
    assert encoder.encode(["1.0", 1, "x"]).tolist() == [0, 0, 1]


def test_label_encoder_int_labels_keep_their_values_as_ids():
    labels = [0, 1, 2, 10, 2, 1]
    encoder = LabelEncoder.fit(labels)
    assert encoder.classes == ["0", "1", "2", "10"]
    assert encoder.encode([10, "2", 1.0]).tolist() == [3, 2, 1]
    assert encoder.decode([3]) == ["10"]


def test_label_encoder_save_and_load(tmp_path):
    encoder = LabelEncoder.fit(["b", "a", "c"])
    path = encoder.save(tmp_path / "model" / "labels.json")
    # The one labels format: the list export.save_model writes as a model's labels.json.
    assert json.loads(path.read_text()) == ["a", "b", "c"]
    assert LabelEncoder.load(path) == encoder
    assert LabelEncoder.load(path.parent) == encoder  # a model directory holds labels.json
    LabelEncoder(["x", "y"]).save(path)  # overwrites in place
    assert LabelEncoder.load(path).classes == ["x", "y"]
    assert os.listdir(path.parent) == ["labels.json"]  # no temp files left behind


def test_label_encoder_save_is_atomic(tmp_path, monkeypatch):
    path = LabelEncoder(["a", "b"]).save(tmp_path / "labels.json")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        LabelEncoder(["x", "y"]).save(path)
    assert LabelEncoder.load(path).classes == ["a", "b"]
    assert os.listdir(tmp_path) == ["labels.json"]


def test_unknown_labels_are_named_with_the_known_classes():
    encoder = LabelEncoder(["neg", "pos"])
    with pytest.raises(ValueError) as info:
        encoder.encode(["pos", "maybe", "maybe"])
    message = str(info.value)
    assert "Label 'maybe' was never seen in training" in message
    assert "2 of 3 labels" in message
    assert "['neg', 'pos']" in message
    many = [f"u{i}" for i in range(7)]
    with pytest.raises(
        ValueError, match=r"'u0', 'u1', 'u2', 'u3', 'u4' and 2 more were never seen"
    ):
        encoder.encode(many)


def test_single_class_is_an_error():
    with pytest.raises(ValueError) as info:
        LabelEncoder.fit(["x"] * 150)
    assert str(info.value) == (
        "A classifier needs at least 2 classes. Received: 1 class ('x') in 150 labels. "
        "Check the label column or add examples of other classes."
    )
    with pytest.raises(ValueError, match="Received: 0 classes in 0 labels"):
        LabelEncoder.fit([])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelEncoder(["only"])


def test_label_encoder_input_errors(tmp_path):
    encoder = LabelEncoder(["a", "b"])
    with pytest.raises(TypeError, match=r"Pass \['a'\]"):
        encoder.encode("a")
    with pytest.raises(ValueError, match=r"must be in \[0, 2\). Received: -1, 2"):
        encoder.decode([0, 2, -1])
    with pytest.raises(TypeError, match="argmax"):
        encoder.decode(np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="unique.*'a'"):
        LabelEncoder(["a", "b", "a"])
    with pytest.raises(ValueError, match="Labels must not be missing"):
        LabelEncoder.fit(["a", None, "b"])
    with pytest.raises(ValueError, match="no classes"):
        LabelEncoder().encode(["a"])
    with pytest.raises(FileNotFoundError, match="labels.json"):
        LabelEncoder.load(tmp_path / "labels.json")
    with pytest.raises(ValueError, match="invalid JSON"):
        LabelEncoder.from_json("{not json")
    with pytest.raises(ValueError, match="must hold the class names as a JSON list"):
        LabelEncoder.from_json('{"classes": ["a", "b"]}')


def test_label_encoder_reads_the_object_older_versions_saved(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(
        json.dumps({"format": "bertkit.LabelEncoder", "version": 1, "classes": ["a", "b"]})
    )
    assert LabelEncoder.load(path).classes == ["a", "b"]


@pytest.mark.parametrize(
    "value",
    [None, {"classes": ["a", "b"]}, ["a"], ["a", "a"], ["a", 1], ["a", ""], "ab"],
    ids=["none", "object", "one", "repeated", "number", "empty", "string"],
)
def test_read_class_names_refuses_anything_but_a_list_of_distinct_names(value):
    with pytest.raises(ValueError) as info:
        read_class_names(value, "The model's labels.json ('m/labels.json')")
    assert str(info.value).startswith(
        "The model's labels.json ('m/labels.json') must hold the class names as a JSON list of "
        f"at least 2 distinct, non-empty strings (class id i is entry i). Received: {value}"
    )


# --------------------------------------------------------------------------- splits


def labelled(counts: dict[str, int]) -> TextDataset:
    labels = [label for label, count in counts.items() for _ in range(count)]
    return TextDataset([f"text {i}" for i in range(len(labels))], labels, "synthetic")


def test_stratified_split_keeps_class_proportions():
    counts = {"a": 61, "b": 29, "c": 10}
    dataset = labelled(counts)
    train, validation = splits.stratified_split(dataset, validation_fraction=0.2, seed=3)
    assert len(validation) == 20 and len(train) == 80
    got = Counter(validation.labels)
    for label, count in counts.items():
        assert abs(got[label] - count * 0.2) <= 1, (label, got)
    assert sorted(train.texts + validation.texts) == sorted(dataset.texts)
    pairs = dict(zip(dataset.texts, dataset.labels, strict=True))
    assert all(pairs[t] == lab for t, lab in zip(train.texts, train.labels, strict=True))
    assert validation.source == "synthetic [validation]"


def test_stratified_split_is_deterministic_for_a_seed():
    dataset = labelled({"a": 30, "b": 30})
    first = splits.stratified_split(dataset, 0.25, seed=7)
    second = splits.stratified_split(dataset, 0.25, seed=7)
    other = splits.stratified_split(dataset, 0.25, seed=8)
    assert first[1].texts == second[1].texts and first[0].texts == second[0].texts
    assert first[1].texts != other[1].texts


def test_sample_per_class_draws_that_many_of_every_class_and_all_of_a_smaller_one():
    labels = pd.Series(["a"] * 40 + ["b"] * 3 + ["c"] * 25, index=range(100, 168))
    positions = splits.sample_per_class(labels, per_class=8, seed=4)
    drawn = labels.iloc[positions]
    assert drawn.value_counts().to_dict() == {"a": 8, "c": 8, "b": 3}
    assert len(set(positions)) == len(positions)
    assert list(drawn) == sorted(drawn)  # classes in sorted order
    again = splits.sample_per_class(labels, per_class=8, seed=4)
    other = splits.sample_per_class(labels, per_class=8, seed=5)
    assert (positions == again).all() and set(positions) != set(other)
    # a larger draw with the same seed starts with the smaller one, class by class
    larger = labels.iloc[splits.sample_per_class(labels, per_class=16, seed=4)]
    assert list(larger[larger == "a"].index[:8]) == list(drawn[drawn == "a"].index)


@pytest.mark.parametrize(
    "labels, per_class, message",
    [
        (["a", "b"], 0, "per_class must be a positive integer. Received: per_class=0"),
        (["a", "b"], 2.5, "per_class must be a positive integer"),
        (["a", "b"], True, "per_class must be a positive integer"),
        ([], 4, "labels must be a non-empty 1-D sequence. Received: shape"),
    ],
)
def test_sample_per_class_rejects_bad_input(labels, per_class, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        splits.sample_per_class(labels, per_class)


def test_stratified_split_falls_back_when_a_class_is_rare():
    dataset = labelled({"a": 20, "b": 19, "lonely": 1})
    with pytest.warns(UserWarning, match="without stratification.*'lonely'"):
        train, validation = splits.stratified_split(dataset, 0.25)
    assert (len(train), len(validation)) == (30, 10)


def test_split_falls_back_when_validation_cannot_hold_every_class():
    dataset = labelled({"a": 4, "b": 4, "c": 4, "d": 4})
    with pytest.warns(UserWarning, match="2 validation and 14 training examples cannot hold all 4"):
        train, validation = splits.stratified_split(dataset, 0.1)
    assert (len(train), len(validation)) == (14, 2)


def test_split_of_unlabelled_data_is_random():
    dataset = TextDataset([str(i) for i in range(10)], None, "plain")
    with no_warnings():
        train, validation = splits.stratified_split(dataset, 0.3)
    assert (len(train), len(validation)) == (7, 3)
    assert train.labels is None and validation.labels is None


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, True, "0.1"])
def test_validation_fraction_must_be_between_zero_and_one(fraction):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        splits.stratified_split(labelled({"a": 5, "b": 5}), validation_fraction=fraction)


def test_topics_ship_inside_the_package_for_pip_installs(tmp_path, monkeypatch):
    from bertkit.text import datasets

    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))  # like Colab: no data/ folder
    for language, name in datasets.TOPIC_FILES.items():
        path = datasets.topics_path(language)
        assert path.parent.name == "_data" and path.name == name
        checkout_copy = Path(datasets.__file__).resolve().parents[2] / "data" / name
        assert path.read_bytes() == checkout_copy.read_bytes()
    assert len(datasets.load_topics()) == 188
    assert datasets.load_topics("zh").text.iloc[0] == "貓追狗"
    with pytest.raises(ValueError, match="language='fr'.*'en', 'zh'"):
        datasets.topics_path("fr")


def test_short_text_sets_ship_inside_the_package_as_committed(tmp_path, monkeypatch):
    from bertkit.text import datasets

    root = Path(datasets.__file__).resolve().parents[2]
    checkout = {"topic_paraphrases": root / "data", "headlines": root / "benchmarks" / "data"}
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))  # like Colab: no data/ folder
    for name, file in datasets.SHORT_TEXT_FILES.items():
        packaged = Path(datasets.__file__).resolve().parents[1] / "_data" / file
        assert packaged.read_bytes() == (checkout[name] / file).read_bytes()
    paraphrases = datasets.load_short_texts("topic_paraphrases")
    assert sorted(set(paraphrases.label)) == sorted(set(datasets.load_topics().label))
    assert paraphrases.label.value_counts().tolist() == [8, 8, 8]
    assert datasets.load_short_texts("headlines").category.nunique() == 6
    with pytest.raises(ValueError, match="name='news'.*'headlines', 'topic_paraphrases'"):
        datasets.load_short_texts("news")


def test_missing_drug_reviews_without_fetching_names_the_fix(tmp_path, monkeypatch):
    from bertkit.text import datasets

    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not there yet.*make data.*fetch=True"):
        datasets.load_drug_reviews(fetch=False)


def test_wheel_contains_the_topic_files_not_links(tmp_path):
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bertkit-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        packaged = whl.read("bertkit/_data/topics.csv")
        paraphrases = whl.read("bertkit/_data/topics_paraphrases.csv")
        headlines = whl.read("bertkit/_data/short_topics.csv")
    assert packaged == (root / "data" / "topics.csv").read_bytes()
    assert paraphrases == (root / "data" / "topics_paraphrases.csv").read_bytes()
    assert headlines == (root / "benchmarks" / "data" / "short_topics.csv").read_bytes()
