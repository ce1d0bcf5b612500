"""Long texts: truncation modes and chunks, alike in training, prediction, SavedModel and LiteRT."""

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import bertkit
from bertkit import export, presets
from bertkit.apps import cli
from bertkit.export import litert, litert_serve, saved_classifier
from bertkit.model import classifier
from bertkit.text import inputs, long_texts, tokens
from bertkit.train import finetune

SPECIAL = long_texts.SPECIAL
CLS, SEP = SPECIAL["start_of_sequence_id"], SPECIAL["end_of_segment_id"]
TEXT = list(range(1, 11))  # one text of ten wordpieces with ids 1..10
SEQ = 12  # 10 wordpieces per row on the tiny preset
WORDS = " ".join(["the job is good", "i love you", "the exam was hard"] * 4)
TEXTS = [WORDS, "short one", "", WORDS[: len(WORDS) // 2], WORDS + " " + WORDS]


def rows(long, texts=(TEXT,)):
    """`long.rows` on id lists: `(rows of kept ids without [CLS]/[SEP]/padding, text_index, cut)`."""
    splits = np.cumsum([0] + [len(t) for t in texts])
    values = tf.constant([i for t in texts for i in t] or [0], tf.int32)[: splits[-1]]
    inputs, text_index, cut = long.rows(values, splits, SPECIAL)
    ids, mask = inputs["input_word_ids"].numpy(), inputs["input_mask"].numpy()
    kept = [row[: m.sum()].tolist() for row, m in zip(ids, mask, strict=True)]
    assert all(r[0] == CLS and r[-1] == SEP for r in kept)
    return [r[1:-1] for r in kept], text_index.numpy().tolist(), cut.numpy().tolist()


@pytest.mark.parametrize(
    "options, expected",
    [
        (dict(), [[1, 2, 3, 4]]),
        (dict(truncation="tail"), [[7, 8, 9, 10]]),
        (dict(truncation="head_tail"), [[1, 8, 9, 10]]),  # default head: 4 // 4 = 1
        (dict(truncation="head_tail", head_tokens=3), [[1, 2, 3, 10]]),
        (dict(chunks=2), [[1, 2, 3, 4], [5, 6, 7, 8]]),
        (dict(chunks=2, truncation="tail"), [[3, 4, 5, 6], [7, 8, 9, 10]]),
        (dict(chunks=3, chunk_overlap=1), [[1, 2, 3, 4], [4, 5, 6, 7], [7, 8, 9, 10]]),
        (dict(chunks=2, truncation="head_tail", head_tokens=2), [[1, 2, 5, 6], [7, 8, 9, 10]]),
    ],
)
def test_each_mode_keeps_the_hand_computed_wordpieces(options, expected):
    kept, text_index, cut = rows(long_texts.LongTexts(6, **options))
    assert kept == expected
    assert text_index == [0] * len(expected)
    assert cut == [len(sum(expected, [])) < 10]


def test_chunk_counts_follow_text_length():
    long = long_texts.LongTexts(6, chunks=3, chunk_overlap=1)  # windows start at 0, 3, 6
    texts = [[], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4, 5], list(range(1, 21))]
    kept, text_index, cut = rows(long, texts)
    assert text_index == [0, 1, 2, 3, 3, 4, 4, 4]  # an empty text is one [CLS] [SEP] row
    assert kept[:5] == [[], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4], [4, 5]]
    assert cut == [False, False, False, False, True]
    # Short texts are packed as bert_pack_inputs packs them, whatever the mode.
    for mode in long_texts.TRUNCATIONS:
        assert rows(long_texts.LongTexts(6, mode), [[1, 2]])[0] == [[1, 2]]


@pytest.fixture(scope="module")
def pieces(tiny_dir):
    """The wordpiece ids the tiny preset gives each of TEXTS."""
    pre = tokens._loaded(presets.TINY_PRESET)
    ragged = pre.tokenize(tf.constant(TEXTS)).merge_dims(-2, -1)
    return ragged.to_list()


def build(**options):
    return classifier.build_classifier(
        presets.TINY_PRESET, 3, "freeze", seq_length=SEQ, precision="float32", **options
    )


