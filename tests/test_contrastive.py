"""Contrastive few-shot training (SetFit): pairs, the pair phase, seeds, resume, CLI and export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tf_keras
from toy_sentiment import LABELS, TEXTS

import bertkit
from bertkit import export, names, presets
from bertkit.apps import cli
from bertkit.text import inputs
from bertkit.train import checkpoints, contrastive, finetune, training_loop

THREE_CLASSES = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1]
RESUME_TOLERANCE = 0.05  # probabilities; measured 0.02 (other dropout masks after a resume)


# Pairs: pure NumPy, no model.


@pytest.mark.parametrize("pairs_per_example", [2, 6])
def test_pairs_pair_every_example_with_its_class_and_with_the_others(pairs_per_example):
    labels = np.array(THREE_CLASSES)
    first, second, target = contrastive.make_pairs(labels, pairs_per_example, seed=3)
    n = len(labels)
    assert first.tolist() == np.repeat(np.arange(n), pairs_per_example).tolist()
    half = pairs_per_example // 2
    assert target.reshape(n, -1).tolist() == [[1.0] * half + [0.0] * half] * n
    same = labels[first] == labels[second]
    assert (same == (target == 1)).all()  # positives share the class, negatives never do
    assert (first != second).all()  # never an example with itself


def test_pairs_depend_on_seed_and_round_only_and_reach_every_partner():
    labels = THREE_CLASSES
    a = contrastive.make_pairs(labels, 2, seed=0, round_index=4)
    b = contrastive.make_pairs(labels, 2, seed=0, round_index=4)
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    other_round = contrastive.make_pairs(labels, 2, seed=0, round_index=5)[1]
    other_seed = contrastive.make_pairs(labels, 2, seed=1, round_index=4)[1]
    assert (other_round != a[1]).any() and (other_seed != a[1]).any()
    seen = set()
    for r in range(200):
        first, second, _ = contrastive.make_pairs(labels, 2, seed=0, round_index=r)
        seen |= set(zip(first.tolist(), second.tolist(), strict=True))
    n = len(labels)
    assert seen == {(i, j) for i in range(n) for j in range(n) if i != j}


def test_pair_batches_cover_each_round_and_point_to_the_pairs(uninterrupted):
    encoded = inputs.encode_texts(uninterrupted[0], TEXTS)
    config = bertkit.TrainConfig.for_strategy("contrastive", pair_iterations=3, batch_size=5)
    batches = list(contrastive.pair_batches(encoded, LABELS, config, 1, 3))
    per_round = inputs.steps_per_epoch(len(TEXTS) * 2, 5)  # 24 pairs: 5 batches a round
    assert len(batches) == 2 * per_round
    assert sum(int(t.shape[0]) for _, t in batches[:per_round]) == len(TEXTS) * 2
    label_of = {tuple(encoded.word_ids[i, : encoded.lengths[i]]): y for i, y in enumerate(LABELS)}
    for (tokens, positions), target in batches:
        assert set(tokens) == set(names.ENCODER_INPUTS)
        ids, mask = tokens["input_word_ids"].numpy(), tokens["input_mask"].numpy()
        rows = [label_of[tuple(row[m == 1])] for row, m in zip(ids, mask, strict=True)]
        assert len(rows) == len({tuple(r) for r in ids})  # every distinct text once
        half = int(target.shape[0])
        first, second = positions.numpy()[:half], positions.numpy()[half:]
        same = [rows[a] == rows[b] for a, b in zip(first, second, strict=True)]
        assert same == (target.numpy()[:, 0] == 1).tolist()


# Refusals, before anything is tokenized or built.


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 0, 0], r"at least 2 classes .* Received: only class 0"),
        ([0, 0, 1, 2, 2], r"a class has a single example\. Received: 1 example of class 1\."),
        ([0, 1, 2, 2], r"Received: 1 example of classes 0, 1\. Give every class at least 2"),
    ],
)
def test_labels_that_cannot_form_pairs_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        contrastive.check_pair_labels(labels)


def test_fit_refuses_a_single_example_class_before_training(uninterrupted, monkeypatch):
    monkeypatch.setattr(inputs, "encode_for_model", None)  # would fail if reached
    with pytest.raises(ValueError, match=r"1 example of class 1"):
        bertkit.fit(uninterrupted[0], ["a", "b", "c"], [0, 0, 1])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(pairs_per_example=3), r"positive even number.*Received: pairs_per_example=3"),
        (dict(pairs_per_example=0), r"Received: pairs_per_example=0"),
        (dict(pair_iterations=0), r"pair_iterations must be a positive integer"),
    ],
)
def test_bad_pair_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        bertkit.TrainConfig.for_strategy("contrastive", **settings).validate()


@pytest.mark.parametrize(
    ("settings", "distribute", "message"),
    [
        (dict(micro_batch_size=4), "none", r"does not split into micro-batches"),
        (dict(jit_compile=True), "none", r"does not compile with XLA"),
        ({}, "mirrored", r"does not split across replicas\. Received: distribute='mirrored'"),
    ],
)
def test_settings_the_pair_phase_cannot_honour_are_refused(settings, distribute, message):
    config = bertkit.TrainConfig.for_strategy("contrastive", **settings)
    with pytest.raises(ValueError, match=message):
        contrastive.check_config(config, distribute)


def test_a_sentence_pair_model_cannot_be_contrastive(tiny_dir):
    with pytest.raises(ValueError, match=r"cannot train a sentence-pair model"):
        bertkit.build_classifier(presets.TINY_PRESET, 2, "contrastive", text_pairs=True)


def test_pair_settings_for_another_strategy_are_refused_by_the_cli(tmp_path, capsys):
    code = cli.main(
        ["train", "--train", str(tmp_path / "x.csv"), "--output", str(tmp_path / "m")]
        + ["--strategy", "full", "--iterations", "5"]
    )
    assert code == 2
    assert "Pair settings only apply to strategy='contrastive'" in capsys.readouterr().err


def test_auto_trains_full_on_more_texts_per_class(tmp_path, monkeypatch):
    from bertkit.apps import training_job

    rows = [f"text number {i},{'ab'[i % 2]}" for i in range(2 * 19)]  # 17 + 2 validation each
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    built = []

    def build(preset, num_classes, strategy, **kwargs):
        built.append(strategy)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(training_job.classifier, "build_classifier", build)
    with pytest.raises(KeyboardInterrupt):
        training_job.train_from_files(tmp_path / "train.csv", tmp_path / "m", verbose=0)
    assert built == ["full"]


def test_auto_trains_full_when_contrastive_cannot_run_with_the_settings():
    from bertkit.apps import training_job

    settings = dict(micro_batch_size=4)
    strategy, why = training_job._choose_strategy(["a", "b"] * 4, "none", settings)
    assert strategy == "full" and why.endswith("trains on whole batches; full instead")
    assert training_job._choose_strategy(["a", "b"] * 4, "none", {})[0] == "contrastive"


# Training.


def _cosines(model, texts, labels):
    """Mean cosine similarity of same-class and of different-class pairs of distinct texts."""
    features = finetune.compute_features(model, inputs.encode_texts(model, texts))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    cos = unit @ unit.T
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return cos[same & off_diagonal].mean(), cos[~same].mean()


class _Interrupted(Exception):
    """What `_StopAtRound` raises: the process dying mid-run."""


class _StopAtRound(tf_keras.callbacks.Callback):
    """Interrupts training when round `at` begins (rounds before it are checkpointed)."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise _Interrupted


