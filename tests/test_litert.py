"""LiteRT export: the .tflite tokenizes like the SavedModel, predicts like it, and fails early.

Tolerances, on the tiny random preset (logits of magnitude ~0.1):
- float32 export vs the float32 SavedModel: 1e-5 absolute, float round-off
  between TensorFlow's and XNNPACK's kernels (same weights, same ops).
- float16 export (weights stored as float16, computed in float32): 1e-4
  absolute plus 1% of the largest logit. Each weight is rounded to 11
  significant bits (relative error <= 2**-12 = 2.4e-4); the sums average the
  rounding out, so the observed error is ~1e-4 of the largest logit.
- int8 (dynamic range) export: 5e-3 absolute plus 5% of the largest logit.
  Weights are rounded to 255 levels per output channel and activations to 255
  levels per batch, so every matmul carries ~1% relative error that the layers
  add up; the drug-review macro-F1 comparison (README) is the accuracy check
  that matters, this one only catches a broken conversion.
"""

import doctest
import json
import os

import numpy as np
import pytest

import bertkit
from bertkit import export, presets
from bertkit.apps import cli, training_job
from bertkit.export import litert, litert_pack, litert_serve, saved_classifier
from bertkit.model import classifier
from bertkit.text import text_pairs
from bertkit.train import finetune

TEXTS = ["the job is good", "i love you", "the exam was hard", "", "x " * 300, "Café NAÏVE!"]
LABELS = ["job", "love", "education"]


@pytest.fixture(scope="module")
def saved_dir(tiny_dir, tmp_path_factory):
    model = classifier.build_classifier(
        presets.TINY_PRESET, 3, "partial", unfreeze_top=1, seq_length=64, precision="float32"
    )
    config = bertkit.TrainConfig(epochs=1, batch_size=4, early_stopping_patience=None)
    finetune.fit(model, TEXTS[:3] * 4, [0, 1, 2] * 4, config=config, verbose=0)
    return export.save_model(model, tmp_path_factory.mktemp("litert") / "model", LABELS)


@pytest.fixture(scope="module")
def exports(saved_dir):
    return {q: litert.export_tflite(saved_dir, quantize=q) for q in litert.QUANTIZE}


PAIRS = [
    ("is it raining?", "yes, take an umbrella"),
    ("", "only the second text"),
    ("only the first text", ""),
    ("x " * 40, "short second"),  # A is cut
    ("short first", "y " * 40),  # B is cut
    ("x " * 40, "y " * 40),  # both are cut
    ("", ""),
]
PAIR_TRUNCATED = [False, False, False, True, True, True, False]


@pytest.fixture(scope="module")
def pair_model(tiny_dir, tmp_path_factory):
    """A float32 sentence-pair model (seq_length 32, so PAIRS 3-5 are cut): `(model, saved, tflite)`."""
    model = classifier.build_classifier(
        presets.TINY_PRESET, 2, "freeze", text_pairs=True, seq_length=32, precision="float32"
    )
    saved = export.save_model(model, tmp_path_factory.mktemp("pairs") / "pairs", ["no", "yes"])
    return model, saved, litert.export_tflite(saved, quantize="none")


def test_in_model_tokenizer_gives_the_preprocessor_ids(saved_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "freeze", seq_length=64)
    packer = litert_pack.packer_for(model)
    texts = [*TEXTS, "Hello, World! It's 3.5mg/day -- (don't) stop", "résumé ÉCOLE Straße"]
    ours, _, truncated = packer(np.array(texts, dtype=object))
    theirs = model.text_to_inputs(np.array(texts, dtype=object))
    width = ours["input_word_ids"].shape[1]
    assert width == 64  # the "x " * 300 text fills seq_length
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy()[:, :width])
    assert truncated.numpy().tolist() == [False] * 4 + [True] + [False] * 3
    litert_pack.check_tokenizer_parity(packer, model.text_to_inputs.preprocessor)  # no raise


