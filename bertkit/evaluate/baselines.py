"""Classical baselines a BERT classifier must beat, and which test words they know.

`majority_baseline` always predicts the most frequent training class;
`tfidf_baseline` trains TF-IDF features + logistic regression (C chosen by
cross-validation on the training data). Both take labels as class names or
ids, encode them with `bertkit.LabelEncoder` as training does (so classes come in
the same order), and return the `classification_metrics` dict plus `model`
and `params`. `word_overlap` shows which test words a bag-of-words model has
seen in training.

Examples:
>>> majority_baseline(["pos", "pos", "neg"], ["pos", "neg"])["accuracy"]
0.5
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bertkit.evaluate.metrics import _check_class_names, classification_metrics
from bertkit.text.labels import LabelEncoder

#: The grid `tfidf_baseline(C="auto")` searches by cross-validation on the training data.
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Folds of the stratified cross-validation that picks C (fewer if a class is smaller).
CV_FOLDS = 5


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

    Class names go through `bertkit.LabelEncoder`, as in training: without
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
