"""Command line: `python -m bertkit COMMAND ...` (also installed as `bertkit`).

Commands:
    presets                 print the preset table
    build [PRESET ...]      build local presets (default: the embedded default) into the cache
    convert SRC OUT         Hugging Face BERT checkpoint -> TF-Hub encoder + preprocessor
    fetch-data              download the drug review sample into data/
"""

from __future__ import annotations

import argparse
import sys


def _cmd_presets(args: argparse.Namespace) -> int:
    from bertkit import presets

    presets.list_presets(args.language)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from bertkit import local_presets

    for name in args.presets:
        root = local_presets.ensure_built(name, verbose=True)
        print(f"{name}: {root}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from bertkit import converter

    out = converter.convert(args.src, args.out, seq_length=args.seq_length, overwrite=args.overwrite)
    print(f"Wrote {out}/encoder and {out}/preprocessor")
    return 0


def _cmd_fetch_data(args: argparse.Namespace) -> int:
    from bertkit import datasets

    print(datasets.fetch_drug_reviews(force=args.force))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `bertkit` command."""
    from bertkit.presets import DEFAULT_PRESET

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
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("fetch-data", help="download the drug review sample into data/")
    p.add_argument("--force", action="store_true", help="download again")
    p.set_defaults(func=_cmd_fetch_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
