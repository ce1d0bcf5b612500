"""Reports as text: scikit-learn's classification report of a metrics dict, and model tables.

`format_report` prints one metrics dict (from `classification_metrics`, a
baseline, or the JSON `bertkit evaluate` prints) as scikit-learn's
`classification_report`; `comparison_table` lines several up as a Markdown
table, e.g. BERT against the baselines.

Examples:
>>> print(comparison_table([{"name": "bert", "accuracy": 0.9, "macro_f1": 0.88}]))
| name | accuracy | macro_f1 |
| :--- | -------: | -------: |
| bert |    0.900 |    0.880 |
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_REPORT_KEYS = ("per_class", "confusion_matrix")


def format_report(metrics: Mapping[str, Any], title: str | None = None) -> str:
    """Formats a metrics dict as scikit-learn's classification report (3 decimals).

    The report is `sklearn.metrics.classification_report` of the examples the
    dict's confusion matrix counts, with the dict's class names: a row per
    class (precision, recall, F1, support), then accuracy and the macro and
    weighted averages. Lines for `majority_class_accuracy` and `log_loss`
    follow when the dict has them.

    Args:
        metrics: dict. As returned by `classification_metrics` or a baseline
            (it needs `per_class` and `confusion_matrix`; other keys are ignored).
        title: str, optional. A heading printed above the table.

    Returns:
        The report, a multi-line string.

    Examples:
    >>> from bertkit import evaluate
    >>> m = evaluate.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    >>> print(format_report(m, title="Test set"))
    Test set
    <BLANKLINE>
                  precision    recall  f1-score   support
    <BLANKLINE>
             neg      1.000     0.500     0.667         2
             pos      0.667     1.000     0.800         2
    <BLANKLINE>
        accuracy                          0.750         4
       macro avg      0.833     0.750     0.733         4
    weighted avg      0.833     0.750     0.733         4
    <BLANKLINE>
    majority-class accuracy: 0.500
    """
    from sklearn.metrics import classification_report

    if not isinstance(metrics, Mapping):
        raise TypeError(
            "metrics must be a dict. Received: "
            f"{type(metrics).__name__}. Pass the dict that classification_metrics returns."
        )
    missing = [key for key in _REPORT_KEYS if key not in metrics]
    if missing:
        raise ValueError(
            f"metrics is missing the keys {missing}. Received keys: {sorted(metrics)}. "
            "Pass the dict that classification_metrics returns."
        )
    names = [str(name) for name in metrics["per_class"]]
    matrix = np.asarray(metrics["confusion_matrix"])
    if (
        matrix.shape != (len(names), len(names))
        or matrix.dtype.kind not in "iu"
        or matrix.min() < 0
        or matrix.sum() == 0
    ):
        raise ValueError(
            "metrics['confusion_matrix'] must be a (K, K) matrix of counts, not all 0, for the "
            f"K = {len(names)} classes of metrics['per_class']. Received: shape {matrix.shape}, "
            f"dtype {matrix.dtype}. Pass the dict that classification_metrics returns."
        )
    # The examples the matrix counts: matrix[i, j] pairs (true i, predicted j).
    y_true, y_pred = (np.repeat(ids.ravel(), matrix.ravel()) for ids in np.indices(matrix.shape))
    report = classification_report(
        y_true, y_pred, labels=range(len(names)), target_names=names, digits=3, zero_division=0
    )
    lines = [title, ""] if title else []
    lines.append(report.rstrip("\n"))
    extras = [
        f"{label}: {float(metrics[key]):.3f}"
        for key, label in (
            ("majority_class_accuracy", "majority-class accuracy"),
            ("log_loss", "log loss"),
        )
        if metrics.get(key) is not None
    ]
    if extras:
        lines += ["", *extras]
    return "\n".join(lines)


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