def test_in_model_pair_packing_gives_the_preprocessor_ids(pair_model):
    model = pair_model[0]
    packer = litert_pack.packer_for(model)
    texts_a, texts_b = (np.array(s, dtype=object) for s in zip(*PAIRS, strict=True))
    ours, _, truncated = packer(texts_a, texts_b)
    theirs = model.text_to_inputs([texts_a, texts_b])
    width = ours["input_word_ids"].shape[1]
    assert width == 32  # the cut pairs fill seq_length
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy()[:, :width])
    assert truncated.numpy().tolist() == PAIR_TRUNCATED
    preprocessor = model.text_to_inputs.preprocessor
    litert_pack.check_tokenizer_parity(packer, preprocessor, text_pairs=True)  # no raise
    cased = litert_pack.Packer(packer.vocab, False, packer.special, packer.seq_length)
    with pytest.raises(ValueError, match="does not reproduce"):
        litert_pack.check_tokenizer_parity(cased, preprocessor, text_pairs=True)


def test_tokenizer_parity_check_catches_a_casing_mismatch(tiny_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "freeze", seq_length=64)
    packer = litert_pack.packer_for(model)
    cased = litert_pack.Packer(packer.vocab, False, packer.special, packer.seq_length)
    with pytest.raises(ValueError, match="does not reproduce"):
        litert_pack.check_tokenizer_parity(cased, model.text_to_inputs.preprocessor)


def test_float_export_logits_match_the_saved_model(saved_dir, exports):
    expected = saved_classifier.load_model(saved_dir)(TEXTS)
    lite = litert_serve.load_model(exports["none"])
    out = lite(TEXTS)
    np.testing.assert_allclose(out["logits"], expected["logits"], atol=1e-5)
    assert out["label"].tolist() == expected["label"].tolist()
    assert out["truncated"].tolist() == [False] * 4 + [True, False]
    assert lite.label_names == LABELS


def test_float16_export_halves_the_weights_and_predicts_like_float32(saved_dir, exports):
    saved = saved_classifier.load_model(saved_dir)
    expected = saved(TEXTS)
    out = litert_serve.load_model(exports["float16"])(TEXTS)
    tolerance = 1e-4 + 0.01 * np.abs(expected["logits"]).max()
    np.testing.assert_allclose(out["logits"], expected["logits"], rtol=0, atol=tolerance)
    assert out["label"].tolist() == expected["label"].tolist()
    # Each weight takes 2 bytes instead of 4. The tiny preset's file is mostly graph and
    # vocabulary, so compare the bytes saved with the weights' bytes, not whole files.
    weights = sum(int(np.prod(v.shape)) for v in saved._loaded.model.token_model.variables)
    saved_bytes = exports["none"].stat().st_size - exports["float16"].stat().st_size
    assert 0.9 * 2 * weights <= saved_bytes <= 1.1 * 2 * weights
    assert json.loads(litert.sidecar_path(exports["float16"]).read_text())["quantize"] == "float16"


def test_int8_export_is_smaller_and_close_to_float(saved_dir, exports):
    expected = saved_classifier.load_model(saved_dir)(TEXTS)["logits"]
    out = litert_serve.load_model(exports["int8"])(TEXTS)["logits"]
    tolerance = 5e-3 + 0.05 * np.abs(expected).max()
    assert np.abs(out - expected).max() <= tolerance
    assert exports["int8"].stat().st_size < exports["none"].stat().st_size


def test_predict_and_evaluate_accept_a_tflite_with_the_same_output(saved_dir, exports, tmp_path):
    from_saved = [json.loads(x) for x in training_job.predict_lines(saved_dir, TEXTS)]
    from_lite = [json.loads(x) for x in training_job.predict_lines(exports["none"], TEXTS)]
    assert [r["label"] for r in from_lite] == [r["label"] for r in from_saved]
    assert [list(r["probabilities"]) for r in from_lite] == [
        list(r["probabilities"]) for r in from_saved
    ]
    data = tmp_path / "eval.csv"
    data.write_text(
        "text,label\nthe job is good,job\ni love you,love\nthe exam was hard,education\n"
    )
    a = training_job.evaluate_files(saved_dir, data)
    b = training_job.evaluate_files(exports["none"], data)
    assert (a["accuracy"], a["macro_f1"]) == (b["accuracy"], b["macro_f1"])


