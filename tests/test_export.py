"""Saved models serve raw strings, reload without bertkit, and give identical predictions."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from crafted_model import file_writing_model

import bertkit
from bertkit import export, presets
from bertkit.export import litert_serve, saved_classifier
from bertkit.model import classifier
from bertkit.presets import trust
from bertkit.text.labels import LabelEncoder
from bertkit.train import finetune

TEXTS = ["the job is good", "i love you", "the exam was hard", "", "x" * 3000, "貓追狗 🙂"]


@pytest.fixture(scope="module")
def trained(tiny_dir):
    model = classifier.build_classifier(presets.TINY_PRESET, 3, "partial", unfreeze_top=1)
    config = bertkit.TrainConfig(epochs=1, batch_size=4, early_stopping_patience=None)
    finetune.fit(model, TEXTS[:3] * 4, [0, 1, 2] * 4, config=config, verbose=0)
    return model


def test_round_trip_gives_identical_predictions(trained, tmp_path):
    directory = export.save_model(
        trained, tmp_path / "model", ["job", "love", "education"], info={"x": 1}
    )
    assert json.loads((directory / "labels.json").read_text()) == ["job", "love", "education"]
    # One labels format: the training LabelEncoder reads what save_model wrote.
    assert LabelEncoder.load(directory / "labels.json").classes == ["job", "love", "education"]
    assert json.loads((directory / "bertkit_model.json").read_text())["strategy"] == "partial"
    loaded = saved_classifier.load_model(directory)
    expected = finetune.predict_logits(trained, TEXTS)
    out = loaded(TEXTS)
    np.testing.assert_allclose(out["logits"], expected, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-6)
    assert [x.decode() for x in out["label"]] == [loaded.label_names[i] for i in expected.argmax(1)]
    assert loaded.predict(TEXTS) == [loaded.label_names[i] for i in expected.argmax(1)]


def test_reloads_with_tensorflow_and_tensorflow_text_only(trained, tmp_path):
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    expected = finetune.predict_logits(trained, TEXTS)
    code = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        f"serve = tf.saved_model.load({str(directory)!r}).signatures['serving_default']\n"
        f"out = serve(text=tf.constant({TEXTS!r}))\n"
        "print(json.dumps(out['logits'].numpy().tolist()))\n"
        "print('bertkit' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    logits, imported = result.stdout.strip().splitlines()[-2:]
    np.testing.assert_allclose(np.array(json.loads(logits)), expected, atol=1e-5)
    assert imported == "False"


def test_missing_and_corrupt_model_dirs_are_clear_errors(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="Not a bertkit model directory"):
        saved_classifier.load_model(tmp_path / "nothing")
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    (directory / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        saved_classifier.load_model(directory)


def test_failed_overwrite_keeps_the_old_model(trained, tmp_path, monkeypatch):
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    before = saved_classifier.load_model(directory)(TEXTS)["logits"]

    def crash(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(export.tf.saved_model, "save", crash)
    with pytest.raises(OSError, match="No space left"):
        export.save_model(trained, directory, ["x", "y", "z"], overwrite=True)
    monkeypatch.undo()
    after = saved_classifier.load_model(directory)
    assert after.label_names == ["a", "b", "c"]
    np.testing.assert_array_equal(after(TEXTS)["logits"], before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_label_names_must_match_outputs(trained, tmp_path):
    with pytest.raises(ValueError, match="one name per class.*2 names for a model with 3 outputs"):
        export.save_model(trained, tmp_path / "m", ["a", "b"])


def test_length_sorted_prediction_keeps_the_input_order(trained, tmp_path):
    loaded = saved_classifier.load_model(
        export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    )
    rng = np.random.default_rng(0)
    texts = [" ".join(["good job love exam"] * int(n)) for n in rng.integers(0, 40, 50)]
    expected = finetune.predict_logits(trained, texts)
    expected = np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True)
    # Windows of 4 batches of 3 (sorted by length), a plain loop, and a generator agree.
    sorted_probs = loaded.predict_proba(texts, batch_size=3, sort_window=4)
    np.testing.assert_allclose(sorted_probs, expected, atol=1e-5)
    np.testing.assert_allclose(
        loaded.predict_proba(iter(texts), 7, sort_window=1), sorted_probs, atol=1e-5
    )
    assert loaded.last_num_truncated == sum(len(t.split()) > 128 - 2 for t in texts) > 0
    with pytest.raises(ValueError, match="sort_window must be a positive integer.*sort_window=0"):
        loaded.predict_proba(texts, sort_window=0)


def test_length_sorted_batches_group_similar_lengths():
    batches = saved_classifier._length_sorted_batches(["aaaa", "b", "cc", "ddd", ("x", "yyyy")], 2)
    assert [b.tolist() for b in batches] == [[1, 2], [3, 0], [4]]


def test_overwrite_refuses_a_directory_holding_user_files(trained, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "train.csv").write_text("text,label\nhi,a\n")
    (project / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="did not write.*notes.txt, train.csv"):
        export.save_model(trained, project, ["a", "b", "c"], overwrite=True)
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "train.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no temp dir left


def test_overwrite_refuses_a_model_directory_with_a_user_file_added(trained, tmp_path):
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    (directory / "results.csv").write_text("mine")
    with pytest.raises(FileExistsError, match="holding results.csv"):
        export.save_model(trained, directory, ["a", "b", "c"], overwrite=True)
    (directory / "results.csv").unlink()
    export.save_model(trained, directory, ["x", "y", "z"], overwrite=True)
    assert saved_classifier.load_model(directory).label_names == ["x", "y", "z"]


def test_overwrite_refuses_a_regular_file(trained, tmp_path):
    target = tmp_path / "model"
    target.write_text("precious")
    with pytest.raises(FileExistsError, match="is a file, not a directory"):
        export.save_model(trained, target, ["a", "b", "c"], overwrite=True)
    assert target.read_text() == "precious"


def test_duplicate_class_names_are_refused(trained, tmp_path):
    with pytest.raises(ValueError, match=r"distinct.*\['a'\] repeated"):
        export.save_model(trained, tmp_path / "m", ["a", "b", "a"])
    assert not (tmp_path / "m").exists()


def test_labels_json_that_disagrees_with_the_saved_model_is_refused(trained, tmp_path):
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    for edited in (["c", "b", "a"], ["a", "b"]):
        (directory / "labels.json").write_text(json.dumps(edited))
        with pytest.raises(ValueError, match="does not match the class names saved inside"):
            saved_classifier.load_model(directory)


@pytest.mark.parametrize("labels", [["a"], {"labels": ["a", "b"]}, ["a", "a"]])
def test_both_loaders_read_class_names_with_the_one_reader(labels, tmp_path):
    # Class names are checked before TensorFlow reads the model, so placeholders do.
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "saved_model.pb").write_bytes(b"")
    (model_dir / "labels.json").write_text(json.dumps(labels))
    lite = tmp_path / "model.int8.tflite"
    lite.write_bytes(b"")
    litert_serve.sidecar_path(lite).write_text(json.dumps({"labels": labels}))
    wanted = "must hold the class names as a JSON list of at least 2 distinct, non-empty strings"
    with pytest.raises(ValueError, match=rf"^The model's labels\.json \('.*'\) {wanted}"):
        saved_classifier.load_model(model_dir)
    with pytest.raises(ValueError, match=rf"^The sidecar's 'labels' \('.*'\) {wanted}"):
        litert_serve.load_model(lite)


def test_model_path_that_is_a_file_says_it_is_a_file(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\n")
    with pytest.raises(FileNotFoundError, match="it is a file"):
        saved_classifier.load_model(path)


def test_model_that_writes_files_is_refused_unless_trusted(tmp_path):
    leak = tmp_path / "leak.txt"
    directory = file_writing_model(tmp_path / "model", leak)
    with pytest.raises(trust.UntrustedModelError, match="WriteFile.*trust_model=True"):
        saved_classifier.load_model(directory).predict(["secret"])
    assert not leak.exists()
    assert saved_classifier.load_model(directory, trust_model=True).predict(["secret"]) == ["a"]
    assert leak.read_text() == "secret"


def test_exported_model_passes_the_trust_scan(trained, tmp_path):
    directory = export.save_model(trained, tmp_path / "model", ["a", "b", "c"])
    assert trust.scan(directory) == []


def test_a_model_with_nan_weights_is_not_saved(tmp_path):
    model = classifier.build_classifier(presets.TINY_PRESET, 2, "freeze")
    kernel = model.head.get_layer("logits").kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))  # as a diverged run leaves it
    with pytest.raises(ValueError, match=r"NaN or infinite weights .* Received: 1 non-finite"):
        export.save_model(model, tmp_path / "model", ["a", "b"])
    assert list(tmp_path.iterdir()) == []
