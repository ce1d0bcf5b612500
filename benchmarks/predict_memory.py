"""Peak memory of streaming prediction: does `predict` stay bounded as the input grows?

For each preset, exports an (untrained: memory does not depend on the weights'
values) 3-class classifier, writes N realistic texts to a file (1-4 sentences
sampled with a seed from the drug reviews), and runs two prediction paths,
each in a fresh process so peaks do not mix:

- `lines`: the CLI path, `training_job.predict_lines` reading the file line by
  line and writing JSON lines to a file (what `bertkit predict` does);
- `proba`: `SavedClassifier.predict_proba` over chunks of 1,000 lines read
  lazily from the file, writing the predicted labels to a file.

Memory is the resident set size (RSS): `rss_loaded_mb` after imports, model
load and one warm-up batch; `peak_rss_mb` the highest RSS while predicting
(sampled every 50 ms in a thread); `growth_mb` = peak - loaded. If prediction
streams, `growth_mb` does not grow with N. `process_peak_rss_mb` (getrusage
ru_maxrss) also covers loading. The `lines` path loads its model inside
`predict_lines`, as the CLI does, so its growth includes one more model load.

Run (a few minutes for the tiny preset; the default preset reads ~100 texts/s
per core):

    .venv/bin/python benchmarks/predict_memory.py
    .venv/bin/python benchmarks/predict_memory.py --run tiny:10000 --run tiny:100000

Prints a Markdown table and merges the rows into
`benchmarks/results/predict_memory.json` (keyed by preset, path and N).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "predict_memory.json"
PRESET_ALIASES = {"tiny": "tiny_random_en_uncased", "default": "minilm_l6_h384_en_uncased"}
DEFAULT_RUNS = ["tiny:10000", "tiny:100000", "default:10000", "default:30000"]
PATHS = ("lines", "proba")
CHUNK = 1000
BATCH_SIZE = 64
LABELS = ["negative", "neutral", "positive"]


def _rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakSampler:
    """Samples this process's RSS every `interval` seconds in a thread; `.peak_mb` is the maximum."""

    def __init__(self, interval: float = 0.05):
        import threading

        self.interval = interval
        self.peak_mb = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


def write_texts(path: Path, n: int, seed: int = 0) -> float:
    """Writes `n` texts of 1-4 drug-review sentences, one per line; returns mean characters."""
    import numpy as np

    from bertkit.text import datasets

    train, test = datasets.load_drug_reviews()
    sentences = []
    for review in list(train["review"]) + list(test["review"]):
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(str(review).split())):
            if len(sentence) > 3:
                sentences.append(sentence)
    rng = np.random.default_rng(seed)
    total = 0
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(n):
            picks = rng.integers(0, len(sentences), size=int(rng.integers(1, 5)))
            text = " ".join(sentences[i] for i in picks)
            total += len(text)
            handle.write(text + "\n")
    return total / max(n, 1)


def export_model(preset: str, directory: Path) -> Path:
    """Saves an untrained 3-class `preset` classifier (freeze strategy) to `directory`."""
    import bertkit

    model = bertkit.build_classifier(preset, len(LABELS), "freeze")
    return bertkit.save_model(model, directory, LABELS)


def _lines(path: Path):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\n")


