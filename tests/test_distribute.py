"""tf.distribute strategies: names, TF_CONFIG checks, and real multi-replica training on CPU.

The multi-replica tests run in child processes: logical CPU devices must be
configured before TensorFlow starts its runtime, which the test process has done.
"""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf

from bertkit.presets import hub as bk_hub
from bertkit.train import distribute

ROOT = Path(__file__).resolve().parents[1]

# A child process: two logical CPUs, the same tiny classifier trained with one replica
# and with MirroredStrategy over two; prints a JSON summary on its last line.
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import bertkit
    from bertkit import export, presets; from bertkit.train import distribute, finetune
    from bertkit import export, presets; from bertkit.export import saved_classifier; from bertkit.train import distribute, finetune
    distribute.split_cpu(2)
    import numpy as np
    import tensorflow as tf

    TEXTS = ["good drug works", "bad awful pain", "great relief", "terrible side effects",
             "works well", "pain pain", "relief at last", "awful rash"] * 4
    LABELS = [1, 0, 1, 0, 1, 0, 1, 0] * 4

    def train(strategy, strategy_name, dropout=0.0, cache=False, initial_weights=None):
        finetune.set_seed(0)
        with strategy.scope():
            model = bertkit.build_classifier(presets.TINY_PRESET, 2, strategy_name, dropout=dropout)
        if initial_weights is not None:  # random init differs under a strategy: start equal
            model.set_weights(initial_weights)
        model.initial_weights = model.get_weights()
        # Full batches only (32 = 4 x 8, no length buckets): every replica gets 4 examples.
        config = bertkit.TrainConfig(epochs=3, batch_size=8, learning_rate=0.05,
                                      cache_features=cache, early_stopping_patience=None,
                                      class_weight=None, bucket=False)
        result = finetune.fit(model, TEXTS, LABELS, config=config, verbose=0)
        return model, result.history.history["loss"]

    mirrored = distribute.make_strategy("mirrored")
    single, single_loss = train(tf.distribute.get_strategy(), "freeze")
    multi, multi_loss = train(mirrored, "freeze", initial_weights=single.initial_weights)
    full, full_loss = train(mirrored, "full", dropout=0.1)
    probe = TEXTS[:8]
    export_dir = __import__("tempfile").mkdtemp() + "/model"
    export.save_model(full, export_dir, ["neg", "pos"])
    reloaded = saved_classifier.load_model(export_dir)
    try:
        distribute.split_cpu(3)
        split_error = ""
    except RuntimeError as error:
        split_error = str(error)
    print(json.dumps({
        "describe": distribute.describe(mirrored),
        "variable_types": sorted({type(v).__name__ for v in full.token_model.trainable_variables}),
        "single_loss": single_loss, "multi_loss": multi_loss, "full_loss": full_loss,
        "single_vs_multi_logits": float(np.abs(finetune.predict_logits(single, probe)
                                               - finetune.predict_logits(multi, probe)).max()),
        "export_vs_model": float(np.abs(reloaded.predict_proba(probe)
                                        - tf.nn.softmax(finetune.predict_logits(full, probe)).numpy()).max()),
        "split_error": split_error,
    }))
    """
)


def _run_child(args: list, env_extra: dict | None = None):
    """Starts `python ARGS` (`["-c", script]` or `["-m", "bertkit", ...]`) in the repository."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _last_json(proc, timeout: int = 600) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _last_jsons(procs, timeout: int = 600) -> list[dict]:
    """`_last_json` of every worker; stops the others when one fails (they would wait for it)."""
    try:
        return [_last_json(proc, timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_unknown_strategy_and_misplaced_devices_are_rejected():
    with pytest.raises(ValueError, match="Unknown distribution strategy.*'horovod'.*mirrored"):
        distribute.make_strategy("horovod")
    with pytest.raises(ValueError, match="only applies to the 'mirrored'.*name='default'"):
        distribute.make_strategy("default", devices=["/cpu:0"])


def test_default_and_single_device_mirrored_strategies():
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    mirrored = distribute.make_strategy("mirrored", devices=["/cpu:0"])
    assert distribute.describe(mirrored)["strategy"] == "MirroredStrategy"
    assert distribute.describe(mirrored)["num_replicas"] == 1


def test_split_cpu_after_startup_names_the_fix():
    tf.constant(1.0) + 1  # the runtime is certainly up now
    have = len(tf.config.list_logical_devices("CPU"))
    with pytest.raises(RuntimeError, match="already started.*split_cpu.*restart the kernel"):
        distribute.split_cpu(have + 1)
    with pytest.raises(ValueError, match="positive integer.*num_devices=0"):
        distribute.split_cpu(0)


@pytest.mark.parametrize(
    "value, message",
    [
        ("{not json", "not valid JSON"),
        ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', "non-empty 'worker' list"),
        ('{"cluster": {"worker": ["a:1"]}}', "non-empty 'worker' list and a 'task'"),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
            r"index into the worker list.*0\.\.1",
        ),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
            "must be a worker",
        ),
    ],
)
def test_bad_tf_config_is_explained(value, message):
    with pytest.raises(ValueError, match=message):
        distribute.check_tf_config(value)


