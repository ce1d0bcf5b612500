"""Resumable training: per-epoch checkpoints of weights, optimizer and progress.

A checkpoint directory holds:

    state.json     completed epochs, history so far, early-stopping state, run fingerprint
    epoch-{k}/     tf.train.Checkpoint of the trained model and its optimizer after epoch k
    best.npz       weights of the best epoch by validation loss (what early stopping restores)

Every epoch directory is written under a temp name and renamed; `state.json`
is replaced last and is the only file a resume trusts. So a process killed at
any moment resumes from the last epoch that completed, and a torn write is
never read. The fingerprint (data, model, hyperparameters) guards against
resuming a different run by mistake.

What a resumed run reproduces exactly: the weights and optimizer state
(Adam moments, step count, hence the learning-rate schedule) at the epoch
boundary, the history, early stopping's patience, and the order of the
remaining batches (`inputs.epoch_order` depends only on seed and epoch).
What it does not: the dropout masks of the remaining epochs (random-op state
lives in the process), so resumed metrics match an uninterrupted run only
within run-to-run noise.

Examples:
>>> fingerprint(a=1, b=[2, 3]) == fingerprint(b=[2, 3], a=1)
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit._atomic import TEMP_MARKER, Layout, atomic_dir, atomic_write_text

STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best.npz"
EPOCH_PREFIX = "epoch-"
EPOCH_LAYOUT = Layout(
    "bertkit epoch checkpoint", required=("ckpt.index",), allowed=("ckpt.*", "checkpoint")
)


def fingerprint(**values) -> str:
    """A short stable hash of JSON-able `values` (what identifies a training run)."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def texts_digest(texts, labels) -> str:
    """Hash of the training texts and labels, so a resume never mixes two datasets."""
    digest = hashlib.sha256()
    for text, label in zip(texts, np.asarray(labels).tolist(), strict=True):
        digest.update(str(text).encode("utf-8", "surrogatepass"))
        digest.update(f"\x00{label}\x01".encode())
    return digest.hexdigest()[:16]


def weights_digest(weights) -> str:
    """Hash of a model's weights (`model.get_weights()`): equal only for bit-identical weights.

    Examples:
    >>> weights_digest([np.zeros(2, "float32")]) == weights_digest([np.zeros(2, "float32")])
    True
    >>> weights_digest([np.zeros(2, "float32")]) == weights_digest([np.ones(2, "float32")])
    False
    """
    digest = hashlib.sha256()
    for array in weights:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass
class ResumeState:
    """Progress of an interrupted run, read from `state.json`."""

    epoch: int
    history: dict
    early_stopping: dict | None
    stopped: bool
    fingerprint: str


