"""Do the CLI's defaults generalise? Short headlines, 6 classes, other column names.

Splits benchmarks/data/short_topics.csv (headline, category) into a stratified
train (70%) / test (30%) pair, runs the CLI exactly as a user would, with no
options beyond the file and column names, and compares its test macro-F1 with
TF-IDF + logistic regression trained on the same rows.

    .venv/bin/python benchmarks/short_topics.py [--strategy full] [--seed 0]

Writes benchmarks/results/short_topics.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "short_topics.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default=None, help="omit to use the CLI default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    frame = pd.read_csv(DATA)
    train, test = train_test_split(frame, test_size=0.3, stratify=frame["category"], random_state=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train.to_csv(tmp / "train.csv", index=False)
        test.to_csv(tmp / "test.csv", index=False)
        cmd = [sys.executable, "-m", "bertkit", "train", "--train", str(tmp / "train.csv"),
               "--text-column", "headline", "--label-column", "category", "--output", str(tmp / "model")]
        if args.strategy:
            cmd += ["--strategy", args.strategy]
        subprocess.run(cmd, check=True)
        out = subprocess.run(
            [sys.executable, "-m", "bertkit", "evaluate", "--model", str(tmp / "model"), "--data",
             str(tmp / "test.csv"), "--text-column", "headline", "--label-column", "category"],
            check=True, capture_output=True, text=True,
        )
        bert = json.loads(out.stdout)

    from bertkit import evaluate

    tfidf = evaluate.tfidf_baseline(train["headline"].tolist(), train["category"].tolist(),
                                    test["headline"].tolist(), test["category"].tolist())
    tfidf_bal = evaluate.tfidf_baseline(train["headline"].tolist(), train["category"].tolist(),
                                        test["headline"].tolist(), test["category"].tolist(),
                                        class_weight="balanced")
    rows = [
        {"name": f"bertkit CLI defaults ({args.strategy or 'default strategy'})",
         "accuracy": bert["accuracy"], "macro_f1": bert["macro_f1"]},
        {"name": "TF-IDF + LR", "accuracy": tfidf["accuracy"], "macro_f1": tfidf["macro_f1"]},
        {"name": "TF-IDF + LR (balanced)", "accuracy": tfidf_bal["accuracy"], "macro_f1": tfidf_bal["macro_f1"]},
    ]
    print(evaluate.comparison_table(rows))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "short_topics.json").write_text(json.dumps(
        {"n_train": len(train), "n_test": len(test), "seed": args.seed, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
