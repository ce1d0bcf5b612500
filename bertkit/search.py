"""Grid search over batch size, learning rate and epochs, driven by KerasTuner.

The grid is the one the BERT authors fine-tuned their compact models with
(google-research/bert README: batch sizes 8-128, learning rates 3e-4 to 3e-5;
epochs 2, 3, 4 as in the BERT paper, appendix A.3). Every cell builds a fresh
`build_classifier` model (pretrained weights, same head initialisation) and
trains it with `bertkit.finetune.fit`, so tokenization, the warmup + decay
schedule and the class weights are exactly those of every other bertkit run.
Cells are scored on a validation split, never on a test set.

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
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

try:
    import keras_tuner
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "bertkit.search needs KerasTuner. Install it with `pip install keras-tuner==1.4.*`."
    ) from error

from bertkit import evaluate, finetune, preflight
from bertkit.classifier import build_classifier

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The hyperparameters a grid sets, in column order.
GRID_KEYS = ("batch_size", "learning_rate", "epochs")

#: google-research/bert README (compact models): batch sizes and learning rates;
#: epochs 2-4 from the BERT paper's fine-tuning recipe. 5 x 4 x 3 = 60 cells.
BERT_README_GRID = {
    "batch_size": (8, 16, 32, 64, 128),
    "learning_rate": (3e-4, 1e-4, 5e-5, 3e-5),
    "epochs": (2, 3, 4),
}

#: Validation metrics a search can select by, and whether larger is better.
METRICS = {"val_accuracy": "max", "val_macro_f1": "max", "val_loss": "min"}

#: Columns of `SearchResult.results`.
RESULT_COLUMNS = (*GRID_KEYS, *METRICS, "seconds")


def validate_grid(grid: Mapping) -> dict[str, tuple]:
    """Checks a grid and returns it as `{key: tuple of values}` in `GRID_KEYS` order.

    Args:
        grid: dict. `batch_size` (positive ints), `learning_rate` (positive
            numbers) and `epochs` (positive ints), each a non-empty list of
            distinct values.

    Examples:
    >>> validate_grid({"batch_size": [16, 32], "learning_rate": [1e-4], "epochs": [2]})
    {'batch_size': (16, 32), 'learning_rate': (0.0001,), 'epochs': (2,)}
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            f"The grid is empty. Received: grid={grid!r}. Pass a dict with the keys "
            f"{list(GRID_KEYS)}, e.g. bertkit.search.BERT_README_GRID."
        )
    unknown = sorted(set(grid) - set(GRID_KEYS))
    missing = [key for key in GRID_KEYS if key not in grid]
    if unknown or missing:
        raise ValueError(
            f"The grid must have exactly the keys {list(GRID_KEYS)}. Received: keys "
            f"{list(grid)} (unknown: {unknown}, missing: {missing}). Give a one-element "
            "list to keep a hyperparameter fixed."
        )
    checked = {}
    for key in GRID_KEYS:
        values = grid[key]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise ValueError(
                f"grid[{key!r}] must be a list of values. Received: {values!r}. "
                f"Write e.g. {key}=[{values!r}]."
            )
        values = tuple(values)
        if not values:
            raise ValueError(
                f"grid[{key!r}] is empty. Received: {key}=[]. Give at least one value."
            )
        integral = key != "learning_rate"
        for value in values:
            if isinstance(value, bool) or not isinstance(
                value, numbers.Integral if integral else numbers.Real
            ):
                kind = "integers" if integral else "numbers"
                raise ValueError(
                    f"grid[{key!r}] must hold {kind}. Received: {key}={list(values)!r}."
                )
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"grid[{key!r}] must hold positive values. Received: {key}={list(values)!r}. "
                    + ("BERT fine-tuning uses 3e-5 to 3e-4." if not integral else "")
                )
        values = tuple(int(v) if integral else float(v) for v in values)
        if len(set(values)) != len(values):
            raise ValueError(
                f"grid[{key!r}] repeats a value. Received: {key}={list(values)!r}. "
                "List each value once."
            )
        checked[key] = values
    return checked


