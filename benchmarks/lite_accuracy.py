"""Accuracy of the LiteRT exports against their SavedModel: the drug reviews and both topic sets.

The accuracy half of the LiteRT benchmark (`lite_predict.py` measures speed; this
script times nothing, so it can run on a busy machine). For each data set it
trains a model with the CLI as a user would, exports it with `bertkit export
--quantize none`, `float16` and `int8`, and runs `bertkit evaluate` on the
held-out rows with the SavedModel and the three `.tflite` files:

- `drugs`: data/drugsCom train.csv / test.csv (600 / 379 reviews, 3 classes),
  `--strategy partial --epochs 2`;
- `topics`: data/topics.csv (188 sentences, 3 classes), stratified 70/30 split;
- `short_topics`: benchmarks/data/short_topics.csv (420 headlines, 6 classes),
  stratified 70/30 split, as `short_topics.py` does.

Both topic sets train `--strategy full --epochs 4` on the default preset.

    .venv/bin/python benchmarks/lite_accuracy.py [--sets drugs topics short_topics] \\
        [--workdir /tmp/lite_accuracy]

With `--workdir`, models and exports stay there and a rerun reuses them.
Writes benchmarks/results/lite_accuracy.json and .md (macro-F1, accuracy, file
sizes, and int8 minus float32 macro-F1 against the 0.01 target).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from run import write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
QUANTIZE = ("none", "float16", "int8")
TOPIC_TRAINING = ["--strategy", "full", "--epochs", "4"]
SETS = {
    # --truncation head: the recipe the recorded figures (results/lite_accuracy.md) were made with.
    "drugs": dict(
        text="review",
        label="label",
        train=["--strategy", "partial", "--epochs", "2", "--truncation", "head"],
    ),
    "topics": dict(path=ROOT / "data" / "topics.csv", text="text", label="label"),
    "short_topics": dict(
        path=ROOT / "benchmarks" / "data" / "short_topics.csv", text="headline", label="category"
    ),
}


def _bertkit(*args) -> str:
    """Runs `python -m bertkit ARGS`; returns its stdout (raises with stderr on failure)."""
    command = [sys.executable, "-m", "bertkit", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def split(name: str, folder: Path, seed: int) -> tuple[Path, Path]:
    """Writes `train.csv` and `test.csv` of one set into `folder`; returns their paths."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from bertkit.text import datasets

    spec = SETS[name]
    if name == "drugs":
        train, test = datasets.load_drug_reviews(fetch=False)
    else:
        frame = pd.read_csv(spec["path"])
        train, test = train_test_split(
            frame, test_size=0.3, stratify=frame[spec["label"]], random_state=seed
        )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.csv", folder / "test.csv"
    for frame, path in zip((train, test), paths, strict=True):
        frame[[spec["text"], spec["label"]]].to_csv(path, index=False)
    return paths


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def measure(name: str, folder: Path, seed: int) -> dict:
    """Trains (unless done), exports and evaluates one set; returns its rows."""
    import pandas as pd

    spec = SETS[name]
    train, test = split(name, folder, seed)
    columns = ["--text-column", spec["text"], "--label-column", spec["label"]]
    model = folder / "model"
    if not model.is_dir():
        _bertkit("train", "--train", train, *columns, *spec.get("train", TOPIC_TRAINING),
                 "--seed", seed, "--output", model)  # fmt: skip
    files = {"savedmodel": model}
    for quantize in QUANTIZE:
        files[quantize] = folder / f"model.{quantize}.tflite"
        if not files[quantize].is_file():
            _bertkit(
                "export", "--model", model, "--quantize", quantize, "--output", files[quantize]
            )
    rows = {}
    for kind, path in files.items():
        metrics = json.loads(_bertkit("evaluate", "--model", path, "--data", test, *columns))
        rows[kind] = {
            "macro_f1": metrics["macro_f1"],
            "accuracy": metrics["accuracy"],
            "n": metrics["n"],
            "bytes": _size(path),
        }
    return {"n_train": len(pd.read_csv(train)), "rows": rows}


def markdown(report: dict) -> str:
    """One table row per set: macro-F1 (accuracy) of each format, int8 - float32, sizes."""
    lines = [
        "| data (test rows) | SavedModel | LiteRT float32 | LiteRT float16 | LiteRT int8 "
        "| int8 - float32 macro-F1 | within 0.01 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, result in report["sets"].items():
        rows = result["rows"]
        cells = [f"{rows[k]['macro_f1']:.4f} ({rows[k]['accuracy']:.4f})" for k in rows]
        delta = rows["int8"]["macro_f1"] - rows["none"]["macro_f1"]
        lines.append(
            f"| {name} ({rows['none']['n']}) | {' | '.join(cells)} | {delta:+.4f} "
            f"| {'yes' if abs(delta) <= 0.01 else 'no'} |"
        )
    lines += ["", "Cells: macro-F1 (accuracy). File sizes in MB:", ""]
    lines += ["| data | SavedModel | float32 | float16 | int8 | float16 / float32 |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for name, result in report["sets"].items():
        size = {k: r["bytes"] for k, r in result["rows"].items()}
        mb = " | ".join(f"{size[k] / 1e6:.1f}" for k in size)
        lines.append(f"| {name} | {mb} | {size['float16'] / size['none']:.1%} |")
    lines += ["", f"Command: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seed", type=int, default=0, help="topic splits and training")
    parser.add_argument("--workdir", default=None, help="keep models here (default: a temp dir)")
    parser.add_argument("--out", default=str(RESULTS / "lite_accuracy.json"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lite-accuracy-") as tmp:
        workdir = Path(args.workdir or tmp)
        report = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "seed": args.seed,
            "sets": {},
        }
        for name in args.sets:
            report["sets"][name] = measure(name, workdir / name, args.seed)
            print(name, json.dumps(report["sets"][name]), flush=True)
    write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
