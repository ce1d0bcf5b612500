"""Every bad input bertkit guards against, and the exact message a user sees for it.

Each `Case` triggers one bad input through the public API or the command line
(`bertkit.apps.cli.main`, in process) and returns what the user reads: the
exception as Python prints its last line, the CLI's stderr (with its exit
status), or a warning. `tests/test_errors.py` runs the same cases and checks
that every message names the problem, the received value and the fix;
`docs/errors.md` is this script's output:

    .venv/bin/python benchmarks/error_catalogue.py > docs/errors.md

Cases with a `gap` do not meet that contract yet; the gap says what to change
(their tests are strict xfails, so fixing a gap fails the test until the mark goes).
Paths inside the scratch directory print as `$WORK`, the working directory as `$PWD`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import itertools
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

TINY = "tiny_random_en_uncased"
DEFAULT = "minilm_l6_h384_en_uncased"
REMOTE_PRESET = "small_bert_en_uncased_l2_h128"
LABELS = ["education", "job", "love"]
GOOD_CSV = "text,label\n" + "".join(
    f"{text},{label}\n"
    for text, label in [
        ("The exam was hard", "education"),
        ("My teacher gave homework", "education"),
        ("School starts at eight", "education"),
        ("I got a raise at work", "job"),
        ("My boss is kind", "job"),
        ("The office closed early", "job"),
        ("I love you", "love"),
        ("We married in June", "love"),
        ("She kissed him goodbye", "love"),
    ]
    * 4
)
LONG_TEXT = "the side effects were mild but the headaches lasted for weeks " * 60


class Workspace:
    """A scratch directory with the files the cases need, made on first use.

    Args:
        root: Path. An empty directory (deleted by whoever made it).
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._counter = itertools.count()

    def fresh(self, name: str) -> Path:
        """A new path under `root` that does not exist yet (e.g. an --output)."""
        return self.root / f"{name}-{next(self._counter)}"

    def file(self, name: str, content: str | bytes) -> Path:
        """Writes `content` to `root/name` and returns the path."""
        path = self.root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    @functools.cached_property
    def good_csv(self) -> Path:
        """A small valid training file (3 classes, 36 rows)."""
        return self.file("good.csv", GOOD_CSV)

    @functools.cached_property
    def model_dir(self) -> Path:
        """An exported (untrained) tiny-preset classifier over `LABELS`."""
        import bertkit

        model = bertkit.build_classifier(TINY, len(LABELS), "freeze")
        return bertkit.save_model(model, self.root / "model", LABELS)

    def copy_model(self, name: str) -> Path:
        """A copy of `model_dir` to break."""
        target = self.root / name
        shutil.copytree(self.model_dir, target)
        return target

    def sanitize(self, message: str) -> str:
        """Replaces machine-specific paths with `$WORK` and `$PWD`."""
        message = message.replace(str(self.root), "$WORK")
        return message.replace(os.getcwd(), "$PWD")


def _warnings_text(caught) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def api(function: Callable[[], object]) -> str:
    """Runs `function`; returns the exception or warnings it gives, as Python prints them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = function()
        except Exception as err:  # the point: show what the user sees
            return "\n".join([*_warnings_text(caught), f"{type(err).__name__}: {err}"])
    shown = _warnings_text(caught)
    return "\n".join(shown) if shown else f"(no error or warning; returned {result!r:.200})"


def cli(*args, notes: bool = False) -> str:
    """Runs `bertkit ARGS` in process; returns `[exit N]` and its stderr (+ `Note:` lines)."""
    from bertkit.apps import cli as bertkit_cli

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        try:
            code = bertkit_cli.main([str(a) for a in args])
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
    lines = _warnings_text(caught)  # warnings come before the error that ends the command
    lines += [line for line in err.getvalue().splitlines() if line.strip()]
    if notes:
        lines += [line for line in out.getvalue().splitlines() if line.startswith("Note:")]
    return "\n".join([f"[exit {code}]", *lines])


@contextlib.contextmanager
def offline(ws: Workspace):
    """No network and an empty TF-Hub cache, whatever the machine has."""
    from bertkit.presets import hub

    saved = os.environ.get(hub.TFHUB_CACHE_ENV)
    os.environ[hub.TFHUB_CACHE_ENV] = str(ws.root / "tfhub_cache")
    original = hub._host_reachable
    hub._host_reachable = lambda *args, **kwargs: False
    try:
        yield
    finally:
        hub._host_reachable = original
        if saved is None:
            os.environ.pop(hub.TFHUB_CACHE_ENV, None)
        else:
            os.environ[hub.TFHUB_CACHE_ENV] = saved


# --------------------------------------------------------------------------- triggers


def _train(ws: Workspace, train: Path, *extra, notes: bool = False) -> str:
    out = ws.fresh("out")
    return cli("train", "--train", train, "--preset", TINY, "--output", out, *extra, notes=notes)


def missing_file(ws):
    return _train(ws, ws.root / "reviews.csv")


def empty_file(ws):
    return _train(ws, ws.file("empty.csv", ""))


def header_only(ws):
    from bertkit.text import loaders

    return api(lambda: loaders.load_csv(ws.file("header.csv", "text,label\n")))


def wrong_text_column(ws):
    return _train(ws, ws.good_csv, "--text-column", "review")


def wrong_label_column(ws):
    from bertkit.text import loaders

    return api(lambda: loaders.load_csv(ws.good_csv, label_column="Label"))


def empty_texts(ws):
    path = ws.file("blank.csv", "text,label\ngood drug,pos\n,neg\n   ,pos\nworks,neg\n")
    return _train(ws, path)


def missing_texts_dataframe(ws):
    import pandas as pd

    from bertkit.text import loaders

    frame = pd.DataFrame({"text": ["fine", None, float("nan")], "label": ["a", "b", "a"]})
    return api(lambda: loaders.from_dataframe(frame))


def dropped_texts(ws):
    from bertkit.text import loaders

    path = ws.file("drop.csv", "text,label\ngood drug,pos\n,neg\n   ,pos\nworks,neg\n")
    return api(lambda: loaders.load_csv(path, on_bad_text="drop"))


def non_string_texts(ws):
    import pandas as pd

    from bertkit.text import loaders

    frame = pd.DataFrame({"text": ["fine", 42, "ok"], "label": ["a", "b", "a"]})
    return api(lambda: loaders.from_dataframe(frame))


def missing_labels(ws):
    return _train(ws, ws.file("nolabel.csv", "text,label\ngood drug,pos\nbad drug,\nok,neg\n"))


def missing_labels_dataframe(ws):
    import pandas as pd

    from bertkit.text import loaders

    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1, float("nan"), 0]})
    return api(lambda: loaders.from_dataframe(frame))


def single_class(ws):
    return _train(ws, ws.file("one.csv", "text,label\ngood,pos\ngreat,pos\nfine,pos\nnice,pos\n"))


def unseen_label(ws):
    path = ws.file("unseen.csv", "text,label\nMy boss is kind,job\nThe match ended 2-1,sports\n")
    return cli("evaluate", "--model", ws.model_dir, "--data", path)


def long_texts_training(ws):
    rows = "".join(f"{LONG_TEXT},{label}\n" for label in LABELS * 4)
    path = ws.file("long.csv", "text,label\n" + rows + GOOD_CSV.split("\n", 1)[1])
    return _train(ws, path, "--strategy", "freeze", "--epochs", "1", notes=True)


def long_texts_prediction(ws):
    from bertkit.export import saved_classifier

    model = saved_classifier.load_model(ws.model_dir)
    return api(lambda: model.predict_proba([LONG_TEXT, "short"]).shape)


def invalid_utf8_csv(ws):
    return _train(ws, ws.file("latin1.csv", "text,label\ncaf\xe9 au lait,pos\n".encode("latin-1")))


def invalid_utf8_predict_input(ws):
    path = ws.file("latin1.txt", "great drug\ncaf\xe9 au lait\n".encode("latin-1"))
    return cli("predict", "--model", ws.model_dir, "--input", path)


def mismatched_preprocessor(ws):
    import bertkit

    return api(lambda: bertkit.load(TINY, preprocessor=DEFAULT))


def missing_encoder_dir(ws):
    output = ws.fresh("out")
    return cli("train", "--train", ws.good_csv, "--preset", ws.root / "my_bert", "--output", output)


def _corrupt_preset(ws: Workspace) -> Path:
    from bertkit.presets import local_presets

    target = ws.root / "corrupt_preset"
    if not target.exists():
        shutil.copytree(local_presets.ensure_built(TINY), target)
        (target / "encoder" / "saved_model.pb").write_bytes(b"\x00 not a protobuf")
    return target


def corrupt_encoder_api(ws):
    import bertkit

    return api(lambda: bertkit.load_encoder(_corrupt_preset(ws)))


def corrupt_encoder_cli(ws):
    return cli(
        "train",
        "--train",
        ws.good_csv,
        "--preset",
        _corrupt_preset(ws),
        "--precision",
        "float32",  # the corrupt copy; `auto` picks encoder_mixed_bfloat16/ on bf16 CPUs
        "--output",
        ws.fresh("out"),
    )


def missing_model_dir(ws):
    return cli("predict", "--model", ws.root / "runs" / "model", "--input", ws.good_csv)


def corrupt_model_dir(ws):
    model = ws.copy_model("corrupt_model")
    (model / "saved_model.pb").write_bytes(b"\x00 not a protobuf")
    return cli("predict", "--model", model, "--input", ws.good_csv)


def truncated_model_variables(ws):
    model = ws.copy_model("truncated_model")
    for shard in (model / "variables").glob("variables.data-*"):
        shard.write_bytes(shard.read_bytes()[:64])
    return cli("predict", "--model", model, "--input", ws.good_csv)


def corrupt_labels_file(ws):
    from bertkit.export import saved_classifier

    model = ws.copy_model("corrupt_labels")
    (model / "labels.json").write_text('["education", "job",')
    return api(lambda: saved_classifier.load_model(model))


def _project_dir(ws, name: str) -> Path:
    """A directory of the user's: their training file and notes."""
    project = ws.fresh(name)
    project.mkdir()
    (project / "train.csv").write_text(GOOD_CSV, encoding="utf-8")
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    return project


