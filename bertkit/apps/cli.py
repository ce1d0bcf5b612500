"""Command line: `python -m bertkit COMMAND ...` (also installed as `bertkit`).

Commands:
    presets                 print the preset table
    build [PRESET ...]      build local presets (default: the embedded default) into the cache
    convert SRC OUT         Hugging Face BERT checkpoint -> TF-Hub encoder + preprocessor
    fetch-data              download the drug review sample into data/
    train                   fine-tune a classifier on a CSV/TSV and save it (SavedModel + labels)
    evaluate                accuracy, macro-F1 and per-class metrics of a saved model, as JSON
    predict                 label and class probabilities per input line, as JSON lines
    export                  a model directory as a LiteRT .tflite (int8) that takes raw strings
    demo                    the three strategies on the drug reviews next to TF-IDF
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

TRUST_HELP = (
    "run the model even if it uses ops that read or write files, use the network or run "
    "code (refused by default: a model directory is a program; only for models you trust)"
)

SEP_HELP = "CSV separator, e.g. ';' or tab (default: sniffed from the first lines)"


def _separator(value: str) -> str:
    """Reads --sep: `tab` or a typed backslash-t mean a tab, anything else is taken as given.

    Args:
        value: str. The --sep value (`data.load` checks it is one character).
    """
    return "\t" if value.lower() in ("tab", "\\t") else value


def _cmd_presets(args: argparse.Namespace) -> int:
    from bertkit import presets

    presets.list_presets(args.language)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from bertkit.presets import local_presets

    for name in args.presets:
        root = local_presets.ensure_built(name, verbose=True)
        print(f"{name}: {root}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from bertkit.presets import converter

    out = converter.convert(
        args.src,
        args.out,
        seq_length=args.seq_length,
        overwrite=args.overwrite,
        variants=tuple(args.variants),
    )
    print(f"Wrote {out}/encoder and {out}/preprocessor")
    return 0


def _cmd_fetch_data(args: argparse.Namespace) -> int:
    from bertkit.text import datasets

    print(datasets.fetch_drug_reviews(force=args.force))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import inspect

    from bertkit.apps import training_job

    # `train`'s options are named after `train_from_files`' parameters: pass them on by name.
    params = inspect.signature(training_job.train_from_files).parameters
    summary = training_job.train_from_files(
        **{k: v for k, v in vars(args).items() if k in params and k != "verbose"},
        # progress bars for people, one line per epoch for logs
        verbose=1 if sys.stdout.isatty() else 2,
    )
    print(json.dumps(summary))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bertkit.apps import training_job

    metrics = training_job.evaluate_files(
        args.model,
        args.data,
        args.text_column,
        args.label_column,
        on_bad_text=args.on_bad_text,
        progress=sys.stderr.isatty(),
        trust_model=args.trust_model,
        sep=args.sep,
    )
    print(json.dumps(metrics))
    return 0


def _read_lines(path: str):
    """Returns the lines of `path` (`-`: stdin) as UTF-8 text, one generator for both.

    A missing path or a directory fails here, before the model loads; invalid
    UTF-8 (in a file or on stdin) fails with the line number when it is read.
    A byte-order mark at the start is dropped; line ends stay (`predict_lines` strips them).

    Args:
        path: str. The --input value.
    """
    if path != "-" and os.path.isdir(path):
        raise IsADirectoryError(
            f"--input is a directory, not a file. Received: --input {path!r}. "
            "Pass a text file with one text per line, or - to read texts from stdin."
        )
    if path != "-" and not os.path.exists(path):  # pipes such as <(...) are fine
        raise FileNotFoundError(
            f"No such file to predict on. Received: --input {path!r}. "
            "Check the path, or pass - to read texts from stdin."
        )

    def lines():
        with open(path, "rb") if path != "-" else contextlib.nullcontext(sys.stdin.buffer) as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    yield line.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    source = "stdin" if path == "-" else repr(path)
                    raise ValueError(
                        f"--input is not valid UTF-8. Received: {source}, invalid bytes "
                        f"{line[err.start : err.end]!r} on line {number}. Re-save the file as "
                        "UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT`)."
                    ) from None

    return lines()


def _cmd_predict(args: argparse.Namespace) -> int:
    from bertkit.apps import training_job
    from bertkit.text import inputs

    batch_size = inputs.PREDICT_BATCH_SIZE if args.batch_size is None else args.batch_size
    lines = _read_lines(args.input)
    for line in training_job.predict_lines(args.model, lines, batch_size, args.trust_model):
        print(line)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from bertkit.export import litert

    path = litert.export_tflite(
        args.model,
        args.output,
        args.quantize,
        overwrite=args.overwrite,
        trust_model=args.trust_model,
    )
    print(
        json.dumps({"output": str(path), "bytes": path.stat().st_size, "quantize": args.quantize})
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from bertkit.apps import demo

    demo.run(quick=args.quick)
    return 0


def _add_long_text_arguments(p: argparse.ArgumentParser) -> None:
    """`train`'s options for texts longer than --seq-length (`bertkit.text.long_texts`)."""
    p.add_argument(
        "--truncation",
        default="head_tail",
        choices=["head", "tail", "head_tail"],
        help="wordpieces kept from a long text: the first, the last, or (default) the first "
        "--head-tokens and the last (saved with the model: predict and export follow it)",
    )
    p.add_argument(
        "--head-tokens", type=int, default=None, help="head_tail: from the head (default: 1/4)"
    )
    p.add_argument(
        "--chunks",
        type=int,
        default=1,
        help="split a long text into up to N windows of --seq-length; predictions average "
        "their features (1: no chunking)",
    )
    p.add_argument(
        "--chunk-overlap", type=int, default=0, help="wordpieces neighbouring windows share"
    )


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `bertkit` command."""
    from bertkit.export import litert
    from bertkit.presets import DEFAULT_PRESET
    from bertkit.train.distribute import TRAINING_DISTRIBUTE

    parser = argparse.ArgumentParser(prog="bertkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("presets", help="print the preset table")
    p.add_argument("--language", default=None, help="only presets of this language (en, multi, zh)")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("build", help="build local presets into the cache (idempotent)")
    p.add_argument("presets", nargs="*", default=[DEFAULT_PRESET])
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("convert", help="convert a Hugging Face BERT checkpoint to TF-Hub format")
    p.add_argument("src", help="directory with config.json, model.safetensors, vocab.txt")
    p.add_argument("out", help="output directory (gets encoder/ and preprocessor/)")
    p.add_argument("--seq-length", type=int, default=128, help="preprocessor's default length")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument(
        "--variants",
        nargs="*",
        default=["mixed_bfloat16"],
        choices=["mixed_bfloat16", "mixed_float16"],
        help="mixed-precision encoder copies to save next to the float32 encoder",
    )
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("fetch-data", help="download the drug review sample into data/")
    p.add_argument("--force", action="store_true", help="download again")
    p.set_defaults(func=_cmd_fetch_data)

    from bertkit.train.config import FEW_SHOT_MAX_PER_CLASS, TrainConfig

    defaults = TrainConfig()
    p = sub.add_parser("train", help="fine-tune a classifier and save it")
    p.add_argument("--train", required=True, help="training CSV/TSV")
    p.add_argument(
        "--validation", default=None, help="validation CSV/TSV (default: 10%% of --train)"
    )
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--sep", type=_separator, default=None, help=SEP_HELP)
    p.add_argument("--preset", default=DEFAULT_PRESET, help="preset name, TF-Hub URL or directory")
    p.add_argument(
        "--strategy",
        default="auto",
        choices=["auto", "freeze", "partial", "full", "contrastive"],
        help="auto (default): contrastive when the smallest class has at most "
        f"{FEW_SHOT_MAX_PER_CLASS} training texts, else full (README, 'Few labelled examples')",
    )
    p.add_argument(
        "--unfreeze-top", type=int, default=2, help="layers trained by --strategy partial"
    )
    p.add_argument(
        "--iterations",
        dest="pair_iterations",
        type=int,
        default=None,
        help="--strategy contrastive: rounds of sentence pairs (default 20, as SetFit)",
    )
    p.add_argument(
        "--pairs-per-example",
        type=int,
        default=None,
        help="--strategy contrastive: pairs per example and round, half of its class (default 2)",
    )
    p.add_argument("--epochs", type=int, default=None, help="default depends on strategy")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument(
        "--micro-batch-size",
        type=int,
        default=None,
        help="out of memory? compute each batch in pieces of this many examples "
        "(gradient accumulation: same updates, less memory, somewhat slower)",
    )
    p.add_argument("--learning-rate", type=float, default=None, help="default depends on strategy")
    p.add_argument("--seq-length", type=int, default=128)
    p.add_argument("--pooling", default="mean", choices=["mean", "pooled"])
    _add_long_text_arguments(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--on-bad-text",
        default="error",
        choices=["error", "drop"],
        help="empty/missing texts: stop with their row numbers, or drop them",
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
        help="encoder compute precision (auto: bfloat16 where the CPU supports it)",
    )
    p.add_argument(
        "--deterministic", action="store_true", help="bit-identical reruns (op determinism)"
    )
    p.add_argument("--output", required=True, help="model directory to write")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --output (only an empty or bertkit model directory)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard checkpoints of an interrupted run (OUTPUT.checkpoints) instead of resuming",
    )
    p.add_argument(
        "--distribute",
        default="none",
        choices=TRAINING_DISTRIBUTE,
        help="mirrored: the GPUs of this machine (or --devices logical CPUs); multi_worker: "
        "run the same command on every worker, each with its own TF_CONFIG (only the chief "
        "writes --output; no checkpoints). --batch-size is the global batch",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        help="replicas for --distribute mirrored: the first N GPUs; without GPUs, N logical "
        "CPU devices (to try it out: they share the cores, so it is not faster)",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate", help="metrics of a saved model on labelled data, as one JSON object"
    )
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--sep", type=_separator, default=None, help=SEP_HELP)
    p.add_argument("--on-bad-text", default="error", choices=["error", "drop"])
    p.add_argument("--trust-model", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="one JSON line per input line: label and probabilities")
    p.add_argument("--model", required=True)
    p.add_argument("--input", default="-", help="text file, one text per line; - for stdin")
    p.add_argument(
        "--batch-size", type=int, default=None, help="texts per forward pass (default: 32)"
    )
    p.add_argument("--trust-model", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "export", help="convert a model directory to a LiteRT .tflite on raw strings"
    )
    p.add_argument("--model", required=True, help="model directory (the --output of train)")
    p.add_argument("--format", default="tflite", choices=litert.FORMATS, help="export format")
    p.add_argument(
        "--quantize",
        default="int8",
        choices=litert.QUANTIZE,
        help="int8: dynamic-range int8 weights (smallest, fastest on CPUs); none: float32",
    )
    p.add_argument("--output", default=None, help="file to write (default: MODEL.QUANTIZE.tflite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument("--trust-model", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("demo", help="freeze / partial / full on the drug reviews vs TF-IDF")
    p.add_argument("--quick", action="store_true", help="fewer epochs (also BERTKIT_QUICK=1)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (
        ValueError,
        FileNotFoundError,
        FileExistsError,
        ImportError,
        OSError,
        FloatingPointError,  # training diverged (preflight.NonFiniteLossError)
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
