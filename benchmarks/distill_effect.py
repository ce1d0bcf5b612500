"""Does distillation help? A k-layer student with vs without the fine-tuned teacher.

On the bundled drug reviews (600 train / 379 test; 10% of train held out,
stratified, for early stopping):

1. teacher: the 6-layer default preset, full fine-tuning (`bertkit.fit`,
   `TrainConfig.for_strategy("full")`), trained once (seed 0);
2. student: `student.make_student(PRESET, k)` (the pretrained lower k layers,
   so both students start from the same weights), full fine-tuning with the same
   config, trained per seed twice: with the teacher (`alpha`, `temperature`) and
   on hard labels only (`alpha=0`, same code path);
3. test accuracy, macro-F1 and prediction examples/s (tokenization included,
   best of 3) of every model.

    .venv/bin/python benchmarks/distill_effect.py [--layers 2] [--seeds 0 1] [--output FILE]

Takes ~20 minutes on a 2-core laptop CPU (most of it the teacher).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import bertkit  # noqa: F401  (before TensorFlow)
from bertkit import evaluate
from bertkit.apps import training_job
from bertkit.tasks import distill, distill_loss
from bertkit.tasks import student as bk_student
from bertkit.text import datasets, loaders, splits
from bertkit.train import finetune


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=2, help="student transformer layers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="student seeds")
    parser.add_argument("--temperature", type=float, default=distill_loss.DEFAULT_TEMPERATURE)
    parser.add_argument("--alpha", type=float, default=distill_loss.DEFAULT_ALPHA)
    parser.add_argument("--output", type=Path, default=None, help="write the rows as JSON")
    args = parser.parse_args()

    preset = bertkit.DEFAULT_PRESET
    train_df, test_df = datasets.load_drug_reviews()
    labelled = loaders.from_dataframe(train_df, "review", "label")
    train, val = splits.stratified_split(labelled, training_job.VALIDATION_FRACTION, seed=0)
    test = loaders.from_dataframe(test_df, "review", "label")
    labels = bertkit.LabelEncoder.fit(train.labels)
    y_train, y_val, y_test = (labels.encode(d.labels) for d in (train, val, test))

    def score(model, name, seed, seconds):
        pred = finetune.predict_logits(model, test.texts).argmax(axis=1)
        metrics = evaluate.classification_metrics(y_test, pred, labels.classes)
        row = {
            "name": name,
            "seed": seed,
            "layers": model.num_layers,
            "train_seconds": round(seconds, 1),
            "accuracy": round(metrics["accuracy"], 4),
            "macro_f1": round(metrics["macro_f1"], 4),
            "examples_per_second": round(distill.prediction_throughput(model, test.texts), 1),
        }
        print(json.dumps(row), flush=True)
        return row

    start = time.perf_counter()
    rows = []
    teacher = bertkit.build_classifier(preset, labels.num_classes, "full")
    config = bertkit.TrainConfig.for_strategy("full", seed=0)
    fitted = bertkit.fit(teacher, train.texts, y_train, (val.texts, y_val), config, verbose=0)
    rows.append(score(teacher, "teacher", 0, fitted.train_seconds))
    train_logits = finetune.predict_logits(teacher, train.texts)
    val_logits = finetune.predict_logits(teacher, val.texts)

    with tempfile.TemporaryDirectory() as tmp:
        student_dir = bk_student.make_student(preset, args.layers, Path(tmp) / "student")
        for seed in args.seeds:
            config = bertkit.TrainConfig.for_strategy("full", seed=seed)
            for name, alpha in (("student + teacher", args.alpha), ("student alone", 0.0)):
                student = bertkit.build_classifier(student_dir, labels.num_classes, "full")
                result = distill.distill(
                    student,
                    train.texts,
                    y_train,
                    teacher_logits=train_logits if alpha else None,
                    validation=(val.texts, y_val, val_logits) if alpha else (val.texts, y_val),
                    temperature=args.temperature,
                    alpha=alpha,
                    config=config,
                )
                rows.append(score(student, name, seed, result.train_seconds))

    print()
    print(evaluate.comparison_table(rows, columns=tuple(rows[0])))
    for name in ("student + teacher", "student alone"):
        f1 = [r["macro_f1"] for r in rows if r["name"] == name]
        acc = [r["accuracy"] for r in rows if r["name"] == name]
        print(
            f"{name}: mean accuracy {sum(acc) / len(acc):.3f}, "
            f"mean macro-F1 {sum(f1) / len(f1):.3f} over seeds {args.seeds}"
        )
    print(
        f"layers={args.layers} temperature={args.temperature} alpha={args.alpha}; "
        f"total {time.perf_counter() - start:.0f}s"
    )
    if args.output:
        args.output.write_text(
            json.dumps({"args": vars(args) | {"output": None}, "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
