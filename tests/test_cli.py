"""The command line end to end on small data: train, evaluate, predict, and its errors."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from bertkit import presets


def _bertkit(*args, stdin=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "bertkit", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    frame = pd.read_csv(os.path.join(os.path.dirname(__file__), "..", "data", "topics.csv"))
    frame = frame.rename(columns={"text": "sentence", "label": "topic"})
    root = tmp_path_factory.mktemp("cli")
    frame.iloc[:120].to_csv(root / "train.csv", index=False)
    frame.iloc[120:].to_csv(root / "test.tsv", sep="\t", index=False)
    return root


@pytest.fixture(scope="module")
def trained_dir(tiny_dir, csv_files):
    out = csv_files / "model"
    result = _bertkit(
        "train",
        "--train",
        csv_files / "train.csv",
        "--text-column",
        "sentence",
        "--label-column",
        "topic",
        "--preset",
        presets.TINY_PRESET,
        "--strategy",
        "partial",
        "--unfreeze-top",
        "1",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--output",
        out,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["classes"] == ["education", "job", "love"]
    assert summary["n_train"] + summary["n_validation"] == 120
    assert summary["strategy"] == "partial" and summary["unfreeze_top"] == 1
    return out


def test_evaluate_prints_one_json_object(trained_dir, csv_files):
    result = _bertkit(
        "evaluate",
        "--model",
        trained_dir,
        "--data",
        csv_files / "test.tsv",
        "--text-column",
        "sentence",
        "--label-column",
        "topic",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout)
    assert metrics["n"] == len(pd.read_csv(csv_files / "test.tsv", sep="\t"))
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(metrics["per_class"]) == {"education", "job", "love"}
    assert 0.0 < metrics["log_loss"] < 10.0  # from the model's probabilities


def test_predict_reads_stdin_and_writes_json_lines(trained_dir):
    result = _bertkit("predict", "--model", trained_dir, stdin="I got a raise at work\nmy exam\n")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in rows] == ["I got a raise at work", "my exam"]
    for row in rows:
        assert set(row["probabilities"]) == {"education", "job", "love"}
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-4
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)


def test_wrong_column_lists_the_columns(csv_files, tmp_path):
    result = _bertkit(
        "train",
        "--train",
        csv_files / "train.csv",
        "--text-column",
        "text",
        "--label-column",
        "topic",
        "--preset",
        presets.TINY_PRESET,
        "--output",
        tmp_path / "m",
    )
    assert result.returncode == 2
    assert "'text'" in result.stderr and "sentence" in result.stderr and "topic" in result.stderr
    assert not (tmp_path / "m").exists()


def test_unseen_label_at_evaluation_is_named(trained_dir, tmp_path):
    pd.DataFrame({"sentence": ["a", "b"], "topic": ["job", "sports"]}).to_csv(
        tmp_path / "x.csv", index=False
    )
    result = _bertkit(
        "evaluate",
        "--model",
        trained_dir,
        "--data",
        tmp_path / "x.csv",
        "--text-column",
        "sentence",
        "--label-column",
        "topic",
    )
    assert result.returncode == 2
    assert "sports" in result.stderr


def test_existing_output_is_not_overwritten(trained_dir, csv_files):
    result = _bertkit(
        "train",
        "--train",
        csv_files / "train.csv",
        "--text-column",
        "sentence",
        "--label-column",
        "topic",
        "--preset",
        presets.TINY_PRESET,
        "--epochs",
        "1",
        "--output",
        trained_dir,
    )
    assert result.returncode == 2 and "already exists" in result.stderr


def test_presets_command_prints_table():
    result = _bertkit("presets")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("name")


def _predict_bytes(model, stdin: bytes, *args):
    """Runs `bertkit predict` with raw bytes on stdin; returns the completed process."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", "bertkit", "predict", "--model", str(model), *map(str, args)]
    return subprocess.run(command, input=stdin, capture_output=True, env=env)


def test_predict_strips_crlf(trained_dir, tmp_path):
    crlf = b"\xef\xbb\xbfI got a raise\r\nmy exam\r\nlast line\r\n"
    (tmp_path / "crlf.txt").write_bytes(crlf)
    for result in (
        _predict_bytes(trained_dir, crlf),
        _predict_bytes(trained_dir, b"", "--input", tmp_path / "crlf.txt"),
    ):
        assert result.returncode == 0, result.stderr[-3000:]
        rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
        assert [r["text"] for r in rows] == ["I got a raise", "my exam", "last line"]


def test_predict_binary_stdin_is_named_invalid_utf8(trained_dir):
    result = _predict_bytes(trained_dir, b"fine text\n\x00\xff\xfe binary\n")
    assert result.returncode == 2
    stderr = result.stderr.decode("utf-8")
    assert "--input is not valid UTF-8. Received: stdin, invalid bytes b'\\xff' on line 2" in stderr
    assert "Traceback" not in stderr and "Error converting unicode string" not in stderr