def test_the_model_layer_keeps_what_each_mode_says(pieces):
    long = pieces[0]
    assert len(long) > 3 * (SEQ - 2)
    expected = {
        "head": long[:10],
        "tail": long[-10:],
        "head_tail": long[:2] + long[-8:],  # head_tokens=10 // 4
    }
    for mode, kept in expected.items():
        layer = build(truncation=mode).text_to_inputs
        ids = layer(tf.constant(TEXTS[:1]))["input_word_ids"].numpy()[0]
        cls, sep = layer.special["start_of_sequence_id"], layer.special["end_of_segment_id"]
        assert ids.tolist() == [cls, *kept, sep], mode
    chunked = build(chunks=3, truncation="tail").text_to_inputs
    packed, text_index, cut = chunked.encode(tf.constant(TEXTS))
    counts = np.bincount(text_index.numpy(), minlength=len(TEXTS)).tolist()
    assert counts == [min(3, max(1, -(-len(p) // 10))) for p in pieces]
    last = packed["input_word_ids"].numpy()[np.flatnonzero(text_index.numpy() == 0)]
    assert np.concatenate([row[1:11] for row in last]).tolist() == long[-30:]
    assert cut.numpy().tolist() == [len(p) > 30 for p in pieces]
    # The default mode is exactly the TF-Hub preprocessor's bert_pack_inputs.
    plain = tokens.pack(presets.TINY_PRESET, TEXTS, seq_length=SEQ)
    ours = build().text_to_inputs(tf.constant(TEXTS))
    for name, value in ours.items():
        np.testing.assert_array_equal(value.numpy(), plain[name])


def test_pooled_prediction_is_the_mean_of_chunk_logits(pieces):
    model = build(chunks=3, chunk_overlap=2)
    packed, text_index, _ = model.text_to_inputs.encode(tf.constant(TEXTS))
    chunk_logits = model.token_model(packed).numpy()
    expected = np.stack(
        [chunk_logits[text_index.numpy() == i].mean(axis=0) for i in range(len(TEXTS))]
    )
    np.testing.assert_allclose(model(tf.constant(TEXTS)).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(finetune.predict_logits(model, TEXTS), expected, atol=1e-5)
    encoded = inputs.encode_texts(model, TEXTS)
    assert encoded.num_texts == len(TEXTS) and len(encoded) == len(text_index)
    assert encoded.take([4, 1]).text_index.tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("strategy", ["freeze", "partial"])
def test_training_uses_every_chunk_as_an_example(strategy, pieces):
    model = classifier.build_classifier(
        presets.TINY_PRESET, 2, strategy, unfreeze_top=1, seq_length=SEQ, chunks=4
    )
    labels = [0, 1, 0, 1, 0]
    config = bertkit.TrainConfig(epochs=2, batch_size=4, early_stopping_patience=1)
    result = finetune.fit(
        model, TEXTS, labels, validation=(TEXTS, labels), config=config, verbose=0
    )
    encoded = inputs.encode_texts(model, TEXTS)
    assert result.real_tokens_per_epoch == encoded.real_tokens() and len(encoded) > len(TEXTS)
    assert result.num_truncated == sum(len(p) > 40 for p in pieces)  # more than 4 windows
    assert np.isfinite(result.history.history["val_loss"]).all()


# The default mode's export is tests/test_export.py's; "tail" is the layer's (above).
MODES = [
    dict(truncation="head_tail", head_tokens=3),
    dict(chunks=3, chunk_overlap=2, truncation="head_tail"),
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_dir):
    """`(model, directory)` per mode in MODES."""
    root = tmp_path_factory.mktemp("longtext")
    out = []
    for i, options in enumerate(MODES):
        model = build(**options)
        out.append((model, export.save_model(model, root / f"m{i}", ["a", "b", "c"])))
    return out


@pytest.mark.parametrize("mode", range(len(MODES)))
def test_saved_model_serves_what_the_model_predicts(saved, pieces, mode):
    model, directory = saved[mode]
    loaded = saved_classifier.load_model(directory)
    expected = model(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(loaded(TEXTS)["logits"], expected, atol=1e-5)
    np.testing.assert_allclose(finetune.predict_logits(model, TEXTS), expected, atol=1e-5)
    with pytest.warns(UserWarning, match="longer than the model reads"):
        probs = loaded.predict_proba(TEXTS, batch_size=2)
    np.testing.assert_allclose(probs, tf.nn.softmax(expected).numpy(), atol=1e-5)
    capacity = long_texts.LongTexts(SEQ, **MODES[mode]).capacity
    assert loaded.last_num_truncated == sum(len(p) > capacity for p in pieces)
    info = json.loads((directory / export.INFO_FILE).read_text())
    assert {k: info[k] for k in long_texts.OPTIONS} == {
        k: getattr(model, k) for k in long_texts.OPTIONS
    }


def test_litert_export_predicts_like_the_saved_model(saved, pieces):
    _, directory = saved[-1]  # chunks with overlap and head+tail truncation
    path = litert.export_tflite(directory, quantize="none")
    lite = litert_serve.load_model(path)
    expected = saved_classifier.load_model(directory)(TEXTS)
    out = lite(TEXTS)
    np.testing.assert_allclose(out["logits"], expected["logits"], atol=1e-5)
    capacity = long_texts.LongTexts(SEQ, **MODES[-1]).capacity
    assert out["truncated"].tolist() == [len(p) > capacity for p in pieces]
    assert lite.info["chunks"] == 3 and lite.info["truncation"] == "head_tail"


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(truncation="middle"), r"Unknown truncation\. Received: truncation='middle'\. Use"),
        (dict(chunks=0), r"chunks must be an integer from 1 .* Received: chunks=0\. Pass"),
        (dict(chunks=17), r"Received: chunks=17\."),
        (dict(chunks=2, chunk_overlap=6), r"chunk_overlap must .* Received: chunk_overlap=6\."),
        (dict(chunk_overlap=2), r"chunk_overlap needs chunks > 1: .* Received: chunk_overlap=2"),
        (dict(head_tokens=3), r"head_tokens only applies to truncation='head_tail'\. Received"),
        (
            dict(truncation="head_tail", head_tokens=10),
            r"head_tokens must be an integer from 1 to 9 .* Received: head_tokens=10\. Pass",
        ),
        (dict(text_pairs=True, chunks=2), r"sentence pairs are trimmed round robin\. Received"),
    ],
)
def test_bad_long_text_arguments_are_refused_before_loading(options, message):
    with pytest.raises(ValueError, match=message):
        classifier.build_classifier("no/such/preset", 2, seq_length=SEQ, **options)


def test_cli_records_the_options_and_predict_and_evaluate_follow_them(tmp_path, tiny_dir, capsys):
    labels = ["job", "love", "education", "job", "love"] * 4
    frame = pd.DataFrame({"text": [t or "nothing" for t in TEXTS] * 4, "label": labels})
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "model"
    common = ["--preset", presets.TINY_PRESET, "--strategy", "freeze", "--epochs", "2"]
    long = ["--seq-length", str(SEQ), "--truncation", "head_tail", "--chunks", "2"]
    argv = ["train", "--train", tmp_path / "train.csv", *common, *long, "--output", out]
    assert cli.main([str(a) for a in argv]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["truncation"] == "head_tail" and summary["chunks"] == 2
    info = json.loads((out / export.INFO_FILE).read_text())
    assert (info["truncation"], info["head_tokens"], info["chunks"]) == ("head_tail", None, 2)
    expected = saved_classifier.load_model(out).predict_proba(TEXTS[:2])
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS[:2]) + "\n")
    assert cli.main(["predict", "--model", str(out), "--input", str(tmp_path / "texts.txt")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["text"] for line in lines] == TEXTS[:2]
    got = [[line["probabilities"][c] for c in info["classes"]] for line in lines]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert cli.main(["evaluate", "--model", str(out), "--data", str(tmp_path / "train.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == len(labels)
    assert cli.main(["train", *map(str, argv[1:-2]), "--chunks", "99", "--output", "x"]) == 2
    assert "Received: chunks=99" in capsys.readouterr().err
