"""Long drug reviews at seq_length 128: head vs tail vs head+tail truncation vs chunks (freeze).

222 of the 540 training reviews have more than 126 wordpieces, so the default
(head) truncation drops their ends. This trains the frozen default encoder's
head (`strategy="freeze"`, the cached-features fast path, bertkit's defaults)
with each long-text option (`bertkit.text.long_texts`) and prints test macro-F1:

- head: the first 126 wordpieces (the default);
- tail: the last 126;
- head_tail: the first 31 and the last 95 (a quarter from the head, as Sun et al. 2019);
- chunks: up to 4 windows of 126 wordpieces, features averaged per review.

    nice .venv/bin/python benchmarks/long_texts.py [--seeds 0 1] [--chunks 4]

Writes benchmarks/results/long_texts.json. Run-to-run noise of macro-F1 on the
379 test reviews is about +-0.02, so differences smaller than that mean nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import bertkit
from bertkit import evaluate
from bertkit.text import data, datasets, inputs, splits
from bertkit.train import finetune

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "long_texts.json"
SEQ_LENGTH = 128


def configurations(chunks: int) -> dict[str, dict]:
    """Long-text options by name."""
    return {
        "head": {},
        "tail": {"truncation": "tail"},
        "head_tail": {"truncation": "head_tail"},
        f"chunks_{chunks}": {"chunks": chunks},
    }


def run(options: dict, seed: int, labelled, test) -> dict:
    """Test metrics of the freeze strategy with `options`, on the seed's train/validation split."""
    train, val = splits.stratified_split(labelled, 0.1, seed=seed)
    labels = bertkit.LabelEncoder.fit(train.labels)
    bertkit.set_seed(seed)
    model = bertkit.build_classifier(
        bertkit.DEFAULT_PRESET, labels.num_classes, "freeze", seq_length=SEQ_LENGTH, **options
    )
    config = bertkit.TrainConfig.for_strategy("freeze", seed=seed)
    start = time.perf_counter()
    result = bertkit.fit(
        model,
        train.texts,
        labels.encode(train.labels),
        validation=(val.texts, labels.encode(val.labels)),
        config=config,
        verbose=0,
    )
    pred = finetune.predict_logits(model, test.texts).argmax(axis=1)
    metrics = evaluate.classification_metrics(labels.encode(test.labels), pred, labels.classes)
    return {
        "macro_f1": round(metrics["macro_f1"], 4),
        "accuracy": round(metrics["accuracy"], 4),
        "truncated_train_texts": result.num_truncated,
        "train_rows": len(inputs.encode_texts(model, train.texts)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--chunks", type=int, default=4)
    args = parser.parse_args()

    train_df, test_df = datasets.load_drug_reviews()
    columns = (datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN)
    labelled = data.from_dataframe(train_df, *columns)
    test = data.from_dataframe(test_df, *columns)
    rows = []
    for name, options in configurations(args.chunks).items():
        for seed in args.seeds:
            row = {"config": name, "seed": seed, **run(options, seed, labelled, test)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {
        name: round(float(np.mean([r["macro_f1"] for r in rows if r["config"] == name])), 4)
        for name in configurations(args.chunks)
    }
    print("mean test macro-F1:", json.dumps(summary))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"seq_length": SEQ_LENGTH, "rows": rows, "mean": summary}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
