"""Few-shot classification: contrastive (SetFit) vs freeze vs full fine-tuning, macro-F1 on test.

For every dataset, training size (examples per class, or `all`) and seed, a
stratified sample of the training pool is drawn with that seed, each method
trains on it through the public API (`bertkit.build_classifier`, `bertkit.fit`
with `bertkit.TrainConfig.for_strategy`, no validation set: few-shot has none
to spare) and is scored by macro-F1 on the held-out test split. Rows are
appended to a CSV as they finish, and a rerun skips the rows already there, so
an interrupted benchmark continues where it stopped.

    nice -n 15 .venv/bin/python benchmarks/few_shot.py --sizes 8 16 --seeds 0 1 2 \\
        --datasets topics headlines drug_reviews --methods contrastive freeze full

Datasets: `topics` (data/topics.csv, 3 classes) and `headlines` (the short
topic set, 6 classes) have no test split: a fixed stratified half (seed 0) is
the test set, the other half the training pool. `drug_reviews`: the 600 / 379
train / test sample (`bertkit.text.datasets.load_drug_reviews`).

A method is a strategy with optional `TrainConfig` overrides, e.g.
`contrastive:pair_iterations=10,learning_rate=5e-5` or
`full:truncation=head_tail,chunks=2` (model options go to `build_classifier`; the
variant is its own row label). Each row records the CPU (`cpu`: vendor and best
vector ISA) and the compute precision, since training time depends on both.

The script prints the command it ran and a table of mean, standard deviation and
runs per dataset, method and size. Notebook 12 and the README table show this CSV:
after adding rows, re-execute the notebook (nbval checks its stored outputs) and update
the README.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "few_shot.csv"
COLUMNS = ["dataset", "method", "size", "seed", "macro_f1", "accuracy", "n_train", "n_test"]
COLUMNS += ["train_seconds", "precision", "cpu"]


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`(pool, test)` DataFrames with columns `text`, `label`."""
    from bertkit.text import datasets

    if name == "drug_reviews":
        train, test = datasets.load_drug_reviews()
        rename = {datasets.DRUG_TEXT_COLUMN: "text", datasets.DRUG_LABEL_COLUMN: "label"}
        return train.rename(columns=rename), test.rename(columns=rename)
    if name == "topics":
        frame = datasets.load_topics()
    elif name == "headlines":
        frame = datasets.load_short_texts("headlines")
        frame = frame.rename(columns={"headline": "text", "category": "label"})
    else:
        raise ValueError(
            f"Unknown dataset. Received: {name!r}. Use topics, headlines or drug_reviews."
        )
    pool, test = train_test_split(frame, test_size=0.5, stratify=frame["label"], random_state=0)
    return pool[["text", "label"]], test[["text", "label"]]


def sample(pool: pd.DataFrame, size: str, seed: int) -> pd.DataFrame:
    """`size` examples per class (all of a smaller class), drawn with `seed`; `all`: the pool."""
    from bertkit.text.splits import sample_per_class

    return pool if size == "all" else pool.iloc[sample_per_class(pool["label"], int(size), seed)]


def parse_method(spec: str) -> tuple[str, dict, dict]:
    """`(strategy, model options, TrainConfig overrides)` of a method such as
    `"full:truncation=head_tail,learning_rate=5e-5"`.

    >>> parse_method("full:truncation=head_tail,chunks=2,learning_rate=5e-5")
    ('full', {'truncation': 'head_tail', 'chunks': 2}, {'learning_rate': 5e-05})
    """
    import bertkit

    # Options that build the model (`bertkit.build_classifier`'s); the others set TrainConfig.
    model_options = inspect.signature(bertkit.build_classifier).parameters
    strategy, _, options = spec.partition(":")
    model, config = {}, {}
    for item in filter(None, options.split(",")):
        key, _, text = item.partition("=")
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text
        (model if key in model_options else config)[key] = value
    return strategy, model, config