def _build(seed=0):
    bertkit.set_seed(seed)
    return bertkit.build_classifier(presets.TINY_PRESET, 2, "contrastive", precision="float32")


def _train(checkpoint_dir, seed=0):
    """`(model, FitResult)` of a deterministic contrastive run on the toy set (6 rounds of
    4 pairs per example)."""
    model = _build(seed)
    config = bertkit.TrainConfig.for_strategy(
        "contrastive",
        pair_iterations=6,
        pairs_per_example=4,
        learning_rate=3e-3,
        seed=seed,
        deterministic=True,
    )
    result = bertkit.fit(
        model, TEXTS, LABELS, config=config, checkpoint_dir=checkpoint_dir, verbose=0
    )
    return model, result


def _pair_history(checkpoint_dir) -> dict:
    state = checkpoints.STATE_FILE
    return json.loads((checkpoint_dir / contrastive.PAIRS_DIR / state).read_text())


def _probabilities(model):
    logits = finetune.predict_logits(model, TEXTS)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def uninterrupted(tiny_dir, tmp_path_factory):
    """`(model, pair-phase state)` of an uninterrupted run (its checkpoints stay on disk)."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    return _train(directory)[0], _pair_history(directory)


def test_pair_phase_lowers_the_loss_and_separates_the_classes(uninterrupted):
    model, state = uninterrupted
    losses = state["history"]["loss"]
    assert len(losses) == state["epoch"] == 6  # one value per round
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2])
    same_before, other_before = _cosines(_build(), TEXTS, LABELS)
    same_after, other_after = _cosines(model, TEXTS, LABELS)
    assert same_after - other_after > (same_before - other_before) + 0.3


def test_interrupted_run_resumes_after_its_last_round_and_same_seed_repeats_it(
    uninterrupted, tmp_path, monkeypatch
):
    real_run = training_loop.run

    def run_then_stop(model, *args, callbacks=None, **kwargs):
        return real_run(model, *args, callbacks=[*(callbacks or []), _StopAtRound(2)], **kwargs)

    monkeypatch.setattr(training_loop, "run", run_then_stop)
    with pytest.raises(_Interrupted):
        _train(tmp_path)
    state = _pair_history(tmp_path)
    assert state["epoch"] == 2  # rounds 1 and 2 done
    # The same seed gives the same pairs and weights: the same losses, to the bit.
    assert state["history"]["loss"] == uninterrupted[1]["history"]["loss"][:2]
    runs = []

    def recording_run(*args, **kwargs):
        runs.append(real_run(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(training_loop, "run", recording_run)
    resumed, result = _train(tmp_path)
    assert [run.initial_epoch for run in runs] == [2, 0]  # pairs resumed, then the head
    assert result.train_seconds == runs[0].train_seconds + runs[1].train_seconds  # both phases
    assert runs[0].history.history["loss"][:2] == state["history"]["loss"]
    assert len(runs[0].history.history["loss"]) == 6
    # The same model up to the dropout masks of rounds 3 to 6: random-op state is not
    # checkpointed (bertkit.train.checkpoints), so they differ from the uninterrupted run's.
    resumed, expected = _probabilities(resumed), _probabilities(uninterrupted[0])
    np.testing.assert_allclose(resumed, expected, atol=RESUME_TOLERANCE)
    assert (resumed.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_cli_trains_contrastive_by_default_on_few_texts_and_predicts(tiny_dir, tmp_path, capsys):
    rows = [f'"{t}",{"pos" if y else "neg"}' for t, y in zip(TEXTS, LABELS, strict=True)]
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(rows * 2) + "\n")
    out = tmp_path / "model"
    args = ["train", "--train", str(tmp_path / "train.csv"), "--preset", presets.TINY_PRESET]
    args += ["--iterations", "2", "--pairs-per-example", "4"]  # --strategy auto, the default
    assert cli.main([*args, "--output", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(printed[-1])
    info = json.loads((out / export.INFO_FILE).read_text())
    assert info["strategy"] == summary["strategy"] == "contrastive"
    assert summary["strategy_choice"] in printed  # said before training, kept in the summary
    assert summary["strategy_choice"].startswith("auto: the smallest class (")
    assert info["truncation"] == summary["truncation"] == "head_tail"  # the CLI's default
    assert (info["config"]["pair_iterations"], info["config"]["pairs_per_example"]) == (2, 4)
    # The export is the raw-string SavedModel of every strategy: predict loads it.
    (tmp_path / "texts.txt").write_text("good movie\nboring\n")
    assert cli.main(["predict", "--model", str(out), "--input", str(tmp_path / "texts.txt")]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [p["text"] for p in predictions] == ["good movie", "boring"]
    for p in predictions:
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-5


def test_pair_phase_pairs_the_windows_of_chunked_texts_with_their_texts_labels(
    tiny_dir, monkeypatch
):
    bertkit.set_seed(0)
    model = bertkit.build_classifier(
        presets.TINY_PRESET, 2, "contrastive", seq_length=8, chunks=2, chunk_overlap=0
    )
    encoded = inputs.encode_texts(model, TEXTS)
    assert len(encoded) > encoded.num_texts  # some texts have two windows
    row_label = {
        tuple(encoded.word_ids[i, : encoded.lengths[i]]): y
        for i, y in enumerate(encoded.by_row(LABELS))
    }
    seen = []
    batches = contrastive.pair_batches

    def checked_batches(encoded, labels, config, first_round, last_round):
        seen.append(len(labels))
        return batches(encoded, labels, config, first_round, last_round)

    monkeypatch.setattr(contrastive, "pair_batches", checked_batches)
    config = bertkit.TrainConfig.for_strategy(
        "contrastive", pair_iterations=2, pairs_per_example=2, batch_size=6
    )
    bertkit.fit(model, TEXTS, LABELS, config=config, verbose=0)
    assert seen == [len(encoded)]  # one label per window
    for (tokens, positions), target in checked_batches(
        encoded, encoded.by_row(LABELS), config, 0, 2
    ):
        ids, mask = tokens["input_word_ids"].numpy(), tokens["input_mask"].numpy()
        rows = [row_label[tuple(row[m == 1])] for row, m in zip(ids, mask, strict=True)]
        half = int(target.shape[0])
        first, second = positions.numpy()[:half], positions.numpy()[half:]
        same = [rows[a] == rows[b] for a, b in zip(first, second, strict=True)]
        assert same == (target.numpy()[:, 0] == 1).tolist()
    assert finetune.predict_logits(model, TEXTS).shape == (len(TEXTS), 2)


def test_pair_phase_refuses_labels_that_do_not_match_the_texts(tiny_dir):
    model = _build()
    encoded = inputs.encode_texts(model, TEXTS)
    config = bertkit.TrainConfig.for_strategy("contrastive", pair_iterations=1)
    with pytest.raises(ValueError, match=f"Received: {len(LABELS) - 1} labels for {len(TEXTS)}"):
        contrastive.train_on_pairs(model, encoded, LABELS[:-1], config)