def worker(path: str, model_dir: Path, input_file: Path, output_file: Path) -> dict:
    """Runs one prediction path in this process and returns its measurements."""
    from bertkit.apps import training_job
    from bertkit.export import saved_classifier

    start_rss = _rss_mb()
    # Warm up (model load, tracing) so `rss_loaded_mb` is the steady state before the input.
    # The lines path loads its own model (as the CLI does) on every call.
    if path == "lines":
        list(training_job.predict_lines(model_dir, ["warm up"] * BATCH_SIZE))
    else:
        model = saved_classifier.load_model(model_dir)
        model.predict_proba(["warm up"] * BATCH_SIZE)
    loaded_rss = _rss_mb()
    start = time.perf_counter()
    n = 0
    with PeakSampler() as sampler, open(output_file, "w", encoding="utf-8") as out:
        if path == "lines":
            with open(input_file, encoding="utf-8") as lines:
                for row in training_job.predict_lines(model_dir, lines, batch_size=BATCH_SIZE):
                    out.write(row + "\n")
                    n += 1
        else:
            chunk = []
            for text in _lines(input_file):
                chunk.append(text)
                if len(chunk) == CHUNK:
                    probs = model.predict_proba(chunk, batch_size=BATCH_SIZE)
                    out.writelines(model.label_names[i] + "\n" for i in probs.argmax(axis=1))
                    n += len(chunk)
                    chunk = []
            if chunk:
                probs = model.predict_proba(chunk, batch_size=BATCH_SIZE)
                out.writelines(model.label_names[i] + "\n" for i in probs.argmax(axis=1))
                n += len(chunk)
    seconds = time.perf_counter() - start
    return {
        "predictions": n,
        "seconds": round(seconds, 1),
        "texts_per_second": round(n / seconds, 1),
        "rss_after_import_mb": round(start_rss, 1),
        "rss_loaded_mb": round(loaded_rss, 1),
        "rss_end_mb": round(_rss_mb(), 1),
        "peak_rss_mb": round(sampler.peak_mb, 1),
        "growth_mb": round(sampler.peak_mb - loaded_rss, 1),
        "process_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_one(path: str, model_dir: Path, input_file: Path, work: Path) -> dict:
    """Runs `worker` in a fresh Python process (so each peak RSS is its own)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    command = [
        sys.executable,
        __file__,
        "--worker",
        path,
        str(model_dir),
        str(input_file),
        str(work / f"out-{path}.txt"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"worker {path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict]) -> str:
    """The runs as a Markdown table."""
    header = (
        "| preset | path | N | seconds | texts/s | RSS loaded (MB) | peak RSS (MB) "
        "| growth (MB) |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['preset']} | {r['path']} | {r['n']:,} | {r['seconds']} | {r['texts_per_second']} "
        f"| {r['rss_loaded_mb']} | {r['peak_rss_mb']} | {r['growth_mb']} |"
        for r in sorted(rows, key=lambda r: (r["preset"], r["path"], r["n"]))
    ]
    return "\n".join([header, *lines])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run",
        action="append",
        help=f"PRESET:N, PRESET being tiny, default or a preset name (default: {DEFAULT_RUNS})",
    )
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        path, model_dir, input_file, output_file = args.worker
        print(json.dumps(worker(path, Path(model_dir), Path(input_file), Path(output_file))))
        return

    import bertkit  # noqa: F401  (sets up TensorFlow)

    runs = [
        (PRESET_ALIASES.get(p, p), int(n))
        for p, n in (r.split(":") for r in args.run or DEFAULT_RUNS)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bertkit-predict-memory-") as tmp:
        work = Path(tmp)
        models, mean_chars = {}, {}
        for preset, n in runs:
            if preset not in models:
                models[preset] = export_model(preset, work / f"model-{preset}")
            input_file = work / f"texts-{n}.txt"
            if not input_file.exists():
                mean_chars[n] = round(write_texts(input_file, n, args.seed), 1)
                print(f"wrote {n:,} texts, {mean_chars[n]} characters on average", flush=True)
            for path in args.paths:
                row = {"preset": preset, "path": path, "n": n, "mean_chars": mean_chars[n]}
                row["batch_size"] = BATCH_SIZE
                row.update(run_one(path, models[preset], input_file, work))
                if row["predictions"] != n:
                    raise RuntimeError(f"expected {n} predictions, got {row['predictions']}")
                rows.append(row)
                print(json.dumps(row), flush=True)

    previous = json.loads(RESULTS.read_text())["runs"] if RESULTS.is_file() else []
    keys = {(r["preset"], r["path"], r["n"]) for r in rows}
    merged = [r for r in previous if (r["preset"], r["path"], r["n"]) not in keys] + rows
    import tensorflow as tf

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = RESULTS.with_suffix(".json.tmp")
    tmp_file.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "tensorflow": tf.__version__,
                },
                "chunk": CHUNK,
                "runs": sorted(merged, key=lambda r: (r["preset"], r["path"], r["n"])),
            },
            indent=2,
        )
        + "\n"
    )
    os.replace(tmp_file, RESULTS)
    print()
    print(markdown(merged))


if __name__ == "__main__":
    main()