def load_state(directory: str | os.PathLike, expected_fingerprint: str) -> ResumeState | None:
    """The saved progress in `directory`, or None when there is none.

    Raises:
        ValueError: the checkpoints belong to another run (other data or settings).
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        state = ResumeState(**raw)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"Unreadable training checkpoint state. Received: {str(path)!r} ({err}). "
            "Delete the checkpoint directory to start over."
        ) from err
    if state.fingerprint != expected_fingerprint:
        raise ValueError(
            "The checkpoint directory belongs to a different training run (other data, model "
            f"or hyperparameters). Received: {str(directory)!r}. Re-run the same command to "
            "resume it, delete the directory (CLI: --restart) to start over, or choose another "
            "output."
        )
    if not (Path(directory) / f"{EPOCH_PREFIX}{state.epoch}").is_dir():
        raise ValueError(
            f"Training checkpoint for epoch {state.epoch} is missing. Received: "
            f"{str(directory)!r}. Delete the checkpoint directory to start over."
        )
    return state


def announce_resume(state: ResumeState, epochs: int, directory: str | os.PathLike) -> None:
    """Prints to stderr that a run continues from `directory` (before it restores anything).

    Args:
        state: ResumeState. From `load_state`.
        epochs: int. The run's total number of epochs.
        directory: path. The checkpoint directory.
    """
    if state.stopped or state.epoch >= epochs:
        what = "nothing left to train: restoring the finished run"
    else:
        what = "training the remaining epochs"
    print(
        f"Resuming after epoch {state.epoch} of {epochs} from {directory} ({what}). "
        "Start over instead with resume=False (CLI: --restart).",
        file=sys.stderr,
        flush=True,
    )


def _trackable(model, optimizer) -> tf.train.Checkpoint:
    return tf.train.Checkpoint(model=model, optimizer=optimizer)


def restore(directory: str | os.PathLike, state: ResumeState, model, optimizer) -> None:
    """Loads the weights and optimizer state saved after epoch `state.epoch` into `model`."""
    if hasattr(optimizer, "_create_all_weights"):  # create Adam slots so they restore now
        optimizer._create_all_weights(model.trainable_variables)
    prefix = Path(directory) / f"{EPOCH_PREFIX}{state.epoch}" / "ckpt"
    _trackable(model, optimizer).read(str(prefix)).assert_existing_objects_matched()


def clear(directory: str | os.PathLike) -> None:
    """Deletes a checkpoint directory (after the final model was saved)."""
    shutil.rmtree(directory, ignore_errors=True)


def load_best_weights(directory: str | os.PathLike) -> list[np.ndarray] | None:
    """The best-epoch weights saved for early stopping, or None."""
    path = Path(directory) / BEST_WEIGHTS_FILE
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return [saved[f"w{i}"] for i in range(len(saved.files))]


class ResumableEarlyStopping(tf_keras.callbacks.EarlyStopping):
    """EarlyStopping that starts from a saved state (patience used, best loss, best weights)."""

    def __init__(self, *args, resume_from: dict | None = None, best_weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._resume_from = resume_from
        self._resume_weights = best_weights

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resume_from:
            self.wait = self._resume_from["wait"]
            self.best = self._resume_from["best"]
            self.best_epoch = self._resume_from["best_epoch"]
            self.best_weights = self._resume_weights

    def state(self) -> dict:
        return {"wait": self.wait, "best": float(self.best), "best_epoch": self.best_epoch}


class TrainingCheckpoint(tf_keras.callbacks.Callback):
    """Writes `epoch-{k}/`, `best.npz` and `state.json` after every epoch (see module docs).

    Put it after the EarlyStopping callback so the saved state includes this epoch.

    Args:
        directory: path. The checkpoint directory.
        run_fingerprint: str. From `fingerprint(...)`.
        early_stopping: optional ResumableEarlyStopping. Whose state to save.
        state: optional ResumeState. What earlier processes already trained.
    """

    def __init__(self, directory, run_fingerprint: str, early_stopping=None, state=None):
        super().__init__()
        self.directory = Path(directory)
        self.run_fingerprint = run_fingerprint
        self.early_stopping = early_stopping
        self.history = {k: list(v) for k, v in (state.history if state else {}).items()}
        self.best = state.early_stopping["best"] if state and state.early_stopping else float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.directory.mkdir(parents=True, exist_ok=True)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        epoch_dir = self.directory / f"{EPOCH_PREFIX}{epoch + 1}"
        with atomic_dir(epoch_dir, overwrite=True, layout=EPOCH_LAYOUT) as tmp:
            _trackable(self.model, self.model.optimizer).write(str(tmp / "ckpt"))
        val_loss = logs.get("val_loss")
        if val_loss is not None and val_loss < self.best:
            self.best = float(val_loss)
            self._save_best()
        es = self.early_stopping
        state = ResumeState(
            epoch=epoch + 1,
            history=self.history,
            early_stopping=es.state() if es is not None else None,
            stopped=bool(self.model.stop_training),
            fingerprint=self.run_fingerprint,
        )
        atomic_write_text(self.directory / STATE_FILE, json.dumps(dataclasses.asdict(state)))
        self._remove_old_epochs(keep=epoch + 1)

    def _save_best(self) -> None:
        tmp = self.directory / f"{TEMP_MARKER}{BEST_WEIGHTS_FILE}"
        with open(tmp, "wb") as f:
            np.savez(f, **{f"w{i}": w for i, w in enumerate(self.model.get_weights())})
        os.replace(tmp, self.directory / BEST_WEIGHTS_FILE)

    def _remove_old_epochs(self, keep: int) -> None:
        for path in self.directory.glob(f"{EPOCH_PREFIX}*"):
            if path.name != f"{EPOCH_PREFIX}{keep}":
                shutil.rmtree(path, ignore_errors=True)
