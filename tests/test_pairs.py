"""Sentence pairs end to end: packing, truncation, training, export, NSP data, errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

import bertkit
from bertkit import export, presets
from bertkit.export import saved_classifier
from bertkit.model import classifier
from bertkit.tasks import pairs
from bertkit.text import inputs, text_pairs, tokens
from bertkit.train import finetune

SEQ = 12  # budget of 9 wordpieces after [CLS] A [SEP] B [SEP]


@pytest.fixture(scope="module")
def vocab(tiny_dir):
    return tokens.vocabulary(presets.TINY_PRESET)


@pytest.fixture(scope="module")
def pair_model(tiny_dir):
    finetune.set_seed(0)  # the head's initial weights, whatever ran before
    return classifier.build_classifier(
        presets.TINY_PRESET, 2, "full", seq_length=SEQ, text_pairs=True, dropout=0.0
    )


@pytest.fixture(scope="module")
def single_model(tiny_dir):
    return classifier.build_classifier(presets.TINY_PRESET, 2, "freeze", seq_length=SEQ)


@pytest.fixture(scope="module")
def pair_dir(pair_model, tmp_path_factory):
    """The pair model exported once (after the training test, when tests run in file order)."""
    return export.save_model(pair_model, tmp_path_factory.mktemp("pair") / "m", ["No", "Yes"])


@pytest.fixture(scope="module")
def loaded_pair(pair_dir):
    return saved_classifier.load_model(pair_dir)


def words(n, start=0):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join(letters[(start + i) % 26] for i in range(n))


def test_segment_ids_and_special_token_positions(pair_model, vocab):
    encoded = inputs.encode_pairs(pair_model, ["the job is good", "i"], ["bad", "love you"])
    assert encoded.seq_length == SEQ and encoded.num_truncated == 0
    row = [vocab[i] for i in encoded.word_ids[0, : encoded.lengths[0]]]
    assert row == ["[CLS]", "the", "job", "is", "good", "[SEP]", "bad", "[SEP]"]
    # 0 for [CLS], A and the first [SEP]; 1 for B and the last [SEP]; 0 for padding.
    assert encoded.type_ids[0].tolist() == [0] * 6 + [1] * 2 + [0] * 4
    row = [vocab[i] for i in encoded.word_ids[1, : encoded.lengths[1]]]
    assert row == ["[CLS]", "i", "[SEP]", "love", "you", "[SEP]"]
    assert encoded.type_ids[1].tolist() == [0] * 3 + [1] * 3 + [0] * 6
    assert encoded.lengths.tolist() == [8, 6]
    # The model packs raw strings in-graph exactly as encode_pairs does.
    packed = pair_model.text_to_inputs(
        [tf.constant(["the job is good", "i"]), tf.constant(["bad", "love you"])]
    )
    np.testing.assert_array_equal(packed["input_word_ids"].numpy(), encoded.word_ids)
    np.testing.assert_array_equal(packed["input_type_ids"].numpy(), encoded.type_ids)
    np.testing.assert_array_equal(packed["input_mask"].numpy().sum(1), encoded.lengths)


def segment_lengths(encoded, row):
    """(len A, len B) in wordpieces, from the type ids and the real length."""
    n = int(encoded.lengths[row])
    type_ids = encoded.type_ids[row, :n]
    return int((type_ids == 0).sum()) - 2, int((type_ids == 1).sum()) - 1


def test_truncation_fits_seq_length_and_trims_the_longer_segment(pair_model, vocab):
    texts_a = [words(20), words(2), words(20), words(4)]
    texts_b = [words(2, 5), words(20, 5), words(20, 5), words(4, 5)]
    encoded = inputs.encode_pairs(pair_model, texts_a, texts_b)
    assert (encoded.lengths <= SEQ).all()
    assert encoded.lengths.tolist() == [SEQ, SEQ, SEQ, 11]
    # Round robin over the 9 free slots: a short segment is kept whole.
    assert segment_lengths(encoded, 0) == (7, 2)
    assert segment_lengths(encoded, 1) == (2, 7)
    assert segment_lengths(encoded, 2) == (5, 4)
    assert segment_lengths(encoded, 3) == (4, 4)
    # The longer segment loses its end, not its start; the [SEP]s stay in place.
    row = [vocab[i] for i in encoded.word_ids[0, :SEQ]]
    assert row == ["[CLS]", *words(7).split(), "[SEP]", "f", "g", "[SEP]"]
    assert encoded.num_truncated == 3


def test_pair_model_trains_and_predicts(pair_model):
    # Separable by the second segment's word, whatever the first says.
    train = [(a, b) for a in ("the job", "i love you", "hard") for b in ("good", "bad")] * 3
    labels = [int(b == "good") for _, b in train]
    config = bertkit.TrainConfig(
        epochs=15,
        batch_size=6,
        learning_rate=3e-3,
        warmup_fraction=0.0,
        early_stopping_patience=None,
    )
    result = finetune.fit(
        pair_model, train, labels, validation=(train[:4], labels[:4]), config=config, verbose=0
    )
    loss = result.history.history["loss"]
    assert np.isfinite(loss).all()
    assert loss[-1] < loss[0]
    logits = finetune.predict_logits(
        pair_model, text_pairs.TextPairs(["hard", "the job", "x"], ["good", "bad", "y"])
    )
    assert logits.shape == (3, 2)
    assert logits[:2].argmax(1).tolist() == [1, 0]
    # Same logits from the Keras model on two string inputs.
    direct = pair_model([tf.constant(["hard", "the job", "x"]), tf.constant(["good", "bad", "y"])])
    np.testing.assert_allclose(direct.numpy(), logits, atol=1e-5)


def test_exported_pair_model_gives_the_in_memory_probabilities(pair_model, pair_dir, loaded_pair):
    test_pairs = [("the job is good", "i love you"), ("", "x"), (words(20), words(20, 3))]
    directory = pair_dir
    assert json.loads((directory / "bertkit_model.json").read_text())["text_pairs"] is True
    loaded = loaded_pair
    assert loaded.text_pairs
    _, specs = loaded._serve.structured_input_signature
    assert sorted(specs) == ["text_a", "text_b"]
    expected = tf.nn.softmax(finetune.predict_logits(pair_model, test_pairs)).numpy()
    with pytest.warns(UserWarning, match="1 of 3 texts"):
        probs = loaded.predict_proba(test_pairs, batch_size=2)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert loaded.last_num_truncated == 1
    np.testing.assert_allclose(
        loaded(text_pairs.as_pairs(test_pairs))["probabilities"], expected, atol=1e-5
    )
    assert loaded.predict(test_pairs[:2]) == [["No", "Yes"][i] for i in expected[:2].argmax(1)]


def test_split_sentences():
    text = '"I&#039;m better. It works!! Dose is 2.5 mg? Yes (really.) Ok"'
    expected = ["I'm better.", "It works!!", "Dose is 2.5 mg?", "Yes (really.)", "Ok"]
    assert pairs.split_sentences(text) == expected
    with pytest.raises(TypeError, match="Received: None"):
        pairs.split_sentences(None)


DOCS = [
    "It helped. I slept well. No nausea at all. Would recommend.",
    "Terrible headaches. I stopped after a week. My doctor agreed.",
    "Works fast. Cheap too.",
    ["First sentence.", "Second sentence.", "Third sentence."],
]


def test_nsp_pairs_are_balanced_seeded_and_never_self_paired():
    documents = [pairs.split_sentences(d) if isinstance(d, str) else d for d in DOCS]
    consecutive = {(doc[i], doc[i + 1]) for doc in documents for i in range(len(doc) - 1)}
    doc_of = {s: d for d, doc in enumerate(documents) for s in doc}
    pair_set, labels = pairs.nsp_pairs(DOCS, seed=3)
    assert len(pair_set) == len(labels) == 8  # 3 + 2 + 1 + 2 consecutive pairs
    assert labels.sum() == 4 and set(labels.tolist()) == {0, 1}
    for (a, b), label in zip(pair_set, labels, strict=True):
        if label == pairs.IS_NEXT:
            assert (a, b) in consecutive
        else:
            assert b != a and (a, b) not in consecutive
            assert doc_of[b] != doc_of[a]  # from another document, as BERT did
    again, labels_again = pairs.nsp_pairs(DOCS, seed=3)
    assert list(again) == list(pair_set) and labels_again.tolist() == labels.tolist()
    other, _ = pairs.nsp_pairs(DOCS, seed=4)
    assert list(other) != list(pair_set)
    # One document only: the random sentence comes from it, but is never A or the true B.
    one, one_labels = pairs.nsp_pairs([["s1.", "s2.", "s3.", "s4.", "s5."]], seed=0)
    assert one_labels.sum() == 2
    for (a, b), label in zip(one, one_labels, strict=True):
        if label == pairs.NOT_NEXT:
            assert b != a and int(b[1]) != int(a[1]) + 1
    with pytest.raises(ValueError, match=r"Too little text.*Received: 1 consecutive"):
        pairs.nsp_pairs(["Only one. Two."], seed=0)


def test_clear_errors(pair_model, single_model, loaded_pair, tmp_path):
    with pytest.raises(ValueError, match=r"one entry per pair\. Received: 2 texts_a and 1"):
        inputs.encode_pairs(pair_model, ["a", "b"], ["c"])
    with pytest.raises(ValueError, match=r"classifies single texts.*Received: \[\('a', 'b'\)\]"):
        finetune.predict_logits(single_model, [("a", "b")])
    with pytest.raises(ValueError, match=r"classifies single texts.*Received:"):
        finetune.fit(single_model, [("a", "b")] * 2, [0, 1], verbose=0)
    with pytest.raises(ValueError, match=r"classifies sentence pairs.*Received: \['a'\]"):
        finetune.predict_logits(pair_model, ["a", "b"])
    with pytest.raises(ValueError, match=r"needs a sentence-pair model\. Received:"):
        inputs.encode_pairs(single_model, ["a"], ["b"])
    with pytest.raises(ValueError, match=r"must be a \(text_a, text_b\) tuple\. Received: \('a',"):
        finetune.predict_logits(pair_model, [("a", "b"), ("a",)])
    directory = export.save_model(single_model, tmp_path / "single", ["no", "yes"])
    loaded = saved_classifier.load_model(directory)
    assert not loaded.text_pairs
    with pytest.raises(ValueError, match=r"classifies single texts.*Received:"):
        loaded.predict_proba([("a", "b")])
    with pytest.raises(ValueError, match=r"classifies sentence pairs.*Received: \['a'\]"):
        loaded_pair.predict_proba(["a"])
    with pytest.raises(ValueError, match=r"at least 5 tokens\. Received: seq_length=4"):
        classifier.build_classifier(presets.TINY_PRESET, 2, seq_length=4, text_pairs=True)