def grid_cells(grid: Mapping) -> list[dict]:
    """Every combination of the grid, in order (batch size outermost, epochs innermost).

    Examples:
    >>> len(grid_cells(BERT_README_GRID))
    60
    >>> grid_cells({"batch_size": [8], "learning_rate": [1e-4, 3e-5], "epochs": [2]})[1]
    {'batch_size': 8, 'learning_rate': 3e-05, 'epochs': 2}
    """
    grid = validate_grid(grid)
    return [dict(zip(GRID_KEYS, cell, strict=True)) for cell in itertools.product(*grid.values())]


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
    """A KerasTuner tuner whose trials train through `bertkit.finetune.fit`.

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


def best_index(results: pd.DataFrame, metric: str = "val_macro_f1"):
    """Index of the best row by `metric` (ties: the first in grid order; NaN never wins).

    Examples:
    >>> frame = pd.DataFrame({"val_macro_f1": [0.2, 0.5, 0.5], "val_loss": [1.0, 0.7, 0.9]})
    >>> best_index(frame), best_index(frame, "val_loss")
    (1, 1)
    """
    _check_metric(metric)
    column = results[metric]
    if column.isna().all():
        raise ValueError(
            f"No grid cell has a {metric}. Received: {len(results)} rows, all NaN. "
            "Check the trials' learning rates (a loss of NaN means training diverged)."
        )
    return column.idxmax() if METRICS[metric] == "max" else column.idxmin()


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(
            f"Unknown metric. Received: metric={metric!r}. Use one of {list(METRICS)}."
        )


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
    config: finetune.TrainConfig | None = None,
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
    _check_metric(metric)
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
            finetune.TrainConfig.for_strategy(strategy), early_stopping_patience=None
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


def format_learning_rate(value: float) -> str:
    """Short scientific notation for tick labels.

    Examples:
    >>> [format_learning_rate(v) for v in (3e-4, 1e-4, 5e-5, 2.5e-5)]
    ['3e-4', '1e-4', '5e-5', '2.5e-5']
    """
    return np.format_float_scientific(float(value), trim="-", exp_digits=1)


def plot_grid_heatmap(
    results: pd.DataFrame,
    metric: str = "val_macro_f1",
    rows: str = "batch_size",
    columns: str = "learning_rate",
    aggregate: str = "best",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plots a metric over two grid dimensions (batch size x learning rate by default).

    Cells that share `rows` and `columns` (e.g. the epochs) are reduced to
    one: the best value (`aggregate="best"`: max, or min for `val_loss`) or
    the mean (`"mean"`). Every cell is annotated; cells not searched stay blank.

    Args:
        results: DataFrame. `SearchResult.results`.
        metric: str. A column of `METRICS`.
        rows, columns: str. Grid keys on the y and x axes.
        aggregate: str. `"best"` or `"mean"`.
        title: str, optional. Axes title.
        ax: matplotlib Axes, optional. Draw here instead of on a new figure.

    Returns:
        The `matplotlib.figure.Figure`.

    Examples:
    >>> frame = pd.DataFrame({"batch_size": [8, 8, 16, 16], "learning_rate": [1e-4, 3e-5] * 2,
    ...                       "epochs": [2] * 4, "val_macro_f1": [0.4, 0.3, 0.5, 0.2]})
    >>> fig = plot_grid_heatmap(frame)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['0.400', '0.300', '0.500', '0.200']
    """
    import matplotlib.pyplot as plt

    _check_metric(metric)
    for key in (rows, columns):
        if key not in GRID_KEYS:
            raise ValueError(
                f"rows and columns must be grid keys. Received: {key!r}. Use two of {list(GRID_KEYS)}."
            )
    if rows == columns:
        raise ValueError(
            f"rows and columns must differ. Received: both {rows!r}. Use two of {list(GRID_KEYS)}."
        )
    if aggregate not in ("best", "mean"):
        raise ValueError(f"Unknown aggregate. Received: {aggregate!r}. Use 'best' or 'mean'.")
    missing = [c for c in (rows, columns, metric) if c not in results.columns]
    if missing or results.empty:
        raise ValueError(
            f"results lacks columns or rows. Received: columns {list(results.columns)}, "
            f"{len(results)} rows (missing {missing}). Pass SearchResult.results."
        )
    how = "mean" if aggregate == "mean" else METRICS[metric]
    table = results.pivot_table(index=rows, columns=columns, values=metric, aggfunc=how, sort=False)
    table = table.reindex(index=pd.unique(results[rows]), columns=pd.unique(results[columns]))
    values = table.to_numpy(dtype=float)

    if ax is None:
        fig, ax = plt.subplots(figsize=(1.2 * values.shape[1] + 2.5, 0.6 * values.shape[0] + 2.0))
        created = True
    else:
        fig, created = ax.figure, False
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis" if how != "min" else "viridis_r")
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                dark = values[i, j] < middle if how != "min" else values[i, j] > middle
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.3f}",
                    ha="center",
                    va="center",
                    color="white" if dark else "black",
                )
    label = {"learning_rate": format_learning_rate}.get
    ax.set_xticks(range(values.shape[1]))
    ax.set_xticklabels([(label(columns) or str)(v) for v in table.columns])
    ax.set_yticks(range(values.shape[0]))
    ax.set_yticklabels([(label(rows) or str)(v) for v in table.index])
    ax.set_xlabel(columns.replace("_", " "))
    ax.set_ylabel(rows.replace("_", " "))
    others = [k for k in GRID_KEYS if k not in (rows, columns) and k in results.columns]
    reduced = f" ({aggregate} over {', '.join(others)})" if others else ""
    ax.set_title(title if title is not None else f"{metric}{reduced}")
    fig.colorbar(image, ax=ax, label=metric)
    if created:
        fig.tight_layout()
    return fig


