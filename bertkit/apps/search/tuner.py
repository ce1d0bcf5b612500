"""The grid search itself: KerasTuner's grid oracle, trials trained by `bertkit.train.finetune.fit`.

KerasTuner provides the search machinery: `keras_tuner.oracles.GridSearchOracle`
enumerates the cells and records every trial (`trial.json` files under
`directory`), and a `BaseTuner` subclass runs each trial. KerasTuner's
Keras-specific `Tuner` cannot be used: KerasTuner 1.4 drives Keras 3, and
bertkit's models are Keras 2 (`tf_keras`), which its `Tuner` rejects
("Expected ... to return a valid Keras Model instance"). `BaseTuner` is
KerasTuner's model-agnostic tuner (the one its scikit-learn tuner uses): the
trial only has to return its metrics.

Examples:
>>> result = grid_search(
...     "tiny_random_en_uncased", ["good", "bad"] * 4, [1, 0] * 4, (["fine", "awful"], [1, 0]),
...     num_classes=2, grid={"batch_size": [4], "learning_rate": [1e-4], "epochs": [1]},
...     directory=tempfile.mkdtemp())  # doctest: +SKIP
>>> list(result.results.columns)  # doctest: +SKIP
['batch_size', 'learning_rate', 'epochs', 'val_accuracy', 'val_macro_f1', 'val_loss', 'seconds']
>>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, "freeze")
>>> sorted(validation_scores(model, ["good", "bad"], [1, 0]))
['val_accuracy', 'val_loss', 'val_macro_f1']
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import keras_tuner
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "bertkit.apps.search needs KerasTuner. Install it with `pip install keras-tuner==1.4.*`."
    ) from error

from bertkit import evaluate
from bertkit.apps.search.grid import (
    BERT_README_GRID,
    GRID_KEYS,
    METRICS,
    RESULT_COLUMNS,
    best_index,
    check_metric,
    grid_cells,
    validate_grid,
)
from bertkit.model.classifier import build_classifier
from bertkit.train import finetune, preflight
from bertkit.train.config import TrainConfig


def validation_scores(model, texts, label_ids) -> dict[str, float]:
    """`val_accuracy`, `val_macro_f1` and `val_loss` (mean cross-entropy) of `model` on texts.

    The loss is unweighted, like Keras' `val_loss`; the class weights only
    shape training.
    """
    label_ids = np.asarray(label_ids, dtype=np.int64)
    logits = finetune.predict_logits(model, texts)
    num_classes = logits.shape[-1]
    metrics = evaluate.classification_metrics(
        label_ids, logits.argmax(axis=-1), [str(c) for c in range(num_classes)]
    )
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = float(-log_probs[np.arange(len(label_ids)), label_ids].mean())
    return {
        "val_accuracy": float(metrics["accuracy"]),
        "val_macro_f1": float(metrics["macro_f1"]),
        "val_loss": loss,
    }


class FitTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """A KerasTuner tuner whose trials train through `bertkit.train.finetune.fit`.

    `build_model()` is called once; each trial resets that model to its
    initial weights (`fresh_model`), trains it with `config` updated by the
    trial's `batch_size`, `learning_rate` and `epochs`, and returns its
    validation scores (`validation_scores`). Trained weights are not kept:
    retrain the best configuration.
    """

    def __init__(self, oracle, build_model, config, directory, project_name, verbose=0):
        super().__init__(oracle, directory=directory, project_name=project_name, overwrite=True)
        self.build_model = build_model
        self.config = config
        self.verbose = verbose
        self.histories = {}
        self.seconds = {}
        self._model = None
        self._initial_weights = None

    def fresh_model(self):
        """The model with the weights it was built with (built on the first call).

        Every cell starts from the same pretrained encoder and the same head
        initialisation; reusing one model also saves loading the SavedModels
        and retracing the tokenizer for every cell.
        """
        if self._model is None:
            self._model = self.build_model()
            self._initial_weights = [w.numpy() for w in self._model.weights]
        else:
            for weight, value in zip(self._model.weights, self._initial_weights, strict=True):
                weight.assign(value)
        return self._model

    def run_trial(self, trial, train_texts, train_labels, validation, verbose=None):
        """Trains one cell with `finetune.fit`; returns its validation scores."""
        values = {key: trial.hyperparameters.get(key) for key in GRID_KEYS}
        config = dataclasses.replace(self.config, **values)
        try:
            model = self.fresh_model()
            start = time.perf_counter()
            fitted = finetune.fit(
                model,
                train_texts,
                train_labels,
                validation=validation,
                config=config,
                verbose=2 if self.verbose >= 2 else 0,
            )
            scores = validation_scores(model, *validation)
        except Exception as error:
            raise keras_tuner.errors.FatalError(
                f"Grid cell {values} failed: {type(error).__name__}: {error}"
            ) from error
        self.histories[trial.trial_id] = fitted.history.history
        self.seconds[trial.trial_id] = time.perf_counter() - start
        return scores

    def on_trial_end(self, trial):
        """Records the trial; raises if it failed (KerasTuner would retry it silently)."""
        super().on_trial_end(trial)
        if trial.status != keras_tuner.engine.trial.TrialStatus.COMPLETED:
            raise RuntimeError(
                f"Grid cell {trial.hyperparameters.values} failed. Received: status "
                f"{trial.status}:\n{trial.message}\nFix the error above and search again."
            )
        if self.verbose >= 1:
            values = trial.hyperparameters.values
            metric = self.oracle.objective.name
            print(
                f"cell {len(self.seconds)}/{self.oracle.max_trials}: batch {values['batch_size']}, "
                f"lr {values['learning_rate']:g}, epochs {values['epochs']} -> {metric} "
                f"{trial.metrics.get_last_value(metric):.3f} "
                f"({self.seconds[trial.trial_id]:.0f}s)",
                flush=True,
            )


@dataclasses.dataclass
class SearchResult:
    """What `grid_search` found.

    Attributes:
        results: pandas DataFrame. One row per grid cell, in grid order, with
            `RESULT_COLUMNS` (`seconds`: wall time of training and validating
            the cell; building the model, once per search, is not counted).
        best: dict. `batch_size`, `learning_rate`, `epochs` of the best cell.
        metric: str. The metric `best` was chosen by.
        histories: list of dict. Keras history of each row (per-epoch loss,
            accuracy, val_loss, val_accuracy).
        directory: Path. KerasTuner's project directory (trial records).
        tuner: FitTuner. The KerasTuner tuner, e.g. for `results_summary()`.
    """

    results: pd.DataFrame
    best: dict
    metric: str
    histories: list
    directory: Path
    tuner: FitTuner = dataclasses.field(repr=False)

    @property
    def best_row(self) -> pd.Series:
        """The results row of the best cell."""
        return self.results.loc[best_index(self.results, self.metric)]


def grid_search(
    preset: str | os.PathLike,
    train_texts: Sequence[str],
    train_labels,
    validation: tuple,
    num_classes: int,
    *,
    directory: str | os.PathLike,
    grid: Mapping = BERT_README_GRID,
    strategy: str = "full",
    unfreeze_top: int = 2,
    classifier_kwargs: Mapping | None = None,
    config: TrainConfig | None = None,
    metric: str = "val_macro_f1",
    project_name: str = "grid_search",
    verbose: int = 0,
) -> SearchResult:
    """Trains one classifier per grid cell and scores each on the validation split.

    Args:
        preset: str. Preset name or encoder directory for `build_classifier`.
        train_texts: list of str. Training texts.
        train_labels: array-like of int. Class ids in `[0, num_classes)`.
        validation: `(texts, label_ids)`. Scores every cell (and drives early
            stopping if `config` enables it).
        num_classes: int. Number of classes.
        directory: path. Where KerasTuner writes its trial records (a temp or
            cache directory; `directory/project_name` is replaced if it exists).
        grid: dict. `batch_size`, `learning_rate` and `epochs` lists; defaults
            to `BERT_README_GRID` (60 cells: hours on a CPU). Pass a smaller one.
        strategy: str. `"freeze"`, `"partial"` or `"full"`.
        unfreeze_top: int. Top layers to train with `strategy="partial"`.
        classifier_kwargs: optional dict. More `build_classifier` arguments
            (`pooling`, `dropout`, `seq_length`).
        config: optional TrainConfig. Everything but the grid's three values;
            defaults to `TrainConfig.for_strategy(strategy)` without early
            stopping, so that `epochs` means what it says.
        metric: str. `"val_macro_f1"` (default), `"val_accuracy"` or `"val_loss"`.
        project_name: str. Sub-directory of `directory`.
        verbose: int. 0 silent, 1 one line per cell, 2 also KerasTuner's and
            Keras' progress output.

    Returns:
        SearchResult with the `results` table and the `best` cell.
    """
    cells = grid_cells(grid)
    check_metric(metric)
    if directory is None:
        raise ValueError(
            "directory must be set. Received: directory=None. Pass a temp or cache "
            "directory, e.g. tempfile.mkdtemp(); KerasTuner writes its trial records there."
        )
    kwargs = dict(classifier_kwargs or {})
    planned = preflight.PlannedModel(num_classes, bool(kwargs.get("text_pairs", False)))
    train_texts, train_labels = preflight.check_examples(planned, train_texts, train_labels)
    val_texts, val_labels = preflight.check_examples(
        planned, *preflight.split_validation(validation), name="Validation"
    )
    if config is None:
        config = dataclasses.replace(
            TrainConfig.for_strategy(strategy), early_stopping_patience=None
        )
    for cell in cells:  # fail before any training
        dataclasses.replace(config, **cell).validate()

    def build_model():
        return build_classifier(
            preset, num_classes, strategy=strategy, unfreeze_top=unfreeze_top, **kwargs
        )

    hyperparameters = keras_tuner.HyperParameters()
    for key, values in validate_grid(grid).items():
        hyperparameters.Choice(key, list(values), ordered=False)
    oracle = keras_tuner.oracles.GridSearchOracle(
        objective=keras_tuner.Objective(metric, direction=METRICS[metric]),
        hyperparameters=hyperparameters,
        max_trials=len(cells),
    )
    tuner = FitTuner(
        oracle,
        build_model,
        config,
        directory=str(Path(directory).expanduser()),
        project_name=project_name,
        verbose=verbose,
    )
    tuner.search(train_texts, train_labels, (val_texts, val_labels), verbose=verbose >= 2)
    return _collect(tuner, cells, metric)


def _collect(tuner: FitTuner, cells: list[dict], metric: str) -> SearchResult:
    """Reads the finished trials back from the oracle into a table in grid order."""
    by_cell = {}
    for trial_id, trial in tuner.oracle.trials.items():
        values = {key: trial.hyperparameters.get(key) for key in GRID_KEYS}
        status = str(trial.status)
        if "COMPLETED" not in status:
            raise RuntimeError(
                f"Grid cell {values} did not complete. Received: status {status}, message "
                f"{trial.message!r}. Fix the error above and search again."
            )
        row = dict(values)
        row.update({name: trial.metrics.get_last_value(name) for name in METRICS})
        row["seconds"] = tuner.seconds[trial_id]
        by_cell[tuple(values.values())] = (row, tuner.histories[trial_id])
    missing = [cell for cell in cells if tuple(cell.values()) not in by_cell]
    if missing:
        raise RuntimeError(
            f"KerasTuner ran {len(by_cell)} of {len(cells)} grid cells. Received: missing "
            f"{missing}. Search again in a fresh directory."
        )
    rows, histories = zip(*(by_cell[tuple(cell.values())] for cell in cells), strict=True)
    results = pd.DataFrame(list(rows), columns=list(RESULT_COLUMNS))
    best = results.loc[best_index(results, metric), list(GRID_KEYS)].to_dict()
    best = {
        "batch_size": int(best["batch_size"]),
        "learning_rate": float(best["learning_rate"]),
        "epochs": int(best["epochs"]),
    }
    return SearchResult(
        results=results,
        best=best,
        metric=metric,
        histories=list(histories),
        directory=Path(tuner.project_dir),
        tuner=tuner,
    )