def overwrite_user_directory(ws):
    project = _project_dir(ws, "proj")
    return cli("train", "--train", project / "train.csv", "--output", project, "--overwrite")


def output_is_a_file(ws):
    return cli("train", "--train", ws.good_csv, "--output", ws.good_csv, "--overwrite")


def unwritable_output(ws):
    return cli("train", "--train", ws.good_csv, "--output", "/proc/m")


def output_dot(ws):
    project = _project_dir(ws, "dot")
    before = os.getcwd()
    os.chdir(project)
    try:
        return cli("train", "--train", "train.csv", "--output", ".")
    finally:
        os.chdir(before)


def file_writing_model(ws):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from crafted_model import file_writing_model as build

    model = build(ws.fresh("crafted_model"), ws.root / "leak.txt")
    return cli("predict", "--model", model, "--input", ws.good_csv)


def _edited_labels(ws, labels):
    import json

    from bertkit.export import saved_classifier

    model = ws.copy_model(f"labels_{len(labels)}_{labels[0]}")
    (model / "labels.json").write_text(json.dumps(labels))
    return api(lambda: saved_classifier.load_model(model))


def reordered_labels_file(ws):
    return _edited_labels(ws, list(reversed(LABELS)))


def short_labels_file(ws):
    return _edited_labels(ws, LABELS[:2])


def model_is_a_file(ws):
    return cli("predict", "--model", ws.good_csv, "--input", ws.good_csv)


def duplicate_class_names(ws):
    import bertkit

    model = bertkit.build_classifier(TINY, len(LABELS), "freeze")
    return api(lambda: bertkit.save_model(model, ws.fresh("dup"), ["job", "love", "job"]))


def remote_without_network(ws):
    with offline(ws):
        return _train(ws, ws.good_csv, "--preset", REMOTE_PRESET)


def too_few_classes_api(ws):
    import bertkit

    return api(lambda: bertkit.build_classifier(TINY, num_classes=1))


def unfreeze_top_too_large(ws):
    return _train(ws, ws.good_csv, "--strategy", "partial", "--unfreeze-top", "5")


def contrastive_single_example_class(ws):
    path = ws.file("lonely.csv", GOOD_CSV + "I love chess,hobby\n")
    return _train(ws, path, "--strategy", "contrastive", "--validation", ws.good_csv)


def contrastive_one_class_api(ws):
    import bertkit

    model = bertkit.build_classifier(TINY, 2, "contrastive")
    return api(lambda: bertkit.fit(model, ["good", "great", "fine"], [1, 1, 1]))


def contrastive_odd_pairs(ws):
    return _train(ws, ws.good_csv, "--strategy", "contrastive", "--pairs-per-example", "3")


def contrastive_micro_batches(ws):
    return _train(ws, ws.good_csv, "--strategy", "contrastive", "--micro-batch-size", "4")


def pair_settings_other_strategy(ws):
    return _train(ws, ws.good_csv, "--strategy", "full", "--iterations", "5")


def batch_size_training(ws):
    return _train(ws, ws.good_csv, "--batch-size", "0")


def batch_size_prediction(ws):
    path = ws.file("texts.txt", "great drug\nno effect\n")
    return cli("predict", "--model", ws.model_dir, "--input", path, "--batch-size", "0")


def batch_size_predict_proba(ws):
    from bertkit.export import saved_classifier

    model = saved_classifier.load_model(ws.model_dir)
    return api(lambda: model.predict_proba(["great drug"], batch_size=-1))


def none_text_prediction(ws):
    from bertkit.export import saved_classifier

    model = saved_classifier.load_model(ws.model_dir)
    return api(lambda: model.predict_proba(["great drug", None, "no effect"]))


def none_text_predict_logits(ws):
    import bertkit
    from bertkit.train import finetune

    model = bertkit.build_classifier(TINY, len(LABELS), "freeze")
    return api(lambda: finetune.predict_logits(model, ["great drug", None]).shape)


def one_string_prediction(ws):
    from bertkit.export import saved_classifier

    model = saved_classifier.load_model(ws.model_dir)
    return api(lambda: model.predict_proba("great drug"))


def missing_predict_input(ws):
    return cli("predict", "--model", ws.model_dir, "--input", ws.root / "texts_missing.txt")


