"""Evaluate text classifiers: metrics, reports, plots and the classical baselines.

Everything here is numpy, scikit-learn and matplotlib; no code of this module
uses TensorFlow (`import bertkit`, which runs first, sets TensorFlow up for
every bertkit module). scikit-learn and matplotlib are imported inside the
functions that use them, so importing this module adds little. Labels are
encoded by `data.LabelEncoder`, as in training, so classes come in the same
order. Plotting functions return a
`matplotlib.figure.Figure` and never call `plt.show()`. A Keras `History` or
`LearningRateSchedule` works wherever one is accepted, through duck typing.

Every metrics dict is JSON-serialisable (`json.dump` it next to the model),
and has the keys `n`, `accuracy`, `macro_f1`, `macro_f1_present`,
`absent_classes`, `weighted_f1`, `majority_class_accuracy`, `per_class` and
`confusion_matrix` (see `classification_metrics`). The baselines add `model` and `params`
(and `tfidf_baseline` its `predictions`); `word_overlap` shows which test words a
bag-of-words model has seen in training.

Examples:
>>> train = ["great film", "great fun", "dull film", "dull, slow"]
>>> train_labels = ["pos", "pos", "neg", "neg"]
>>> test, test_labels = ["great acting", "slow and dull"], ["pos", "neg"]
>>> rows = [
...     {"name": "majority", **majority_baseline(train_labels, test_labels)},
...     {"name": "tf-idf", **tfidf_baseline(train, train_labels, test, test_labels, C=10)},
... ]
>>> print(comparison_table(rows))
| name     | accuracy | macro_f1 |
| :------- | -------: | -------: |
| majority |    0.500 |    0.333 |
| tf-idf   |    1.000 |    1.000 |
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bertkit.data import LabelEncoder

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The grid `tfidf_baseline(C="auto")` searches by cross-validation on the training data.
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Folds of the stratified cross-validation that picks C (fewer if a class is smaller).
CV_FOLDS = 5

_REQUIRED_METRIC_KEYS = ("n", "accuracy", "macro_f1", "weighted_f1", "per_class")


# ----------------------------------------------------------------------------- metrics


def classification_metrics(y_true, y_pred, class_names: Sequence[str]) -> dict:
    """Computes accuracy, F1 scores, per-class scores and the confusion matrix.

    Scores cover every class id `0..K-1` (scikit-learn with `labels=range(K)`
    and `zero_division=0`), so a class that is never predicted, or absent from
    `y_true`, gets precision/recall/F1 0 instead of a warning, and counts as 0
    in `macro_f1`. Test data without some classes therefore lowers `macro_f1`
    however good the predictions are: `absent_classes` names those classes
    and `macro_f1_present` averages over the classes that occur in `y_true`.

    Args:
        y_true: array-like of int, shape `(n,)`. True class ids in `0..K-1`.
        y_pred: array-like of int, shape `(n,)`. Predicted class ids in `0..K-1`
            (take `np.argmax(logits, axis=-1)` of a model's outputs).
        class_names: list of str. Name of each class id; `K = len(class_names)`.

    Returns:
        A JSON-serialisable dict:
        `n`: int. Number of examples.
        `accuracy`: float. Share of exact matches.
        `macro_f1`: float. Unweighted mean of the per-class F1 scores of all
            `K` classes (an absent class counts as 0).
        `macro_f1_present`: float. The same mean over the classes that occur
            in `y_true` only (equal to `macro_f1` when none is absent).
        `absent_classes`: list of str. Names of the classes with no example in
            `y_true`, in class-id order.
        `weighted_f1`: float. Mean of the per-class F1 scores weighted by support.
        `majority_class_accuracy`: float. Share of the most frequent true class,
            the accuracy of always predicting it (the floor a model must beat).
        `per_class`: dict. `{name: {"precision", "recall", "f1", "support"}}`
            in class-id order; `support` is an int.
        `confusion_matrix`: list of list of int, shape `(K, K)`. Rows are true
            classes and columns predicted classes, over all class ids.

    Examples:
    >>> m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["neg", "neu", "pos"])
    >>> m["accuracy"], round(m["macro_f1"], 3)
    (0.75, 0.778)
    >>> m["confusion_matrix"]
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    >>> m["per_class"]["neg"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2}
    >>> m = classification_metrics([0, 0], [0, 0], ["neg", "neu", "pos"])
    >>> m["accuracy"], round(m["macro_f1"], 3), m["macro_f1_present"], m["absent_classes"]
    (1.0, 0.333, 1.0, ['neu', 'pos'])
    """
    from sklearn import metrics as sk_metrics

    names = _check_class_names(class_names)
    num_classes = len(names)
    true = _as_class_ids(y_true, "y_true", num_classes)
    pred = _as_class_ids(y_pred, "y_pred", num_classes)
    if len(true) != len(pred):
        raise ValueError(
            "y_true and y_pred must have the same length. "
            f"Received: len(y_true)={len(true)}, len(y_pred)={len(pred)}. "
            "Pass one prediction per example."
        )
    if len(true) == 0:
        raise ValueError(
            "y_true and y_pred must not be empty. Received: 0 examples. "
            "Evaluate on a non-empty test set."
        )
    labels = list(range(num_classes))
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        true, pred, labels=labels, average=None, zero_division=0
    )
    matrix = sk_metrics.confusion_matrix(true, pred, labels=labels)
    counts = np.bincount(true, minlength=num_classes)
    return {
        "n": int(len(true)),
        "accuracy": float(np.mean(true == pred)),
        "macro_f1": float(np.mean(f1)),
        "macro_f1_present": float(np.mean(f1[support > 0])),
        "absent_classes": [name for name, count in zip(names, support, strict=True) if not count],
        "weighted_f1": float(np.average(f1, weights=support)),
        "majority_class_accuracy": float(counts.max() / len(true)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": matrix.astype(int).tolist(),
    }


def format_report(metrics: Mapping[str, Any], title: str | None = None) -> str:
    """Formats a metrics dict as a per-class table, like scikit-learn's report.

    Args:
        metrics: dict. As returned by `classification_metrics` or a baseline
            (extra keys are ignored).
        title: str, optional. A heading printed above the table.

    Returns:
        A multi-line string: one row per class (precision, recall, F1,
        support), then accuracy, macro and weighted averages, and the
        majority-class accuracy when the dict has it.

    Examples:
    >>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    >>> print(format_report(m, title="Test set"))
    Test set
    <BLANKLINE>
                  precision  recall  f1-score  support
             neg      1.000   0.500     0.667        2
             pos      0.667   1.000     0.800        2
    <BLANKLINE>
        accuracy                        0.750        4
       macro avg      0.833   0.750     0.733        4
    weighted avg      0.833   0.750     0.733        4
    <BLANKLINE>
    majority-class accuracy: 0.500
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(
            "metrics must be a dict. Received: "
            f"{type(metrics).__name__}. Pass the dict that classification_metrics returns."
        )
    missing = [key for key in _REQUIRED_METRIC_KEYS if key not in metrics]
    if missing:
        raise ValueError(
            f"metrics is missing the keys {missing}. Received keys: {sorted(metrics)}. "
            "Pass the dict that classification_metrics returns."
        )
    per_class = list(metrics["per_class"].items())
    names = [str(name) for name, _ in per_class]
    scores = np.array([[s["precision"], s["recall"]] for _, s in per_class], dtype=float)
    scores = scores.reshape(-1, 2)
    support = np.array([s["support"] for _, s in per_class], dtype=float)
    n = int(metrics["n"])
    macro = scores.mean(axis=0) if len(scores) else np.zeros(2)
    weighted = np.average(scores, axis=0, weights=support) if support.sum() > 0 else np.zeros(2)

    width = max([len("weighted avg"), *map(len, names)])
    cols = ("precision", "recall", "f1-score", "support")
    col_width = [len(c) for c in cols]

    def row(label: str, values: Sequence[float | None], count: int) -> str:
        cells = [
            f"{v:>{w}.3f}" if v is not None else " " * w
            for v, w in zip(values, col_width[:3], strict=True)
        ]
        return "  ".join([f"{label:>{width}}", *cells, f"{count:>{col_width[3]},}"])

    lines = []
    if title:
        lines += [title, ""]
    lines.append("  ".join([" " * width, *cols]))
    for name, (_, s) in zip(names, per_class, strict=True):
        lines.append(row(name, (s["precision"], s["recall"], s["f1"]), int(s["support"])))
    lines.append("")
    lines.append(row("accuracy", (None, None, float(metrics["accuracy"])), n))
    lines.append(row("macro avg", (*macro, float(metrics["macro_f1"])), n))
    lines.append(row("weighted avg", (*weighted, float(metrics["weighted_f1"])), n))
    if "majority_class_accuracy" in metrics:
        lines += ["", f"majority-class accuracy: {float(metrics['majority_class_accuracy']):.3f}"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots


def plot_confusion_matrix(
    metrics_or_matrix: Mapping[str, Any] | Sequence[Sequence[float]] | np.ndarray,
    class_names: Sequence[str] | None,
    normalize: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plots a confusion matrix as a heatmap with every cell annotated.

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
        The `matplotlib.figure.Figure` holding the plot.

    Examples:
    >>> m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["neg", "neu", "pos"])
    >>> fig = plot_confusion_matrix(m, ["neg", "neu", "pos"], normalize=True)
    >>> [t.get_text() for t in fig.axes[0].texts[:3]]
    ['0.50', '0.50', '0.00']
    """
    import matplotlib.pyplot as plt

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
        vmax = 1.0
        labels = [[f"{v:.2f}" for v in r] for r in values]
    else:
        values = matrix
        vmax = max(float(values.max()), 1.0)
        integral = np.all(values == np.round(values))
        labels = [[f"{int(v):,}" if integral else f"{v:.2f}" for v in r] for r in values]

    if ax is None:
        size = 0.6 * num_classes
        fig, ax = plt.subplots(figsize=(max(4.0, size + 2.5), max(3.5, size + 2.0)))
        created = True
    else:
        fig, created = ax.figure, False
    ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    for i in range(num_classes):
        for j in range(num_classes):
            color = "white" if values[i, j] > vmax / 2 else "black"
            ax.text(j, i, labels[i][j], ha="center", va="center", color=color)
    long_names = max(map(len, names)) > 6
    ax.set_xticks(range(num_classes))
    ax.set_xticklabels(
        names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_yticks(range(num_classes))
    ax.set_yticklabels(names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    if title is None:
        title = "Confusion matrix" + (" (rows normalised)" if normalize else "")
    ax.set_title(title)
    if created:
        fig.tight_layout()
    return fig


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


# ----------------------------------------------------------------------------- baselines


def tfidf_baseline(
    train_texts: Iterable[str],
    train_labels: Iterable[Any],
    test_texts: Iterable[str],
    test_labels: Iterable[Any],
    class_names: Sequence[str] | None = None,
    C: float | str = "auto",  # noqa: N803  (scikit-learn's name)
    class_weight: str | None = None,
    seed: int = 0,
) -> dict:
    """Trains and scores the classical baseline: TF-IDF features + logistic regression.

    The pipeline is `TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2),
    min_df=1)` then `LogisticRegression(max_iter=2000, C=C,
    class_weight=class_weight, random_state=seed)`. With `C="auto"`, C is
    chosen from `C_GRID` by macro-F1 in a stratified 5-fold cross-validation
    (fewer folds if a class has fewer than 5 examples) on the training data
    only; the test set is used once, to score the refitted model.

    Args:
        train_texts: list of str. Training documents.
        train_labels: list. One label per training document: class names
            (str) or class ids (int).
        test_texts: list of str. Test documents.
        test_labels: list. One label per test document, like `train_labels`.
        class_names: list of str, optional. Class order. With int labels,
            label `i` is `class_names[i]`; with str labels, labels must be in
            it. Defaults to the sorted labels seen in training and test.
        C: float or "auto". Inverse regularisation strength, or "auto" to
            pick it by cross-validation on the training data.
        class_weight: "balanced" or None. "balanced" reweights classes by
            inverse frequency (for imbalanced data).
        seed: int. Seeds the cross-validation shuffle and the classifier.

    Returns:
        The `classification_metrics` dict on the test set, plus
        `model`: `"tfidf_logreg"`, `params`: the settings used, including
        the chosen `C`, the `C_grid`, `cv_folds` and `cv_macro_f1` (None when
        C was given) and the `vocabulary_size`, and `predictions`: list of int,
        the predicted class id of every test document (to read its errors).

    Examples:
    >>> result = tfidf_baseline(
    ...     ["good fun", "great fun", "bad plot", "awful plot"], ["pos", "pos", "neg", "neg"],
    ...     ["fun and good", "awful"], ["pos", "neg"], C=10,
    ... )
    >>> result["accuracy"], result["params"]["C"], result["predictions"]
    (1.0, 10.0, [1, 0])
    """
    from sklearn import metrics as sk_metrics
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    train_x = _as_texts(train_texts, "train_texts")
    test_x = _as_texts(test_texts, "test_texts")
    names, (train_y, test_y) = _encode_labels(
        [("train_labels", train_labels), ("test_labels", test_labels)], class_names
    )
    _check_same_length(train_x, train_y, "train_texts", "train_labels")
    _check_same_length(test_x, test_y, "test_texts", "test_labels")
    if len(train_x) == 0:
        raise ValueError(
            "train_texts must not be empty. Received: 0 examples. Pass the training split."
        )
    present = np.unique(train_y)
    if len(present) < 2:
        raise ValueError(
            "train_labels must hold at least 2 classes to train a classifier. "
            f"Received: only {[names[i] for i in present]}. Check the training split."
        )
    if class_weight not in (None, "balanced"):
        raise ValueError(
            f'class_weight must be None or "balanced". Received: class_weight={class_weight!r}. '
            'Use "balanced" for imbalanced classes.'
        )
    auto = isinstance(C, str)
    if auto and C != "auto":
        raise ValueError(f'C must be a positive number or "auto". Received: C={C!r}.')
    if not auto and (
        isinstance(C, bool) or not isinstance(C, numbers.Real) or not np.isfinite(C) or C <= 0
    ):
        raise ValueError(
            f'C must be a positive number or "auto". Received: C={C!r}. '
            'Use C="auto" to pick it by cross-validation on the training data.'
        )

    vectorizer_args = {"sublinear_tf": True, "ngram_range": (1, 2), "min_df": 1}
    classifier_args = {"max_iter": 2000, "class_weight": class_weight, "random_state": seed}
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(**vectorizer_args)),
            ("logreg", LogisticRegression(C=1.0 if auto else float(C), **classifier_args)),
        ]
    )
    cv_folds = cv_score = None
    if auto:
        counts = np.bincount(train_y)[present]
        cv_folds = int(min(CV_FOLDS, counts.min()))
        if cv_folds < 2:
            smallest = names[int(present[np.argmin(counts)])]
            raise ValueError(
                'C="auto" picks C by stratified cross-validation, which needs at least 2 '
                f"training examples of every class. Received: 1 example of {smallest!r}. "
                "Pass a number, e.g. C=1.0."
            )
        search = GridSearchCV(
            pipeline,
            {"logreg__C": list(C_GRID)},
            # Same score as scoring="f1_macro", without warnings for unpredicted classes.
            scoring=sk_metrics.make_scorer(sk_metrics.f1_score, average="macro", zero_division=0),
            cv=StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed),
            refit=True,
        )
        search.fit(train_x, train_y)  # training data only: the test set plays no part in C
        pipeline = search.best_estimator_
        chosen_c = float(search.best_params_["logreg__C"])
        cv_score = float(search.best_score_)
    else:
        pipeline.fit(train_x, train_y)
        chosen_c = float(C)

    predictions = pipeline.predict(test_x)
    result = classification_metrics(test_y, predictions, names)
    result["model"] = "tfidf_logreg"
    result["params"] = {
        "C": chosen_c,
        "C_grid": list(C_GRID) if auto else None,
        "cv_folds": cv_folds,
        "cv_macro_f1": cv_score,
        "class_weight": class_weight,
        "seed": seed,
        "ngram_range": list(vectorizer_args["ngram_range"]),
        "sublinear_tf": True,
        "min_df": 1,
        "max_iter": 2000,
        "vocabulary_size": len(pipeline.named_steps["tfidf"].vocabulary_),
        "n_train": len(train_x),
    }
    result["predictions"] = [int(i) for i in predictions]
    return result


def word_overlap(
    train_texts: Iterable[str], texts: Iterable[str], stop_words: str | None = None
) -> list[dict]:
    """Which words of each text occur in the training texts, as `tfidf_baseline` splits words.

    A bag-of-words model knows only the words it saw in training: a test text
    whose words are all new gives it an all-zero TF-IDF vector, and it can only
    fall back on its intercepts. Words are split and lower-cased as
    `tfidf_baseline`'s vectorizer does (runs of 2 or more letters or digits),
    so "Exams" and "exams" are one word, but "exam" and "exams" are two.

    Args:
        train_texts: list of str. The documents a model was trained on.
        texts: list of str. The documents to check, e.g. a test set.
        stop_words: "english" or None. "english" leaves out scikit-learn's
            English stop words ("the", "my", "for", ...) on both sides, to
            count only content words.

    Returns:
        One dict per text: `words`: int, how many words it has (repeats
        counted); `known`: list of str, its words that occur in the training
        texts, in order; `unknown`: list of str, the others; `share`: float,
        `len(known) / words` (0.0 for a text without words).

    Examples:
    >>> rows = word_overlap(["The exam was hard"], ["Exams are HARD", "the"], "english")
    >>> rows[0]
    {'words': 2, 'known': ['hard'], 'unknown': ['exams'], 'share': 0.5}
    >>> rows[1]["words"], rows[1]["share"]
    (0, 0.0)
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if stop_words not in (None, "english"):
        raise ValueError(
            f'stop_words must be None or "english". Received: stop_words={stop_words!r}. '
            'Use "english" to count content words only.'
        )
    analyzer = CountVectorizer(stop_words=stop_words).build_analyzer()
    vocabulary = {word for doc in _as_texts(train_texts, "train_texts") for word in analyzer(doc)}
    rows = []
    for doc in _as_texts(texts, "texts"):
        words = analyzer(doc)
        known = [word for word in words if word in vocabulary]
        rows.append(
            {
                "words": len(words),
                "known": known,
                "unknown": [word for word in words if word not in vocabulary],
                "share": len(known) / len(words) if words else 0.0,
            }
        )
    return rows


def majority_baseline(
    train_labels: Iterable[Any],
    test_labels: Iterable[Any],
    class_names: Sequence[str] | None = None,
) -> dict:
    """Scores always predicting the most frequent training class.

    Ties go to the class that comes first in the class order.

    Args:
        train_labels: list. Training labels: class names (str) or class ids (int).
        test_labels: list. Test labels, like `train_labels`.
        class_names: list of str, optional. Class order, as in `tfidf_baseline`;
            defaults to the sorted labels seen in training and test.

    Returns:
        The `classification_metrics` dict on the test set, plus `model`:
        `"majority"` and `params`: `{"predicted_class": name}`.

    Examples:
    >>> result = majority_baseline(["pos", "pos", "neg"], ["neg", "pos", "pos", "pos"])
    >>> result["params"]["predicted_class"], result["accuracy"]
    ('pos', 0.75)
    """
    names, (train_y, test_y) = _encode_labels(
        [("train_labels", train_labels), ("test_labels", test_labels)], class_names
    )
    if len(train_y) == 0:
        raise ValueError(
            "train_labels must not be empty. Received: 0 labels. Pass the training labels."
        )
    majority = int(np.argmax(np.bincount(train_y, minlength=len(names))))
    result = classification_metrics(test_y, np.full(len(test_y), majority), names)
    result["model"] = "majority"
    result["params"] = {"predicted_class": names[majority]}
    return result


# ----------------------------------------------------------------------------- tables


def comparison_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] = ("name", "accuracy", "macro_f1"),
) -> str:
    """Formats result rows as a Markdown table.

    Floats get 3 decimals and ints thousands separators; numeric columns are
    right-aligned. A row without a column shows an empty cell.

    Args:
        rows: list of dict. One row each, e.g. `{"name": "bert", **metrics}`.
        columns: list of str. Keys to show, in order; they are the header.

    Returns:
        The table as one string, one line per row after the header lines.

    Examples:
    >>> print(comparison_table([{"name": "bert", "accuracy": 0.91234, "n": 25000}],
    ...                        columns=("name", "accuracy", "n")))
    | name | accuracy |      n |
    | :--- | -------: | -----: |
    | bert |    0.912 | 25,000 |
    """
    rows = list(rows)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not rows:
        raise ValueError("rows must not be empty. Received: []. Pass one dict per model.")
    if not columns:
        raise ValueError("columns must not be empty. Received: []. E.g. ('name', 'accuracy').")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(
                f"Every row must be a dict. Received: {type(row).__name__} at index {i}. "
                "Pass e.g. {'name': 'bert', **metrics}."
            )
    unknown = [c for c in columns if all(c not in row for row in rows)]
    if unknown:
        keys = sorted({str(k) for row in rows for k in row})
        raise ValueError(
            f"No row has the columns {unknown}. Received keys: {keys}. Check the column names."
        )

    def is_number(value: Any) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)

    def cell(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return "" if value is None else str(value)
        if isinstance(value, numbers.Integral):
            return f"{int(value):,}"
        if isinstance(value, numbers.Real):
            return f"{float(value):.3f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    table = [[cell(row.get(c)) for c in columns] for row in rows]
    numeric = [all(is_number(row[c]) for row in rows if row.get(c) is not None) for c in columns]
    widths = [max(len(str(c)), 4, *(len(r[j]) for r in table)) for j, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            text.rjust(w) if right else text.ljust(w)
            for text, w, right in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        ("-" * (w - 1) + ":") if right else (":" + "-" * (w - 1))
        for w, right in zip(widths, numeric, strict=True)
    ]
    header = line([str(c) for c in columns])
    return "\n".join([header, line(rule), *(line(r) for r in table)])


# ----------------------------------------------------------------------------- helpers


def _check_class_names(class_names: Any) -> list[str]:
    """Validates class names: a non-empty list of unique strings."""
    if class_names is None or isinstance(class_names, str):
        raise TypeError(
            "class_names must be a list of str, one per class id. "
            f"Received: {class_names!r}. E.g. ['negative', 'positive']."
        )
    names = list(class_names)
    if not names:
        raise ValueError("class_names must not be empty. Received: []. Name every class id.")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(
            f"class_names must be strings. Received: {bad[:3]!r}. Convert them with str()."
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"class_names must be unique. Received duplicates: {duplicates}. "
            "Give every class its own name."
        )
    return names


def _as_class_ids(values: Any, arg: str, num_classes: int) -> np.ndarray:
    """Converts class ids to a 1-D int array and checks they are in 0..K-1."""
    array = np.asarray(values)
    if array.ndim != 1:
        hint = (
            " For logits or probabilities use np.argmax(outputs, axis=-1)."
            if array.ndim == 2
            else ""
        )
        raise ValueError(
            f"{arg} must be a 1-D sequence of class ids. Received: shape {array.shape}.{hint}"
        )
    if array.size and array.dtype.kind == "f" and np.all(array == np.round(array)):
        array = array.astype(int)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(
            f"{arg} must hold integer class ids. Received: dtype {array.dtype} "
            f"(e.g. {array[0]!r}). Map labels to ids with class_names.index(label), or use "
            "tfidf_baseline / majority_baseline, which accept string labels."
        )
    array = array.astype(np.int64)
    out_of_range = array[(array < 0) | (array >= num_classes)]
    if out_of_range.size:
        raise ValueError(
            f"{arg} must hold class ids in 0..{num_classes - 1} (one per class name). "
            f"Received: {sorted(set(out_of_range.tolist()))[:5]}. "
            "Pass class_names for every class."
        )
    return array


def _as_texts(texts: Any, arg: str) -> list:
    """Converts documents to a list, checking each is a str (or bytes)."""
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"{arg} must be a list of documents. Received: a single {type(texts).__name__}. "
            "Wrap it in a list."
        )
    docs = list(texts)
    for i, doc in enumerate(docs):
        if not isinstance(doc, str | bytes):
            raise TypeError(
                f"{arg} must hold strings. Received: {type(doc).__name__} {doc!r} at index {i}. "
                "Drop or fill missing texts, e.g. df['text'].fillna('')."
            )
    return docs