def test_good_tf_config_and_no_tf_config():
    assert distribute.check_tf_config(None) == {}
    config = distribute.check_tf_config(
        '{"cluster": {"worker": ["h1:1", "h2:2"]}, "task": {"type": "worker", "index": 1}}'
    )
    assert config["cluster"]["worker"] == ["h1:1", "h2:2"]


def test_multi_worker_strategy_checks_tf_config_first(monkeypatch):
    monkeypatch.setenv(distribute.TF_CONFIG_ENV, '{"cluster": {"worker": []}}')
    with pytest.raises(ValueError, match="TF_CONFIG needs a 'cluster'"):
        distribute.make_strategy("multi_worker")


def test_global_batch_must_split_evenly():
    mirrored = distribute.make_strategy("mirrored", devices=["/cpu:0"])
    assert distribute.per_replica_batch_size(32, mirrored) == 32

    class TwoReplicas:
        num_replicas_in_sync = 2

    assert distribute.per_replica_batch_size(32, TwoReplicas()) == 16
    with pytest.raises(ValueError, match="multiple of the number of replicas.*batch_size=30 or 32"):
        distribute.per_replica_batch_size(31, TwoReplicas())


def test_tpu_strategies_load_saved_models_through_the_host():
    assert bk_hub.hub_load_options(tf.distribute.get_strategy()) is None

    class TPUStrategy:  # stands in for tf.distribute.TPUStrategy (no TPU here)
        pass

    class MyTPU(TPUStrategy):
        pass

    options = bk_hub.hub_load_options(MyTPU())
    assert options.experimental_io_device == "/job:localhost"


def test_no_tpu_gives_a_clear_error():
    with pytest.raises(RuntimeError, match="No TPU found.*Runtime > Change runtime type > TPU"):
        distribute.make_strategy("tpu")  # no TPU name and not on Colab/GCE


