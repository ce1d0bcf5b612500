"""Train under any `tf.distribute` strategy: one machine, many workers, or a Colab TPU.

bertkit does not have its own distributed loop. A classifier built inside
`strategy.scope()` has its variables (encoder included) created by that
strategy; `finetune.fit` (like every bertkit trainer, through
`bertkit.train.training_loop.run`) creates the optimizer and compiles in that
strategy's scope and trains with Keras's own `Model.fit`, which splits every
global batch across the replicas and all-reduces the gradients:

    strategy = distribute.make_strategy("mirrored")
    with strategy.scope():
        model = bertkit.build_classifier(preset, num_classes, "full")
    finetune.fit(model, texts, labels, config=bertkit.TrainConfig(batch_size=32))

`TrainConfig.batch_size` is the *global* batch: each of the
`strategy.num_replicas_in_sync` replicas computes on
`batch_size / num_replicas` examples per step. Keras scales each replica's
mean loss by `1 / num_replicas`, which equals the whole batch's mean only when
the replicas get equally many examples; a batch that does not split evenly
(the last one of an epoch, or a small length bucket) weights its examples a
little differently from one device. For a run that matches one device step
for step, use `TrainConfig(bucket=False)` and a batch size that divides the
data (that is what `tests/test_distribute.py` checks). Tokenization runs once, on the
host, before training (`inputs.encode_texts`), so the replicas only see
integer ids: that is what lets a TPU run a model whose preprocessor uses
tensorflow_text ops, which have no TPU kernels.

Strategies by name (`make_strategy`):

- `"default"`: no distribution (the strategy TensorFlow uses anyway).
- `"mirrored"`: `tf.distribute.MirroredStrategy`, synchronous data parallelism
  over the GPUs of one machine (over the CPU when there is no GPU, or over
  logical CPU devices made with `split_cpu`, which is how the tests run it).
- `"multi_worker"`: `tf.distribute.MultiWorkerMirroredStrategy`; each worker
  process reads its role from the `TF_CONFIG` environment variable.
- `"tpu"`: `tf.distribute.TPUStrategy` after connecting to the TPU
  (Colab's TPU runtime, or `tpu="name"` on Cloud TPU). The encoder is then
  loaded with `hub.hub_load_options()` so its files are read on the host.

The command line trains under the first two: `bertkit train --distribute mirrored
[--devices N]` or `--distribute multi_worker` on every worker
(`check_training_distribution`, then `training_strategy`).

Examples:
>>> make_strategy("default").num_replicas_in_sync
1
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

# The loader's TPU option lives in `hub`; named here too, where TPU users look (notebook 11).
from bertkit.presets.hub import hub_load_options  # noqa: F401

STRATEGY_NAMES = ("default", "mirrored", "multi_worker", "tpu")
TF_CONFIG_ENV = "TF_CONFIG"
# `bertkit train --distribute`: no distribution, or the two strategies a command can run
# (a TPU needs `jit_compile`, which the command line does not offer).
TRAINING_DISTRIBUTE = ("none", "mirrored", "multi_worker")
TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'
)


def split_cpu(num_devices: int) -> list:
    """Splits the physical CPU into `num_devices` logical devices (call before any TF work).

    Lets `MirroredStrategy` run with several replicas on a machine without GPUs, to
    try or test multi-replica training. The replicas share the same cores, so this
    is not faster than one device: it is for correctness, not speed.

    Args:
        num_devices: int. Number of logical CPU devices (>= 1).

    Returns:
        The list of logical CPU devices (`tf.config.LogicalDevice`).

    Examples:
    >>> # in a fresh process, before anything else touches TensorFlow:
    >>> # split_cpu(2) -> [LogicalDevice(name='/device:CPU:0', ...), ...CPU:1...]
    """
    if not isinstance(num_devices, int) or num_devices < 1:
        raise ValueError(
            f"num_devices must be a positive integer. Received: num_devices={num_devices!r}."
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == num_devices:
        return tf.config.list_logical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        raise RuntimeError(
            "Cannot split the CPU into logical devices: TensorFlow has already started "
            f"its runtime in this process. Received: num_devices={num_devices}, with "
            f"{have} logical CPU device(s) already in use. Call "
            "`bertkit.train.distribute.split_cpu` first thing after `import bertkit`, before "
            "building or running any model (in a notebook: restart the kernel)."
        ) from error
    return tf.config.list_logical_devices("CPU")


def _check_choice(value: str, choices, what: str, argument: str, hint: str = "") -> None:
    """Raises unless `value` is one of `choices`, naming it as the caller's `argument`."""
    if value not in choices:
        raise ValueError(
            f"Unknown {what}. Received: {argument}={value!r}. Use one of {list(choices)}{hint}."
        )


