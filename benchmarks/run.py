"""Fine-tuning speed on this CPU: the TF-tutorial recipe vs bertkit's strategies and levers.

One command, same data (the bundled drug reviews), same model (the default
MiniLM-L6), same machine:

    .venv/bin/python benchmarks/run.py                     # everything (~30-40 min on 2 cores)
    .venv/bin/python benchmarks/run.py --recipes tutorial full_fp32 full_bf16
    .venv/bin/python benchmarks/run.py --quick             # smoke run: tiny model, 1 epoch
    make bench

Each recipe runs in its own process (so peak RSS is its own), trains
`--epochs` epochs on the training reviews with batch 32 and max length 128,
then reports test accuracy and prediction speed. Throughput counts every
training step after the first `WARMUP_STEPS` (tracing/compilation excluded).

Reported per recipe: train examples/s, real (non-pad) tokens/s, useful
training FLOP/s and that as a fraction of the fp32 and bf16 matmul peaks
measured at the start of the same run (MFU), peak RSS, test accuracy and
macro-F1, and prediction examples/s. "Useful" FLOPs count only real tokens:
forward = 2 x (matmul weights) + attention (4 x layers x hidden x length) per
token; training = forward + 2 x forward of the layers that train.

Writes benchmarks/results/speed.json and benchmarks/results/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WARMUP_STEPS = 3
BATCH_SIZE = 32
SEQ_LENGTH = 128
RECIPES = {
    "tutorial": "TF tutorial: preprocessor in the model, pad to 128, fp32, AdamW 3e-5",
    "full_fp32": "bertkit full: tokenize once, dynamic padding + length buckets, fp32",
    "full_fp32_nobucket": "bertkit full: dynamic padding, no length buckets, fp32",
    "full_fp32_micro8": "bertkit full: as full_fp32, gradients summed over micro-batches of 8",
    "full_bf16": "bertkit full: as full_fp32, encoder computing in bfloat16",
    "full_fp32_xla": "bertkit full: as full_fp32, XLA jit_compile (lengths rounded to 32)",
    "full_fp32_1thread": "bertkit full: as full_fp32, 1 intra-op thread",
    "partial2": "bertkit partial: top 2 of 6 layers train, fp32",
    "freeze_cached": "bertkit freeze: features computed once, head trained on them",
    "freeze_through_hub": "freeze without the cache: every epoch runs the frozen encoder",
}


def matmul_peak(dtype_name: str, n: int = 2048, repeats: int = 7) -> float:
    """Best-of-`repeats` GFLOP/s of an n x n matmul in TensorFlow."""
    import tensorflow as tf

    dtype = getattr(tf, dtype_name)
    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    fn = tf.function(lambda x, y: tf.matmul(x, y))
    fn(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_token(config: dict, mean_length: float, trained_layers: int) -> float:
    """Useful training FLOPs per real token (see module docs).

    Examples:
    >>> round(flops_per_token({"hidden_size": 384, "intermediate_size": 1536,
    ...     "num_hidden_layers": 6}, 100, 6) / 1e6, 1)
    66.3
    """
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    layers = config["num_hidden_layers"]
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * inner) + 4 * hidden * mean_length
    return layers * per_layer + 2 * trained_layers * per_layer


class _StepTimer:
    """Keras callback: wall time of training steps after the first WARMUP_STEPS."""

    def __new__(cls):
        import tf_keras

        from bertkit.apps import memory

        class Timer(tf_keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.durations, self._t = [], None

            def on_train_end(self, logs=None):
                self.train_peak_rss_gb = memory.peak_rss_gb()  # build + training, nothing after

            def on_train_batch_begin(self, batch, logs=None):
                self._t = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.durations.append(time.perf_counter() - self._t)

            @property
            def warmup(self) -> int:  # short runs (--quick) keep most of their steps
                return min(WARMUP_STEPS, len(self.durations) // 4)

            @property
            def steps(self) -> int:
                return len(self.durations)

            @property
            def seconds(self) -> float:
                return float(sum(self.durations[self.warmup :]))

        return Timer()


def _load_data(quick: bool, n_train: int | None = None):
    import bertkit
    from bertkit.text import datasets, loaders

    train_df, test_df = datasets.load_drug_reviews()
    if quick:
        train_df, test_df = train_df.iloc[:64], test_df.iloc[:64]
    if n_train:
        train_df = train_df.sample(n=min(n_train, len(train_df)), random_state=0)
    train = loaders.from_dataframe(train_df, "review", "label")
    test = loaders.from_dataframe(test_df, "review", "label")
    labels = bertkit.LabelEncoder.fit(train.labels)
    return train, test, labels


def _real_lengths(model, texts):
    from bertkit.text import inputs

    return inputs.encode_texts(model, texts).lengths


def cpu_isa() -> dict[str, bool]:
    """The CPU's vector ISA flags that decide int8/bf16 speed, from /proc/cpuinfo (Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((ln for ln in f if ln.startswith("flags")), "").split())
    except OSError:
        flags = set()
    names = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    return {**{n: n in flags for n in names}, "amx": bool({"amx_int8", "amx_bf16"} & flags)}


