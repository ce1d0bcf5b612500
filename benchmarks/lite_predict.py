"""Prediction speed of the exported formats, interleaved in one run: tutorial, SavedModel, LiteRT, PyTorch.

The predict-only rows of the speed benchmark (`benchmarks/run.py` trains
first, ~40 min; prediction speed does not depend on what was trained, so this
script loads finished models). Every (round, recipe) runs in a fresh process,
recipes in turn (A B C D A B C D ...), so a neighbour's load falls on all of
them alike; the report gives each recipe's median over the rounds, ratios
from those medians, and the load average beside them.

    .venv/bin/python benchmarks/lite_predict.py --model runs/drugs \\
        --tflite-fp32 runs/drugs.none.tflite --tflite-int8 runs/drugs.int8.tflite \\
        --torch-python /tmp/peer/bin/python --rounds 3

Per row: test reviews predicted per second (379 drug reviews, batch 32, each
batch padded to its longest text, tokenization included), model load
seconds, file size, peak RSS of the process, macro-F1 on the test reviews
(tutorial and PyTorch rows run untrained weights: speed only), and the CPU's
ISA flags. `--rss-texts 10000` adds one int8 run predicting that many texts,
for the "10k texts under 1 GB" target.

Writes benchmarks/results/lite_predict.json and .md. Accuracy of every format on the
drug reviews and both topic sets (held out) is `lite_accuracy.py`'s job.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from run import BATCH_SIZE, RESULTS, cpu_isa, tutorial_model, write_report

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "tutorial": "TF tutorial model: preprocessor inside, pad to 128, fp32 (untrained head)",
    "savedmodel": "bertkit SavedModel (bertkit train output), length-sorted batches",
    "litert_fp32": "bertkit LiteRT export, float32 (--quantize none)",
    "litert_int8": "bertkit LiteRT export, dynamic-range int8 (--quantize int8)",
    "torch_float32": "PyTorch + transformers, float32 (pretrained encoder, untrained head)",
    "torch_int8": "PyTorch dynamic int8 (torch.ao.quantization.quantize_dynamic on Linear)",
}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def child(recipe: str, path: str | None, n_texts: int | None) -> dict:
    """Loads one model, predicts the test reviews (or `n_texts` of them, repeated); returns its row."""
    import numpy as np

    import bertkit
    from bertkit import evaluate
    from bertkit.apps import memory
    from bertkit.text import datasets

    _, test = datasets.load_drug_reviews()
    texts, labels = list(test["review"]), list(test["label"])
    if n_texts:
        texts = (texts * (n_texts // len(texts) + 1))[:n_texts]
    start = time.perf_counter()
    if recipe == "tutorial":
        import tensorflow as tf

        model = tutorial_model(bertkit.DEFAULT_PRESET, 3)
        names = ["negative", "neutral", "positive"]

        def predict(batch):
            return model.predict(tf.constant(batch), batch_size=BATCH_SIZE, verbose=0)
    else:
        model = bertkit.load_model(path)
        names = model.label_names

        def predict(batch):
            return model.predict_proba(batch, batch_size=BATCH_SIZE)

    load_seconds = time.perf_counter() - start
    predict(texts[:BATCH_SIZE])  # warm up (traces, allocates)
    t0 = time.perf_counter()
    scores = np.asarray(predict(texts))
    seconds = time.perf_counter() - t0
    row = {
        "recipe": recipe,
        "predict_examples_per_s": len(texts) / seconds,
        "load_seconds": load_seconds,
        "file_mb": _size(Path(path)) / 1e6 if path else None,
        "peak_rss_gb": memory.peak_rss_gb(),
        "n_texts": len(texts),
    }
    if not n_texts and recipe != "tutorial":
        predicted = [names[i] for i in scores.argmax(axis=1)]
        encode = {n: i for i, n in enumerate(names)}
        metrics = evaluate.classification_metrics(
            [encode[x] for x in labels], [encode[x] for x in predicted], names
        )
        row["test_macro_f1"] = metrics["macro_f1"]
    return row


def _run(command: list[str]) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    """The medians as a Markdown table, with ratios to the tutorial and to PyTorch fp32."""
    rows = report["medians"]
    base = {r["recipe"]: r["predict_examples_per_s"] for r in rows}

    def ratio(recipe, to):
        return f"{base[recipe] / base[to]:.2f}x" if to in base else "n/a"

    def num(value, digits=1):
        return "n/a" if value is None else f"{value:.{digits}f}"

    lines = [
        "| recipe | predict ex/s (median) | all rounds | vs tutorial | vs torch fp32 "
        "| load s | file MB | peak RSS GB | test macro-F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | {r['predict_examples_per_s']:.1f} "
            f"| {', '.join(f'{x:.1f}' for x in r['rounds'])} | {ratio(r['recipe'], 'tutorial')} "
            f"| {ratio(r['recipe'], 'torch_float32')} | {num(r['load_seconds'])} "
            f"| {num(r.get('file_mb'))} | {num(r['peak_rss_gb'], 2)} "
            f"| {num(r.get('test_macro_f1'), 3)} |"
        )
    runs = report["runs"]
    if "litert_int8" in runs:  # ratios within one round: its recipes ran back to back
        lines.append("")
        for i, int8 in enumerate(runs["litert_int8"]):
            ratios = [
                f"{other} {int8['predict_examples_per_s'] / rows_[i]['predict_examples_per_s']:.2f}x"
                for other, rows_ in runs.items()
                if other != "litert_int8"
            ]
            lines.append(f"Round {i + 1}, litert_int8 vs: {', '.join(ratios)}.")
    lines += [
        "",
        f"ISA: {report['isa']}. Load average before/after: {report['load_average']} on "
        f"{os.cpu_count()} cores. Command: `{report['command']}`",
    ]
    if report.get("rss_10k"):
        r = report["rss_10k"]
        lines.append(
            f"\nint8, {r['n_texts']} texts: peak RSS {r['peak_rss_gb']:.2f} GB, "
            f"{r['predict_examples_per_s']:.1f} ex/s."
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="bertkit model directory")
    parser.add_argument("--tflite-fp32", default=None)
    parser.add_argument("--tflite-int8", default=None)
    parser.add_argument("--torch-python", default=None, help="python of the peer venv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-texts", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "lite_predict.json"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n-texts", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.path, args.n_texts)))
        return 0

    paths = {"tutorial": None, "savedmodel": args.model}
    paths.update({"litert_fp32": args.tflite_fp32, "litert_int8": args.tflite_int8})
    paths = {k: v for k, v in paths.items() if k == "tutorial" or v}
    commands = {
        recipe: [sys.executable, __file__, "--child", recipe, "--model", args.model]
        + (["--path", path] if path else [])
        for recipe, path in paths.items()
    }
    if args.torch_python:
        peer = [args.torch_python, str(ROOT / "benchmarks" / "torch_peer.py"), "--predict-only"]
        commands["torch_float32"] = [*peer, "--precision", "float32"]
        commands["torch_int8"] = [*peer, "--precision", "int8"]
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {recipe: [] for recipe in commands}
    for round_ in range(args.rounds):
        for recipe, command in commands.items():
            row = _run(command)
            runs[recipe].append(row)
            print(round_, recipe, json.dumps(row), flush=True)
    medians = []
    for recipe, rows in runs.items():
        speeds = [r["predict_examples_per_s"] for r in rows]
        median = rows[speeds.index(sorted(speeds)[len(speeds) // 2])]
        medians.append(
            {
                **median,
                "description": RECIPES[recipe],
                "predict_examples_per_s": statistics.median(speeds),
                "rounds": speeds,
                "isa": cpu_isa(),
            }
        )
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "isa": cpu_isa(),
        "load_average": [load_before, os.getloadavg()],
        "medians": medians,
        "runs": runs,
    }
    if args.rss_texts and args.tflite_int8:
        command = [*commands["litert_int8"], "--n-texts", str(args.rss_texts)]
        report["rss_10k"] = _run(command)
    write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