def _check_same_length(texts: list, labels: np.ndarray, texts_arg: str, labels_arg: str) -> None:
    """Raises unless there is one label per document."""
    if len(texts) != len(labels):
        raise ValueError(
            f"{texts_arg} and {labels_arg} must have the same length. "
            f"Received: {len(texts)} texts and {len(labels)} labels. Pass one label per text."
        )


def _encode_labels(
    named_labels: list[tuple[str, Any]], class_names: Sequence[str] | None
) -> tuple[list[str], list[np.ndarray]]:
    """Maps label lists (names or ids) to class ids over one shared class list.

    Class names go through `data.LabelEncoder`, as in training: without
    `class_names` the classes are `LabelEncoder.fit` of all the labels (sorted
    numerically when they are all integers, `1`, `1.0` and `"1"` one class).
    With `class_names`, integer labels are class ids and other labels names.

    Examples:
    >>> names, (ids,) = _encode_labels([("labels", ["10", "9", 10.0])], None)
    >>> names, ids.tolist()
    (['9', '10'], [1, 0, 1])
    """
    lists = []
    for arg, labels in named_labels:
        if isinstance(labels, str | bytes):
            raise TypeError(
                f"{arg} must be a list of labels. Received: a single {type(labels).__name__}. "
                "Wrap it in a list."
            )
        array = np.asarray(list(labels))
        if array.ndim > 1:
            raise ValueError(
                f"{arg} must be 1-D, one label per example. Received: shape {array.shape}. "
                "For one-hot labels use np.argmax(labels, axis=-1)."
            )
        lists.append((arg, array.tolist()))

    def is_id(label: Any) -> bool:
        return isinstance(label, numbers.Integral) and not isinstance(label, bool)

    all_labels = [label for _, values in lists for label in values]
    if class_names is None:
        if not all_labels:
            raise ValueError("No labels were given. Received: empty label lists. Pass the labels.")
        encoder = LabelEncoder.fit(all_labels)
    else:
        names = _check_class_names(class_names)
        if all_labels and all(is_id(label) for label in all_labels):
            encoded = []
            for arg, values in lists:
                unknown = sorted({v for v in values if not 0 <= v < len(names)})
                if unknown:
                    raise ValueError(
                        f"{arg} has labels that are not classes: {unknown[:5]}. Received: "
                        f"class_names={names}. Integer labels are read as class ids 0..K-1; "
                        "pass class_names listing every class."
                    )
                encoded.append(np.asarray(values, dtype=np.int64))
            return names, encoded
        encoder = LabelEncoder(names)
    encoded = []
    for arg, values in lists:
        try:
            encoded.append(encoder.encode(values).astype(np.int64))
        except ValueError as err:
            raise ValueError(f"{arg} has labels that are not classes: {err}") from None
    return encoder.classes, encoded
