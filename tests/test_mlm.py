"""Tests for MLM: masking statistics (bertkit.tasks.masking), the tied head (bertkit.tasks.mlm_model),
training and saving (bertkit.tasks.mlm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

import bertkit
from bertkit import names, presets
from bertkit.presets import hub as bk_hub
from bertkit.tasks import masking, mlm, mlm_model

TEXTS = [
    "the drug is good and the pain is gone",
    "bad side effects every day for a week",
    "my doctor said the drug would help with the pain",
    "i love this drug it is the best",
] * 4


@pytest.fixture(scope="module")
def config():
    return masking.MaskingConfig.from_preprocessor(presets.TINY_PRESET, max_predictions=12)


def synthetic_batch(config, rows=3000, length=48, seed=0):
    """[CLS] regular tokens [SEP] [PAD]... rows with random real lengths, and their input_mask."""
    rng = np.random.default_rng(seed)
    vocab = bertkit.text.tokens.vocabulary(presets.TINY_PRESET)
    cls_id, sep_id = vocab.index(names.CLS_TOKEN), vocab.index(names.SEP_TOKEN)
    ids = np.full((rows, length), config.pad_id, np.int32)
    mask = np.zeros((rows, length), np.int32)
    for r in range(rows):
        n = int(rng.integers(0, length - 1))  # regular tokens in this row
        ids[r, 0] = cls_id
        ids[r, 1 : n + 1] = rng.choice(config.replacement_ids, size=n)
        ids[r, n + 1] = sep_id
        mask[r, : n + 2] = 1
    return ids, mask


def binomial_tolerance(p, n, sigmas=4.0):
    return sigmas * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def masked(config):
    ids, mask = synthetic_batch(config)
    out = {k: v.numpy() for k, v in masking.mask_tokens(ids, 7, config, input_mask=mask).items()}
    return ids, mask, out


def selected_matrix(out, shape):
    selected = np.zeros(shape, bool)
    rows, slots = np.nonzero(out[masking.MASKED_LM_WEIGHTS] > 0)
    selected[rows, out[masking.MASKED_LM_POSITIONS][rows, slots]] = True
    return selected


def test_config_from_vocabulary_excludes_bracketed_tokens(config):
    vocab = bertkit.text.tokens.vocabulary(presets.TINY_PRESET)
    assert config.mask_id == vocab.index("[MASK]") == 4
    assert set(config.unselectable_ids) == {
        i for i, t in enumerate(vocab) if len(t) > 2 and t[0] == "[" and t[-1] == "]"
    }
    assert not set(config.unselectable_ids) & set(config.replacement_ids.tolist())
    assert len(config.unselectable_ids) + len(config.replacement_ids) == config.vocab_size == 512


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(mask_rate=1.5), "mask_rate must be in"),
        (dict(mask_token_rate=0.9, random_token_rate=0.2), "must be <= 1"),
        (dict(max_predictions=0), "max_predictions must be a positive integer"),
    ],
)
def test_config_rejects_bad_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        masking.MaskingConfig.from_preprocessor(presets.TINY_PRESET, **overrides)


def test_selected_fraction_is_15_percent(masked, config):
    ids, mask, out = masked
    selectable = (mask == 1) & ~np.isin(ids, config.unselectable_ids)
    n = selectable.sum()
    fraction = out[masking.MASKED_LM_WEIGHTS].sum() / n
    assert abs(fraction - 0.15) < binomial_tolerance(0.15, n), fraction
    # Per row: floor or ceil of 0.15 n (unbiased random rounding), never above the cap.
    per_row = out[masking.MASKED_LM_WEIGHTS].sum(axis=1)
    expected = 0.15 * selectable.sum(axis=1)
    assert np.all(per_row >= np.floor(expected)) and np.all(per_row <= np.ceil(expected))
    assert per_row.max() <= config.max_predictions


def test_specials_and_padding_are_never_selected(masked, config):
    ids, mask, out = masked
    selected = selected_matrix(out, ids.shape)
    assert selected.sum() == out[masking.MASKED_LM_WEIGHTS].sum()  # positions are distinct
    assert not np.any(selected & (mask == 0))
    assert not np.any(selected & np.isin(ids, config.unselectable_ids))
    # Unselected tokens are untouched; labels are the original ids.
    corrupted = out[names.INPUT_WORD_IDS]
    assert np.array_equal(corrupted[~selected], ids[~selected])
    used = out[masking.MASKED_LM_WEIGHTS] > 0
    originals = np.take_along_axis(ids, out[masking.MASKED_LM_POSITIONS], axis=1)
    assert np.array_equal(out[masking.MASKED_LM_IDS][used], originals[used])
    assert np.all(out[masking.MASKED_LM_IDS][~used] == 0)
    assert np.all(out[masking.MASKED_LM_POSITIONS][~used] == 0)
    slots = np.arange(config.max_predictions)
    positions = np.where(used, out[masking.MASKED_LM_POSITIONS], 10**6 + slots)
    assert np.all(np.diff(positions, axis=1) > 0)  # ascending, used slots first


def test_80_10_10_split(masked, config):
    ids, _, out = masked
    selected = selected_matrix(out, ids.shape)
    before, after = ids[selected], out[names.INPUT_WORD_IDS][selected]
    n = selected.sum()
    r = len(config.replacement_ids)  # a random token equals the original with prob. 1/r
    observed = {
        "mask": np.mean(after == config.mask_id),
        "random": np.mean((after != config.mask_id) & (after != before)),
        "unchanged": np.mean(after == before),
    }
    expected = {"mask": 0.8, "random": 0.1 * (1 - 1 / r), "unchanged": 0.1 + 0.1 / r}
    for key, p in expected.items():
        assert abs(observed[key] - p) < binomial_tolerance(p, n), (key, observed[key])
    random_ids = after[(after != config.mask_id) & (after != before)]
    assert not np.isin(random_ids, config.unselectable_ids).any()


def test_same_seed_same_masks_other_seed_other_masks(config):
    ids, mask = synthetic_batch(config, rows=64)

    def run(seed):
        out = masking.mask_tokens(ids, seed, config, input_mask=mask)
        return np.concatenate([out[names.INPUT_WORD_IDS], out[masking.MASKED_LM_POSITIONS]], 1)

    assert np.array_equal(run(3), run(3))
    assert np.array_equal(run((3, 9)), run(tf.constant([3, 9])))
    assert not np.array_equal(run(3), run(4))


def test_cap_and_short_batches(config):
    capped = masking.MaskingConfig.from_preprocessor(presets.TINY_PRESET, max_predictions=2)
    ids, mask = synthetic_batch(capped, rows=50, length=40)
    out = masking.mask_tokens(ids, 0, capped, input_mask=mask)
    assert out[masking.MASKED_LM_WEIGHTS].numpy().sum(axis=1).max() == 2
    # Sequences shorter than max_predictions still give max_predictions slots.
    short = masking.mask_tokens(tf.constant([[2, 50, 60, 3]]), 0, config)
    assert short[masking.MASKED_LM_POSITIONS].shape == (1, config.max_predictions)
    assert short[masking.MASKED_LM_WEIGHTS].numpy().sum() in (0, 1)  # floor(0.3 + u)


def test_dataset_masks_each_batch_differently_and_reproducibly(config):
    model_inputs = bertkit.text.inputs.EncodedTexts(
        word_ids=np.tile(np.array([[2] + list(range(50, 80)) + [3]], np.int32), (8, 1)),
        type_ids=np.zeros((8, 32), np.int32),
        lengths=np.full(8, 32, np.int32),
    )

    def batches(seed):
        ds = masking.mlm_dataset(
            model_inputs, config, batch_size=4, seed=seed, shuffle=False, epochs=2
        )
        return [f[names.INPUT_WORD_IDS].numpy() for f, _, _ in ds]

    first = batches(0)
    assert len(first) == 4  # 2 batches x 2 epochs
    assert all(np.array_equal(a, b) for a, b in zip(first, batches(0), strict=True))
    assert not np.array_equal(first[0], first[1])  # same texts, another batch: other masks
    assert not np.array_equal(first[0], first[2])  # next epoch: fresh masks
    assert not np.array_equal(first[0], batches(1)[0])
    _, labels, weights = next(iter(masking.mlm_dataset(model_inputs, config, 4, shuffle=False)))
    # Loss weights average 1 per slot, so Keras' mean over slots = mean over masked tokens.
    assert np.isclose(weights.numpy().mean(), 1.0)
    assert labels.shape == weights.shape == (4, config.max_predictions)


@pytest.fixture()
def tiny_model():
    return mlm_model.MLMModel(presets.TINY_PRESET, seq_length=16, max_predictions=4)


def test_the_mlm_model_is_a_class_with_its_fields_and_config(tiny_model):
    # Fields are set in __init__ and read directly; nothing is patched on afterwards.
    assert isinstance(tiny_model, mlm_model.MLMModel)
    assert (tiny_model.seq_length, tiny_model.masking.max_predictions) == (16, 4)
    assert tiny_model.text_to_inputs.seq_length == 16
    assert tiny_model.preprocessor_dir.name == names.PREPROCESSOR_DIR
    config = tiny_model.get_config()
    assert config["preset"] == presets.TINY_PRESET and config["train_encoder"] is True
    mlm.train_mlm(tiny_model, TEXTS[:4], train_encoder=False)
    assert tiny_model.train_encoder is False  # read from the encoder, so never stale
    rebuilt = mlm_model.MLMModel.from_config(tiny_model.get_config())
    assert rebuilt.get_config() == tiny_model.get_config()
    assert rebuilt.output_shape == tiny_model.output_shape == (None, 4, 512)


def test_head_output_matrix_is_the_embedding_variable(tiny_model):
    embeddings = mlm_model.find_word_embeddings(tiny_model.encoder.variables)
    assert tiny_model.head.embeddings is embeddings
    head_ids = {id(w) for w in tiny_model.head.weights}
    assert id(embeddings) not in head_ids  # owned by the encoder, not duplicated in the head
    # The logits use the live variable: h @ E^T + b, also after E changes.
    hidden = tf.random.stateless_normal((2, 1, 32), seed=(1, 2))
    embeddings.assign(embeddings + 0.5)
    h = tiny_model.head.layer_norm(tiny_model.head.transform(hidden))
    expected = tf.matmul(h, embeddings, transpose_b=True) + tiny_model.head.output_bias
    np.testing.assert_allclose(tiny_model.head.project(hidden), expected, atol=1e-5)


def test_head_only_training_freezes_encoder_full_training_moves_embeddings(tiny_model):
    embeddings = mlm_model.find_word_embeddings(tiny_model.encoder.variables)
    encoder_before = [v.numpy().copy() for v in tiny_model.encoder.variables]
    head_before = [w.numpy().copy() for w in tiny_model.head.trainable_weights]
    history = mlm.train_mlm(tiny_model, TEXTS, epochs=3, train_encoder=False, learning_rate=1e-2)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    for before, var in zip(encoder_before, tiny_model.encoder.variables, strict=True):
        assert np.array_equal(before, var.numpy()), var.name
    assert all(
        not np.array_equal(b, w.numpy())
        for b, w in zip(head_before, tiny_model.head.trainable_weights, strict=True)
    )
    table_before = embeddings.numpy().copy()
    history = mlm.train_mlm(tiny_model, TEXTS, epochs=2, train_encoder=True, learning_rate=1e-3)
    assert set(history) == {"loss", "masked_accuracy"} and len(history["loss"]) == 2
    assert not np.array_equal(table_before, embeddings.numpy())


def test_masked_accuracy_improves_when_the_head_learns(tiny_model):
    before = mlm_model.masked_accuracy(tiny_model, TEXTS)
    mlm.train_mlm(tiny_model, TEXTS * 4, epochs=4, train_encoder=True, learning_rate=3e-3)
    after = mlm_model.masked_accuracy(tiny_model, TEXTS)
    assert before["num_masked"] == after["num_masked"] > 0  # same seed, same masks
    assert 0 <= after["top1"] <= after["top5"] <= 1
    assert after["top5"] > before["top5"]


def test_predict_masked(tiny_model):
    results = mlm_model.predict_masked(
        tiny_model, "the [MASK] is good and the [mask] is gone", top_k=3
    )
    assert len(results) == 2 and all(len(r) == 3 for r in results)
    for candidates in results:
        probs = [p for _, p in candidates]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
        assert not any(token.startswith("[") for token, _ in candidates)
    with pytest.raises(ValueError, match="has no \\[MASK\\] token"):
        mlm_model.predict_masked(tiny_model, "no mask here")


def test_continue_pretraining_saves_an_encoder_build_classifier_accepts(tiny_model, tmp_path):
    out = mlm.continue_pretraining(tiny_model, TEXTS, tmp_path / "adapted", epochs=1, head_epochs=1)
    assert sorted(p.name for p in out.iterdir()) == ["bertkit.json", "encoder", "preprocessor"]
    record = mlm.read_metadata(out)
    assert record["base"] == presets.TINY_PRESET
    assert len(record["mlm"]["history"]["loss"]) == 1
    assert len(record["mlm"]["head_history"]["loss"]) == 1

    # The saved encoder computes what the trained in-memory encoder computes.
    preprocessor, encoder = bertkit.load(out)
    batch = preprocessor(tf.constant(["the drug is good", "bad side effects"]))
    np.testing.assert_allclose(
        encoder(batch)[names.SEQUENCE_OUTPUT],
        tiny_model.encoder(batch, training=False)[names.SEQUENCE_OUTPUT],
        atol=1e-5,
    )
    original = bk_hub.load_encoder(presets.TINY_PRESET)(batch)[names.SEQUENCE_OUTPUT]
    assert not np.allclose(encoder(batch)[names.SEQUENCE_OUTPUT], original, atol=1e-4)

    classifier = bertkit.build_classifier(out, num_classes=3, strategy="full")
    assert classifier(tf.constant(["the drug is good"])).shape == (1, 3)
    with pytest.raises(FileExistsError, match="already exists"):
        mlm.continue_pretraining(tiny_model, TEXTS, out, epochs=1, head_epochs=0)


@pytest.mark.slow
def test_default_preset_masking_config_matches_its_preprocessor(default_dir):
    config = masking.MaskingConfig.from_preprocessor(default_dir)
    special = bk_hub.preprocessor_special_tokens(bertkit.load_preprocessor(default_dir))
    assert config.mask_id == special["mask_id"] == 103
    assert config.vocab_size == special["vocab_size"] == 30522
    for key in ("start_of_sequence_id", "end_of_segment_id", "padding_id", "mask_id"):
        assert special[key] in config.unselectable_ids


def test_masked_accuracy_grades_the_same_tokens_every_call():
    model = mlm_model.MLMModel(presets.TINY_PRESET)
    texts = ["the drug is good and the pain is gone", "bad side effects", "i love this job"] * 6
    first = mlm_model.masked_accuracy(model, texts)
    second = mlm_model.masked_accuracy(model, texts)
    assert first == second and first["num_masked"] > 0


def test_train_mlm_refuses_a_non_finite_learning_rate_and_stops_on_nan_loss(tiny_model):
    from bertkit.train import preflight

    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        mlm.train_mlm(tiny_model, TEXTS, learning_rate=float("inf"))
    # 1e38 is finite, so accepted, but overflows the head's logits.
    with pytest.raises(preflight.NonFiniteLossError, match="Received: learning_rate=1e\\+38"):
        mlm.train_mlm(tiny_model, TEXTS, epochs=3, train_encoder=False, learning_rate=1e38)


def test_train_mlm_refuses_one_string_instead_of_training_on_its_characters(tiny_model):
    with pytest.raises(TypeError, match="not one string"):
        mlm.train_mlm(tiny_model, "the drug is good and the pain is gone")