def test_predict_input_directory_says_directory_not_missing(tmp_path):
    from bertkit.apps import cli

    with pytest.raises(IsADirectoryError, match=r"--input is a directory, not a file\. Received"):
        cli._read_lines(str(tmp_path))  # fails before any model is loaded


def test_predict_input_reads_a_pipe_not_only_a_regular_file():
    from bertkit.apps import cli

    read_end, write_end = os.pipe()  # what bash's <(...) hands over as /dev/fd/N
    with os.fdopen(write_end, "wb") as stream:
        stream.write(b"first\r\nsecond\n")
    try:
        lines = list(cli._read_lines(f"/dev/fd/{read_end}"))
    finally:
        os.close(read_end)
    assert lines == ["first\r\n", "second\n"]  # predict_lines strips the line ends


def test_semicolon_csv_evaluates_with_and_without_sep(trained_dir, csv_files, tmp_path):
    frame = pd.read_csv(csv_files / "test.tsv", sep="\t")
    frame.to_csv(tmp_path / "test.csv", sep=";", index=False)
    columns = ("--text-column", "sentence", "--label-column", "topic")
    outputs = []
    for sep in ([], ["--sep", ";"]):
        result = _bertkit(
            "evaluate", "--model", trained_dir, "--data", tmp_path / "test.csv", *columns, *sep
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(json.loads(result.stdout))
    assert outputs[0]["n"] == outputs[1]["n"] == len(frame)
    assert outputs[0]["confusion_matrix"] == outputs[1]["confusion_matrix"]
    # --sep reaches train too: the wrong one fails before training, naming the right one.
    result = _bertkit(
        "train",
        "--train",
        tmp_path / "test.csv",
        *columns,
        "--sep",
        ",",
        "--output",
        tmp_path / "m",
    )
    assert result.returncode == 2
    assert "pass sep=';' (--sep ';' on the CLI)" in result.stderr
    assert not (tmp_path / "m").exists()


def test_evaluate_on_some_classes_names_the_absent_ones(trained_dir, csv_files, tmp_path):
    from bertkit.apps import training_job

    frame = pd.read_csv(csv_files / "test.tsv", sep="\t")
    frame[frame["topic"] == "job"].to_csv(tmp_path / "jobs.csv", index=False)
    with pytest.warns(
        UserWarning, match=r"2 of 3 classes never occur in .*\['education', 'love'\]"
    ):
        metrics = training_job.evaluate_files(
            trained_dir, tmp_path / "jobs.csv", "sentence", "topic"
        )
    assert metrics["absent_classes"] == ["education", "love"]
    assert metrics["macro_f1_present"] == metrics["per_class"]["job"]["f1"]
    assert metrics["macro_f1"] == pytest.approx(metrics["macro_f1_present"] / 3)


def _fail_if_work_starts(monkeypatch):
    """Makes loading data or building a model fail the test: the output check must come first."""
    from bertkit.model import classifier
    from bertkit.text import data

    def started(*args, **kwargs):
        raise AssertionError("training work started before the output was checked")

    monkeypatch.setattr(data, "load", started)
    monkeypatch.setattr(classifier, "build_classifier", started)


def _train_args(train, output, *more):
    return ["train", "--train", str(train), "--output", str(output), *map(str, more)]


def test_overwrite_refuses_a_project_directory_before_training(tmp_path, monkeypatch, capsys):
    from bertkit.apps import cli

    project = tmp_path / "proj"
    project.mkdir()
    (project / "train.csv").write_text("text,label\nhi,a\n")
    _fail_if_work_starts(monkeypatch)
    assert cli.main(_train_args(project / "train.csv", project, "--overwrite")) == 2
    err = capsys.readouterr().err
    assert "holds files bertkit did not write" in err and "train.csv" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
    assert sorted(p.name for p in project.iterdir()) == ["train.csv"]


def test_unwritable_output_fails_before_training(tmp_path, monkeypatch, capsys):
    from bertkit.apps import cli

    (tmp_path / "a_file").write_text("x")
    _fail_if_work_starts(monkeypatch)
    for output, message in [
        ("/proc/m", "output directory cannot be written"),
        (tmp_path / "a_file" / "model", "is a file, not a directory"),
        (tmp_path / "a_file", "output path is a file"),
    ]:
        assert cli.main(_train_args(tmp_path / "train.csv", output, "--overwrite")) == 2
        assert message in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "x"


def test_output_dot_is_checked_as_the_current_directory(tmp_path, monkeypatch, capsys):
    from bertkit.apps import cli

    (tmp_path / "train.csv").write_text("text,label\nhi,a\n")
    monkeypatch.chdir(tmp_path)
    _fail_if_work_starts(monkeypatch)
    assert cli.main(_train_args("train.csv", ".", "--overwrite")) == 2
    err = capsys.readouterr().err
    assert "empty name" not in err and repr(str(tmp_path)) in err and "train.csv" in err


def test_predict_refuses_a_file_writing_model_unless_trusted(tmp_path, capsys):
    from crafted_model import file_writing_model

    from bertkit.apps import cli

    leak = tmp_path / "leak.txt"
    model = file_writing_model(tmp_path / "model", leak)
    (tmp_path / "texts.txt").write_text("secret\n")
    predict = ["predict", "--model", str(model), "--input", str(tmp_path / "texts.txt")]
    assert cli.main(predict) == 2
    assert "WriteFile" in capsys.readouterr().err and not leak.exists()
    assert cli.main([*predict, "--trust-model"]) == 0
    assert leak.read_text() == "secret"


def _train_in_process(csv_files, output, *more):
    """Runs `bertkit train` in this process on the module's CSV; returns the exit status."""
    from bertkit.apps import cli

    args = ["--train", csv_files / "train.csv", "--text-column", "sentence"]
    args += ["--label-column", "topic", "--preset", presets.TINY_PRESET, "--output", output]
    return cli.main(["train", *map(str, args), *map(str, more)])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--learning-rate", "inf"], "learning_rate must be a finite number > 0. Received: "),
        (["--learning-rate", "nan"], "Received: learning_rate=nan"),
        (["--seq-length", "2"], "seq_length is too short: [CLS] text [SEP] needs at least 3"),
        (["--epochs", "0"], "epochs must be a positive integer. Received: epochs=0"),
    ],
)
def test_bad_settings_fail_before_data_or_model(
    csv_files, tmp_path, monkeypatch, capsys, flags, message
):
    from bertkit.model import classifier
    from bertkit.text import data

    def started(*args, **kwargs):
        raise AssertionError("data or model work started before the settings were checked")

    monkeypatch.setattr(data, "load", started)
    monkeypatch.setattr(classifier, "build_classifier", started)
    assert _train_in_process(csv_files, tmp_path / "model", *flags) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_seq_length_beyond_the_position_table_fails_before_training(
    csv_files, tmp_path, monkeypatch, capsys, tiny_dir
):
    from bertkit.train import finetune

    def started(*args, **kwargs):
        raise AssertionError("training started with a seq_length the encoder cannot take")

    monkeypatch.setattr(finetune, "fit", started)
    assert _train_in_process(csv_files, tmp_path / "model", "--seq-length", "100000") == 2
    err = capsys.readouterr().err
    assert "Received: seq_length=100000, the encoder has 512 positions" in err
    assert "Pass seq_length <= 512" in err and "reshape" not in err.lower()
    assert list(tmp_path.iterdir()) == []