def test_mirrored_strategy_on_two_logical_cpus_trains_like_one_device():
    result = _last_json(_run_child(["-c", MIRRORED_SCRIPT]))
    assert result["describe"]["strategy"] == "MirroredStrategy"
    assert result["describe"]["num_replicas"] == 2
    assert [d[-5:] for d in result["describe"]["devices"]] == ["CPU:0", "CPU:1"]
    assert result["variable_types"] == ["MirroredVariable"]
    # Without dropout training is deterministic: two replicas that each see half of every
    # batch and all-reduce their gradients take the same steps as one device on the whole
    # batch (up to float summation order). A wrong reduction (e.g. summed, not averaged,
    # gradients at lr 0.05) moves these far apart.
    assert result["single_loss"] == pytest.approx(result["multi_loss"], rel=2e-3)
    assert result["single_vs_multi_logits"] < 0.05  # 12 steps at lr 0.05 amplify rounding
    assert result["full_loss"][-1] < result["full_loss"][0]
    assert result["export_vs_model"] < 1e-5
    assert "already started" in result["split_error"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


WORKER_SCRIPT = textwrap.dedent(
    """
    import json
    import bertkit
    from bertkit import presets; from bertkit.train import distribute, finetune
    import numpy as np

    strategy = distribute.make_strategy("multi_worker")
    finetune.set_seed(0)
    with strategy.scope():
        model = bertkit.build_classifier(presets.TINY_PRESET, 2, "full")
    texts = ["good drug works", "bad awful pain", "great relief", "terrible rash"] * 4
    config = bertkit.TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3,
                                  early_stopping_patience=None, class_weight=None)
    result = finetune.fit(model, texts, [1, 0, 1, 0] * 4, config=config, verbose=0)
    weights = np.concatenate([v.numpy().ravel() for v in model.token_model.trainable_variables])
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "loss": result.history.history["loss"],
                      "checksum": float(np.abs(weights).sum())}))
    """
)


def test_multi_worker_strategy_with_two_local_workers_keeps_weights_in_sync():
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {distribute.TF_CONFIG_ENV: json.dumps(tf_config)}
        procs.append(_run_child(["-c", WORKER_SCRIPT], env))
    results = _last_jsons(procs)
    assert [r["replicas"] for r in results] == [2, 2]
    # Synchronous training: both workers apply the same all-reduced updates.
    assert results[0]["checksum"] == pytest.approx(results[1]["checksum"], rel=1e-6)
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-6)


# ------------------------------------------------ `bertkit train --distribute` (the CLI)


def _train_file(directory: Path) -> Path:
    """47 labelled sentences of all three topics (every 4th row of data/topics.csv)."""
    lines = (ROOT / "data" / "topics.csv").read_text(encoding="utf-8").splitlines()
    path = directory / "train.csv"
    path.write_text("\n".join([lines[0], *lines[1::4]]) + "\n", encoding="utf-8")
    return path


def _cli_train(train: Path, output: Path, *flags) -> list:
    """`python -m bertkit train` arguments: the tiny preset, its cheapest run (head only)."""
    fast = ["--preset", "tiny_random_en_uncased", "--strategy", "freeze", "--epochs", "1"]
    fast += ["--batch-size", "8", "--seq-length", "64"]
    return ["-m", "bertkit", "train", "--train", train, "--output", output, *fast, *flags]


