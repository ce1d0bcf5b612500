"""Interrupted training resumes, and the same seed gives the same model (CLI, real processes).

Tolerance for resumed vs uninterrupted metrics: the resumed run restores the
weights, Adam state, schedule, history, early stopping and batch order exactly,
but dropout masks after the interruption come from a fresh process. So metrics
agree within RESUME_TOLERANCE (validation accuracy and loss), not bit for bit.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bertkit import presets
from bertkit.apps import training_job
from bertkit.export import saved_classifier
from bertkit.train import checkpoints

RESUME_TOLERANCE = 0.1
EPOCHS = 6


def _train_command(train_csv, output, *extra):
    return [
        sys.executable,
        "-m",
        "bertkit",
        "train",
        "--train",
        str(train_csv),
        "--preset",
        presets.TINY_PRESET,
        "--strategy",
        "full",
        "--epochs",
        str(EPOCHS),
        "--batch-size",
        "8",
        "--learning-rate",
        "1e-3",
        "--output",
        str(output),
        *extra,
    ]


def _run(command, stderr: list | None = None):
    """Runs `command`; returns its final JSON line (its stderr appended to `stderr` if given)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    if stderr is not None:
        stderr.append(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory, tiny_dir):
    frame = pd.read_csv(os.path.join(os.path.dirname(__file__), "..", "data", "topics.csv"))
    path = tmp_path_factory.mktemp("resume") / "train.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def uninterrupted(train_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "model"
    return out, _run(_train_command(train_csv, out))


def _state_epoch(directory) -> int:
    try:
        return json.loads((directory / checkpoints.STATE_FILE).read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def test_killed_training_resumes_to_a_complete_model(train_csv, uninterrupted, tmp_path):
    out = tmp_path / "model"
    ckpt = training_job.checkpoint_dir(out)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        _train_command(train_csv, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 600
        while _state_epoch(ckpt) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "training finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)  # no cleanup handlers run: like a lost Colab VM
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = _state_epoch(ckpt)
    assert 2 <= killed_at < EPOCHS
    assert not out.exists()  # nothing half-written where the model goes

    stderr = []
    summary = _run(_train_command(train_csv, out), stderr)
    assert summary["resumed_after_epoch"] == killed_at
    # It says so when it starts, not only in the final JSON.
    assert f"Resuming after epoch {killed_at} of {EPOCHS} from {ckpt}" in stderr[0]
    assert summary["epochs_run"] == uninterrupted[1]["epochs_run"]
    assert not ckpt.exists()  # checkpoints are removed once the model is saved
    model = saved_classifier.load_model(out)
    probs = model.predict_proba(["stocks fell sharply", "the team won the final"])
    assert probs.shape == (2, len(summary["classes"]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for key in ("validation_accuracy", "validation_macro_f1"):
        assert abs(summary[key] - uninterrupted[1][key]) <= RESUME_TOLERANCE, key


def test_same_seed_gives_identical_models(train_csv, uninterrupted, tmp_path):
    first_dir, first = uninterrupted
    second = _run(_train_command(train_csv, tmp_path / "again"))
    for key in ("validation_accuracy", "validation_macro_f1", "epochs_run"):
        assert second[key] == first[key], key
    texts = ["stocks fell sharply", "the team won the final", "a new vaccine trial"]
    np.testing.assert_array_equal(
        saved_classifier.load_model(first_dir).predict_proba(texts),
        saved_classifier.load_model(tmp_path / "again").predict_proba(texts),
    )


def test_checkpoints_of_another_run_are_not_resumed(train_csv, tmp_path):
    out = tmp_path / "model"
    ckpt = training_job.checkpoint_dir(out)
    ckpt.mkdir()
    (ckpt / checkpoints.STATE_FILE).write_text(
        json.dumps(
            {
                "epoch": 1,
                "history": {},
                "early_stopping": None,
                "stopped": False,
                "fingerprint": "another-run",
            }
        )
    )
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    result = subprocess.run(_train_command(train_csv, out), capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "belongs to a different training run" in result.stderr
    assert "--restart" in result.stderr
    summary = _run(_train_command(train_csv, out, "--restart", "--epochs", "1"))
    assert summary["resumed_after_epoch"] == 0