def tutorial_model(preset: str, num_classes: int):
    """The TF 'Classify text with BERT' model: preprocessor inside, pooled output, dense head."""
    import tensorflow as tf
    import tensorflow_hub as hub
    import tf_keras

    import bertkit
    from bertkit import names

    text = tf_keras.Input(shape=(), dtype=tf.string, name="text")
    packed = hub.KerasLayer(str(bertkit.resolve(preset, names.PREPROCESSOR_DIR)))(text)
    encoder_dir = bertkit.resolve(preset, names.ENCODER_DIR)
    outputs = hub.KerasLayer(str(encoder_dir), trainable=True)(packed)
    x = tf_keras.layers.Dropout(0.1)(outputs[names.POOLED_OUTPUT])
    return tf_keras.Model(text, tf_keras.layers.Dense(num_classes)(x))


def _tutorial(preset, train, test, labels, epochs, timer):
    """The TF 'Classify text with BERT' recipe, on the same encoder."""
    import tensorflow as tf
    import tf_keras
    from official.nlp import optimization

    model = tutorial_model(preset, labels.num_classes)
    steps = -(-len(train.texts) // BATCH_SIZE) * epochs
    optimizer = optimization.create_optimizer(
        init_lr=3e-5, num_train_steps=steps, num_warmup_steps=steps // 10, optimizer_type="adamw"
    )
    model.compile(
        optimizer=optimizer,
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    ds = tf.data.Dataset.from_tensor_slices(
        (list(train.texts), labels.encode(train.labels).astype("int32"))
    )
    ds = ds.shuffle(len(train.texts), seed=0).batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
    model.fit(ds, epochs=epochs, callbacks=[timer], verbose=0)

    def predict(texts):
        return model.predict(tf.constant(list(texts)), batch_size=BATCH_SIZE, verbose=0)

    return predict, 6 if "tiny" not in preset else 2


def _bertkit(preset, recipe, train, test, labels, epochs, timer, workdir):
    import bertkit

    strategy = {"partial2": "partial", "freeze_cached": "freeze", "freeze_through_hub": "freeze"}
    strategy = strategy.get(recipe, "full")
    precision = "mixed_bfloat16" if recipe == "full_bf16" else "float32"
    bertkit.set_seed(0)
    model = bertkit.build_classifier(
        preset,
        labels.num_classes,
        strategy,
        unfreeze_top=2,
        seq_length=SEQ_LENGTH,
        precision=precision,
    )
    config = bertkit.TrainConfig.for_strategy(
        strategy,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        bucket=recipe != "full_fp32_nobucket",
        jit_compile=recipe == "full_fp32_xla",
        cache_features=recipe != "freeze_through_hub",
        micro_batch_size=8 if recipe == "full_fp32_micro8" else None,
    )
    config.early_stopping_patience = None  # fixed epochs for every recipe
    bertkit.fit(
        model,
        train.texts,
        labels.encode(train.labels),
        config=config,
        verbose=0,
        callbacks=[timer],
    )
    exported = bertkit.save_model(model, Path(workdir) / "model", labels.classes)
    saved = bertkit.load_model(exported)
    trained_layers = {"full": model.num_layers, "partial": 2, "freeze": 0}[strategy]
    return (lambda texts: saved.predict_proba(list(texts))), trained_layers


def run_recipe(recipe: str, preset: str, epochs: int, quick: bool, n_train=None) -> dict:
    """Trains, evaluates and times one recipe in this process; returns its row."""
    import numpy as np

    import bertkit  # before TensorFlow: legacy Keras, tensorflow_text
    from bertkit import evaluate
    from bertkit.apps import memory
    from bertkit.presets import converter

    train, test, labels = _load_data(quick, n_train)
    timer = _StepTimer()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        if recipe == "tutorial":
            predict, trained_layers = _tutorial(preset, train, test, labels, epochs, timer)
        else:
            predict, trained_layers = _bertkit(
                preset, recipe, train, test, labels, epochs, timer, workdir
            )
        wall = time.perf_counter() - start
        predict(test.texts[:BATCH_SIZE])  # warm up
        t0 = time.perf_counter()
        scores = predict(test.texts)
        predict_seconds = time.perf_counter() - t0
    metrics = evaluate.classification_metrics(
        labels.encode(test.labels), np.asarray(scores).argmax(axis=1), labels.classes
    )
    probe = bertkit.build_classifier(preset, labels.num_classes, "freeze", precision="float32")
    lengths = _real_lengths(probe, train.texts)
    meta_file = Path(bertkit.resolve(preset, "encoder")).parent / converter.METADATA_FILE
    config = json.loads(meta_file.read_text())["hf_config"]
    steps_per_epoch = -(-len(lengths) // BATCH_SIZE)
    timed_steps = max(timer.steps - timer.warmup, 1)
    # Timed steps cover whole epochs minus the warm-up steps: scale examples/tokens alike.
    fraction = timed_steps / (steps_per_epoch * epochs)
    examples = len(lengths) * epochs * fraction
    tokens = float(lengths.sum()) * epochs * fraction
    seconds = max(timer.seconds, 1e-9)
    flops = flops_per_token(config, float(lengths.mean()), trained_layers) * tokens / seconds
    return {
        "recipe": recipe,
        "description": RECIPES[recipe],
        "train_examples_per_s": examples / seconds,
        "real_tokens_per_s": tokens / seconds if recipe != "freeze_cached" else None,
        "useful_gflops": flops / 1e9 if recipe not in ("freeze_cached",) else None,
        "epoch_seconds": seconds / (epochs * fraction),
        "train_wall_seconds": wall,
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "predict_examples_per_s": len(test.texts) / predict_seconds,
        "train_peak_rss_gb": timer.train_peak_rss_gb,
        "peak_rss_gb": memory.peak_rss_gb(),
        "isa": cpu_isa(),
        "epochs": epochs,
        "n_train": len(lengths),
        "mean_real_length": float(lengths.mean()),
    }


def _child_env(recipe: str) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2")
    if recipe == "full_fp32_1thread":
        env["TF_NUM_INTRAOP_THREADS"] = "1"
    return env


def markdown(rows: list[dict], peaks: dict) -> str:
    """The results as a Markdown table, MFU against the highest measured matmul peak.

    Without native bf16 the "bf16 peak" is emulated and lower than fp32; MFU
    against it read above 100%, so the column uses the best of the two.
    """

    def num(value, digits=1):
        return "n/a" if value is None else f"{value:.{digits}f}"

    best = max(peaks.values())
    lines = [
        f"Matmul peak measured in this run: fp32 {peaks['float32']:.0f} GFLOP/s, "
        f"bf16 {peaks['bfloat16']:.0f} GFLOP/s; MFU is against the higher, {best:.0f}.",
        "",
        "| recipe | train ex/s | real tok/s | useful GFLOP/s | MFU | epoch s "
        "| test acc | macro-F1 | predict ex/s | training peak RSS GB | process peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["useful_gflops"]
        mfu = "n/a" if g is None else f"{100 * g / best:.0f}%"
        lines.append(
            f"| {r['recipe']} | {num(r['train_examples_per_s'])} | {num(r['real_tokens_per_s'], 0)} "
            f"| {num(g)} | {mfu} | {num(r['epoch_seconds'])} | {num(r['test_accuracy'], 3)} "
            f"| {num(r['test_macro_f1'], 3)} | {num(r['predict_examples_per_s'])} "
            f"| {num(r.get('train_peak_rss_gb'), 2)} | {num(r['peak_rss_gb'], 2)} |"
        )
    return "\n".join(lines) + "\n"


def included_rows(path: str) -> list[dict]:
    """Rows measured by another command: a speed.json report, or JSON lines of rows.

    Each row gets `included_from` so the table's provenance stays visible.
    """
    text = Path(path).read_text()
    try:
        report = json.loads(text)
        rows = report["rows"] if isinstance(report, dict) and "rows" in report else [report]
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for row in rows:
        row.setdefault("included_from", str(path))
        for key in ("useful_gflops", "real_tokens_per_s", "epoch_seconds"):
            row.setdefault(key, None)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--preset", default=None, help="default: the embedded default model")
    parser.add_argument("--quick", action="store_true", help="tiny model, 64 reviews, 1 epoch")
    parser.add_argument("--n-train", type=int, default=None, help="subsample training reviews")
    parser.add_argument("--out", default=str(RESULTS / "speed.json"))
    parser.add_argument(
        "--include",
        nargs="*",
        default=[],
        help="JSON files whose rows join the table first: an earlier run's speed.json or "
        "one JSON row per line (benchmarks/torch_peer.py's output)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    preset = args.preset or (
        "tiny_random_en_uncased" if args.quick else "minilm_l6_h384_en_uncased"
    )
    epochs = 1 if args.quick else args.epochs

    if args.child:
        print(json.dumps(run_recipe(args.child, preset, epochs, args.quick, args.n_train)))
        return 0

    import bertkit  # noqa: F401

    load_before = os.getloadavg()
    peaks = {name: matmul_peak(name) for name in ("float32", "bfloat16")}
    print(f"matmul peak GFLOP/s: {peaks}", flush=True)
    rows = [row for path in args.include for row in included_rows(path)]
    for recipe in args.recipes:
        command = [sys.executable, __file__, "--child", recipe, "--preset", preset]
        command += ["--epochs", str(epochs)] + (["--quick"] if args.quick else [])
        command += ["--n-train", str(args.n_train)] if args.n_train else []
        result = subprocess.run(command, capture_output=True, text=True, env=_child_env(recipe))
        if result.returncode != 0:
            print(f"{recipe} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
            return 1
        row = json.loads(result.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    from bertkit.model.precision import cpu_supports_bf16

    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "preset": preset,
        "batch_size": BATCH_SIZE,
        "seq_length": SEQ_LENGTH,
        "cpu_native_bf16": cpu_supports_bf16(),
        "cpu_count": os.cpu_count(),
        "matmul_peak_gflops": peaks,
        # Other processes on the machine skew every number: compare with the core count.
        "load_average_before_after": [load_before, os.getloadavg()],
        "rows": rows,
    }
    table = markdown(rows, peaks)
    table += (
        f"\nLoad average (1/5/15 min) before: {load_before}, after: {os.getloadavg()} "
        f"on {os.cpu_count()} cores. Command: `{report['command']}`\n"
    )
    write_report(args.out, report, table)
    return 0


def write_report(out: str | os.PathLike, report: dict, table: str) -> None:
    """Writes `report` as JSON to `out`, `table` beside it as `.md`, and prints the table."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    raise SystemExit(main())