def test_diverged_training_exits_nonzero_and_saves_nothing(csv_files, tmp_path, capsys, tiny_dir):
    # 1e38 is finite (accepted up front) but overflows the logits within the first epoch.
    flags = ["--strategy", "freeze", "--epochs", "3", "--learning-rate", "1e38"]
    assert _train_in_process(csv_files, tmp_path / "model", *flags) == 2
    err = capsys.readouterr().err
    assert "error: Training diverged:" in err and "nothing was saved" in err
    assert "Received: learning_rate=1e+38" in err and "Lower the learning rate" in err
    assert list(tmp_path.iterdir()) == []  # no model directory, no checkpoint of the NaN state


def test_predict_refuses_to_print_nan_probabilities(monkeypatch):
    import numpy as np

    from bertkit.apps import training_job

    class Diverged:  # what a model with NaN weights gives (save_model refuses to write one)
        label_names = ["neg", "pos"]

        def predict_proba(self, texts, batch_size):
            return np.full((len(texts), 2), np.nan, dtype=np.float32)

    monkeypatch.setattr(training_job.litert_serve, "load_model", lambda *a, **k: Diverged())
    with pytest.raises(ValueError, match=r"non-finite probabilities .* retrain it"):
        list(training_job.predict_lines("some/model", ["fine\n", "also fine\n"]))


def test_every_train_option_reaches_train_from_files(monkeypatch):
    """`bertkit train` passes its options on by name: each must be a parameter, with its value."""
    import functools
    import inspect

    from bertkit.apps import cli, training_job

    real = training_job.train_from_files
    received = {}
    fake = functools.wraps(real)(lambda **kw: received.update(kw) or {})  # real's signature
    monkeypatch.setattr(training_job, "train_from_files", fake)
    argv = ["train", "--train", "t.csv", "--output", "out", "--iterations", "7", "--chunks", "3"]
    assert cli.main(argv) == 0
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    options = {a.dest for a in train._actions if a.dest != "help"}
    assert options == set(received) - {"verbose"}
    assert set(received) <= set(inspect.signature(real).parameters)
    assert received["pair_iterations"] == 7 and received["chunks"] == 3
