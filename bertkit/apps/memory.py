"""How much memory does fine-tuning need? Measure peak RSS per batch size x sequence length.

Out-of-memory errors in BERT fine-tuning come from activations, not weights:
MiniLM-L6's 22.7M parameters need about 0.36 GB with Adam's two moments,
while the activations kept for the backward pass grow with
`batch_size x seq_length` (and the attention scores with
`batch_size x seq_length^2`). `measure_training_memory` runs a few real
training steps of one configuration in a fresh process (so the peak is its
own) on full-length inputs (every text as long as `seq_length`: the worst
case that dynamic padding can meet) and reports that process's peak resident
memory; `memory_table` does it for a grid.

What to do when a configuration does not fit, cheapest first: accumulate
gradients over micro-batches (`TrainConfig(micro_batch_size=...)`, CLI
`--micro-batch-size`: the same updates with a micro-batch's activations, a
little slower); lower `batch_size` (and the learning rate with it); lower
`seq_length` after checking how many texts it truncates
(`EncodedTexts.num_truncated`); train fewer layers (`strategy="partial"`: the
frozen lower layers keep no activations for the backward pass); compute in
bfloat16 (`precision="mixed_bfloat16"` on CPUs with native bf16, fp16 on GPUs);
distil into a smaller student (`bertkit.tasks.distill`).

Examples:
>>> row = measure_training_memory("tiny_random_en_uncased", batch_size=4, seq_length=16, steps=1)
>>> row["status"], row["peak_rss_gb"] > row["baseline_rss_gb"] > 0
('ok', True)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

STATUS_OK = "ok"
STATUS_OOM = "out of memory"
STATUS_FAILED = "failed"


def _rss_gb() -> float:
    """Current resident memory of this process in GB (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (OSError, ValueError):
        return peak_rss_gb()


def peak_rss_gb() -> float:
    """This process's peak resident memory in GB.

    Linux's `VmHWM` (high-water mark) belongs to this process's own memory map. `ru_maxrss`
    is the fallback elsewhere; on Linux it is *not* used, because it keeps the parent's
    peak across fork + exec, so a child started from a big notebook kernel would report
    the kernel's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _child(spec: dict) -> dict:
    """Runs in the fresh process: build, then `steps` training steps on full-length batches."""
    import numpy as np
    import tensorflow as tf  # set up already: this module's package, bertkit, is imported
    import tf_keras

    import bertkit
    from bertkit import names
    from bertkit.presets import hub
    from bertkit.train import accumulation, finetune

    class _StepTimer(tf_keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    finetune.set_seed(0)
    model = bertkit.build_classifier(
        spec["preset"],
        2,
        spec["strategy"],
        unfreeze_top=spec["unfreeze_top"],
        seq_length=spec["seq_length"],
        precision=spec["precision"],
    )
    trained = model.token_model
    optimizer, _ = finetune.create_optimizer(2e-5, max(spec["steps"], 1) + 1)
    trained.compile(optimizer=optimizer, loss=finetune.loss())
    accumulation.install(trained, spec.get("micro_batch_size"))
    baseline = _rss_gb()
    batch, length = spec["batch_size"], spec["seq_length"]
    rng = np.random.default_rng(0)
    vocab = hub.encoder_vocab_size(model.feature_model.get_layer("encoder"))
    low = min(len(names.SPECIAL_TOKENS) + 100, vocab - 1)  # past [PAD], [CLS], [SEP]...
    features = {
        names.INPUT_WORD_IDS: rng.integers(low, vocab, (batch, length)).astype("int32"),
        names.INPUT_MASK: np.ones((batch, length), "int32"),
        names.INPUT_TYPE_IDS: np.zeros((batch, length), "int32"),
    }
    labels = rng.integers(0, 2, batch).astype("int32")
    # `fit` on a repeated batch, as training runs; `train_on_batch` builds a new
    # dataset per call and its step times stall at random.
    dataset = tf.data.Dataset.from_tensors((features, labels)).repeat()
    timer = _StepTimer()
    # The first step traces the graph: not timed.
    trained.fit(dataset, steps_per_epoch=spec["steps"] + 1, verbose=0, callbacks=[timer])
    seconds = timer.seconds
    return {
        "baseline_rss_gb": baseline,
        "peak_rss_gb": peak_rss_gb(),
        "seconds_per_step": float(np.median(seconds[1:])) if len(seconds) > 1 else seconds[0],
        "precision": model.precision,
        "trainable_params": int(sum(np.prod(v.shape) for v in trained.trainable_variables)),
    }


def measure_training_memory(
    preset: str,
    batch_size: int = 32,
    seq_length: int = 128,
    strategy: str = "full",
    unfreeze_top: int = 2,
    precision: str = "float32",
    steps: int = 2,
    timeout: float = 1800,
    micro_batch_size: int | None = None,
) -> dict:
    """Peak resident memory of fine-tuning one configuration, measured in a fresh process.

    Args:
        preset: str. Preset name, handle or directory (as for `build_classifier`).
        batch_size: int. Examples per step.
        seq_length: int. Tokens per example; every example is this long (worst case).
        strategy: str. `"full"`, `"partial"` or `"freeze"` (the head trained through the
            frozen encoder, as without cached features).
        unfreeze_top: int. Layers that train with `strategy="partial"`.
        precision: str. As for `build_classifier` (`"float32"`, `"mixed_bfloat16"`, ...).
        steps: int. Timed training steps after the first (tracing) step.
        timeout: float. Seconds before the child process is stopped.
        micro_batch_size: int or None. Accumulate gradients over micro-batches of
            this many examples (`bertkit.train.accumulation`); None: whole batches.

    Returns:
        dict with the configuration, `status` (`"ok"`, `"out of memory"` when the
        process was killed (SIGKILL, as the kernel's OOM killer does) or raised an OOM
        error, `"failed"` otherwise, with `error`), `baseline_rss_gb` (model built and
        compiled, before the first step), `peak_rss_gb`, `seconds_per_step` and
        `trainable_params`.
    """
    for name, value in (("batch_size", batch_size), ("seq_length", seq_length), ("steps", steps)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}.")
    from bertkit.train.accumulation import check_micro_batch_size

    check_micro_batch_size(micro_batch_size, batch_size)
    spec = {
        "preset": str(preset),
        "batch_size": batch_size,
        "seq_length": seq_length,
        "strategy": strategy,
        "unfreeze_top": unfreeze_top,
        "precision": precision,
        "steps": steps,
        "micro_batch_size": micro_batch_size,
    }
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "bertkit.apps.memory", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    row = dict(spec)
    if proc.returncode == 0:
        row.update(json.loads(proc.stdout.strip().splitlines()[-1]), status=STATUS_OK)
        return row
    tail = proc.stderr.strip().splitlines()[-1:] or [""]
    oom = (
        proc.returncode == -9 or "ResourceExhausted" in proc.stderr or "MemoryError" in proc.stderr
    )
    row.update(status=STATUS_OOM if oom else STATUS_FAILED, error=tail[0][-500:])
    return row


def memory_table(
    preset: str,
    batch_sizes=(8, 16, 32),
    seq_lengths=(64, 128, 256),
    **kwargs,
) -> list[dict]:
    """`measure_training_memory` for every batch size x sequence length (one process each).

    Examples:
    >>> rows = memory_table("tiny_random_en_uncased", (2,), (16,), steps=1)  # 1 x 1: one process
    >>> [(r["batch_size"], r["seq_length"], r["status"]) for r in rows]
    [(2, 16, 'ok')]
    """
    return [
        measure_training_memory(preset, batch_size=b, seq_length=s, **kwargs)
        for s in seq_lengths
        for b in batch_sizes
    ]


def markdown(rows: list[dict]) -> str:
    """A Markdown table of `memory_table` rows (peak RSS in GB, or the failure status)."""
    lines = [
        "| batch | micro-batch | length | strategy | precision | status | baseline GB "
        "| peak GB | s/step |",
        "|---:|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        ok = r["status"] == STATUS_OK
        cells = [
            r["batch_size"],
            r.get("micro_batch_size") or r["batch_size"],
            r["seq_length"],
            r["strategy"],
            r["precision"],
            r["status"],
            f"{r['baseline_rss_gb']:.2f}" if ok else "",
            f"{r['peak_rss_gb']:.2f}" if ok else "",
            f"{r['seconds_per_step']:.2f}" if ok else "",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """`python -m bertkit.apps.memory --preset P --batch-sizes 8 16 --seq-lengths 64 128`."""
    parser = argparse.ArgumentParser(description="Peak memory of fine-tuning, per configuration.")
    parser.add_argument("--preset", default=None, help="default: the embedded default model")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 16, 32])
    parser.add_argument("--seq-lengths", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--strategy", default="full", choices=["full", "partial", "freeze"])
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument(
        "--micro-batch-size", type=int, default=None, help="gradient accumulation (default: off)"
    )
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))), flush=True)
        return 0
    if args.preset is None:
        from bertkit.presets import DEFAULT_PRESET

        args.preset = DEFAULT_PRESET
    rows = memory_table(
        args.preset,
        args.batch_sizes,
        args.seq_lengths,
        strategy=args.strategy,
        precision=args.precision,
        steps=args.steps,
        micro_batch_size=args.micro_batch_size,
    )
    if args.json:
        from bertkit._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
