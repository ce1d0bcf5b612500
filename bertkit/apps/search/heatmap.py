"""A heat map of a search's metric over two grid dimensions.

Examples:
>>> import pandas as pd
>>> frame = pd.DataFrame({"batch_size": [8, 16], "learning_rate": [1e-4, 1e-4],
...                       "epochs": [2, 2], "val_macro_f1": [0.4, 0.5]})
>>> [t.get_text() for t in plot_grid_heatmap(frame).axes[0].get_yticklabels()]
['8', '16']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bertkit.apps.search.grid import GRID_KEYS, METRICS, check_metric, format_learning_rate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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

    check_metric(metric)
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
