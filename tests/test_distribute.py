"""tf.distribute strategies: names, TF_CONFIG checks, and real multi-replica training on CPU.

The multi-replica tests run in child processes: logical CPU devices must be
configured before TensorFlow starts its runtime, which the test process has done.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf

from bertkit import distribute
from bertkit import hub as bk_hub

ROOT = Path(__file__).resolve().parents[1]

# A child process: two logical CPUs, the same tiny classifier trained with one replica
# and with MirroredStrategy over two; prints a JSON summary on its last line.
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import bertkit
    from bertkit import distribute, export, finetune, presets
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
        config = finetune.TrainConfig(epochs=3, batch_size=8, learning_rate=0.05,
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
    reloaded = export.load_model(export_dir)
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


def _run_child(script: str, env_extra: dict | None = None, timeout: int = 600):
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-c", script],
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
    result = _last_json(_run_child(MIRRORED_SCRIPT))
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
    from bertkit import distribute, finetune, presets
    import numpy as np

    strategy = distribute.make_strategy("multi_worker")
    finetune.set_seed(0)
    with strategy.scope():
        model = bertkit.build_classifier(presets.TINY_PRESET, 2, "full")
    texts = ["good drug works", "bad awful pain", "great relief", "terrible rash"] * 4
    config = finetune.TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3,
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
        procs.append(_run_child(WORKER_SCRIPT, {distribute.TF_CONFIG_ENV: json.dumps(tf_config)}))
    results = [_last_json(proc) for proc in procs]
    assert [r["replicas"] for r in results] == [2, 2]
    # Synchronous training: both workers apply the same all-reduced updates.
    assert results[0]["checksum"] == pytest.approx(results[1]["checksum"], rel=1e-6)
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-6)
