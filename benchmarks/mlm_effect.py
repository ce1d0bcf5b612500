"""Does continued MLM pre-training on the drug reviews help the classifier? (MLM on vs off.)

Adapts the default encoder with `bertkit.continue_pretraining` on the 600
training reviews (head alone first, then the whole encoder), then fine-tunes a
classifier from the original and from the adapted encoder with identical data,
seeds and hyperparameters, and prints test macro-F1 for each, per strategy and seed.
This is what notebook 08 does, with more seeds if you ask for them.

    .venv/bin/python benchmarks/mlm_effect.py [--mlm-epochs 1] [--head-epochs 10]
        [--strategies freeze partial] [--seeds 0 1 2]

Writes benchmarks/results/mlm_effect.json. Run-to-run noise of macro-F1 on the
379 test reviews is about +-0.02, so differences smaller than that mean nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import bertkit
from bertkit import evaluate
from bertkit.text import datasets, loaders, splits
from bertkit.train import finetune

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mlm_effect.json"


def fine_tune(encoder, strategy, seed, train, val, test, labels) -> dict:
    """Test metrics of a classifier fine-tuned from `encoder` with bertkit's defaults."""
    y_train, y_val, y_test = (labels.encode(d.labels) for d in (train, val, test))
    bertkit.set_seed(seed)  # before building: both encoders start from the same head
    model = bertkit.build_classifier(encoder, labels.num_classes, strategy, unfreeze_top=2)
    config = bertkit.TrainConfig.for_strategy(strategy, seed=seed)
    result = bertkit.fit(
        model, train.texts, y_train, validation=(val.texts, y_val), config=config, verbose=0
    )
    pred = finetune.predict_logits(model, test.texts).argmax(axis=1)
    metrics = evaluate.classification_metrics(y_test, pred, labels.classes)
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "train_seconds": round(result.train_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mlm-epochs", type=int, default=1)
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--strategies", nargs="+", default=["freeze", "partial"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()

    train_df, test_df = datasets.load_drug_reviews()
    texts = train_df[datasets.DRUG_TEXT_COLUMN].tolist()
    labelled = loaders.from_dataframe(
        train_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN
    )
    test = loaders.from_dataframe(test_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        adapted = Path(tmp) / "adapted"
        start = time.perf_counter()
        bertkit.continue_pretraining(
            bertkit.DEFAULT_PRESET,
            texts,
            adapted,
            epochs=args.mlm_epochs,
            head_epochs=args.head_epochs,
            verbose=2,
        )
        mlm_seconds = time.perf_counter() - start
        print(f"continued pre-training: {mlm_seconds:.0f} s", flush=True)
        for seed in args.seeds:
            train, val = splits.stratified_split(labelled, 0.1, seed=seed)
            labels = bertkit.LabelEncoder.fit(train.labels)
            for strategy in args.strategies:
                for name, encoder in (("original", bertkit.DEFAULT_PRESET), ("mlm", adapted)):
                    metrics = fine_tune(encoder, strategy, seed, train, val, test, labels)
                    rows.append({"strategy": strategy, "seed": seed, "encoder": name, **metrics})
                    print(rows[-1], flush=True)
    print(
        evaluate.comparison_table(
            rows, columns=("strategy", "seed", "encoder", "accuracy", "macro_f1")
        )
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {"args": vars(args), "mlm_seconds": round(mlm_seconds, 1), "rows": rows}
    tmp_file = RESULTS.with_suffix(".json.tmp")
    tmp_file.write_text(json.dumps(summary, indent=2))
    tmp_file.replace(RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