def check_micro_batches(micro_batch_size: int | None, distribute) -> None:
    """Refuses micro-batches under a strategy: `bertkit train` and `training_loop.run` ask it.

    Args:
        micro_batch_size: optional int. `TrainConfig.micro_batch_size`.
        distribute: str | tf.distribute.Strategy. A `TRAINING_DISTRIBUTE` name
            (`"none"` trains without a strategy) or the model's strategy
            (TensorFlow's default strategy trains without one).

    Examples:
    >>> check_micro_batches(4, "none"), check_micro_batches(None, "mirrored")
    (None, None)
    >>> check_micro_batches(4, make_strategy("mirrored", devices=["/cpu:0"]))
    Traceback (most recent call last):
    ...
    ValueError: micro_batch_size (--micro-batch-size) does not work under a distribution strategy: ... Received: micro_batch_size=4, strategy=MirroredStrategy. ...
    """
    if isinstance(distribute, str):
        distributed, received = distribute != "none", f"distribute={distribute!r}"
    else:  # outside any scope, get_strategy() is TensorFlow's default strategy
        default = distribute is tf.distribute.get_strategy() and not tf.distribute.has_strategy()
        distributed, received = not default, f"strategy={type(distribute).__name__}"
    if micro_batch_size is not None and distributed:
        raise ValueError(
            "micro_batch_size (--micro-batch-size) does not work under a distribution "
            "strategy: its loop over micro-batches would synchronise the replicas inside a "
            "tf.while_loop, which tf.distribute does not support. Received: "
            f"micro_batch_size={micro_batch_size}, {received}. Drop micro_batch_size "
            "(--micro-batch-size; each replica already holds only batch_size / replicas "
            "examples' activations), or train without the strategy (without --distribute)."
        )


def cpu_device_names() -> list[str]:
    """Names of the logical CPU devices, e.g. `['/device:CPU:0', '/device:CPU:1']`."""
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(
    name: str = "default",
    devices: list[str] | None = None,
    tpu: str | None = None,
) -> tf.distribute.Strategy:
    """A `tf.distribute.Strategy` by name; see the module docs for what each one does.

    Args:
        name: str. One of `STRATEGY_NAMES`.
        devices: optional list of str. Devices for `"mirrored"`; default: every GPU,
            else every logical CPU device (so two after `split_cpu(2)`).
        tpu: optional str. TPU name or address for `"tpu"`; default: the local/Colab TPU.

    Examples:
    >>> make_strategy("mirrored", devices=["/cpu:0"]).num_replicas_in_sync
    1
    """
    _check_choice(name, STRATEGY_NAMES, "distribution strategy", "name")
    if devices is not None and name != "mirrored":
        raise ValueError(
            f"`devices` only applies to the 'mirrored' strategy. Received: name={name!r}, "
            f"devices={devices!r}. Drop `devices` or use name='mirrored'."
        )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in gpus] if gpus else cpu_device_names()
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        check_tf_config(os.environ.get(TF_CONFIG_ENV))
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"No TPU found. Received: tpu={tpu!r} ({type(error).__name__}: {error}). "
            "In Colab choose Runtime > Change runtime type > TPU; on Cloud TPU pass "
            "tpu='<name>'; otherwise use make_strategy('mirrored') or 'default'."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def check_tf_config(value: str | None) -> dict:
    """Parses and checks a `TF_CONFIG` value for multi-worker training.

    Without `TF_CONFIG` the process trains as a single worker, which is allowed
    (returns `{}`).

    Examples:
    >>> check_tf_config('{"cluster": {"worker": ["localhost:12345"]}, '
    ...                 '"task": {"type": "worker", "index": 0}}')["task"]["index"]
    0
    """
    if not value:
        return {}
    try:
        config = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{TF_CONFIG_ENV} is not valid JSON. Received: {value[:200]!r} ({error}). "
            f"Set it to e.g. {TF_CONFIG_EXAMPLE}."
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    workers = (cluster or {}).get("worker") if isinstance(cluster, dict) else None
    if not isinstance(workers, list) or not workers or not isinstance(task, dict):
        raise ValueError(
            f"{TF_CONFIG_ENV} needs a 'cluster' with a non-empty 'worker' list and a 'task'. "
            f"Received: {config!r}. Set it to e.g. {TF_CONFIG_EXAMPLE}."
        )
    index = task.get("index")
    if (
        task.get("type") not in ("worker", "chief")
        or not isinstance(index, int)
        or not (0 <= index < len(workers))
    ):
        raise ValueError(
            f"{TF_CONFIG_ENV}'s task must be a worker with an index into the worker list. "
            f"Received: task={task!r} for {len(workers)} worker(s). Give each process its "
            f"own index in 0..{len(workers) - 1}."
        )
    return config


def is_chief(tf_config: dict) -> bool:
    """Whether this process is the one that writes results (TensorFlow's rule for `TF_CONFIG`).

    Without `TF_CONFIG` (`{}`) the only process is the chief; in a cluster it is the
    task of type `"chief"`, or worker 0 when the cluster has no chief.

    Args:
        tf_config: dict. From `check_tf_config`.

    Examples:
    >>> is_chief({})
    True
    >>> is_chief({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})
    False
    """
    if not tf_config:
        return True
    task = tf_config["task"]
    return task["type"] == "chief" or (task["index"] == 0 and "chief" not in tf_config["cluster"])


