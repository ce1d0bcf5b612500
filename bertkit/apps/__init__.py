"""The programs on top of the stages.

`cli` is the command line; `training_job` holds the jobs behind it (train,
evaluate, predict from files); `demo` is `make demo`; the `search` package runs a grid
search with KerasTuner; `memory` measures peak memory per batch size and
sequence length.

Examples:
>>> from bertkit.apps import cli
>>> args = cli.build_parser().parse_args(["train", "--train", "x.csv", "--output", "runs/m"])
>>> args.command, args.strategy
('train', 'auto')
"""
