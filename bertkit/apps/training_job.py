"""The end-to-end jobs behind the CLI: train from files, evaluate a saved model, predict lines.

Examples:
>>> summary = train_from_files("data/topics.csv", output="runs/topics", preset="tiny_random_en_uncased")  # doctest: +SKIP
>>> evaluate_files("runs/topics", "data/topics.csv")["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bertkit import evaluate, export
from bertkit._atomic import check_output
from bertkit.export import litert_serve, saved_classifier
from bertkit.model import classifier
from bertkit.presets import DEFAULT_PRESET
from bertkit.text import data, inputs, long_texts, splits
from bertkit.text.labels import LabelEncoder
from bertkit.train import checkpoints, contrastive, finetune
from bertkit.train import distribute as bk_distribute
from bertkit.train.config import TrainConfig, choose_strategy

VALIDATION_FRACTION = 0.1


def train_from_files(
    train: str | os.PathLike,
    output: str | os.PathLike,
    validation: str | os.PathLike | None = None,
    text_column: str = "text",
    label_column: str = "label",
    preset: str = DEFAULT_PRESET,
    strategy: str = "auto",
    unfreeze_top: int = 2,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    seq_length: int = classifier.DEFAULT_SEQ_LENGTH,
    pooling: str = "mean",
    seed: int = 0,
    overwrite: bool = False,
    on_bad_text: str = "error",
    verbose: int = 2,
    precision: str = "auto",
    deterministic: bool = False,
    restart: bool = False,
    micro_batch_size: int | None = None,
    sep: str | None = None,
    distribute: str = "none",
    devices: int | None = None,
    pair_iterations: int | None = None,
    pairs_per_example: int | None = None,
    truncation: str = "head_tail",
    head_tokens: int | None = None,
    chunks: int = 1,
    chunk_overlap: int = 0,
) -> dict:
    """Loads data, fine-tunes, saves the model directory; returns a JSON-able summary.

    Without `validation`, a stratified, seeded 10% of `train` is held out for
    early stopping. `strategy="auto"` picks the strategy from the training labels once
    they are loaded (`bertkit.train.config.choose_strategy`: contrastive for a few texts
    per class, else full) and the summary's `strategy_choice` says why. `pair_iterations`
    and `pairs_per_example` set the pairs of `strategy="contrastive"`
    (`bertkit.train.contrastive`; None: its defaults); under "auto" they apply when it
    picks contrastive.

    Training is resumable: progress is checkpointed after every epoch into
    `checkpoint_dir(output)`; running the same call again after a crash or a
    kill continues after the last completed epoch (`restart=True` discards the
    checkpoints). They are deleted once the model is saved. `micro_batch_size`
    (gradient accumulation, see `TrainConfig`) only changes memory, so a run
    that ran out of memory can resume with a smaller one. `sep` is the
    separator of CSV files (`None`: sniffed, see `loaders.load_csv`).

    `distribute` trains under a `tf.distribute` strategy
    (`bertkit.train.distribute.training_strategy`): `"mirrored"` over `devices` GPUs or
    logical CPUs of this machine, or `"multi_worker"`, every worker running the
    same call under its own `TF_CONFIG`; `batch_size` is then the global batch,
    split over all replicas. In a multi-worker run only the chief writes `output`:
    the other workers save into a temporary directory that they delete (Keras's
    multi-worker pattern: saving may need every worker) and report
    `"output": None`. A multi-worker run writes no checkpoints (every worker would
    have to restore the same epoch from a file system they share), so it cannot
    resume: it refuses the checkpoints of an interrupted run unless `restart=True`.
    The summary's `weights_sha256` identifies the trained weights: the workers of
    one multi-worker run print the same one, as do `deterministic` reruns.

    `truncation`, `head_tokens`, `chunks` and `chunk_overlap` say what a text longer
    than `seq_length` becomes (`bertkit.text.long_texts`); they are saved with the model,
    so `evaluate_files`, `predict_lines` and the LiteRT export follow them. The default,
    `"head_tail"` (the first quarter of the kept wordpieces from the head, the rest from
    the tail, as Sun et al. 2019), beat `"head"` fine-tuning all 600 drug reviews
    (README, "Few labelled examples"); `build_classifier` keeps `"head"`.
    """
    # Preflight, cheapest first; the model is built (and its position table checked) after
    # the data, and nothing trains before all of it passed.
    auto = strategy == "auto"
    if not auto:
        classifier.validate_strategy(strategy, None, unfreeze_top)
    long = dict(
        truncation=truncation, head_tokens=head_tokens, chunks=chunks, chunk_overlap=chunk_overlap
    )
    long_texts.validate_seq_length(seq_length)
    long_texts.validate(seq_length, **long)
    pair_settings = dict(pair_iterations=pair_iterations, pairs_per_example=pairs_per_example)
    contrastive.check_strategy_settings("contrastive" if auto else strategy, pair_settings)
    settings = dict(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        deterministic=deterministic,
        micro_batch_size=micro_batch_size,
        **pair_settings,
    )
    # Every strategy this run may train must accept the settings before anything loads.
    for candidate in ("full", "contrastive") if auto else (strategy,):
        config = TrainConfig.for_strategy(candidate, **settings)
        config.validate()
    if strategy == "contrastive":
        contrastive.check_config(config, distribute)  # (micro-batches, replicas, XLA)
    tf_config = bk_distribute.check_training_distribution(
        distribute, devices, config.batch_size, config.micro_batch_size
    )
    chief = bk_distribute.is_chief(tf_config)
    multi_worker = distribute == "multi_worker"
    # Before loading data: refuses a file, a directory of the user's, an unwritable place.
    if chief:  # (only the chief writes the user's output)
        output = check_output(output, overwrite, export.MODEL_LAYOUT)
        if multi_worker:
            _refuse_to_resume(checkpoint_dir(output), restart)
    checkpoints_at = None if multi_worker else checkpoint_dir(output)
    # Before any other TensorFlow work (split_cpu); a multi-worker strategy waits for its peers.
    tf_strategy = bk_distribute.training_strategy(distribute, devices)
    bk_distribute.per_replica_batch_size(config.batch_size, tf_strategy)
    columns = dict(text_column=text_column, label_column=label_column, sep=sep)
    train_ds = data.load(train, **columns, on_bad_text=on_bad_text)
    if validation is not None:
        val_ds = data.load(validation, **columns, on_bad_text=on_bad_text)
    else:
        train_ds, val_ds = splits.stratified_split(train_ds, VALIDATION_FRACTION, seed=seed)
    encoder = LabelEncoder.fit(train_ds.labels)
    y_train = encoder.encode(train_ds.labels)
    y_val = encoder.encode(val_ds.labels)
    choice = None
    if auto:
        strategy, choice = _choose_strategy(train_ds.labels, distribute, settings)
        config = TrainConfig.for_strategy(strategy, **settings)
        if verbose:
            print(choice, flush=True)
    if strategy == "contrastive":  # before the model is built
        contrastive.check_pair_labels(y_train, encoder.classes)
    finetune.set_seed(seed, deterministic)  # before building: seeds the head's initial weights
    with tf_strategy.scope():  # the strategy creates every variable
        model = classifier.build_classifier(
            preset,
            encoder.num_classes,
            strategy,
            unfreeze_top=unfreeze_top,
            pooling=pooling,
            seq_length=seq_length,
            precision=precision,
            **long,
        )
    # Outside the scope: Keras's fit runs the model's strategy by itself, and the frozen
    # encoder's cached features are computed in plain (cross-replica) graphs.
    result = finetune.fit(
        model,
        train_ds.texts,
        y_train,
        validation=(val_ds.texts, y_val),
        config=config,
        verbose=verbose,
        checkpoint_dir=checkpoints_at,
        resume=not restart,
    )
    val_pred = finetune.predict_logits(model, val_ds.texts).argmax(axis=1)
    val_metrics = evaluate.classification_metrics(y_val, val_pred, encoder.classes)
    counts = classifier.count_parameters(model)
    summary = {
        "output": str(output) if chief else None,
        "preset": str(preset),
        "strategy": strategy,
        "strategy_choice": choice,
        "unfreeze_top": model.unfreeze_top,
        "pooling": pooling,
        "seq_length": seq_length,
        **long,
        "precision": model.precision,
        "classes": encoder.classes,
        "n_train": len(y_train),
        "n_validation": len(y_val),
        "truncated_train_texts": result.num_truncated,
        "epochs_run": len(result.history.history.get("loss", [])),
        "resumed_after_epoch": result.initial_epoch,
        "train_seconds": round(result.train_seconds, 2),
        "trainable_parameters": counts["trainable"],
        "validation_accuracy": round(val_metrics["accuracy"], 4),
        "validation_macro_f1": round(val_metrics["macro_f1"], 4),
        "config": {  # the pair settings only where they apply
            k: v
            for k, v in vars(config).items()
            if strategy == "contrastive" or k not in pair_settings
        },
        "distribute": {"name": distribute, **bk_distribute.describe(tf_strategy), "chief": chief},
        "weights_sha256": checkpoints.weights_digest(model.get_weights()),
    }
    if result.num_truncated and verbose:
        print(
            f"Note: {result.num_truncated} of {len(y_train)} training texts were longer than "
            f"{seq_length} tokens and were truncated (raise --seq-length or --chunks to keep more).",
            flush=True,
        )
    if not chief:  # saves like the chief (it may take collective ops), then deletes it
        with tempfile.TemporaryDirectory(prefix="bertkit-worker-") as scratch:
            export.save_model(model, Path(scratch) / "model", encoder.classes, info=summary)
        return summary
    export.save_model(model, output, encoder.classes, info=summary, overwrite=overwrite)
    if checkpoints_at is not None:
        checkpoints.clear(checkpoints_at)
    return summary


def _refuse_to_resume(checkpoints_at: Path, restart: bool) -> None:
    """Multi-worker runs write no checkpoints; those of an interrupted run go only with restart."""
    if not checkpoints_at.exists():
        return
    if not restart:
        raise FileExistsError(
            "Found the checkpoints of an interrupted run, which distribute='multi_worker' "
            "cannot resume: every worker would have to restore the same epoch from a file "
            f"system they share, so multi-worker runs write no checkpoints. Received: "
            f"{str(checkpoints_at)!r}. Resume it with the command that started it (without "
            "--distribute multi_worker), or pass --restart to discard them."
        )
    checkpoints.clear(checkpoints_at)


def checkpoint_dir(output: str | os.PathLike) -> Path:
    """Where `train_from_files` keeps resumable checkpoints for `output`: `OUTPUT.checkpoints`.

    Examples:
    >>> checkpoint_dir("runs/topics").name
    'topics.checkpoints'
    """
    output = Path(output)
    return output.with_name(output.name + ".checkpoints")


def _choose_strategy(labels, distribute: str, settings: dict) -> tuple[str, str]:
    """`choose_strategy`, except that a run contrastive training cannot do trains full."""
    strategy, reason = choose_strategy(labels)
    if strategy == "contrastive":
        try:
            contrastive.check_config(TrainConfig.for_strategy(strategy, **settings), distribute)
        except ValueError as error:
            return "full", f"{reason}, but {str(error).split(':')[0]}; full instead"
    return strategy, reason


def evaluate_files(
    model_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    text_column: str = "text",
    label_column: str = "label",
    on_bad_text: str = "error",
    progress: bool = False,
    trust_model: bool = False,
    sep: str | None = None,
) -> dict:
    """Metrics of a saved model on a labelled file: accuracy, macro_f1, n, per-class, confusion.

    The keys are those of `evaluate.classification_metrics` (with `log_loss`,
    from the model's probabilities) plus `examples_per_second`. When the data
    lacks some of the model's classes a warning names them: `macro_f1` counts
    them as F1 0, `macro_f1_present` averages the classes present. `sep` is
    the CSV separator (`None`: sniffed).

    `trust_model=True` runs a model that uses ops touching files, the network or the
    process (refused by default, see `bertkit.presets.trust`).
    """
    dataset = data.load(  # before the model: bad data fails fast
        data_path, text_column, label_column, sep=sep, on_bad_text=on_bad_text
    )
    model = litert_serve.load_model(model_dir, trust_model=trust_model)
    encoder = LabelEncoder(model.label_names)
    y_true = encoder.encode(dataset.labels)  # raises on labels the model never saw
    start = time.perf_counter()
    probs = model.predict_proba(dataset.texts, progress=progress)
    seconds = time.perf_counter() - start
    metrics = evaluate.classification_metrics(
        y_true, probs.argmax(axis=1), model.label_names, y_proba=probs
    )
    absent = metrics["absent_classes"]
    if absent:
        warnings.warn(
            f"{len(absent)} of {len(model.label_names)} classes never occur in "
            f"{dataset.source}: {absent}. macro_f1 counts them as F1 0 "
            f"({metrics['macro_f1']:.3f}); macro_f1_present averages the "
            f"{len(model.label_names) - len(absent)} classes present "
            f"({metrics['macro_f1_present']:.3f}). Evaluate on data holding every class to "
            "compare with other runs.",
            UserWarning,
            stacklevel=2,
        )
    metrics["examples_per_second"] = round(len(y_true) / max(seconds, 1e-9), 2)
    return metrics


def predict_lines(
    model_dir: str | os.PathLike,
    lines,
    batch_size: int = inputs.PREDICT_BATCH_SIZE,
    trust_model: bool = False,
):
    """Yields one JSON line per input line: text, label, probabilities by class name.

    `trust_model=True` runs a model that uses ops touching files, the network or the
    process (refused by default, see `bertkit.presets.trust`).
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"batch_size must be a positive integer. Received: batch_size={batch_size!r}. "
            "Use e.g. 64 (--batch-size on the command line)."
        )
    model = litert_serve.load_model(model_dir, trust_model=trust_model)
    batch: list[str] = []

    def flush():
        probs = model.predict_proba(batch, batch_size)
        bad = np.flatnonzero(~np.isfinite(probs).all(axis=1))
        if bad.size:  # NaN is not JSON; a diverged model must not print it as an answer
            raise ValueError(
                f"The model gave non-finite probabilities (NaN or inf) for {bad.size} of "
                f"{len(batch)} texts, e.g. {batch[bad[0]][:60]!r}. Received: --model "
                f"{str(model_dir)!r}. Its weights have probably diverged: retrain it (bertkit "
                "train stops a run whose loss becomes NaN and never saves such a model)."
            )
        for text, row in zip(batch, probs, strict=True):
            best = int(np.argmax(row))
            yield json.dumps(
                {
                    "text": text,
                    "label": model.label_names[best],
                    "probabilities": {
                        n: round(float(p), 6) for n, p in zip(model.label_names, row, strict=True)
                    },
                },
                ensure_ascii=False,
            )

    window = batch_size * saved_classifier.SORT_WINDOW_BATCHES  # read ahead: batches by length
    for line in lines:
        batch.append(line.removesuffix("\n").removesuffix("\r"))  # LF and CRLF line ends
        if len(batch) == window:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