@functools.cache
def cpu_name() -> str:
    """The CPU's vendor and its fastest vector ISA flag, e.g. `"AMD avx512_bf16"`:
    training time depends on it (macro-F1 barely does)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import cpu_isa

    vendor = "Intel" if "GenuineIntel" in Path("/proc/cpuinfo").read_text() else "AMD"
    isa = [name for name, present in cpu_isa().items() if present]
    return f"{vendor} {isa[-1] if isa else 'unknown'}"


BASELINES = ("majority", "tfidf")


def run_one(dataset, spec, size, seed, pool, test, preset) -> dict:
    """Trains one method on one sample and scores it on the test split.

    `majority` and `tfidf` (TF-IDF + logistic regression, C by cross-validation on
    the sample, balanced class weights) are `bertkit.evaluate.baselines`; every
    other method is a bertkit strategy.
    """
    import bertkit
    from bertkit.evaluate import baselines
    from bertkit.train import finetune

    train = sample(pool, size, seed)
    labels = bertkit.LabelEncoder.fit(pool["label"])
    train_y, truth = labels.encode(train["label"]), labels.encode(test["label"])
    start = time.perf_counter()
    precision = "-"
    if spec in BASELINES:
        names = list(labels.classes)
        if spec == "majority":
            scores = baselines.majority_baseline(train_y, truth, names)
        else:
            texts = list(train["text"]), train_y, list(test["text"]), truth
            scores = baselines.tfidf_baseline(*texts, names, class_weight="balanced", seed=seed)
        macro_f1, accuracy = scores["macro_f1"], scores["accuracy"]
    else:
        strategy, model_options, overrides = parse_method(spec)
        bertkit.set_seed(seed)
        model = bertkit.build_classifier(preset, labels.num_classes, strategy, **model_options)
        precision = model.precision
        config = bertkit.TrainConfig.for_strategy(strategy, seed=seed, **overrides)
        bertkit.fit(model, list(train["text"]), train_y, config=config, verbose=0)
        predicted = finetune.predict_logits(model, list(test["text"])).argmax(axis=1)
        macro_f1 = f1_score(truth, predicted, average="macro")
        accuracy = accuracy_score(truth, predicted)
    return {
        "dataset": dataset,
        "method": spec,
        "size": size,
        "seed": seed,
        "macro_f1": round(macro_f1, 4),
        "accuracy": round(accuracy, 4),
        "n_train": len(train),
        "n_test": len(test),
        "train_seconds": round(time.perf_counter() - start, 1),
        "precision": precision,
        "cpu": cpu_name(),
    }


def table(results: pd.DataFrame) -> str:
    """Mean ± standard deviation (runs) of macro-F1 per dataset, method and size, as Markdown."""
    grouped = results.groupby(["dataset", "method", "size"], sort=False)["macro_f1"]
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    cells = summary.apply(
        lambda r: f"{r['mean']:.3f} ± {0 if np.isnan(r['std']) else r['std']:.3f} ({r['count']})",
        axis=1,
    )
    wide = summary.assign(cell=cells).pivot_table(
        index=["dataset", "method"], columns="size", values="cell", aggfunc="first", sort=False
    )
    lines = ["| dataset | method | " + " | ".join(map(str, wide.columns)) + " |"]
    lines.append("|---|---|" + "---|" * len(wide.columns))
    for (dataset, method), row in wide.iterrows():
        lines.append(f"| {dataset} | {method} | " + " | ".join(map(str, row.fillna(""))) + " |")
    return "\n".join(lines)


def plot(results: pd.DataFrame, path: Path) -> None:
    """Mean macro-F1 against examples per class, one panel per dataset, bars: std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(results["dataset"]))
    methods = list(dict.fromkeys(results["method"]))  # one colour per method in every panel
    fig, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(4.5 * len(datasets) + 2.5, 3.6),
        squeeze=False,
        layout="constrained",
    )
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = results[results["dataset"] == dataset]
        sizes = sorted(set(rows["size"]), key=lambda s: (s == "all", int(s) if s != "all" else 0))
        for method, group in rows.groupby("method", sort=False):
            stats = group.groupby("size")["macro_f1"].agg(["mean", "std"]).reindex(sizes)
            x = [sizes.index(s) for s in stats.dropna(subset=["mean"]).index]
            stats = stats.dropna(subset=["mean"])
            colour = f"C{methods.index(method) % 10}"
            ax.errorbar(
                x,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=3,
                label=method,
                color=colour,
            )
        ax.set_xticks(range(len(sizes)), sizes)
        ax.set(title=dataset, xlabel="training examples per class", ylabel="macro-F1 (test)")
        ax.grid(alpha=0.3)
    labelled = {}
    for ax in axes[0]:  # some methods (variants) run on one dataset only
        labelled.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(labelled.values(), labelled.keys(), fontsize=8, loc="outside right upper")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["8", "16"], help="per class, or all")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["topics", "headlines", "drug_reviews"])
    parser.add_argument(
        "--methods", nargs="+", default=["majority", "tfidf", "contrastive", "freeze", "full"]
    )
    parser.add_argument("--preset", default="minilm_l6_h384_en_uncased")
    parser.add_argument("--results", type=Path, default=RESULTS, help="CSV to append rows to")
    parser.add_argument("--plot", type=Path, default=None, help="write the plot to this PNG")
    args = parser.parse_args(argv)

    import bertkit  # noqa: F401  (sets up TensorFlow)

    done = pd.read_csv(args.results) if args.results.is_file() else pd.DataFrame(columns=COLUMNS)
    keys = {tuple(map(str, k)) for k in done[["dataset", "method", "size", "seed"]].values}
    for dataset in args.datasets:
        pool, test = load_dataset(dataset)
        for size in args.sizes:
            for seed in args.seeds:
                for method in args.methods:
                    if (dataset, method, str(size), str(seed)) in keys:
                        continue
                    row = run_one(dataset, method, size, seed, pool, test, args.preset)
                    print(row, flush=True)
                    args.results.parent.mkdir(parents=True, exist_ok=True)
                    header = not args.results.is_file()
                    pd.DataFrame([row], columns=COLUMNS).to_csv(
                        args.results, mode="a", header=header, index=False
                    )
    results = pd.read_csv(args.results, dtype={"size": str})
    chosen = results["dataset"].isin(args.datasets) & results["method"].isin(args.methods)
    chosen &= results["size"].isin([str(s) for s in args.sizes])
    chosen &= results["seed"].isin(args.seeds)
    given = sys.argv[1:] if argv is None else argv
    command = "nice -n 15 .venv/bin/python benchmarks/few_shot.py " + shlex.join(given)
    print(f"\n{command}\n\nmacro-F1 on the test split, mean ± std (runs):\n")
    print(table(results[chosen]))
    if args.plot:
        plot(results[chosen], args.plot)
        print(f"\nPlot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
