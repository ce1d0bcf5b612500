"""Handle resolution (name, URL, directory, cache), loading, and the match check."""

import shutil
import time

import pytest
import tensorflow as tf
import tensorflow_hub as hub

import bertkit
from bertkit import names, presets
from bertkit.presets import converter, local_presets
from bertkit.presets import hub as bk_hub

URL = "https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-2_H-128_A-2/2"


def test_resolve_preset_name_gives_built_dirs(tiny_dir):
    assert bertkit.resolve(presets.TINY_PRESET) == tiny_dir / "encoder"
    assert bertkit.resolve(presets.TINY_PRESET, "preprocessor") == tiny_dir / "preprocessor"


def test_resolve_local_directory(tiny_dir):
    assert bertkit.resolve(tiny_dir) == tiny_dir / "encoder"  # preset dir: picks the part
    assert bertkit.resolve(tiny_dir / "preprocessor") == tiny_dir / "preprocessor"


def test_missing_and_non_savedmodel_dirs_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bertkit.resolve(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="has no saved_model.pb"):
        bertkit.resolve(tmp_path)


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BERTKIT_CACHE_DIR", str(tmp_path / "bk"))
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    assert bk_hub.tfhub_cache_dir() == tmp_path / "bk" / "tfhub_modules"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hubcache"))
    assert bk_hub.module_cache_path(URL).parent == tmp_path / "hubcache"


def test_cached_url_loads_offline_where_tensorflow_hub_looks(monkeypatch, tmp_path, tiny_dir):
    """A module already in $TFHUB_CACHE_DIR loads by URL with the network disabled."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(bk_hub, "_host_reachable", lambda *a, **k: pytest.fail("network used"))
    cached = bk_hub.module_cache_path(URL)
    shutil.copytree(tiny_dir / "encoder", cached)
    (tmp_path / f"{cached.name}.descriptor.txt").write_text(f"Module: {URL}\n")
    assert bertkit.resolve(URL) == cached
    # tensorflow_hub's own resolver agrees on where the module lives.
    assert hub.resolve(URL) == str(cached)
    encoder = bertkit.load_encoder(URL)
    inputs = {k: tf.zeros((1, 4), tf.int32) for k in names.ENCODER_INPUTS}
    assert encoder(inputs)[names.POOLED_OUTPUT].shape == (1, 32)


def test_remote_handle_without_network_fails_fast_and_names_offline_presets(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(bk_hub, "_host_reachable", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(bertkit.OfflineError) as info:
        bertkit.load_encoder("small_bert_en_uncased_l2_h128")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "tfhub.dev is not reachable" in message
    assert presets.DEFAULT_PRESET in message and presets.TINY_PRESET in message


def test_network_probe_gives_up_quickly_on_unresolvable_host():
    start = time.monotonic()
    assert bk_hub._host_reachable("bertkit-test.invalid") is False
    assert time.monotonic() - start < bk_hub.NETWORK_TIMEOUT_SECONDS + 2


def test_load_gives_matching_keras_layers(tiny_layers):
    preprocessor, encoder = tiny_layers
    batch = preprocessor(tf.constant(["the job is good", "love"]))
    assert sorted(batch) == sorted(names.ENCODER_INPUTS)
    assert batch[names.INPUT_WORD_IDS].shape == (2, 128)
    outputs = encoder(batch)
    assert outputs[names.SEQUENCE_OUTPUT].shape == (2, 128, 32)
    assert len(outputs[names.ENCODER_OUTPUTS]) == 2
    assert not encoder.trainable and encoder.trainable_weights == []


def test_vocabulary_mismatch_is_a_clear_error(tiny_layers, default_dir):
    tiny_preprocessor, _ = tiny_layers
    default_encoder = bertkit.load_encoder(presets.DEFAULT_PRESET)
    with pytest.raises(ValueError, match="does not match the encoder.*512 tokens.*30522 rows"):
        bk_hub.check_match(tiny_preprocessor, default_encoder)


def test_casing_mismatch_is_a_clear_error(tiny_dir, tiny_layers, tmp_path):
    _, encoder = tiny_layers
    converter.save_preprocessor(tmp_path / "cased", tiny_dir / "vocab.txt", do_lower_case=False)
    cased = bertkit.load_preprocessor(tmp_path / "cased")
    with pytest.raises(ValueError, match="lower-cases text and the other does not"):
        bk_hub.check_match(cased, encoder)


def test_trainable_encoder_exposes_weights(tiny_dir):
    encoder = bertkit.load_encoder(presets.TINY_PRESET, trainable=True)
    assert len(encoder.trainable_weights) > 10
    assert local_presets.is_built(presets.TINY_PRESET)
