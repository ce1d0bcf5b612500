"""Arbitrary Unicode through tokenization, the Keras classifier and an exported model.

Hypothesis builds batches of texts from emoji (with skin tones, ZWJ sequences,
flags), combining marks, control and format characters (NUL, zero-width, RTL
overrides), right-to-left scripts, any code point that is not a surrogate,
empty strings and 10,000-character strings. Nothing may crash; shapes,
masks and probabilities must be right. The tiny preset keeps this fast.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bertkit import export, names, presets
from bertkit.export import saved_classifier
from bertkit.model import classifier
from bertkit.presets import hub as bk_hub
from bertkit.text import inputs, tokens
from bertkit.train import finetune

SEQ_LENGTH = 32
LABELS = ["a", "b", "c"]
LONG = 10_000

EMOJI = st.sampled_from(["🙂", "👍🏽", "👨‍👩‍👧", "🇳🇱", "❤️", "🧪💊"])
COMBINING = st.text(st.characters(categories=["M"]), min_size=1, max_size=6)
CONTROL = st.text(st.characters(categories=["Cc", "Cf"]), min_size=1, max_size=6)
RTL = st.sampled_from(
    ["مرحبا بالعالم", "שלום עולם", "\u202egnp.exe\u202c", "\u200fא\u200e", "دواء"]
)
ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # no lone surrogates
SPACE = st.sampled_from(["", " ", "\t", "\n", "\u3000", "\xa0"])
PIECE = st.one_of(ANY, EMOJI, COMBINING, CONTROL, RTL, SPACE, st.just("good drug"))
SHORT = st.lists(PIECE, max_size=8).map("".join)
LONG_TEXT = st.lists(PIECE.filter(bool), min_size=1, max_size=4).map(
    lambda parts: ("".join(parts) * LONG)[:LONG]
)
TEXT = st.one_of(st.just(""), SHORT, SHORT, SHORT, LONG_TEXT)
BATCH = st.lists(TEXT, min_size=1, max_size=6)

# Long texts are meant to be truncated here; the warning that says so is tested in test_errors.
pytestmark = pytest.mark.filterwarnings("ignore:.*longer than the model's sequence length")

FUZZ = settings(
    max_examples=15,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLES = [
    [""],
    ["\x00", "\u200b\u200d", "\u202e\u202c"],
    ["e\u0301\u0301\u0301", "\u0301"],
    ["👨‍👩‍👧" * (LONG // 8)],
    ["x" * LONG, "مرحبا " * 1000, ""],
    ["good drug", "\ufeff", "\U0010fffd", "\ue000"],
]


def _with_examples(**extra):
    def decorate(test):
        for batch in EXAMPLES:
            test = example(batch=batch, **extra)(test)
        return test

    return decorate


@pytest.fixture(scope="module")
def model(tiny_dir):
    return classifier.build_classifier(presets.TINY_PRESET, len(LABELS), seq_length=SEQ_LENGTH)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    directory = export.save_model(model, tmp_path_factory.mktemp("fuzz") / "model", LABELS)
    return saved_classifier.load_model(directory)


@pytest.fixture(scope="module")
def special(tiny_layers):
    return bk_hub.preprocessor_special_tokens(tiny_layers[0])


@FUZZ
@given(batch=BATCH)
@_with_examples()
def test_tokenization_gives_consistent_inputs(batch, model, tiny_layers, special):
    encoded = inputs.encode_texts(model, batch)
    n = len(batch)
    assert encoded.word_ids.shape == encoded.type_ids.shape == (n, SEQ_LENGTH)
    lengths = encoded.lengths
    assert ((lengths >= 2) & (lengths <= SEQ_LENGTH)).all()
    assert (encoded.word_ids[:, 0] == special["start_of_sequence_id"]).all()
    rows = np.arange(n)
    assert (encoded.word_ids[rows, lengths - 1] == special["end_of_segment_id"]).all()
    padding = np.arange(SEQ_LENGTH)[None, :] >= lengths[:, None]
    assert (encoded.word_ids[padding] == special["padding_id"]).all()
    assert (encoded.word_ids[~padding] != special["padding_id"]).all()
    assert (encoded.word_ids < special["vocab_size"]).all() and (encoded.type_ids == 0).all()

    # The same batch through bertkit.text.tokens: the same ids, a mask that marks the real tokens,
    # and exactly the texts with more than SEQ_LENGTH - 2 wordpieces counted as truncated.
    packed = tokens.pack(tiny_layers[0], batch, seq_length=SEQ_LENGTH)
    np.testing.assert_array_equal(packed[names.INPUT_WORD_IDS], encoded.word_ids)
    np.testing.assert_array_equal(packed[names.INPUT_MASK], (~padding).astype(np.int32))
    pieces = [sum(len(word) for word in text) for text in tokens.wordpieces(tiny_layers[0], batch)]
    np.testing.assert_array_equal(lengths, np.minimum(np.array(pieces) + 2, SEQ_LENGTH))
    assert encoded.num_truncated == sum(p > SEQ_LENGTH - 2 for p in pieces)


@FUZZ
@given(batch=BATCH, batch_size=st.integers(1, 4))
@_with_examples(batch_size=4)
def test_keras_and_exported_predictions_agree_on_any_text(batch, batch_size, model, saved):
    logits = finetune.predict_logits(model, batch, batch_size=batch_size)
    assert logits.shape == (len(batch), len(LABELS)) and np.isfinite(logits).all()

    probabilities = saved.predict_proba(iter(batch), batch_size=batch_size)
    assert probabilities.shape == (len(batch), len(LABELS))
    assert np.isfinite(probabilities).all()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        probabilities, expected / expected.sum(axis=1, keepdims=True), atol=1e-5
    )
    assert 0 <= saved.last_num_truncated <= len(batch)
    assert saved.predict(batch) == [LABELS[i] for i in probabilities.argmax(axis=1)]