def check_training_distribution(
    name: str,
    devices: int | None = None,
    batch_size: int | None = None,
    micro_batch_size: int | None = None,
) -> dict:
    """Checks `bertkit train --distribute NAME --devices N` before TensorFlow starts its runtime.

    Reads `TF_CONFIG` for `"multi_worker"`, and counts the GPUs without using them,
    so `split_cpu` still works afterwards. With `devices` the number of replicas is
    known, so `batch_size` must split evenly over them (`per_replica_batch_size`).

    Args:
        name: str. One of `TRAINING_DISTRIBUTE`.
        devices: optional int. Replicas for `"mirrored"` (see `training_strategy`).
        batch_size: optional int. The global batch size.
        micro_batch_size: optional int. `TrainConfig.micro_batch_size`, which no
            strategy can run.

    Returns:
        The parsed `TF_CONFIG` for `"multi_worker"`, else `{}`.

    Examples:
    >>> check_training_distribution("mirrored", devices=2, batch_size=16)
    {}
    """
    _check_choice(
        name,
        TRAINING_DISTRIBUTE,
        "distribution for training",
        "distribute",
        " (a TPU: `make_strategy('tpu')` from Python)",
    )
    check_micro_batches(micro_batch_size, name)
    if devices is not None:
        if name != "mirrored":
            raise ValueError(
                "`devices` (--devices) only applies to distribute='mirrored'. Received: "
                f"distribute={name!r}, devices={devices!r}. Drop --devices, or pass "
                "--distribute mirrored."
            )
        if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
            raise ValueError(
                f"devices must be a positive integer. Received: devices={devices!r}. Use e.g. "
                "--devices 2 (on a machine without GPUs: that many logical CPU devices)."
            )
        gpus = len(tf.config.list_physical_devices("GPU"))  # does not start the runtime
        if gpus and devices > gpus:
            raise ValueError(
                f"devices asks for more GPUs than this machine has. Received: devices={devices} "
                f"with {gpus} GPU(s). Pass --devices {gpus} or fewer, or leave --devices out to "
                "use every GPU."
            )
        if batch_size is not None:
            _check_even_split(batch_size, devices)
    if name != "multi_worker":
        return {}
    value = os.environ.get(TF_CONFIG_ENV)
    if not value:
        raise ValueError(
            f"distribute='multi_worker' needs the {TF_CONFIG_ENV} environment variable, which "
            f"tells each worker the cluster and its own index. Received: {TF_CONFIG_ENV} unset. "
            f"Set it on every worker, e.g. {TF_CONFIG_ENV}='{TF_CONFIG_EXAMPLE}' (index 0, 1, "
            "...), or use --distribute mirrored to train on one machine."
        )
    return check_tf_config(value)


def training_strategy(name: str, devices: int | None = None) -> tf.distribute.Strategy:
    """The strategy of `bertkit train --distribute NAME --devices N` (checked beforehand).

    `"none"`: the default strategy. `"mirrored"`: the first `devices` GPUs (all of
    them when `devices` is None); on a machine without GPUs, `devices` logical CPU
    devices (`split_cpu`, so call this before any TensorFlow work; one device when
    `devices` is None). `"multi_worker"`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`.

    Args:
        name: str. One of `TRAINING_DISTRIBUTE` (see `check_training_distribution`).
        devices: optional int. Replicas for `"mirrored"`.

    Examples:
    >>> training_strategy("none").num_replicas_in_sync
    1
    """
    if name != "mirrored":
        return make_strategy("default" if name == "none" else name)
    if tf.config.list_physical_devices("GPU"):
        names = None if devices is None else [f"/gpu:{i}" for i in range(devices)]
    else:
        names = [device.name for device in split_cpu(devices)] if devices else None
    return make_strategy("mirrored", devices=names)


def per_replica_batch_size(global_batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """Examples each replica computes per step; the global batch must split evenly.

    Examples:
    >>> per_replica_batch_size(32, make_strategy("default"))
    32
    """
    return _check_even_split(global_batch_size, strategy.num_replicas_in_sync)


def _check_even_split(global_batch_size: int, replicas: int) -> int:
    if global_batch_size % replicas:
        low = global_batch_size // replicas * replicas or replicas
        raise ValueError(
            "The global batch size must be a multiple of the number of replicas, so every "
            f"replica gets the same work. Received: batch_size={global_batch_size} for "
            f"{replicas} replicas. Use batch_size={low} or {low + replicas}."
        )
    return global_batch_size // replicas


def describe(strategy: tf.distribute.Strategy | None = None) -> dict:
    """Name, replica count and devices of `strategy` (None: the current one).

    Examples:
    >>> describe(make_strategy("default"))["num_replicas"]
    1
    """
    strategy = strategy or tf.distribute.get_strategy()
    try:
        devices = list(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy has no device list: it runs where TF puts ops
        devices = []
    return {
        "strategy": type(strategy).__name__,
        "num_replicas": strategy.num_replicas_in_sync,
        "devices": devices,
    }
