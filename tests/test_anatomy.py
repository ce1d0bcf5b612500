"""bertkit.model.anatomy on the tiny random preset: embeddings, attention and contextual vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

import bertkit
from bertkit import names
from bertkit.model import anatomy
from bertkit.text import tokens

TEXTS = ["good movie", "the worst day at work, and a bad boss"]


@pytest.fixture(scope="module")
def inspectable(tiny_layers):
    return anatomy.InspectableEncoder(tiny_layers[1])


@pytest.fixture(scope="module")
def batch(tiny_layers):
    """Two texts of different lengths, so the shorter one is padded."""
    return tokens.pack(tiny_layers[0], TEXTS, seq_length=16)


def test_inspectable_encoder_reproduces_the_saved_model(tiny_layers, inspectable, batch):
    expected = tiny_layers[1](batch)
    got = inspectable(batch)
    for layer in range(2):
        np.testing.assert_allclose(
            got[names.ENCODER_OUTPUTS][layer], expected[names.ENCODER_OUTPUTS][layer], atol=1e-5
        )
    np.testing.assert_allclose(got[names.POOLED_OUTPUT], expected[names.POOLED_OUTPUT], atol=1e-5)


def test_embedding_sum_matches_the_encoders_embedding_output(tiny_layers, inspectable, batch):
    parts = anatomy.embed(anatomy.embedding_tables(tiny_layers[1]), batch)
    np.testing.assert_allclose(
        parts["output"], inspectable(batch)[anatomy.EMBEDDING_OUTPUT], atol=1e-5
    )
    np.testing.assert_allclose(parts["sum"], parts["token"] + parts["position"] + parts["segment"])
    # LayerNorm: every position's vector has mean ~beta's mean and is not the raw sum.
    assert not np.allclose(parts["output"], parts["sum"], atol=1e-3)


def test_embedding_tables_have_the_encoders_shapes(tiny_layers):
    tables = anatomy.embedding_tables(tiny_layers[1])
    assert tables["token"].shape == (512, 32)
    assert tables["position"].shape == (512, 32)
    assert tables["segment"].shape == (2, 32)
    assert tables["gamma"].shape == tables["beta"].shape == (32,)


def test_embed_rejects_inputs_longer_than_the_position_table(tiny_layers):
    tables = anatomy.embedding_tables(tiny_layers[1])
    too_long = {names.INPUT_WORD_IDS: np.zeros((1, 513), np.int32)}
    too_long[names.INPUT_TYPE_IDS] = too_long[names.INPUT_WORD_IDS]
    with pytest.raises(ValueError, match="longer than the position table"):
        anatomy.embed(tables, too_long)


def test_attention_rows_sum_to_one_and_padding_gets_none(inspectable, batch):
    mask = batch[names.INPUT_MASK]
    for probs in inspectable(batch)[anatomy.ATTENTION_PROBS]:
        probs = probs.numpy()
        assert probs.shape == (2, 2, 16, 16)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
        padded = mask[:, None, None, :] == 0
        assert np.abs(np.where(padded, probs, 0.0)).max() < 1e-6


def test_attention_is_the_softmax_of_queries_times_keys(tiny_layers, inspectable, batch):
    """Layer 0's probabilities recomputed in NumPy from the embedding output and Q/K weights."""
    weights = {
        v.name.split("/", 1)[1].split(":")[0]: v.numpy()
        for v in tiny_layers[1].variables
        if "/" in v.name  # not the do_lower_case flag
    }
    x = anatomy.embed(anatomy.embedding_tables(tiny_layers[1]), batch)["output"]
    prefix = "transformer/layer_0/self_attention/"
    q = np.einsum("bth,hnd->bntd", x, weights[prefix + "query/kernel"])
    q += weights[prefix + "query/bias"][None, :, None, :]
    k = np.einsum("bth,hnd->bntd", x, weights[prefix + "key/kernel"])
    k += weights[prefix + "key/bias"][None, :, None, :]
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    scores = np.where(batch[names.INPUT_MASK][:, None, None, :] == 1, scores, -1e9)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    got = inspectable(batch)[anatomy.ATTENTION_PROBS][0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_attention_maps_cover_the_real_tokens_only(tiny_layers, inspectable):
    words, probs = anatomy.attention_maps(tiny_layers[0], inspectable, "good movie", layer=-1)
    assert words == ["[CLS]", "good", "movie", "[SEP]"]
    assert probs.shape == (2, 4, 4)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("layer", [2, -3])
def test_attention_maps_reject_a_layer_the_encoder_lacks(tiny_layers, layer):
    with pytest.raises(ValueError, match=r"layer must be in \[0, 2\)"):
        anatomy.attention_maps(tiny_layers[0], tiny_layers[1], "good movie", layer=layer)


def test_same_word_gets_different_vectors_in_different_contexts(tiny_layers):
    preprocessor, encoder = tiny_layers
    texts = ["good movie", "a good day at work", "good movie"]
    vectors = anatomy.contextual_vectors(preprocessor, encoder, texts, "good")
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-5)  # same context, same vector
    cosine = vectors[0] @ vectors[1] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1])
    assert cosine < 0.99
    # The table lookup, by contrast, is the same row in every context.
    token_parts = anatomy.embed(anatomy.embedding_tables(encoder), tokens.pack(preprocessor, texts))
    np.testing.assert_array_equal(token_parts["token"][0, 1], token_parts["token"][1, 2])


def test_contextual_vectors_average_a_words_wordpieces(tiny_layers):
    preprocessor, encoder = tiny_layers
    assert tokens.wordpieces(preprocessor, ["xq"]) == [[["x", "##q"]]]
    vector = anatomy.contextual_vectors(preprocessor, encoder, ["good xq movie"], "xq")
    out = encoder(
        {
            k: tf.constant(v)
            for k, v in tokens.pack(preprocessor, ["good xq movie"], seq_length=6).items()
        }
    )
    np.testing.assert_allclose(
        vector[0], out[names.SEQUENCE_OUTPUT][0, 2:4].numpy().mean(0), atol=1e-5
    )


@pytest.mark.parametrize(
    ("texts", "word", "message"),
    [
        (["good movie", "bad day"], "good", "must contain the word"),
        (["good movie"], "good movie", "single word"),
    ],
)
def test_contextual_vectors_reject_a_missing_or_multi_word(tiny_layers, texts, word, message):
    with pytest.raises(ValueError, match=message):
        anatomy.contextual_vectors(*tiny_layers, texts, word)


def test_architecture_table_adds_up_to_the_presets_parameter_count(tiny_layers):
    table = anatomy.architecture_table(tiny_layers[1])
    total = sum(v.shape.num_elements() for v in tiny_layers[1].variables if v.dtype.is_floating)
    assert (
        int(table["parameters"].sum())
        == total
        == bertkit.get_preset(bertkit.TINY_PRESET).num_parameters
    )
    assert (table["per_layer"] * table["layers"] == table["parameters"]).all()
    assert table.loc[table["block"] == "transformer layer", "layers"].eq(2).all()


def test_draw_architecture_names_the_encoders_size(tiny_layers):
    import matplotlib

    matplotlib.use("Agg")
    fig = anatomy.draw_architecture(anatomy.encoder_config(tiny_layers[1]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert fig.axes[0].get_title() == "BERT encoder: L=2, H=32, A=2"
    assert "x 2 layers" in texts and any("512 x 32" in t for t in texts)
