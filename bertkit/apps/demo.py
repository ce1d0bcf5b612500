"""`make demo`: fine-tune the default on the drug reviews three ways and compare with TF-IDF.

Prints one table: strategy, trainable parameters, train time, test accuracy and
macro-F1, next to a TF-IDF + logistic regression baseline and the
majority-class rate. Hyperparameters are bertkit's defaults; the validation
split (10% of train, stratified) drives early stopping; the test split is only
used for the final numbers.

Examples:
>>> run(quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os

from bertkit import evaluate
from bertkit.apps import training_job
from bertkit.model import classifier
from bertkit.presets import DEFAULT_PRESET
from bertkit.text import datasets, loaders, splits
from bertkit.text.labels import LabelEncoder
from bertkit.train import finetune
from bertkit.train.config import TrainConfig

QUICK_ENV = "BERTKIT_QUICK"


def is_quick() -> bool:
    """Whether `BERTKIT_QUICK=1` asks for the quick variant (CI)."""
    return os.environ.get(QUICK_ENV, "0") not in ("", "0", "false", "False")


def compare_strategies(
    preset: str = DEFAULT_PRESET,
    strategies=("freeze", "partial", "full"),
    unfreeze_top: int = 2,
    epochs: int | None = None,
    train_limit: int | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> list[dict]:
    """Fine-tunes `preset` with each strategy on the drug reviews; returns one row per model."""
    train_df, test_df = datasets.load_drug_reviews()
    if train_limit:
        train_df = train_df.sample(n=min(train_limit, len(train_df)), random_state=seed)
    full_train = loaders.from_dataframe(
        train_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN
    )
    train_ds, val_ds = splits.stratified_split(
        full_train, training_job.VALIDATION_FRACTION, seed=seed
    )
    test_ds = loaders.from_dataframe(test_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN)
    labels = LabelEncoder.fit(train_ds.labels)
    y_train, y_val, y_test = (labels.encode(d.labels) for d in (train_ds, val_ds, test_ds))

    rows = []
    for name, baseline in (
        (
            "majority class",
            evaluate.majority_baseline(train_ds.labels, test_ds.labels, labels.classes),
        ),
        (
            "TF-IDF + LR",
            evaluate.tfidf_baseline(
                train_ds.texts, train_ds.labels, test_ds.texts, test_ds.labels, labels.classes
            ),
        ),
        (
            # The strongest classical baseline we found: all labelled reviews, balanced weights.
            "TF-IDF + LR (all train, balanced)",
            evaluate.tfidf_baseline(
                full_train.texts,
                full_train.labels,
                test_ds.texts,
                test_ds.labels,
                labels.classes,
                class_weight="balanced",
            ),
        ),
    ):
        rows.append(
            {
                "name": name,
                "trainable_params": None,
                "train_seconds": None,
                "accuracy": baseline["accuracy"],
                "macro_f1": baseline["macro_f1"],
            }
        )
    for strategy in strategies:
        model = classifier.build_classifier(
            preset, labels.num_classes, strategy, unfreeze_top=unfreeze_top
        )
        config = TrainConfig.for_strategy(strategy, epochs=epochs, seed=seed)
        result = finetune.fit(
            model,
            train_ds.texts,
            y_train,
            validation=(val_ds.texts, y_val),
            config=config,
            verbose=verbose,
        )
        pred = finetune.predict_logits(model, test_ds.texts).argmax(axis=1)
        metrics = evaluate.classification_metrics(y_test, pred, labels.classes)
        label = strategy if strategy != "partial" else f"partial (top {unfreeze_top})"
        rows.append(
            {
                "name": f"BERT {label}",
                "trainable_params": classifier.count_parameters(model)["trainable"],
                "train_seconds": round(result.train_seconds, 1),
                "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"],
            }
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    """Runs the comparison and prints the table."""
    quick = quick or is_quick()
    print(
        f"bertkit demo: {DEFAULT_PRESET} on the UCI drug reviews (600 train / 379 test)"
        f"{' [quick: 1 epoch]' if quick else ''}",
        flush=True,
    )
    rows = compare_strategies(epochs=1 if quick else None, verbose=2)
    print()
    print(
        evaluate.comparison_table(
            rows, columns=("name", "trainable_params", "train_seconds", "accuracy", "macro_f1")
        )
    )
    return rows
