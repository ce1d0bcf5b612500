"""Evaluate text classifiers: metrics, reports, plots and the classical baselines.

One module per concept; use them through this package
(`from bertkit import evaluate; evaluate.classification_metrics(...)`):

- `metrics`: `classification_metrics`, scikit-learn's scores (accuracy,
  F1, per class, confusion matrix, log loss of probabilities) in one dict,
  after checks of class ids, class names and probabilities.
- `report`: `format_report` (scikit-learn's classification report of a metrics
  dict) and `comparison_table` (a Markdown table of several models).
- `plots`: `plot_confusion_matrix` (scikit-learn's `ConfusionMatrixDisplay`),
  `plot_history` (training curves), `plot_learning_rate` (a schedule).
- `baselines`: `majority_baseline`, `tfidf_baseline` (TF-IDF + logistic
  regression, C chosen on the training data only) and `word_overlap`.

What it imports: numpy at the top; scikit-learn and matplotlib inside the
functions that use them, so importing the package adds little; and, from
bertkit, only `bertkit.text.labels` (for `LabelEncoder`, so baselines order classes
as training does; numpy and pandas). No module here imports TensorFlow or
Keras, directly or through `bertkit.text.labels`: the package works without them
(tests/test_evaluate.py loads it with TensorFlow blocked). `import bertkit`
itself still loads TensorFlow before any bertkit module.

Every metrics dict is JSON-serialisable (`json.dump` it next to the model),
and has the keys `n`, `accuracy`, `macro_f1`, `macro_f1_present`,
`absent_classes`, `weighted_f1`, `majority_class_accuracy`, `per_class` and
`confusion_matrix`, plus `log_loss` when probabilities were given (see
`classification_metrics`). The baselines add `model` and `params` (and
`tfidf_baseline` its `predictions`).

Examples:
>>> from bertkit import evaluate
>>> train = ["great film", "great fun", "dull film", "dull, slow"]
>>> train_labels = ["pos", "pos", "neg", "neg"]
>>> test, test_labels = ["great acting", "slow and dull"], ["pos", "neg"]
>>> rows = [
...     {"name": "majority", **evaluate.majority_baseline(train_labels, test_labels)},
...     {"name": "tf-idf", **evaluate.tfidf_baseline(train, train_labels, test, test_labels, C=10)},
... ]
>>> print(evaluate.comparison_table(rows))
| name     | accuracy | macro_f1 |
| :------- | -------: | -------: |
| majority |    0.500 |    0.333 |
| tf-idf   |    1.000 |    1.000 |
"""

from bertkit.evaluate.baselines import (
    C_GRID,
    CV_FOLDS,
    majority_baseline,
    tfidf_baseline,
    word_overlap,
)
from bertkit.evaluate.metrics import classification_metrics
from bertkit.evaluate.plots import plot_confusion_matrix, plot_history, plot_learning_rate
from bertkit.evaluate.report import comparison_table, format_report

__all__ = [
    "C_GRID",
    "CV_FOLDS",
    "classification_metrics",
    "comparison_table",
    "format_report",
    "majority_baseline",
    "plot_confusion_matrix",
    "plot_history",
    "plot_learning_rate",
    "tfidf_baseline",
    "word_overlap",
]
