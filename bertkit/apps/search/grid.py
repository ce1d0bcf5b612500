"""The search grid: its keys, cells and metrics, the best cell, and the results table.

Examples:
>>> len(grid_cells(BERT_README_GRID)), GRID_KEYS
(60, ('batch_size', 'learning_rate', 'epochs'))
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bertkit import evaluate

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
            f"{list(GRID_KEYS)}, e.g. bertkit.apps.search.BERT_README_GRID."
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


def best_index(results: pd.DataFrame, metric: str = "val_macro_f1"):
    """Index of the best row by `metric` (ties: the first in grid order; NaN never wins).

    Examples:
    >>> frame = pd.DataFrame({"val_macro_f1": [0.2, 0.5, 0.5], "val_loss": [1.0, 0.7, 0.9]})
    >>> best_index(frame), best_index(frame, "val_loss")
    (1, 1)
    """
    check_metric(metric)
    column = results[metric]
    if column.isna().all():
        raise ValueError(
            f"No grid cell has a {metric}. Received: {len(results)} rows, all NaN. "
            "Check the trials' learning rates (a loss of NaN means training diverged)."
        )
    return column.idxmax() if METRICS[metric] == "max" else column.idxmin()


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(
            f"Unknown metric. Received: metric={metric!r}. Use one of {list(METRICS)}."
        )


def format_learning_rate(value: float) -> str:
    """Short scientific notation for tick labels.

    Examples:
    >>> [format_learning_rate(v) for v in (3e-4, 1e-4, 5e-5, 2.5e-5)]
    ['3e-4', '1e-4', '5e-5', '2.5e-5']
    """
    return np.format_float_scientific(float(value), trim="-", exp_digits=1)


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
