"""Tests for bertkit.evaluate: metrics, report, plots, baselines and tables, and what it imports."""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bertkit import evaluate
from bertkit.text.labels import LabelEncoder

NAMES = ["a", "b", "c"]
# Hand-computed example: class "c" is never predicted.
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 1, 1]
# a: tp=2 fp=0 fn=1 -> p=1, r=2/3, f1=0.8
# b: tp=2 fp=2 fn=0 -> p=1/2, r=1, f1=2/3
# c: tp=0 fp=0 fn=1 -> p=0 (zero_division), r=0, f1=0
F1 = {"a": 0.8, "b": 2 / 3, "c": 0.0}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- metrics


def test_classification_metrics_hand_computed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a never-predicted class must not warn
        m = evaluate.classification_metrics(Y_TRUE, Y_PRED, NAMES)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 2 / 3 + 1 * 0.0) / 6)
    assert m["majority_class_accuracy"] == pytest.approx(3 / 6)
    assert list(m["per_class"]) == NAMES
    for name, f1 in F1.items():
        assert m["per_class"][name]["f1"] == pytest.approx(f1)
    assert m["per_class"]["a"] == {
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(0.8),
        "support": 3,
    }
    assert m["per_class"]["b"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # Rows are true classes, columns predicted classes.
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    # Plain Python types all the way down.
    assert json.loads(json.dumps(m)) == m
    assert type(m["n"]) is int and type(m["per_class"]["a"]["support"]) is int


def test_classification_metrics_covers_classes_absent_from_both():
    m = evaluate.classification_metrics(np.array([0, 1]), np.array([0, 1]), ["x", "y", "z"])
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert m["per_class"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["accuracy"] == 1.0
    assert m["macro_f1"] == pytest.approx(2 / 3)  # labels=range(K): the empty class counts as 0
    assert m["weighted_f1"] == pytest.approx(1.0)


def test_evaluate_on_partial_classes_reports_macro_f1_present_and_absent_classes():
    # Perfect predictions on data holding 1 of 3 classes: macro_f1 alone would say 0.333.
    m = evaluate.classification_metrics([1, 1, 1], [1, 1, 1], ["x", "y", "z"])
    assert m["accuracy"] == 1.0 and m["macro_f1"] == pytest.approx(1 / 3)
    assert m["macro_f1_present"] == 1.0
    assert m["absent_classes"] == ["x", "z"]
    # A class predicted but absent from y_true is absent, and its false positives still count.
    m = evaluate.classification_metrics([0, 0, 1, 1], [0, 2, 1, 1], ["x", "y", "z"])
    assert m["absent_classes"] == ["z"]
    assert m["macro_f1_present"] == pytest.approx((2 / 3 + 1.0) / 2)
    full = evaluate.classification_metrics([0, 1, 2], [0, 1, 1], ["x", "y", "z"])
    assert full["absent_classes"] == [] and full["macro_f1_present"] == full["macro_f1"]


def test_classification_metrics_length_mismatch():
    with pytest.raises(ValueError, match=r"same length.*len\(y_true\)=3, len\(y_pred\)=2"):
        evaluate.classification_metrics([0, 1, 1], [0, 1], ["a", "b"])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "names", "error", "match"),
    [
        ([], [], ["a", "b"], ValueError, "must not be empty"),
        ([0, 2], [0, 1], ["a", "b"], ValueError, r"class ids in 0\.\.1.*\[2\]"),
        ([[0.1, 0.9]], [1], ["a", "b"], ValueError, "np.argmax"),
        (["a", "b"], [0, 1], ["a", "b"], TypeError, "integer class ids"),
        ([0, 1], [0, 1], ["a", "a"], ValueError, "unique"),
        ([0, 1], [0, 1], "ab", TypeError, "list of str"),
    ],
)
def test_classification_metrics_rejects_bad_input(y_true, y_pred, names, error, match):
    with pytest.raises(error, match=match):
        evaluate.classification_metrics(y_true, y_pred, names)


def test_classification_metrics_accepts_integral_floats():
    m = evaluate.classification_metrics(np.array([0.0, 1.0]), [0, 0], ["a", "b"])
    assert m["accuracy"] == 0.5