def test_lite_predict_proba_counts_truncated_texts_and_keeps_the_order(exports):
    lite = litert_serve.load_model(exports["none"])
    with pytest.warns(UserWarning, match="1 of 6 texts"):
        probs = lite.predict_proba(TEXTS, batch_size=2)
    assert lite.last_num_truncated == 1
    np.testing.assert_allclose(probs, lite(TEXTS)["probabilities"], atol=1e-6)
    assert lite.predict_proba([]).shape == (0, 3)


def test_bad_arguments_fail_before_the_model_is_loaded(saved_dir, exports, monkeypatch, tmp_path):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(saved_classifier, "load_model", never)
    with pytest.raises(ValueError, match="Unknown quantization"):
        litert.export_tflite(saved_dir, quantize="int4")
    with pytest.raises(FileExistsError, match="already exists"):
        litert.export_tflite(saved_dir, exports["int8"], quantize="int8")
    with pytest.raises(ValueError, match="must end in .tflite"):
        litert.export_tflite(saved_dir, tmp_path / "model.bin")
    with pytest.raises(FileNotFoundError, match="Not a bertkit model directory"):
        litert.export_tflite(tmp_path, tmp_path / "m.tflite")
    theirs = tmp_path / "theirs.tflite"
    theirs.write_bytes(b"someone else's model")
    with pytest.raises(FileExistsError, match="not a bertkit LiteRT export"):
        litert.export_tflite(saved_dir, theirs, overwrite=True)
    assert theirs.read_bytes() == b"someone else's model"


def test_missing_sidecar_and_corrupt_file_are_clear_errors(exports, tmp_path):
    alone = tmp_path / "alone.tflite"
    alone.write_bytes(exports["int8"].read_bytes())
    with pytest.raises(FileNotFoundError, match="sidecar"):
        litert_serve.load_model(alone)
    litert.sidecar_path(alone).write_text(litert.sidecar_path(exports["int8"]).read_text())
    alone.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="corrupt"):
        litert_serve.load_model(alone)


def test_pair_export_predicts_like_the_pair_saved_model(pair_model):
    _, saved_dir, path = pair_model
    saved, lite = saved_classifier.load_model(saved_dir), litert_serve.load_model(path)
    expected = saved._serve_with_truncation(*saved._inputs(PAIRS).values())
    out = lite(PAIRS)
    np.testing.assert_allclose(out["logits"], expected["logits"].numpy(), atol=1e-5)
    assert out["truncated"].tolist() == expected["truncated"].numpy().tolist() == PAIR_TRUNCATED
    assert lite.text_pairs and json.loads(litert.sidecar_path(path).read_text())["text_pairs"]
    pairs = text_pairs.TextPairs([a for a, _ in PAIRS], [b for _, b in PAIRS])
    with pytest.warns(UserWarning, match="3 of 7 texts"):
        probs = lite.predict_proba(pairs, batch_size=3)
    np.testing.assert_allclose(probs, out["probabilities"], atol=1e-6)
    assert lite.last_num_truncated == 3
    for model in (saved, lite):
        with pytest.raises(ValueError, match="classifies sentence pairs, but got single texts"):
            model.predict(["one text"])


def test_cli_export_writes_the_model_and_its_sidecar(saved_dir, tmp_path, capsys):
    output = tmp_path / "cli.tflite"
    code = cli.main(
        ["export", "--model", str(saved_dir), "--quantize", "int8", "--output", str(output)]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(output)
    assert json.loads(litert.sidecar_path(output).read_text())["labels"] == LABELS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


def test_loading_prints_no_interpreter_log_noise(exports, capfd):
    litert_serve.load_model(exports["int8"]).predict(["a text"])
    assert "XNNPACK" not in capfd.readouterr().err


def test_quiet_native_logs_prints_the_held_text_when_something_fails(capfd):
    with pytest.raises(RuntimeError), litert.quiet_native_logs():
        os.write(2, b"why it failed\n")
        raise RuntimeError("conversion failed")
    assert "why it failed" in capfd.readouterr().err


def test_docstring_examples_run(tiny_dir):
    for module in (litert, litert_pack):
        results = doctest.testmod(module)
        assert results.attempted > 0 and results.failed == 0, module.__name__