def _export(ws: Workspace, *args) -> str:
    """`bertkit export --model MODEL_DIR ARGS`: every case fails before the model is loaded."""
    return cli("export", "--model", ws.model_dir, *args)


def export_unknown_quantize(ws):
    return _export(ws, "--quantize", "int4")


def export_unknown_format(ws):
    return _export(ws, "--format", "onnx")


def export_not_a_model(ws):
    import bertkit
    from bertkit import names

    encoder = ws.root / "encoder"  # a SavedModel, but no classifier
    if not encoder.exists():
        shutil.copytree(bertkit.resolve(TINY, names.ENCODER_DIR), encoder)
    return cli("export", "--model", encoder)


def export_tflite_as_model(ws):
    return cli("export", "--model", ws.file("model.int8.tflite", b"TFL3"))


def export_output_exists(ws):
    return _export(ws, "--output", ws.file("taken.tflite", b"TFL3"))


def export_overwrite_foreign_file(ws):
    return _export(ws, "--output", ws.file("theirs.tflite", b"TFL3"), "--overwrite")


def export_wrong_suffix(ws):
    return _export(ws, "--output", ws.root / "model.bin")


def export_output_is_directory(ws):
    folder = ws.root / "folder.tflite"
    folder.mkdir(exist_ok=True)
    return _export(ws, "--output", folder, "--overwrite")


def export_missing_output_folder(ws):
    return _export(ws, "--output", ws.root / "no_such_folder" / "model.tflite")


def _xlsx(ws: Workspace) -> Path:
    """A minimal Excel workbook (a ZIP holding xl/workbook.xml)."""
    import zipfile

    path = ws.root / "reviews.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return path


def excel_file(ws):
    return _train(ws, _xlsx(ws))


def binary_file(ws):
    return _train(ws, ws.file("reviews.csv.bin", bytes(range(256)) * 4))


def not_parquet(ws):
    from bertkit.text import data

    return api(lambda: data.load(ws.file("reviews.parquet", GOOD_CSV)))


def semicolon_wrong_sep(ws):
    path = ws.file("semicolon.csv", GOOD_CSV.replace(",", ";"))
    return _train(ws, path, "--sep", ",")


def bad_sep(ws):
    return _train(ws, ws.good_csv, "--sep", ";;")


def duplicate_columns(ws):
    return _train(ws, ws.file("dup.csv", "text,label,text\ngood,pos,bad\nfine,neg,dull\n"))


def nested_json_labels(ws):
    from bertkit.text import data

    path = ws.file("onehot.jsonl", '{"text": "good", "label": [0, 1]}\n')
    return api(lambda: data.load(path))


def binary_predict_stdin(ws):
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"great drug\n\x00\xff\xfe\x01binary\n"))
    try:
        return cli("predict", "--model", ws.model_dir)
    finally:
        sys.stdin = saved


def directory_predict_input(ws):
    return cli("predict", "--model", ws.model_dir, "--input", ws.root)


def evaluate_absent_classes(ws):
    path = ws.file(
        "education_only.csv", "text,label\nThe exam was hard,education\nSchool,education\n"
    )
    return cli("evaluate", "--model", ws.model_dir, "--data", path)


def learning_rate_inf(ws):
    return _train(ws, ws.good_csv, "--learning-rate", "inf")


def diverged_training(ws):
    flags = ["--strategy", "freeze", "--epochs", "1", "--learning-rate", "1e38"]
    return _train(ws, ws.good_csv, *flags)


def seq_length_too_long(ws):
    return _train(ws, ws.good_csv, "--seq-length", "100000")


def seq_length_too_short(ws):
    return _train(ws, ws.good_csv, "--seq-length", "2")


def unknown_truncation(ws):
    import bertkit

    return api(lambda: bertkit.build_classifier(TINY, 2, truncation="middle"))


def too_many_chunks(ws):
    return _train(ws, ws.good_csv, "--chunks", "99")


def chunk_overlap_too_large(ws):
    return _train(ws, ws.good_csv, "--chunks", "2", "--chunk-overlap", "100")


def head_tokens_without_head_tail(ws):
    return _train(ws, ws.good_csv, "--truncation", "head", "--head-tokens", "32")


def chunks_for_pairs(ws):
    import bertkit

    return api(lambda: bertkit.build_classifier(TINY, 2, text_pairs=True, chunks=2))


@contextlib.contextmanager
def tf_config(value: str | None):
    """`TF_CONFIG` set to `value` (None: unset) for the `with` block, then restored."""
    from bertkit.train import distribute

    saved = os.environ.pop(distribute.TF_CONFIG_ENV, None)
    if value is not None:
        os.environ[distribute.TF_CONFIG_ENV] = value
    try:
        yield
    finally:
        os.environ.pop(distribute.TF_CONFIG_ENV, None)
        if saved is not None:
            os.environ[distribute.TF_CONFIG_ENV] = saved


# A cluster of one worker: were a refusal to fail, the strategy would not wait for peers.
ONE_WORKER = '{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "worker", "index": 0}}'


def multi_worker_without_tf_config(ws):
    with tf_config(None):
        return _train(ws, ws.good_csv, "--distribute", "multi_worker")


def tf_config_bad_index(ws):
    with tf_config(ONE_WORKER.replace('"index": 0', '"index": 1')):
        return _train(ws, ws.good_csv, "--distribute", "multi_worker")


def devices_zero(ws):
    return _train(ws, ws.good_csv, "--distribute", "mirrored", "--devices", "0")


def devices_uneven_batch(ws):
    flags = ["--distribute", "mirrored", "--devices", "2", "--batch-size", "7"]
    return _train(ws, ws.good_csv, *flags)


def micro_batches_distributed(ws):
    return _train(ws, ws.good_csv, "--distribute", "mirrored", "--micro-batch-size", "4")


def multi_worker_resume(ws):
    output = ws.fresh("out")
    output.with_name(output.name + ".checkpoints").mkdir()  # an interrupted run's
    with tf_config(ONE_WORKER):
        flags = ["--preset", TINY, "--output", output, "--distribute", "multi_worker"]
        return cli("train", "--train", ws.good_csv, *flags)


def _fit(ws, texts, labels, **kwargs) -> str:
    """`bertkit.fit` of an untrained tiny classifier (built once per workspace)."""
    import bertkit

    if not hasattr(ws, "_fit_model"):
        ws._fit_model = bertkit.build_classifier(TINY, 2, "freeze", seq_length=16)
    config = bertkit.TrainConfig(epochs=1, batch_size=4)
    return api(
        lambda: bertkit.fit(ws._fit_model, texts, labels, config=config, verbose=0, **kwargs)
    )


def fractional_labels_fit(ws):
    return _fit(ws, ["good", "bad", "fine"], [1.0, 0.5, 0.0])


def string_labels_fit(ws):
    return _fit(ws, ["good", "bad"], ["pos", "neg"])


def one_hot_labels_fit(ws):
    import numpy as np

    return _fit(ws, ["good", "bad", "fine"], np.eye(2)[[1, 0, 1]])


def one_string_fit(ws):
    return _fit(ws, "hello", [0])


def empty_fit(ws):
    return _fit(ws, [], [])


def bad_validation_labels_fit(ws):
    return _fit(ws, ["good", "bad"], [1, 0], validation=(["fine", "poor"], [1, 5]))


