"""`python -m bertkit.apps.search`: a grid search on the drug reviews, printed as a table.

Examples:
>>> args = build_parser().parse_args(["--epochs", "2", "--train-limit", "100"])
>>> args.epochs, args.train_limit, args.strategy
([2], 100, 'partial')
"""

from __future__ import annotations

import dataclasses

from bertkit.apps.search.drug_reviews import drug_reviews_split
from bertkit.apps.search.grid import BERT_README_GRID, METRICS, format_learning_rate, format_results
from bertkit.apps.search.tuner import grid_search
from bertkit.train.config import TrainConfig


def build_parser():
    """Arguments of `python -m bertkit.apps.search` (defaults: the full BERT README grid)."""
    import argparse

    from bertkit.presets import DEFAULT_PRESET

    parser = argparse.ArgumentParser(
        prog="python -m bertkit.apps.search",
        description="Grid search of batch size x learning rate x epochs on the drug reviews "
        "(validation split of the training reviews); prints the table and the best cell.",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--strategy", default="partial", choices=["freeze", "partial", "full"])
    parser.add_argument("--unfreeze-top", type=int, default=2)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=BERT_README_GRID["batch_size"]
    )
    parser.add_argument(
        "--learning-rates", type=float, nargs="+", default=BERT_README_GRID["learning_rate"]
    )
    parser.add_argument("--epochs", type=int, nargs="+", default=BERT_README_GRID["epochs"])
    parser.add_argument("--train-limit", type=int, default=None, help="sample this many reviews")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--metric", default="val_macro_f1", choices=list(METRICS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--directory", default=None, help="KerasTuner trial records (default: the bertkit cache)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m bertkit.apps.search`: runs the search and prints the results and the best cell."""
    from bertkit.presets import cache_dir

    args = build_parser().parse_args(argv)
    train, validation, labels = drug_reviews_split(
        args.train_limit, args.validation_fraction, args.seed
    )
    result = grid_search(
        args.preset,
        train.texts,
        labels.encode(train.labels),
        (validation.texts, labels.encode(validation.labels)),
        labels.num_classes,
        directory=args.directory or cache_dir() / "search",
        grid={
            "batch_size": args.batch_sizes,
            "learning_rate": args.learning_rates,
            "epochs": args.epochs,
        },
        strategy=args.strategy,
        unfreeze_top=args.unfreeze_top,
        config=dataclasses.replace(
            TrainConfig.for_strategy(args.strategy, seed=args.seed),
            early_stopping_patience=None,
        ),
        metric=args.metric,
        verbose=1,
    )
    print(format_results(result.results))
    best = result.best
    print(
        f"best by {args.metric}: batch_size={best['batch_size']} "
        f"learning_rate={format_learning_rate(best['learning_rate'])} epochs={best['epochs']} "
        f"({args.metric} {result.best_row[args.metric]:.3f}; {len(train)} train / "
        f"{len(validation)} validation reviews)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