def test_classification_metrics_macro_f1_is_sklearns_for_a_never_predicted_class():
    from sklearn.metrics import f1_score

    y_true, y_pred = [0, 0, 1, 1, 2, 2, 3], [0, 1, 1, 1, 0, 1, 0]  # 2 and 3 never predicted
    names = ["a", "b", "c", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division handled: no UndefinedMetricWarning
        m = evaluate.classification_metrics(y_true, y_pred, names)
        for average, key in (("macro", "macro_f1"), ("weighted", "weighted_f1")):
            expected = f1_score(y_true, y_pred, labels=range(4), average=average, zero_division=0)
            assert m[key] == pytest.approx(expected)
    assert m["per_class"]["c"]["f1"] == m["per_class"]["d"]["f1"] == 0.0
    # a: p=1/3 r=1/2 f1=0.4; b: p=1/2 r=1 f1=2/3; c, d: 0 (counted in the mean).
    assert m["macro_f1"] == pytest.approx((0.4 + 2 / 3) / 4)


def test_log_loss_equals_sklearn_and_needs_probabilities():
    from sklearn.metrics import log_loss

    y_true = [0, 2, 1, 2]
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25], [0.5, 0.4, 0.1]])
    m = evaluate.classification_metrics(y_true, proba.argmax(axis=1), NAMES, y_proba=proba)
    assert m["log_loss"] == pytest.approx(log_loss(y_true, proba, labels=[0, 1, 2]))
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.6, 0.5, 0.1])))
    assert json.loads(json.dumps(m)) == m
    # Without probabilities there is no log loss (argmax ids alone cannot give one).
    assert "log_loss" not in evaluate.classification_metrics(y_true, [0, 2, 1, 0], NAMES)


def test_log_loss_accepts_float32_softmax_and_a_class_absent_from_y_true():
    # float32 rows sum to 1 only within rounding; data without class 1 still scores all 3.
    logits = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba[:, 0] += 1e-4  # a quantised model's sloppier sums
    y_true = np.where(np.arange(50) % 2, 0, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "y_prob values do not sum to one"
        m = evaluate.classification_metrics(y_true, proba.argmax(1), NAMES, y_proba=proba)
    true_class = proba[np.arange(50), y_true] / proba.sum(axis=1)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(true_class)), rel=1e-5)


@pytest.mark.parametrize(
    ("y_proba", "error", "match"),
    [
        ([[2.0, -1.0], [0.5, 0.5]], ValueError, r"values from -1 to 2.*softmax"),
        ([[0.6, 0.6], [0.5, 0.5]], ValueError, r"row sums from 1 to 1\.2"),
        ([0.9, 0.2], ValueError, r"shape \(n, K\) = \(2, 2\).*Received: shape \(2,\)"),
        ([[np.nan, 1.0], [0.5, 0.5]], ValueError, "probabilities"),
        ([["a", "b"], ["c", "d"]], TypeError, "must hold numbers"),
    ],
)
def test_classification_metrics_rejects_bad_probabilities(y_proba, error, match):
    with pytest.raises(error, match=match):
        evaluate.classification_metrics([0, 1], [0, 1], ["a", "b"], y_proba=y_proba)


def test_format_report_is_sklearns_classification_report():
    from sklearn.metrics import classification_report

    m = evaluate.classification_metrics(Y_TRUE, Y_PRED, NAMES)
    report = evaluate.format_report(m, title="Test")
    expected = classification_report(
        Y_TRUE, Y_PRED, target_names=NAMES, digits=3, zero_division=0
    ).rstrip()
    assert report == f"Test\n\n{expected}\n\nmajority-class accuracy: 0.500"
    lines = report.splitlines()
    assert lines[2].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[4].split() == ["a", "1.000", "0.667", "0.800", "3"]
    assert lines[6].split() == ["c", "0.000", "0.000", "0.000", "1"]
    assert lines[8].split() == ["accuracy", "0.667", "6"]
    # macro precision (1 + 0.5 + 0) / 3, macro recall (2/3 + 1 + 0) / 3, macro F1.
    assert lines[9].split() == ["macro", "avg", "0.500", "0.556", "0.489", "6"]
    assert lines[10].split() == ["weighted", "avg", "0.667", "0.667", "0.622", "6"]
    # The report's numbers are the dict's.
    assert float(lines[9].split()[4]) == pytest.approx(m["macro_f1"], abs=5e-4)


