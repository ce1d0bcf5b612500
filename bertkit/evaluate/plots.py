"""Pictures of a model: its confusion matrix, training curves and learning-rate schedule.

Each function returns a `matplotlib.figure.Figure` and never calls
`plt.show()` (notebooks show it, scripts `savefig` it). A Keras `History` or
`LearningRateSchedule` works wherever one is accepted, through duck typing.
The confusion matrix is drawn by scikit-learn's `ConfusionMatrixDisplay`.

Examples:
>>> fig = plot_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"])
>>> [t.get_text() for t in fig.axes[0].texts]
['3', '1', '0', '4']
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def plot_confusion_matrix(
    metrics_or_matrix: Mapping[str, Any] | Sequence[Sequence[float]] | np.ndarray,
    class_names: Sequence[str] | None,
    normalize: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plots a confusion matrix with every cell annotated (scikit-learn's `ConfusionMatrixDisplay`).

    Args:
        metrics_or_matrix: dict or array-like. A metrics dict (its
            `confusion_matrix` is used) or a `(K, K)` matrix with true classes
            as rows and predicted classes as columns.
        class_names: list of str, or None. Tick labels; None takes them from
            the metrics dict (or uses the class ids for a bare matrix).
        normalize: bool. Divide each row by its total, so cells show the share
            of each true class (2 decimals) and the diagonal is the recall.
            Rows with no examples stay 0.
        title: str, optional. Axes title; defaults to "Confusion matrix".
        ax: matplotlib Axes, optional. Draw here instead of on a new figure.

    Returns:
        The `matplotlib.figure.Figure` holding the plot: "Blues" colours
        (0 to 1 when normalised), counts with thousands separators, no colorbar.

    Examples:
    >>> from bertkit import evaluate
    >>> m = evaluate.classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["neg", "neu", "pos"])
    >>> fig = plot_confusion_matrix(m, ["neg", "neu", "pos"], normalize=True)
    >>> [t.get_text() for t in fig.axes[0].texts[:3]]
    ['0.50', '0.50', '0.00']
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    if isinstance(metrics_or_matrix, Mapping):
        if "confusion_matrix" not in metrics_or_matrix:
            raise ValueError(
                "metrics has no 'confusion_matrix'. Received keys: "
                f"{sorted(metrics_or_matrix)}. Pass the dict that classification_metrics "
                "returns, or the matrix itself."
            )
        matrix = np.asarray(metrics_or_matrix["confusion_matrix"], dtype=float)
        if class_names is None and isinstance(metrics_or_matrix.get("per_class"), Mapping):
            class_names = list(metrics_or_matrix["per_class"])
    else:
        matrix = np.asarray(metrics_or_matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(
            "The confusion matrix must be square, shape (K, K) with K >= 1. "
            f"Received: shape {matrix.shape}. Pass classification_metrics(...) or its "
            "'confusion_matrix'."
        )
    num_classes = matrix.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            "class_names must name every row of the confusion matrix. "
            f"Received: {len(names)} names for a {num_classes}x{num_classes} matrix. "
            "Pass the class_names the metrics were computed with."
        )

    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        values = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        vmax, values_format = 1.0, ".2f"
    elif np.all(matrix == np.round(matrix)):
        values = matrix.astype(np.int64)
        vmax, values_format = max(float(values.max()), 1.0), ","
    else:
        values = matrix
        vmax, values_format = max(float(values.max()), 1.0), ".2f"

    created = ax is None
    if created:
        size = 0.6 * num_classes
        fig, ax = plt.subplots(figsize=(max(4.0, size + 2.5), max(3.5, size + 2.0)))
    long_names = max(map(len, names)) > 6
    display = ConfusionMatrixDisplay(values, display_labels=names).plot(
        ax=ax,
        cmap="Blues",
        values_format=values_format,
        colorbar=False,
        xticks_rotation=45 if long_names else "horizontal",
        im_kw={"vmin": 0.0, "vmax": vmax},
    )
    if long_names:
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    if title is None:
        title = "Confusion matrix" + (" (rows normalised)" if normalize else "")
    ax.set(xlabel="Predicted", ylabel="True", title=title)
    if created:
        display.figure_.tight_layout()
    return display.figure_


def plot_history(
    history: Any,
    metrics: Sequence[str] | str = ("loss", "accuracy"),
    title: str | None = None,
) -> Figure:
    """Plots training curves: one subplot per metric, training and validation.

    Args:
        history: Keras `History` or dict. What `model.fit` returns, or its
            `.history` dict `{metric: [value per epoch]}`.
        metrics: str or list of str. Metrics to plot; each needs a key in
            `history`, and `"val_" + metric` is drawn too when present.
        title: str, optional. Figure title.

    Returns:
        The `matplotlib.figure.Figure`, with one axes per metric and epochs
        (1-based) on the x axis.

    Examples:
    >>> fig = plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}, metrics="loss")
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['train', 'validation']
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    logs = history.history if hasattr(history, "history") else history
    if not isinstance(logs, Mapping):
        raise TypeError(
            "history must be a Keras History or its .history dict. Received: "
            f"{type(history).__name__}. Pass what model.fit returns."
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one metric. Received: []. E.g. ('loss',).")
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise ValueError(
            f"history has no metric {missing}. Received keys: {sorted(logs)}. "
            "Pass metrics= with names from those keys (a model compiled with "
            "'sparse_categorical_accuracy' logs it under that name)."
        )
    num_epochs = len(logs[metrics[0]])
    if num_epochs == 0:
        raise ValueError("history has no epochs. Received: empty lists. Train for one epoch first.")
    epochs = np.arange(1, num_epochs + 1)
    epoch_ids = getattr(history, "epoch", None)
    if epoch_ids is not None and len(epoch_ids) == num_epochs:
        epochs = np.asarray(epoch_ids) + 1  # resumed training starts at initial_epoch

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for key, label in ((metric, "train"), ("val_" + metric, "validation")):
            if key not in logs:
                continue
            values = np.asarray(logs[key], dtype=float)
            if len(values) != num_epochs:
                raise ValueError(
                    f"Every metric in history must have one value per epoch. Received: "
                    f"{len(values)} values of {key!r} for {num_epochs} epochs. "
                    "Plot histories trained with validation_freq=1."
                )
            ax.plot(epochs, values, marker="o", label=label)
        ax.set_title(metric)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_rate(
    schedule: Callable[[int], Any], total_steps: int, title: str | None = None
) -> Figure:
    """Plots a learning-rate schedule for steps `0..total_steps`.

    Args:
        schedule: callable. Maps an int step to the learning rate; a Keras
            `LearningRateSchedule` works (its tensor result is read with
            `np.asarray`), and so does a plain Python function.
        total_steps: int. Last step to plot, usually `epochs * steps_per_epoch`.
        title: str, optional. Axes title; defaults to "Learning-rate schedule".

    Returns:
        The `matplotlib.figure.Figure`, with one line of `total_steps + 1` points.

    Examples:
    >>> fig = plot_learning_rate(lambda step: 1e-3 * min(1.0, step / 10), total_steps=20)
    >>> float(fig.axes[0].lines[0].get_ydata()[5])
    0.0005
    """
    import matplotlib.pyplot as plt

    if not callable(schedule):
        raise TypeError(
            "schedule must be callable, step -> learning rate. Received: "
            f"{type(schedule).__name__}. Pass a function or a Keras LearningRateSchedule."
        )
    if isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral):
        raise TypeError(
            f"total_steps must be an int. Received: total_steps={total_steps!r}. "
            "Pass epochs * steps_per_epoch."
        )
    if total_steps < 1:
        raise ValueError(
            f"total_steps must be >= 1. Received: total_steps={total_steps}. "
            "Pass epochs * steps_per_epoch."
        )
    steps = np.arange(int(total_steps) + 1)
    rates = np.empty(len(steps))
    for i, step in enumerate(steps):
        value = np.asarray(schedule(int(step)), dtype=float)
        if value.size != 1:
            raise ValueError(
                "schedule must return one learning rate per step. "
                f"Received: shape {value.shape} at step {step}. Return a scalar."
            )
        rates[i] = float(value.reshape(()))

    fig, ax = plt.subplots(figsize=(6.0, 3.5))
    ax.plot(steps, rates)
    ax.set_xlabel("Step")
    ax.set_ylabel("Learning rate")
    ax.set_title(title if title is not None else "Learning-rate schedule")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