def validation_length_fit(ws):
    return _fit(ws, ["good", "bad"], [1, 0], validation=(["fine", "poor"], [1]))


def nan_weights_save(ws):
    import numpy as np

    import bertkit

    model = bertkit.build_classifier(TINY, len(LABELS), "freeze")
    kernel = model.head.get_layer("logits").kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))  # what a diverged run leaves
    return api(lambda: bertkit.save_model(model, ws.fresh("nan_model"), LABELS))


# --------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: how to trigger it and what its message must contain.

    Args:
        key: str. Short id (test ids).
        bad_input: str. The bad input, as the issue lists it.
        how: str. What the user ran, for the doc.
        trigger: callable. `Workspace -> message` (what the user sees).
        problem: str. Regex: the message names the problem.
        received: str. Regex: ... the value received.
        fix: str. Regex: ... what to do.
        gap: str or None. Why the message misses the contract and where to fix it.
    """

    key: str
    bad_input: str
    how: str
    trigger: Callable[[Workspace], str]
    problem: str
    received: str
    fix: str
    gap: str | None = None


CASES = [
    Case(
        "missing_file",
        "Missing data file",
        "`bertkit train --train reviews.csv` (no such file)",
        missing_file,
        r"\[exit 2\]\nerror: Data file not found",
        r"Received: path='.*reviews\.csv'",
        r"Check the path",
    ),
    Case(
        "empty_file",
        "Empty data file (0 bytes)",
        "`bertkit train --train empty.csv`",
        empty_file,
        r"The data file is empty",
        r"empty\.csv' \(0 bytes, no header row\)",
        r"Expected a header row naming the columns",
    ),
    Case(
        "header_only",
        "Data file with a header but no rows",
        '`loaders.load_csv("header.csv")`',
        header_only,
        r"ValueError: No examples to load",
        r"has the columns \['text', 'label'\] but no rows",
        r"Check that this is the right file",
    ),
    Case(
        "wrong_text_column",
        "Wrong text column name",
        "`bertkit train --text-column review` on a file with columns text,label",
        wrong_text_column,
        r"Column 'review' not found",
        r"text_column='review'\. Available columns: \['text', 'label'\]",
        r"--text-column on the CLI",
    ),
    Case(
        "wrong_label_column",
        "Wrong label column name",
        '`loaders.load_csv("good.csv", label_column="Label")`',
        wrong_label_column,
        r"ValueError: Column 'Label' not found",
        r"Available columns: \['text', 'label'\]",
        r"Did you mean 'label'\?",
    ),
    Case(
        "empty_texts",
        "Empty and whitespace-only texts (policy: reject with row numbers)",
        "`bertkit train` on a CSV with an empty and a blank text cell",
        empty_texts,
        r"has 2 bad values \(missing, empty or not a string\)",
        r"empty or whitespace-only in rows 3, 4\. Rows are numbered as in a spreadsheet",
        r"--on-bad-text drop",
    ),
    Case(
        "missing_texts",
        "None / NaN texts in a DataFrame",
        '`loaders.from_dataframe(pd.DataFrame({"text": ["fine", None, nan], ...}))`',
        missing_texts_dataframe,
        r"ValueError: Text column 'text' of DataFrame has 2 bad values",
        r"missing in rows with index 1, 2",
        r"Fix those rows, or pass on_bad_text=\"drop\"",
    ),
    Case(
        "dropped_texts",
        "Empty texts with the drop policy (warning with the count)",
        '`loaders.load_csv("drop.csv", on_bad_text="drop")`',
        dropped_texts,
        r"UserWarning: Dropped 2 of 4 rows .* missing, empty or not a string",
        r"empty or whitespace-only in rows 3, 4",
        r"Fix those rows to keep them",
    ),
    Case(
        "non_string_texts",
        "Non-string text (a number in a DataFrame)",
        '`loaders.from_dataframe(pd.DataFrame({"text": ["fine", 42, "ok"], ...}))`',
        non_string_texts,
        r"ValueError: Text column 'text' of DataFrame has 1 bad value",
        r"not a string in rows with index 1 \(e\.g\. 42 of type int\)",
        r"Fix those rows, or pass on_bad_text=\"drop\"",
    ),
    Case(
        "missing_labels",
        "Missing (empty) label in a CSV",
        "`bertkit train` on a CSV with an empty label cell",
        missing_labels,
        r"Label column 'label' of .* has 1 missing or empty label",
        r"missing in rows 3\.",
        r"fill them in, remove those rows",
    ),
    Case(
        "nan_labels",
        "NaN label in a DataFrame",
        '`loaders.from_dataframe(pd.DataFrame({"label": [1, nan, 0], ...}))`',
        missing_labels_dataframe,
        r"ValueError: Label column 'label' of DataFrame has 1 missing or empty label",
        r"missing in rows with index 1",
        r"Labels are never dropped: fill them in",
    ),
    Case(
        "single_class",
        "Label column with a single class",
        "`bertkit train` on a CSV whose labels are all `pos`",
        single_class,
        r"A classifier needs at least 2 classes",
        r"1 class \('pos'\) in \d+ labels",
        r"add examples of other classes",
    ),
    Case(
        "unseen_label",
        "Label at evaluation time that training never saw",
        "`bertkit evaluate` on data with the label `sports`",
        unseen_label,
        r"Label 'sports' was never seen in training",
        r"1 of 2 labels outside the known classes \['education', 'job', 'love'\]",
        r"Fix those labels",
    ),
    Case(
        "long_texts_training",
        "Texts far longer than the sequence length (training)",
        "`bertkit train` on 12 texts of ~700 words (seq_length 128)",
        long_texts_training,
        r"\[exit 0\]\nNote: .*longer than 128 tokens and were truncated",
        r"Note: \d+ of \d+ training texts",
        r"raise --seq-length or --chunks to keep more",
    ),
    Case(
        "long_texts_prediction",
        "Texts far longer than the sequence length (prediction)",
        "`load_model(dir).predict_proba([long_text, 'short'])`",
        long_texts_prediction,
        r"UserWarning: .*longer than the model reads and were cut to 128 tokens",
        r"1 of 2 texts .* Received: seq_length=128, chunks=1",
        r"train with a larger seq_length or more chunks \(--seq-length, --chunks",
    ),
    Case(
        "invalid_utf8_csv",
        "Invalid UTF-8 bytes in a CSV",
        "`bertkit train` on a Latin-1 encoded CSV",
        invalid_utf8_csv,
        r"is not valid UTF-8",
        r"invalid bytes b'\\xe9' at byte offset 14 \(line 2\)",
        r"Re-save the file as UTF-8",
    ),
    Case(
        "invalid_utf8_predict_input",
        "Invalid UTF-8 bytes in the input of `bertkit predict`",
        "`bertkit predict --input latin1.txt`",
        invalid_utf8_predict_input,
        r"not valid UTF-8",
        r"latin1\.txt",
        r"Re-save .* as UTF-8",
    ),
    Case(
        "mismatched_preprocessor",
        "Encoder and preprocessor that do not match",
        f"`bertkit.load({TINY!r}, preprocessor={DEFAULT!r})`",
        mismatched_preprocessor,
        r"ValueError: The preprocessor does not match the encoder",
        r"Received: preprocessor vocab_size=30522, encoder embedding rows=512",
        r"Use the preprocessor listed with the encoder's preset",
    ),
    Case(
        "missing_encoder_dir",
        "Missing SavedModel directory (encoder)",
        "`bertkit train --preset ./my_bert` (no such directory)",
        missing_encoder_dir,
        r"Not a SavedModel directory: the path does not exist",
        r"Received: '.*my_bert'",
        r"Pass a directory written by tf\.saved_model\.save",
    ),
    Case(
        "corrupt_encoder",
        "Corrupt SavedModel directory (encoder)",
        "`bertkit.load_encoder(dir)` with a garbage `encoder/saved_model.pb`",
        corrupt_encoder_api,
        r"ValueError: Cannot load the SavedModel: its files look corrupt or incomplete",
        r"Received: '.*corrupt_preset/encoder'",
        r"Delete the directory and build, convert or download it again",
    ),
    Case(
        "corrupt_encoder_cli",
        "Corrupt SavedModel directory (encoder), from the CLI",
        "`bertkit train --preset DIR` with a garbage `encoder/saved_model.pb`",
        corrupt_encoder_cli,
        r"corrupt",
        r"corrupt_preset/encoder",
        r"Delete the directory and build, convert or download it again",
    ),
    Case(
        "missing_model_dir",
        "Missing model directory (predict/evaluate)",
        "`bertkit predict --model runs/model` (no such directory)",
        missing_model_dir,
        r"Not a bertkit model directory: the directory does not exist",
        r"Received: '.*runs/model'",
        r"Pass the --output directory of `bertkit train`",
    ),
    Case(
        "corrupt_model_dir",
        "Corrupt model directory (garbage saved_model.pb)",
        "`bertkit predict --model DIR`",
        corrupt_model_dir,
        r"Cannot load the SavedModel: it looks corrupt or incomplete",
        r"Received: '.*corrupt_model' \(",
        r"Re-run training or re-export the model",
    ),
    Case(
        "truncated_model_variables",
        "Model directory with truncated variables",
        "`bertkit predict --model DIR` after a partial copy",
        truncated_model_variables,
        r"Cannot load the SavedModel: it looks corrupt or incomplete",
        r"Received: '.*truncated_model' \(",
        r"Re-run training or re-export the model",
    ),
    Case(
        "corrupt_labels_file",
        "Corrupt labels.json in a model directory",
        "`saved_classifier.load_model(dir)` with a cut-off `labels.json`",
        corrupt_labels_file,
        r"ValueError: The model's labels\.json file is corrupt: not valid JSON",
        r"Received: '.*labels\.json' \(JSONDecodeError",
        r"Re-run training or re-export the model",
    ),
    Case(
        "overwrite_user_directory",
        "--overwrite on a directory of the user's (it would delete their files)",
        "`bertkit train --train proj/train.csv --output proj --overwrite`",
        overwrite_user_directory,
        r"\[exit 2\]\nerror: The output directory already exists and holds files bertkit did "
        r"not write, which overwriting it would delete",
        r"Received: '.*proj-\d+' holding notes\.txt, train\.csv",
        r"Choose a new output path, or move those files out first",
    ),
    Case(
        "output_is_a_file",
        "--output is a regular file",
        "`bertkit train --output good.csv --overwrite`",
        output_is_a_file,
        r"\[exit 2\]\nerror: The output path is a file, not a directory",
        r"Received: '.*good\.csv'",
        r"Choose a directory path",
    ),
    Case(
        "unwritable_output",
        "--output where nothing can be created (checked before training)",
        "`bertkit train --output /proc/m`",
        unwritable_output,
        r"\[exit 2\]\nerror: The output directory cannot be written",
        r"Received: '/proc/m'",
        r"Choose a writable location",
    ),
    Case(
        "output_dot",
        "--output . (the current directory, holding the user's files)",
        "`bertkit train --train train.csv --output .`",
        output_dot,
        r"\[exit 2\]\nerror: The output directory already exists and holds files",
        r"Received: '.*dot-\d+' holding notes\.txt, train\.csv",
        r"Choose a new output path",
    ),
    Case(
        "untrusted_model",
        "A model directory whose graph writes files (a crafted model)",
        "`bertkit predict --model DIR` on a model that calls `tf.io.write_file`",
        file_writing_model,
        r"\[exit 2\]\nerror: The model uses TensorFlow ops that can read or write files",
        r"Received: WriteFile in '.*crafted_model-\d+' \(function serve\)",
        r"Only if you trust where this model came from, pass trust_model=True \(--trust-model",
    ),
    Case(
        "reordered_labels_file",
        "labels.json with the model's class names in another order",
        "`saved_classifier.load_model(dir)` after reordering `labels.json`",
        reordered_labels_file,
        r"ValueError: The model's labels\.json does not match the class names saved inside",
        r"Received: \['love', 'job', 'education'\] in '.*labels\.json', \['education'",
        r"Restore labels\.json from the original model directory",
    ),
    Case(
        "short_labels_file",
        "labels.json with fewer class names than the model has outputs",
        "`saved_classifier.load_model(dir)` with a class missing from `labels.json`",
        short_labels_file,
        r"ValueError: The model's labels\.json does not match the class names saved inside",
        r"Received: \['education', 'job'\] in '.*labels\.json'",
        r"Restore labels\.json from the original model directory",
    ),
    Case(
        "model_is_a_file",
        "--model given a file instead of a model directory",
        "`bertkit predict --model good.csv`",
        model_is_a_file,
        r"\[exit 2\]\nerror: Not a bertkit model directory: it is a file",
        r"Received: '.*good\.csv'",
        r"Pass the --output directory of `bertkit train`",
    ),
    Case(
        "duplicate_class_names",
        "Duplicate class names when saving a model",
        '`export.save_model(model, dir, ["job", "love", "job"])`',
        duplicate_class_names,
        r"ValueError: label_names must be distinct",
        r"Received: \['job'\] repeated in \['job', 'love', 'job'\]",
        r"Give every class its own name",
    ),
    Case(
        "remote_without_network",
        "Remote handle with no network",
        f"`bertkit train --preset {REMOTE_PRESET}` (network disabled, empty TF-Hub cache)",
        remote_without_network,
        r"Cannot download a remote model: tfhub\.dev is not reachable \(no network\?\)",
        r"Received: 'https://tfhub\.dev/",
        r"Use a preset that works offline \(minilm_l6_h384_en_uncased, tiny_random_en_uncased\)",
    ),
    Case(
        "too_few_classes",
        "num_classes < 2",
        f"`build_classifier({TINY!r}, num_classes=1)`",
        too_few_classes_api,
        r"ValueError: num_classes must be >= 2",
        r"Received: num_classes=1",
        r"For a single yes/no label use num_classes=2",
    ),
    Case(
        "unfreeze_top_too_large",
        "unfreeze-top larger than the number of layers",
        "`bertkit train --strategy partial --unfreeze-top 5` (2-layer encoder)",
        unfreeze_top_too_large,
        r"unfreeze_top is larger than the number of transformer layers",
        r"Received: unfreeze_top=5, the encoder has 2 layers",
        r"Pass unfreeze_top <= 2, or strategy='full'",
    ),
    Case(
        "contrastive_single_example_class",
        "Contrastive training with a class of one example (no same-class pair)",
        "`bertkit train --strategy contrastive` with one `hobby` row",
        contrastive_single_example_class,
        r"\[exit 2\]\nerror: Contrastive training pairs every example with another of its class",
        r"Received: 1 example of class 'hobby'",
        r"Give every class at least 2 training examples",
    ),
    Case(
        "contrastive_one_class",
        "Contrastive training on examples of one class",
        f"`bertkit.fit(build_classifier({TINY!r}, 2, 'contrastive'), texts, [1, 1, 1])`",
        contrastive_one_class_api,
        r"ValueError: Contrastive training needs examples of at least 2 classes",
        r"Received: only class 1 in 3 training examples",
        r"Add examples of the other classes",
    ),
    Case(
        "contrastive_odd_pairs",
        "Odd number of pairs per example",
        "`bertkit train --strategy contrastive --pairs-per-example 3`",
        contrastive_odd_pairs,
        r"\[exit 2\]\nerror: pairs_per_example must be a positive even number",
        r"Received: pairs_per_example=3",
        r"Try 2, SetFit's default",
    ),
    Case(
        "contrastive_micro_batches",
        "Micro-batches with the contrastive strategy",
        "`bertkit train --strategy contrastive --micro-batch-size 4`",
        contrastive_micro_batches,
        r"\[exit 2\]\nerror: strategy='contrastive' trains on whole batches",
        r"Received: micro_batch_size=4",
        r"Drop micro_batch_size",
    ),
    Case(
        "pair_settings_other_strategy",
        "Pair settings without the contrastive strategy",
        "`bertkit train --strategy full --iterations 5`",
        pair_settings_other_strategy,
        r"\[exit 2\]\nerror: Pair settings only apply to strategy='contrastive'",
        r"Received: strategy='full', pair_iterations=5",
        r"Pass strategy='contrastive' \(--strategy contrastive\), or drop them",
    ),
    Case(
        "batch_size_training",
        "Batch size <= 0 (training)",
        "`bertkit train --batch-size 0`",
        batch_size_training,
        r"batch_size must be a positive integer",
        r"Received: batch_size=0",
        r"Try 16 or 32",
    ),
    Case(
        "batch_size_prediction",
        "Batch size <= 0 (prediction)",
        "`bertkit predict --batch-size 0`",
        batch_size_prediction,
        r"\[exit 2\]\nerror: batch_size must be a positive integer",
        r"Received: batch_size=0",
        r"Use e\.g\. 64 \(--batch-size",
    ),
    Case(
        "batch_size_predict_proba",
        "Batch size <= 0 (Python prediction)",
        "`load_model(dir).predict_proba(texts, batch_size=-1)`",
        batch_size_predict_proba,
        r"ValueError: batch_size must be a positive integer",
        r"Received: batch_size=-1",
        r"Use e\.g\. 64",
    ),
    Case(
        "none_text_prediction",
        "None among the texts to predict",
        "`load_model(dir).predict_proba(['great drug', None, 'no effect'])`",
        none_text_prediction,
        r"TypeError: Every text must be a string",
        r"Received: None of type NoneType at position 1",
        r"Drop or fill in missing texts first",
    ),
    Case(
        "none_text_predict_logits",
        "None among the texts given to a Keras classifier",
        "`finetune.predict_logits(model, ['great drug', None])`",
        none_text_predict_logits,
        r"Error: .*string",
        r"None",
        r"Drop or fill in missing texts",
    ),
    Case(
        "one_string_prediction",
        "One string instead of a list of texts",
        "`load_model(dir).predict_proba('great drug')`",
        one_string_prediction,
        r"TypeError: texts must be a list of strings, not one string",
        r"Received: 'great drug'",
        r"Pass a list: \['great drug'\]",
    ),
    Case(
        "missing_predict_input",
        "Missing input file for `bertkit predict`",
        "`bertkit predict --input texts_missing.txt` (no such file)",
        missing_predict_input,
        r"No such file",
        r"Received: .*texts_missing\.txt",
        r"Check the path",
    ),
    Case(
        "export_unknown_quantize",
        "Unknown quantization for a LiteRT export",
        "`bertkit export --model MODEL_DIR --quantize int4`",
        export_unknown_quantize,
        r"\[exit 2\]\n(.|\n)*error: argument --quantize: invalid choice",
        r"'int4'",
        r"choose from '?int8'?, '?float16'?, '?none'?",
    ),
    Case(
        "export_unknown_format",
        "Unknown export format",
        "`bertkit export --model MODEL_DIR --format onnx`",
        export_unknown_format,
        r"\[exit 2\]\n(.|\n)*error: argument --format: invalid choice",
        r"'onnx'",
        r"choose from '?tflite'?",
    ),
    Case(
        "export_not_a_model",
        "Exporting something that is not a bertkit model (a TF-Hub encoder)",
        "`bertkit export --model PRESET/encoder` (a SavedModel without labels.json)",
        export_not_a_model,
        r"\[exit 2\]\nerror: Not a bertkit model directory",
        r"Received: '.*encoder'",
        r"Pass the --output directory of `bertkit train`",
    ),
    Case(
        "export_tflite_as_model",
        "Exporting a .tflite again",
        "`bertkit export --model model.int8.tflite`",
        export_tflite_as_model,
        r"\[exit 2\]\nerror: Not a bertkit model directory",
        r"Received: --model '.*model\.int8\.tflite'",
        r"Pass the --output directory of `bertkit train`",
    ),
    Case(
        "export_output_exists",
        "Export output file that already exists",
        "`bertkit export --output taken.tflite` (the file exists)",
        export_output_exists,
        r"\[exit 2\]\nerror: Output file already exists",
        r"Received: '.*taken\.tflite'",
        r"Choose a new path, delete it, or pass .*--overwrite",
    ),
    Case(
        "export_overwrite_foreign_file",
        "`--overwrite` on a file that is not a bertkit export",
        "`bertkit export --output theirs.tflite --overwrite` (no theirs.tflite.json beside it)",
        export_overwrite_foreign_file,
        r"\[exit 2\]\nerror: The output file exists and is not a bertkit LiteRT export",
        r"Received: '.*theirs\.tflite'",
        r"Choose another path, or delete the file first",
    ),
    Case(
        "export_wrong_suffix",
        "Export output without the .tflite suffix",
        "`bertkit export --output model.bin`",
        export_wrong_suffix,
        r"\[exit 2\]\nerror: The LiteRT model file must end in \.tflite",
        r"Received: output='.*model\.bin'",
        r"Pass e\.g\. '.*model\.tflite'",
    ),
    Case(
        "export_output_is_directory",
        "Export output that is a directory",
        "`bertkit export --output folder.tflite --overwrite` (a directory)",
        export_output_is_directory,
        r"\[exit 2\]\nerror: The output path is a directory",
        r"Received: '.*folder.*\.tflite'",
        r"Choose a file path ending in \.tflite",
    ),
    Case(
        "export_missing_output_folder",
        "Export output in a folder that does not exist",
        "`bertkit export --output no_such_folder/model.tflite`",
        export_missing_output_folder,
        r"\[exit 2\]\nerror: The output's folder does not exist",
        r"Received: '.*no_such_folder/model\.tflite'",
        r"Create '.*no_such_folder' first or choose another path",
    ),
    Case(
        "excel_file",
        "An Excel workbook as data",
        "`bertkit train --train reviews.xlsx`",
        excel_file,
        r"\[exit 2\]\nerror: Unsupported data file format",
        r"Received: '.*reviews\.xlsx' is an Excel workbook \(\.xlsx\)\. Supported: CSV/TSV/TXT",
        r"pd\.read_excel\(path\)\.to_csv",
    ),
    Case(
        "binary_file",
        "A binary file as data",
        "`bertkit train --train reviews.csv.bin` (bytes, not text)",
        binary_file,
        r"Unsupported data file format",
        r"is a binary file \(it holds NUL bytes\)",
        r"Convert it with pandas",
    ),
    Case(
        "not_parquet",
        "A .parquet file that is not Parquet",
        '`data.load("reviews.parquet")` (a CSV renamed)',
        not_parquet,
        r"ValueError: Unsupported data file format",
        r"named \.parquet but not a Parquet file",
        r"rename it after its real format",
    ),
    Case(
        "semicolon_wrong_sep",
        "A semicolon CSV read with the wrong separator",
        "`bertkit train --train semicolon.csv --sep ,`",
        semicolon_wrong_sep,
        r"Column 'text' not found",
        r"Available columns: \['text;label'\]",
        r"pass sep=';' \(--sep ';' on the CLI\)",
    ),
    Case(
        "bad_sep",
        "A separator longer than one character",
        "`bertkit train --sep ';;'`",
        bad_sep,
        r"sep must be one character",
        r"Received: sep=';;'",
        r"--sep tab on the command line",
    ),
    Case(
        "duplicate_columns",
        "Duplicate column names",
        "`bertkit train` on a CSV with the header text,label,text",
        duplicate_columns,
        r"Column names must be unique: .*dup\.csv has 'text' more than once",
        r"Received: columns \['text', 'label', 'text'\]",
        r"Rename or remove the duplicate columns",
    ),
    Case(
        "nested_json_labels",
        "One-hot (list) labels in JSON Lines",
        '`data.load("onehot.jsonl")` with `"label": [0, 1]`',
        nested_json_labels,
        r"ValueError: Label column 'label' of .* holds lists or dicts",
        r"Received: \[0, 1\] in lines 1",
        r"Give each example one class name or id",
    ),
    Case(
        "binary_predict_stdin",
        "Binary bytes on stdin for `bertkit predict`",
        "`printf 'great drug\\n\\0\\377...' | bertkit predict --model DIR`",
        binary_predict_stdin,
        r"\[exit 2\]\nerror: --input is not valid UTF-8",
        r"Received: stdin, invalid bytes b'\\xff' on line 2",
        r"Re-save the file as UTF-8",
    ),
    Case(
        "directory_predict_input",
        "A directory as `bertkit predict --input`",
        "`bertkit predict --input DIR`",
        directory_predict_input,
        r"\[exit 2\]\nerror: --input is a directory, not a file",
        r"Received: --input '\$WORK'|Received: --input '.*'",
        r"Pass a text file with one text per line",
    ),
    Case(
        "evaluate_absent_classes",
        "Evaluation data holding only some of the classes (warning; the JSON has "
        "`macro_f1_present` and `absent_classes`)",
        "`bertkit evaluate` on a file with only `education` rows",
        evaluate_absent_classes,
        r"\[exit 0\]\nUserWarning: 2 of 3 classes never occur in",
        r"\['job', 'love'\]\. macro_f1 counts them as F1 0",
        r"Evaluate on data holding every class",
    ),
    Case(
        "learning_rate_inf",
        "Non-finite learning rate",
        "`bertkit train --learning-rate inf`",
        learning_rate_inf,
        r"\[exit 2\]\nerror: learning_rate must be a finite number > 0",
        r"Received: learning_rate=inf",
        r"BERT fine-tuning uses 3e-5 to 3e-4",
    ),
    Case(
        "diverged_training",
        "Training that diverges to a NaN loss (nothing is saved)",
        "`bertkit train --strategy freeze --epochs 1 --learning-rate 1e38`",
        diverged_training,
        r"\[exit 2\]\nerror: Training diverged: .*loss became nan",
        r"Received: learning_rate=1e\+38\. Training stopped and nothing was saved",
        r"Lower the learning rate",
    ),
    Case(
        "seq_length_too_long",
        "seq_length longer than the encoder's position table",
        "`bertkit train --seq-length 100000` (the tiny encoder has 512 positions)",
        seq_length_too_long,
        r"\[exit 2\]\nerror: seq_length is longer than the encoder's position table",
        r"Received: seq_length=100000, the encoder has 512 positions",
        r"Pass seq_length <= 512 \(--seq-length",
    ),
    Case(
        "seq_length_too_short",
        "seq_length too short for [CLS] and [SEP]",
        "`bertkit train --seq-length 2`",
        seq_length_too_short,
        r"\[exit 2\]\nerror: seq_length is too short",
        r"Received: seq_length=2",
        r"Pass seq_length >= 3",
    ),
    Case(
        "unknown_truncation",
        "Unknown truncation mode",
        "`build_classifier(preset, 2, truncation='middle')`",
        unknown_truncation,
        r"ValueError: Unknown truncation\.",
        r"Received: truncation='middle'",
        r"Use one of \['head', 'tail', 'head_tail'\]",
    ),
    Case(
        "too_many_chunks",
        "More chunks per text than bertkit allows",
        "`bertkit train --chunks 99`",
        too_many_chunks,
        r"\[exit 2\]\nerror: chunks must be an integer from 1 \(no chunking\) to 16",
        r"Received: chunks=99",
        r"Pass e\.g\. chunks=4 \(--chunks 4\)",
    ),
    Case(
        "chunk_overlap_too_large",
        "Chunks that overlap by more than half a window",
        "`bertkit train --chunks 2 --chunk-overlap 100` (seq_length 128)",
        chunk_overlap_too_large,
        r"\[exit 2\]\nerror: chunk_overlap must be an integer from 0 to half a window",
        r"Received: chunk_overlap=100",
        r"Pass 0 \(no overlap\) up to 63",
    ),
    Case(
        "head_tokens_without_head_tail",
        "head_tokens with a truncation other than head_tail",
        "`bertkit train --truncation head --head-tokens 32`",
        head_tokens_without_head_tail,
        r"\[exit 2\]\nerror: head_tokens only applies to truncation='head_tail'",
        r"Received: head_tokens=32, truncation='head'",
        r"Pass truncation='head_tail' \(--truncation head_tail\) or drop head_tokens",
    ),
    Case(
        "chunks_for_pairs",
        "Chunks or truncation options for a sentence-pair model",
        "`build_classifier(preset, 2, text_pairs=True, chunks=2)`",
        chunks_for_pairs,
        r"ValueError: truncation and chunks apply to single texts",
        r"Received: text_pairs=True, truncation='head', chunks=2",
        r"Drop truncation and chunks, or classify single texts",
    ),
    Case(
        "multi_worker_without_tf_config",
        "Multi-worker training without TF_CONFIG",
        "`bertkit train --distribute multi_worker` with TF_CONFIG unset",
        multi_worker_without_tf_config,
        r"\[exit 2\]\nerror: distribute='multi_worker' needs the TF_CONFIG environment variable",
        r"Received: TF_CONFIG unset",
        r"Set it on every worker, e\.g\. TF_CONFIG=.* or use --distribute mirrored",
    ),
    Case(
        "tf_config_bad_index",
        "A TF_CONFIG whose task index is not in the worker list",
        "`bertkit train --distribute multi_worker` with task index 1 of a one-worker cluster",
        tf_config_bad_index,
        r"\[exit 2\]\nerror: TF_CONFIG's task must be a worker with an index into the worker",
        r"Received: task=\{'type': 'worker', 'index': 1\} for 1 worker\(s\)",
        r"Give each process its own index in 0\.\.0",
    ),
    Case(
        "devices_zero",
        "Mirrored training on zero devices",
        "`bertkit train --distribute mirrored --devices 0`",
        devices_zero,
        r"\[exit 2\]\nerror: devices must be a positive integer",
        r"Received: devices=0",
        r"Use e\.g\. --devices 2",
    ),
    Case(
        "devices_uneven_batch",
        "A batch that does not split evenly over the replicas",
        "`bertkit train --distribute mirrored --devices 2 --batch-size 7`",
        devices_uneven_batch,
        r"\[exit 2\]\nerror: The global batch size must be a multiple of the number of replicas",
        r"Received: batch_size=7 for 2 replicas",
        r"Use batch_size=6 or 8",
    ),
    Case(
        "micro_batches_distributed",
        "Micro-batches under a distribution strategy",
        "`bertkit train --distribute mirrored --micro-batch-size 4`",
        micro_batches_distributed,
        r"\[exit 2\]\nerror: micro_batch_size .* does not work under a distribution strategy",
        r"Received: micro_batch_size=4, distribute='mirrored'",
        r"Drop micro_batch_size \(--micro-batch-size;",
    ),
    Case(
        "multi_worker_resume",
        "Resuming an interrupted run with multi-worker training (no checkpoints)",
        "`bertkit train --distribute multi_worker` where OUTPUT.checkpoints exists",
        multi_worker_resume,
        r"\[exit 2\]\nerror: Found the checkpoints of an interrupted run, which "
        r"distribute='multi_worker' cannot resume",
        r"Received: '.*out-\d+\.checkpoints'",
        r"without --distribute multi_worker\), or pass --restart",
    ),
    Case(
        "fractional_labels_fit",
        "Fractional float labels given to `fit`",
        "`finetune.fit(model, texts, [1.0, 0.5, 0.0])`",
        fractional_labels_fit,
        r"ValueError: Training labels must be whole class ids",
        r"Received: 0\.5 at position 1",
        r"not probabilities: .* round the others",
    ),
    Case(
        "string_labels_fit",
        "String labels given to `fit`",
        "`finetune.fit(model, texts, ['pos', 'neg'])`",
        string_labels_fit,
        r"ValueError: Training labels must be integer class ids, not strings",
        r"Received: 'pos' at position 0",
        r"LabelEncoder\.fit\(labels\)",
    ),
    Case(
        "one_hot_labels_fit",
        "One-hot labels given to `fit`",
        "`finetune.fit(model, texts, np.eye(2)[ids])`",
        one_hot_labels_fit,
        r"ValueError: Training labels must be one class id per example, not one-hot",
        r"Received: an array of shape \(3, 2\)",
        r"Pass labels\.argmax\(axis=1\)",
    ),
    Case(
        "one_string_fit",
        "One string instead of a list of training texts",
        "`finetune.fit(model, 'hello', [0])`",
        one_string_fit,
        r"TypeError: texts must be a list of strings, not one string",
        r"Received: 'hello'",
        r"Pass a list: \['hello'\]",
    ),
    Case(
        "empty_fit",
        "No training examples given to `fit`",
        "`finetune.fit(model, [], [])`",
        empty_fit,
        r"ValueError: No training examples",
        r"Received: 0 texts and 0 labels",
        r"Pass at least one labelled text",
    ),
    Case(
        "bad_validation_labels_fit",
        "Validation label ids outside the model's classes",
        "`finetune.fit(..., validation=(texts, [1, 5]))` on a 2-class model",
        bad_validation_labels_fit,
        r"ValueError: Label ids must be in \[0, 2\) \(the model has 2 classes\)",
        r"Received: validation labels with min=1, max=5",
        r"LabelEncoder.* Or build the model with num_classes=6",
    ),
    Case(
        "validation_length_fit",
        "Validation texts and labels of different lengths",
        "`finetune.fit(..., validation=(2 texts, 1 label))`",
        validation_length_fit,
        r"ValueError: Validation texts and labels differ in length",
        r"Received: 2 texts, 1 labels",
        r"Pass one label per example",
    ),
    Case(
        "nan_weights_save",
        "Saving a model whose weights are NaN (a diverged run)",
        "`export.save_model(model, dir, labels)` after training diverged",
        nan_weights_save,
        r"ValueError: The model has NaN or infinite weights \(training diverged\)",
        r"Received: 1 non-finite variables, e.g\. '.*logits/kernel:0'",
        r"Nothing was saved: train again with a lower learning rate",
    ),
]


def markdown(rows: list[tuple[Case, str]]) -> str:
    """The catalogue as Markdown: one table row per case, then the known gaps."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", "<br>")

    lines = [
        "# Bad inputs and the messages bertkit gives",
        "",
        "Generated by triggering each bad input (the tests in `tests/test_errors.py` check",
        "the same cases: every message names the problem, the received value and the fix):",
        "",
        "    .venv/bin/python benchmarks/error_catalogue.py > docs/errors.md",
        "",
        "Command-line cases show the exit status and stderr of `bertkit ...`; Python cases",
        "show the exception (or warning) as Python prints it. `$WORK` is a scratch",
        "directory, `$PWD` the working directory.",
        "",
        "Policy for bad texts when loading data: missing (None/NaN), empty, whitespace-only",
        'and non-string texts are rejected with their row numbers (`on_bad_text="error"`,',
        'the default), or dropped with a warning that counts them (`on_bad_text="drop"`,',
        "`--on-bad-text drop`). Labels are never dropped. At prediction time empty strings",
        "are classified like any text; anything that is not a string is rejected.",
        "",
        "| Bad input | Triggered by | Message the user sees |",
        "|---|---|---|",
    ]
    for case, message in rows:
        marker = " (known gap, see below)" if case.gap else ""
        lines.append(f"| {cell(case.bad_input)}{marker} | {cell(case.how)} | {cell(message)} |")
    gaps = [case for case, _ in rows if case.gap]
    if gaps:
        lines += ["", "## Known gaps", ""]
        lines += [f"- **{case.bad_input}**: {case.gap}" for case in gaps]
    return "\n".join(lines) + "\n"


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import bertkit  # noqa: F401  (sets up TensorFlow first)

    with tempfile.TemporaryDirectory(prefix="bertkit-errors-") as tmp:
        ws = Workspace(Path(tmp))
        rows = []
        for case in CASES:
            print(f"{case.key} ...", file=sys.stderr, flush=True)
            rows.append((case, ws.sanitize(case.trigger(ws))))
    sys.stdout.write(markdown(rows))


if __name__ == "__main__":
    main()