def test_format_report_covers_absent_classes_and_log_loss():
    proba = [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]]
    m = evaluate.classification_metrics([0, 1], [0, 1], NAMES, y_proba=proba)
    lines = evaluate.format_report(m).splitlines()
    assert lines[4].split() == ["c", "0.000", "0.000", "0.000", "0"]  # every class has a row
    assert lines[-2:] == ["majority-class accuracy: 0.500", f"log loss: {m['log_loss']:.3f}"]
    assert lines[-1] == "log loss: 0.231"  # -(log 0.9 + log 0.7) / 2


def test_format_report_rejects_other_dicts():
    with pytest.raises(ValueError, match=r"missing the keys \['confusion_matrix'\]"):
        evaluate.format_report({"macro_f1": 0.5, "weighted_f1": 0.5, "per_class": {}})
    m = evaluate.classification_metrics(Y_TRUE, Y_PRED, NAMES)
    with pytest.raises(ValueError, match=r"K = 3 classes.*shape \(2, 2\)"):
        evaluate.format_report({**m, "confusion_matrix": [[1, 0], [0, 1]]})


# ----------------------------------------------------------------------------- plots


def test_plot_confusion_matrix_counts():
    m = evaluate.classification_metrics(Y_TRUE, Y_PRED, NAMES)
    fig = evaluate.plot_confusion_matrix(m, NAMES, title="CM")
    assert isinstance(fig, plt.Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["2", "1", "0", "0", "2", "0", "0", "1", "0"]
    assert ax.get_xlabel() == "Predicted" and ax.get_ylabel() == "True"
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_title() == "CM"


def test_plot_confusion_matrix_normalized_matrix_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    matrix = [[2, 1, 0], [0, 2, 0], [0, 0, 0]]  # last row empty: stays 0, no division by 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = evaluate.plot_confusion_matrix(matrix, NAMES, normalize=True, ax=axes[1])
    assert out is fig
    assert len(axes[0].texts) == 0
    texts = [t.get_text() for t in axes[1].texts]
    assert texts == ["0.67", "0.33", "0.00", "0.00", "1.00", "0.00", "0.00", "0.00", "0.00"]


def test_plot_confusion_matrix_is_sklearns_display_of_the_counts():
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.array([[1200, 3], [45, 7]])
    expected = ConfusionMatrixDisplay(matrix).plot(values_format=",", colorbar=False)
    fig = evaluate.plot_confusion_matrix(matrix, ["ham", "spam"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1,200", "3", "45", "7"]
    assert texts == [t.get_text() for t in expected.ax_.texts]
    assert (ax.images[0].get_array() == matrix).all()  # the image is the matrix itself
    assert ax.get_ylim() == expected.ax_.get_ylim()  # first class on top, as sklearn draws it
    # Dark cells get light text: the 1,200 cell's colour differs from the others'.
    colors = [t.get_color() for t in ax.texts]
    assert colors[0] != colors[1] and colors[1] == colors[2] == colors[3]


def test_plot_confusion_matrix_names_must_match():
    with pytest.raises(ValueError, match="2 names for a 3x3 matrix"):
        evaluate.plot_confusion_matrix(np.eye(3), ["a", "b"])


def test_plot_confusion_matrix_takes_names_from_metrics():
    m = evaluate.classification_metrics(Y_TRUE, Y_PRED, NAMES)
    ax = evaluate.plot_confusion_matrix(m, None).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES


HISTORY = {
    "loss": [0.9, 0.6, 0.4],
    "val_loss": [1.0, 0.8, 0.7],
    "accuracy": [0.5, 0.7, 0.8],
    "val_accuracy": [0.4, 0.6, 0.65],
}


def test_plot_history_dict():
    fig = evaluate.plot_history(HISTORY, title="Training")
    assert len(fig.axes) == 2
    for ax, metric in zip(fig.axes, ["loss", "accuracy"], strict=True):
        train, val = ax.lines
        assert list(train.get_xdata()) == [1, 2, 3]
        assert list(train.get_ydata()) == HISTORY[metric]
        assert list(val.get_ydata()) == HISTORY["val_" + metric]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        assert ax.get_xlabel() == "Epoch" and ax.get_ylabel() == metric
    assert fig._suptitle.get_text() == "Training"


def test_plot_history_keras_history_object_and_missing_val():
    # A Keras History has .history and .epoch (0-based, offset when resumed).
    history = SimpleNamespace(history={"loss": [0.5, 0.4]}, epoch=[3, 4])
    fig = evaluate.plot_history(history, metrics=["loss"])
    assert len(fig.axes) == 1
    (line,) = fig.axes[0].lines
    assert list(line.get_xdata()) == [4, 5]


def test_plot_history_real_keras_history():
    import tf_keras

    model = tf_keras.Sequential([tf_keras.layers.Dense(2, input_shape=(3,))])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    fig = evaluate.plot_history(history)
    assert len(fig.axes) == 2
    assert all(len(ax.lines) == 2 for ax in fig.axes)


def test_plot_history_unknown_metric():
    with pytest.raises(ValueError, match=r"no metric \['f1'\].*'accuracy', 'loss'"):
        evaluate.plot_history(HISTORY, metrics=("loss", "f1"))


def warmup_then_decay(step: int) -> float:
    """Linear warmup to 1e-3 over 10 steps, then linear decay to 0 at step 50."""
    if step < 10:
        return 1e-3 * step / 10
    return 1e-3 * max(0.0, (50 - step) / 40)


def test_plot_learning_rate_plain_callable():
    fig = evaluate.plot_learning_rate(warmup_then_decay, total_steps=50, title="LR")
    assert len(fig.axes) == 1
    (line,) = fig.axes[0].lines
    assert list(line.get_xdata()) == list(range(51))
    np.testing.assert_allclose(line.get_ydata(), [warmup_then_decay(s) for s in range(51)])
    assert line.get_ydata().max() == pytest.approx(1e-3)
    assert fig.axes[0].get_title() == "LR"


def test_plot_learning_rate_keras_schedule():
    import tf_keras

    schedule = tf_keras.optimizers.schedules.PolynomialDecay(
        1e-3, decay_steps=20, end_learning_rate=0.0
    )
    fig = evaluate.plot_learning_rate(schedule, total_steps=20)
    y = fig.axes[0].lines[0].get_ydata()
    assert y[0] == pytest.approx(1e-3) and y[10] == pytest.approx(5e-4) and y[20] == 0.0


@pytest.mark.parametrize(
    ("schedule", "steps", "error"),
    [
        (0.001, 10, TypeError),
        (warmup_then_decay, 0, ValueError),
        (warmup_then_decay, 2.5, TypeError),
    ],
)
def test_plot_learning_rate_rejects_bad_input(schedule, steps, error):
    with pytest.raises(error, match="Received"):
        evaluate.plot_learning_rate(schedule, steps)


# ----------------------------------------------------------------------------- baselines

TOPICS = {
    "sports": ["goal", "match", "team", "coach", "league", "striker", "referee", "season"],
    "science": ["atom", "quantum", "lab", "experiment", "molecule", "physics", "theory", "cell"],
    "cooking": ["recipe", "oven", "flour", "butter", "simmer", "garlic", "spice", "bake"],
}
FILLER = ["the", "a", "today", "really", "very", "we", "saw", "about", "new", "and"]


def make_corpus(
    per_class: int, seed: int, topic_words: int = 4, noise_words: int = 0
) -> tuple[list[str], list[str]]:
    """Documents of topic words, 4 shared filler words and words of other topics."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(per_class):
        for topic, words in TOPICS.items():
            other = TOPICS[rng.choice([t for t in TOPICS if t != topic])]
            doc = rng.sample(words, topic_words) + rng.sample(FILLER, 4)
            doc += rng.sample(other, noise_words)
            rng.shuffle(doc)
            texts.append(" ".join(doc))
            labels.append(topic)
    return texts, labels


def shift_labels(labels: list[str]) -> list[str]:
    """Replaces every label by the next topic: all wrong."""
    topics = sorted(TOPICS)
    return [topics[(topics.index(label) + 1) % len(topics)] for label in labels]


TRAIN = make_corpus(20, seed=1)  # 60 documents
TEST = make_corpus(10, seed=2)  # 30 documents


def test_tfidf_baseline_separable_topics():
    result = evaluate.tfidf_baseline(*TRAIN, *TEST)
    assert result["model"] == "tfidf_logreg"
    assert result["n"] == 30
    assert result["accuracy"] >= 0.95
    assert list(result["per_class"]) == sorted(TOPICS)  # classes sorted
    params = result["params"]
    assert params["C"] in evaluate.C_GRID
    assert params["C_grid"] == [0.3, 1.0, 3.0, 10.0, 30.0]
    assert params["cv_folds"] == 5
    assert 0.0 <= params["cv_macro_f1"] <= 1.0
    assert params["ngram_range"] == [1, 2] and params["max_iter"] == 2000
    assert params["n_train"] == 60 and params["vocabulary_size"] > 0
    assert json.loads(json.dumps(result)) == result


def test_tfidf_baseline_chooses_c_from_training_data_only():
    # Noisy topics (1 topic word, 1 word of another topic), so C matters.
    train = make_corpus(20, seed=1, topic_words=1, noise_words=1)
    test_texts, test_labels = make_corpus(10, seed=2, topic_words=1, noise_words=1)
    wrong = shift_labels(test_labels)
    reference = evaluate.tfidf_baseline(*train, test_texts, test_labels)
    shifted = evaluate.tfidf_baseline(*train, test_texts, wrong)
    # All-wrong test labels do not move the choice of C (or anything else in params) ...
    assert shifted["params"] == reference["params"]
    assert shifted["params"]["C"] in evaluate.C_GRID
    # ... although choosing C on the all-wrong test labels would pick another C.
    wrong_f1 = {
        c: evaluate.tfidf_baseline(*train, test_texts, wrong, C=c)["macro_f1"]
        for c in evaluate.C_GRID
    }
    assert max(wrong_f1, key=wrong_f1.get) != reference["params"]["C"]


def test_tfidf_baseline_fits_only_on_training_texts(monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer

    fitted_on = []
    original = TfidfVectorizer.fit_transform

    def spy(self, raw_documents, y=None):
        fitted_on.append(list(raw_documents))
        return original(self, raw_documents, y)

    monkeypatch.setattr(TfidfVectorizer, "fit_transform", spy)
    result = evaluate.tfidf_baseline(*TRAIN, *TEST)
    assert len(fitted_on) == 5 * 5 + 1  # 5 values of C x 5 folds, then the refit
    assert all(set(docs) <= set(TRAIN[0]) for docs in fitted_on)
    assert sorted(fitted_on[-1]) == sorted(TRAIN[0])
    assert result["accuracy"] >= 0.95


def test_tfidf_baseline_fixed_c_int_labels_and_class_names():
    topics = sorted(TOPICS)
    train_ids = [topics.index(label) for label in TRAIN[1]]
    test_ids = [topics.index(label) for label in TEST[1]]
    names = ["Cooking", "Science", "Sports"]
    result = evaluate.tfidf_baseline(
        TRAIN[0], train_ids, TEST[0], test_ids, class_names=names, C=2, class_weight="balanced"
    )
    assert list(result["per_class"]) == names
    assert result["params"]["C"] == 2.0
    assert result["params"]["C_grid"] is None and result["params"]["cv_folds"] is None
    assert result["params"]["class_weight"] == "balanced"
    assert result["accuracy"] >= 0.95


def test_tfidf_baseline_uses_fewer_folds_for_small_classes():
    texts = ["goal team", "match coach", "league goal", "atom lab", "quantum cell", "oven"]
    labels = ["sports"] * 3 + ["science"] * 2 + ["cooking"]
    with pytest.raises(ValueError, match=r"at least 2 training examples.*'cooking'.*C=1\.0"):
        evaluate.tfidf_baseline(texts, labels, texts, labels)
    result = evaluate.tfidf_baseline(texts[:5], labels[:5], texts[:5], labels[:5])
    assert result["params"]["cv_folds"] == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"C": "best"}, r"positive number or \"auto\". Received: C='best'"),
        ({"C": -1}, "Received: C=-1"),
        ({"class_weight": "auto"}, "class_weight must be None or"),
        ({"class_names": ["sports", "science"]}, r"not classes: Label 'cooking' was never"),
    ],
)
def test_tfidf_baseline_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluate.tfidf_baseline(*TRAIN, *TEST, **kwargs)


def test_tfidf_baseline_rejects_mismatched_or_missing_texts():
    with pytest.raises(ValueError, match="60 texts and 59 labels"):
        evaluate.tfidf_baseline(TRAIN[0], TRAIN[1][:-1], *TEST)
    with pytest.raises(TypeError, match=r"must hold strings.*index 1.*fillna"):
        evaluate.tfidf_baseline(["goal", None], ["a", "b"], ["goal"], ["a"], C=1)


def test_tfidf_baseline_predictions_match_its_metrics():
    result = evaluate.tfidf_baseline(*TRAIN, *TEST)
    names = list(result["per_class"])
    truth = [names.index(label) for label in TEST[1]]
    assert len(result["predictions"]) == len(TEST[0])
    again = evaluate.classification_metrics(truth, result["predictions"], names)
    assert again["confusion_matrix"] == result["confusion_matrix"]


def test_tfidf_baseline_falls_back_on_its_intercepts_for_unseen_words():
    # 3 "a" and 1 "b" training texts, C=1: a test text of unseen words gets a zero
    # TF-IDF vector, so it gets the class the intercepts favour, whatever it says.
    train = ["goal match", "goal team", "match team", "vote law"]
    result = evaluate.tfidf_baseline(
        train, ["a", "a", "a", "b"], ["vote law", "parliament ballot"], ["b", "b"], C=1
    )
    assert evaluate.word_overlap(train, ["parliament ballot"])[0]["known"] == []
    assert result["predictions"][1] == 0


def test_word_overlap_counts_known_words_as_the_tfidf_vectorizer_splits_them():
    train = ["The exams were hard.", "I love my job"]
    rows = evaluate.word_overlap(train, ["EXAMS, exams and an exam!", "", "I love it"])
    # Lower-cased, punctuation and one-letter words ("I") dropped, repeats counted.
    assert rows[0] == {
        "words": 5,
        "known": ["exams", "exams"],
        "unknown": ["and", "an", "exam"],
        "share": 0.4,
    }
    assert rows[1] == {"words": 0, "known": [], "unknown": [], "share": 0.0}
    assert rows[2]["known"] == ["love"] and rows[2]["share"] == 0.5


def test_word_overlap_can_leave_out_stop_words():
    train, texts = ["the job was my dream"], ["my new job", "the and of"]
    assert evaluate.word_overlap(train, texts)[0]["known"] == ["my", "job"]
    content = evaluate.word_overlap(train, texts, stop_words="english")
    assert content[0] == {"words": 2, "known": ["job"], "unknown": ["new"], "share": 0.5}
    assert content[1]["words"] == 0


def test_word_overlap_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"stop_words must be None or \"english\". Received"):
        evaluate.word_overlap(["a b"], ["a b"], stop_words="german")
    with pytest.raises(TypeError, match="texts must be a list of documents"):
        evaluate.word_overlap(["good job"], "good job")


def test_majority_baseline():
    result = evaluate.majority_baseline(["pos", "pos", "neg"], ["neg", "pos", "pos", "pos"])
    assert result["model"] == "majority"
    assert result["params"] == {"predicted_class": "pos"}
    assert list(result["per_class"]) == ["neg", "pos"]
    assert result["accuracy"] == 0.75
    assert result["majority_class_accuracy"] == 0.75
    assert result["per_class"]["neg"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # pos: precision 3/4, recall 1, F1 6/7; macro F1 averages it with neg's 0.
    assert result["per_class"]["pos"]["f1"] == pytest.approx(6 / 7)
    assert result["macro_f1"] == pytest.approx(3 / 7)
    assert result["confusion_matrix"] == [[0, 1], [0, 3]]


def test_baselines_order_classes_like_the_training_label_encoder():
    train, test = ["10", "9", "9", 10.0], ["10", "9"]
    expected = LabelEncoder.fit(train + test).classes
    assert expected == ["9", "10"]  # numeric order, 10.0 is "10"
    result = evaluate.majority_baseline(train, test)
    assert list(result["per_class"]) == expected
    assert result["params"]["predicted_class"] == "9"


def test_majority_baseline_with_ids_and_class_names():
    result = evaluate.majority_baseline([2, 2, 0], [0, 1, 2], class_names=["x", "y", "z"])
    assert result["params"]["predicted_class"] == "z"
    assert result["confusion_matrix"] == [[0, 0, 1], [0, 0, 1], [0, 0, 1]]
    assert result["accuracy"] == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------- tables


def test_comparison_table_lines():
    rows = [
        {"name": "majority", "accuracy": 0.5, "macro_f1": 1 / 3, "n": 12500},
        {
            "name": "tf-idf + logreg",
            "accuracy": np.float64(0.88765),
            "macro_f1": 0.8871,
            "n": 12500,
        },
        {"name": "bert", "accuracy": 0.9, "n": np.int64(1234567)},
    ]
    lines = evaluate.comparison_table(
        rows, columns=("name", "accuracy", "macro_f1", "n")
    ).splitlines()
    assert lines == [
        "| name            | accuracy | macro_f1 |         n |",
        "| :-------------- | -------: | -------: | --------: |",
        "| majority        |    0.500 |    0.333 |    12,500 |",
        "| tf-idf + logreg |    0.888 |    0.887 |    12,500 |",
        "| bert            |    0.900 |          | 1,234,567 |",
    ]


def test_comparison_table_default_columns_and_errors():
    assert evaluate.comparison_table(
        [{"name": "a|b", "accuracy": 1, "macro_f1": 0.25}]
    ).splitlines() == [
        "| name | accuracy | macro_f1 |",
        "| :--- | -------: | -------: |",
        "| a\\|b |        1 |    0.250 |",
    ]
    with pytest.raises(ValueError, match=r"No row has the columns \['f1'\]"):
        evaluate.comparison_table([{"name": "a"}], columns=("name", "f1"))
    with pytest.raises(ValueError, match="rows must not be empty"):
        evaluate.comparison_table([])


# ----------------------------------------------------------------------------- module


MODULES = sorted(Path(evaluate.__file__).parent.glob("*.py"))


def test_modules_import_only_numpy_and_bertkit_labels_at_the_top():
    # The package docstring's promise: scikit-learn and matplotlib only inside the
    # functions that use them, so importing bertkit.evaluate adds little.
    assert [path.name for path in MODULES] == [
        "__init__.py",
        "baselines.py",
        "metrics.py",
        "plots.py",
        "report.py",
    ]
    light = {"__future__", "numbers", "collections.abc", "typing", "numpy", "bertkit.text.labels"}
    for path in MODULES:
        imported = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
        own = {name for name in imported if name.startswith("bertkit.evaluate.")}
        assert imported - own <= light, path.name
        assert len(path.read_text().splitlines()) < 400, path.name


def test_package_works_with_tensorflow_blocked():
    # No module here imports TensorFlow or Keras, directly or through bertkit.text.labels:
    # run every function in a fresh interpreter where importing them fails. A stand-in
    # `bertkit` package object skips bertkit/__init__.py, which sets TensorFlow up.
    package = Path(evaluate.__file__).parent.parent
    code = f"""
import importlib.abc, sys, types
BLOCKED = {{"tensorflow", "tf_keras", "keras", "tensorflow_hub", "tensorflow_text"}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
stand_in = types.ModuleType("bertkit")
stand_in.__path__ = [{str(package)!r}]
sys.modules["bertkit"] = stand_in
import matplotlib
matplotlib.use("Agg")
from bertkit import evaluate
m = evaluate.classification_metrics([0, 1, 1], [0, 1, 0], ["a", "b"], [[.9, .1], [.2, .8], [.6, .4]])
evaluate.format_report(m)
evaluate.plot_confusion_matrix(m, None, normalize=True)
evaluate.plot_history({{"loss": [1.0, 0.5]}}, "loss")
evaluate.plot_learning_rate(lambda step: 0.1, 2)
texts = ["goal team", "team match", "atom lab", "lab cell"]
evaluate.tfidf_baseline(texts, [0, 0, 1, 1], ["goal"], [0], C=1)
evaluate.majority_baseline([0, 1, 1], [1])
evaluate.word_overlap(texts, ["goal"])
print(sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
