"""LiteRT export: the .tflite tokenizes like the SavedModel, predicts like it, and fails early.

Tolerances, on the tiny random preset (logits of magnitude ~0.1):
- float32 export vs the float32 SavedModel: 1e-5 absolute, float round-off
  between TensorFlow's and XNNPACK's kernels (same weights, same ops).
- int8 (dynamic range) export: 5e-3 absolute plus 5% of the largest logit.
  Weights are rounded to 255 levels per output channel and activations to 255
  levels per batch, so every matmul carries ~1% relative error that the layers
  add up; the drug-review macro-F1 comparison (README) is the accuracy check
  that matters, this one only catches a broken conversion.
"""

import json
import os

import numpy as np
import pytest

from bertkit import classifier, cli, export, finetune, litert, litert_serve, presets, training_job

TEXTS = ["the job is good", "i love you", "the exam was hard", "", "x " * 300, "Café NAÏVE!"]
LABELS = ["job", "love", "education"]


@pytest.fixture(scope="module")
def saved_dir(tiny_dir, tmp_path_factory):
    model = classifier.build_classifier(
        presets.TINY_PRESET, 3, "partial", unfreeze_top=1, seq_length=64, precision="float32"
    )
    config = finetune.TrainConfig(epochs=1, batch_size=4, early_stopping_patience=None)
    finetune.fit(model, TEXTS[:3] * 4, [0, 1, 2] * 4, config=config, verbose=0)
    return export.save_model(model, tmp_path_factory.mktemp("litert") / "model", LABELS)


@pytest.fixture(scope="module")
def exports(saved_dir):
    return {q: litert.export_tflite(saved_dir, quantize=q) for q in ("none", "int8")}


def test_in_model_tokenizer_gives_the_preprocessor_ids(saved_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "freeze", seq_length=64)
    packer = litert._packer_for(model)
    texts = [*TEXTS, "Hello, World! It's 3.5mg/day -- (don't) stop", "résumé ÉCOLE Straße"]
    ours, truncated = packer(np.array(texts, dtype=object))
    theirs = model.text_to_inputs(np.array(texts, dtype=object))
    width = ours["input_word_ids"].shape[1]
    assert width == 64  # the "x " * 300 text fills seq_length
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy()[:, :width])
    assert truncated.numpy().tolist() == [False] * 4 + [True] + [False] * 3
    litert.check_tokenizer_parity(packer, model.text_to_inputs.preprocessor)  # does not raise


def test_tokenizer_parity_check_catches_a_casing_mismatch(saved_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "freeze", seq_length=64)
    packer = litert._packer_for(model)
    cased = litert._Packer(packer.vocab, False, packer.special, packer.seq_length)
    with pytest.raises(ValueError, match="does not reproduce"):
        litert.check_tokenizer_parity(cased, model.text_to_inputs.preprocessor)


def test_float_export_logits_match_the_saved_model(saved_dir, exports):
    expected = export.load_model(saved_dir)(TEXTS)
    lite = litert_serve.load_model(exports["none"])
    out = lite(TEXTS)
    np.testing.assert_allclose(out["logits"], expected["logits"], atol=1e-5)
    assert out["label"].tolist() == expected["label"].tolist()
    assert out["truncated"].tolist() == [False] * 4 + [True, False]
    assert lite.label_names == LABELS


def test_int8_export_is_smaller_and_close_to_float(saved_dir, exports):
    expected = export.load_model(saved_dir)(TEXTS)["logits"]
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

    monkeypatch.setattr(export, "load_model", never)
    with pytest.raises(ValueError, match="Unknown quantization"):
        litert.export_tflite(saved_dir, quantize="int4")
    with pytest.raises(FileExistsError, match="already exists"):
        litert.export_tflite(saved_dir, exports["int8"], quantize="int8")
    with pytest.raises(ValueError, match="must end in .tflite"):
        litert.export_tflite(saved_dir, tmp_path / "model.bin")
    with pytest.raises(FileNotFoundError, match="Not a bertkit model directory"):
        litert.export_tflite(tmp_path, tmp_path / "m.tflite")


def test_missing_sidecar_and_corrupt_file_are_clear_errors(exports, tmp_path):
    alone = tmp_path / "alone.tflite"
    alone.write_bytes(exports["int8"].read_bytes())
    with pytest.raises(FileNotFoundError, match="sidecar"):
        litert_serve.load_model(alone)
    litert.sidecar_path(alone).write_text(litert.sidecar_path(exports["int8"]).read_text())
    alone.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="corrupt"):
        litert_serve.load_model(alone)


def test_pair_models_are_refused_with_a_clear_error(tiny_dir, tmp_path):
    model = classifier.build_classifier(presets.TINY_PRESET, 2, "freeze", text_pairs=True)
    saved = export.save_model(model, tmp_path / "pairs", ["no", "yes"])
    with pytest.raises(ValueError, match="sentence-pair"):
        litert.export_tflite(saved)
    assert not list(tmp_path.glob("*.tflite*"))


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