def test_cli_trains_on_two_local_workers_in_sync_and_only_the_chief_saves(tmp_path, tiny_dir):
    train, output = _train_file(tmp_path), tmp_path / "model"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        (tmp_path / f"tmp{index}").mkdir()
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {
            distribute.TF_CONFIG_ENV: json.dumps(tf_config),
            "TMPDIR": str(tmp_path / f"tmp{index}"),
        }
        # Different seeds (so different shuffles, validation splits and initial heads): only
        # workers whose variables start from the chief's and whose gradients are all-reduced
        # end with the same weights; two processes training on their own would not.
        flags = ["--seed", index, "--distribute", "multi_worker"]
        procs.append(_run_child(_cli_train(train, output, *flags), env))
    chief, worker = _last_jsons(procs)
    for summary, is_chief in ((chief, True), (worker, False)):
        assert summary["distribute"]["num_replicas"] == 2
        assert summary["distribute"]["chief"] is is_chief
    assert chief["weights_sha256"] == worker["weights_sha256"]
    # The chief saved those weights into --output; the worker wrote only into its temp dir.
    assert chief["output"] == str(output) and worker["output"] is None
    saved = json.loads((output / "bertkit_model.json").read_text(encoding="utf-8"))
    assert saved["weights_sha256"] == worker["weights_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "tmp0", "tmp1", "train.csv"]
    assert list((tmp_path / "tmp1").glob("bertkit-worker-*")) == []  # removed after saving


def test_cli_trains_mirrored_on_two_logical_cpus(tmp_path, tiny_dir):
    output = tmp_path / "model"
    flags = ["--distribute", "mirrored", "--devices", "2"]
    summary = _last_json(_run_child(_cli_train(_train_file(tmp_path), output, *flags)))
    assert summary["distribute"]["strategy"] == "MirroredStrategy"
    assert summary["distribute"]["num_replicas"] == 2
    assert [d[-5:] for d in summary["distribute"]["devices"]] == ["CPU:0", "CPU:1"]
    assert summary["epochs_run"] == 1 and (output / "saved_model.pb").is_file()


def _fail_if_work_starts(monkeypatch):
    from bertkit.model import classifier
    from bertkit.text import data

    def started(*args, **kwargs):
        raise AssertionError("a strategy, data or model was made before the checks passed")

    for module, name in ((data, "load"), (classifier, "build_classifier")):
        monkeypatch.setattr(module, name, started)
    monkeypatch.setattr(distribute, "training_strategy", started)


@pytest.mark.parametrize(
    "flags, tf_config, message",
    [
        (["--distribute", "multi_worker"], None, "needs the TF_CONFIG environment variable"),
        (["--distribute", "multi_worker"], "{not json", "TF_CONFIG is not valid JSON"),
        (
            ["--distribute", "mirrored", "--devices", "0"],
            None,
            "devices must be a positive integer. Received: devices=0",
        ),
        (["--devices", "2"], None, "only applies to distribute='mirrored'. Received: distribute="),
        (
            ["--distribute", "mirrored", "--devices", "2", "--batch-size", "7"],
            None,
            "multiple of the number of replicas. .* Use batch_size=6 or 8",
        ),
        (
            ["--distribute", "multi_worker", "--micro-batch-size", "4"],
            '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}',
            "micro_batch_size .* does not work under a distribution strategy",
        ),
    ],
)
def test_bad_distribution_settings_fail_before_any_work(
    tmp_path, monkeypatch, capsys, flags, tf_config, message
):
    from bertkit.apps import cli

    if tf_config is None:
        monkeypatch.delenv(distribute.TF_CONFIG_ENV, raising=False)
    else:
        monkeypatch.setenv(distribute.TF_CONFIG_ENV, tf_config)
    _fail_if_work_starts(monkeypatch)
    args = ["train", "--train", str(tmp_path / "train.csv"), "--output", str(tmp_path / "m")]
    assert cli.main([*args, *map(str, flags)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_multi_worker_refuses_to_resume_unless_restarted(tmp_path, monkeypatch, capsys):
    from bertkit.apps import cli, training_job

    two_workers = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}}
    monkeypatch.setenv(
        distribute.TF_CONFIG_ENV,
        json.dumps({**two_workers, "task": {"type": "worker", "index": 0}}),
    )
    _fail_if_work_starts(monkeypatch)
    output = tmp_path / "m"
    left = training_job.checkpoint_dir(output)
    left.mkdir()
    (left / "state.json").write_text("{}")
    args = ["train", "--train", str(tmp_path / "x.csv"), "--output", str(output)]
    assert cli.main([*args, "--distribute", "multi_worker"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and repr(str(left)) in err and "--restart" in err
    assert left.is_dir()

    # --restart discards them and goes on, to the strategy (which would wait for worker 1).
    def reached(*args, **kwargs):
        raise ValueError("reached the strategy")

    monkeypatch.setattr(distribute, "training_strategy", reached)
    assert cli.main([*args, "--distribute", "multi_worker", "--restart"]) == 2
    assert "reached the strategy" in capsys.readouterr().err
    assert not left.exists()
