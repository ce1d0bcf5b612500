"""Prediction speed of an exported classifier vs texts per forward pass.

Exports an untrained 3-class classifier on the default preset (speed does not
depend on the weights' values), then times `SavedClassifier.predict_proba` on
the 379 test drug reviews at each batch size, best of `--repeats` passes after
one warm-up pass. This is the measurement behind
`bertkit.text.inputs.PREDICT_BATCH_SIZE`.

    .venv/bin/python benchmarks/predict_batch.py
    .venv/bin/python benchmarks/predict_batch.py --batch-sizes 16 32 64 --repeats 3

Prints one JSON row per batch size and a Markdown table, and writes
`benchmarks/results/predict_batch.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "predict_batch.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=None, help="default: the embedded default model")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 16, 32, 64, 128])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    import bertkit
    from bertkit.text import datasets

    preset = args.preset or bertkit.DEFAULT_PRESET
    texts = list(datasets.load_drug_reviews()[1]["review"])
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        bertkit.set_seed(0)
        model = bertkit.build_classifier(preset, 3, "full", precision="float32")
        saved = bertkit.load_model(bertkit.save_model(model, Path(workdir) / "m", ["a", "b", "c"]))
        for batch_size in args.batch_sizes:
            saved.predict_proba(texts, batch_size=batch_size)  # warm-up: traces each shape
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                saved.predict_proba(texts, batch_size=batch_size)
                best = min(best, time.perf_counter() - start)
            row = {
                "preset": preset,
                "batch_size": batch_size,
                "texts": len(texts),
                "examples_per_s": len(texts) / best,
                "load_average": os.getloadavg(),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [
        f"`python benchmarks/predict_batch.py --batch-sizes "
        f"{' '.join(map(str, args.batch_sizes))} --repeats {args.repeats}` "
        f"({len(texts)} test reviews, {preset}, best of {args.repeats})",
        "",
        "| batch size | reviews/s |",
        "|---:|---:|",
        *(f"| {r['batch_size']} | {r['examples_per_s']:.1f} |" for r in rows),
    ]
    table = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(table)
    tmp.replace(RESULTS)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