def format_results(results: pd.DataFrame) -> str:
    """The results as a Markdown table: learning rates in short notation, whole seconds.

    Examples:
    >>> frame = pd.DataFrame([{"batch_size": 16, "learning_rate": 3e-5, "epochs": 2,
    ...     "val_accuracy": 0.5, "val_macro_f1": 0.25, "val_loss": 1.0, "seconds": 12.3}])
    >>> print(format_results(frame))
    | batch_size | learning_rate | epochs | val_accuracy | val_macro_f1 | val_loss | seconds |
    | ---------: | :------------ | -----: | -----------: | -----------: | -------: | ------: |
    |         16 | 3e-5          |      2 |        0.500 |        0.250 |    1.000 |      12 |
    """
    rows = []
    for row in results.to_dict("records"):
        row["batch_size"], row["epochs"] = int(row["batch_size"]), int(row["epochs"])
        row["learning_rate"] = format_learning_rate(row["learning_rate"])
        row["seconds"] = int(round(row["seconds"]))
        rows.append(row)
    return evaluate.comparison_table(rows, columns=RESULT_COLUMNS)


def drug_reviews_split(
    train_limit: int | None = None, validation_fraction: float = 0.2, seed: int = 0
):
    """The drug reviews' training part, split for a search: `(train, validation, labels)`.

    `train_limit` reviews are sampled (seeded) from the 600, then split with
    `data.stratified_split`; `labels` is the `LabelEncoder`. The test reviews
    are not touched. `python -m bertkit.search` and notebook 05 search on this.
    """
    from bertkit import data, datasets

    train_df, _ = datasets.load_drug_reviews()
    if train_limit:
        train_df = train_df.sample(n=min(train_limit, len(train_df)), random_state=seed)
    labelled = data.from_dataframe(train_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN)
    train, validation = data.stratified_split(labelled, validation_fraction, seed=seed)
    return train, validation, data.LabelEncoder.fit(labelled.labels)


def build_parser():
    """Arguments of `python -m bertkit.search` (defaults: the full BERT README grid)."""
    import argparse

    from bertkit.presets import DEFAULT_PRESET

    parser = argparse.ArgumentParser(
        prog="python -m bertkit.search",
        description="Grid search of batch size x learning rate x epochs on the drug reviews "
        "(validation split of the training reviews); prints the table and the best cell.",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--strategy", default="partial", choices=["freeze", "partial", "full"])
    parser.add_argument("--unfreeze-top", type=int, default=2)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=BERT_README_GRID["batch_size"]
    )
    parser.add_argument(
        "--learning-rates", type=float, nargs="+", default=BERT_README_GRID["learning_rate"]
    )
    parser.add_argument("--epochs", type=int, nargs="+", default=BERT_README_GRID["epochs"])
    parser.add_argument("--train-limit", type=int, default=None, help="sample this many reviews")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--metric", default="val_macro_f1", choices=list(METRICS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--directory", default=None, help="KerasTuner trial records (default: the bertkit cache)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m bertkit.search`: runs the search and prints the results and the best cell."""
    from bertkit.presets import cache_dir

    args = build_parser().parse_args(argv)
    train, validation, labels = drug_reviews_split(
        args.train_limit, args.validation_fraction, args.seed
    )
    result = grid_search(
        args.preset,
        train.texts,
        labels.encode(train.labels),
        (validation.texts, labels.encode(validation.labels)),
        labels.num_classes,
        directory=args.directory or cache_dir() / "search",
        grid={
            "batch_size": args.batch_sizes,
            "learning_rate": args.learning_rates,
            "epochs": args.epochs,
        },
        strategy=args.strategy,
        unfreeze_top=args.unfreeze_top,
        config=dataclasses.replace(
            finetune.TrainConfig.for_strategy(args.strategy, seed=args.seed),
            early_stopping_patience=None,
        ),
        metric=args.metric,
        verbose=1,
    )
    print(format_results(result.results))
    best = result.best
    print(
        f"best by {args.metric}: batch_size={best['batch_size']} "
        f"learning_rate={format_learning_rate(best['learning_rate'])} epochs={best['epochs']} "
        f"({args.metric} {result.best_row[args.metric]:.3f}; {len(train)} train / "
        f"{len(validation)} validation reviews)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
