"""Prepare TensorFlow for TF-Hub BERT models: legacy Keras, tensorflow_text, versions.

TF-Hub's `hub.KerasLayer` is a Keras 2 layer. Since TensorFlow 2.16, `tf.keras`
is Keras 3 unless `TF_USE_LEGACY_KERAS=1` is set *before* TensorFlow is
imported, in which case `tf.keras` is the `tf_keras` package. BERT
preprocessors use ops (`CaseFoldUTF8`, `WordpieceTokenizeWithOffsets`, ...)
that only exist once `tensorflow_text` is imported, and tensorflow-text only
works with the tensorflow release of the same minor version.

`import bertkit` calls `setup()` so users never meet these problems. It also
keeps TensorFlow's start-up quiet unless the user set `TF_CPP_MIN_LOG_LEVEL`:
no "failed call to cuInit" error on machines without a GPU, no oneDNN
"supports DT_INT64 only on platforms with AVX-512" error (printed even on
AVX-512 machines, the first time a graph transposes int64 ids), no grappler
loop-optimizer warnings from the preprocessors' ragged asserts, no
pkg_resources deprecation warning from tensorflow_hub. The GPU itself is never
hidden (`CUDA_VISIBLE_DEVICES` is left alone).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings

LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"
LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
# Stderr lines TensorFlow prints while looking for a GPU that are noise, not news:
# the cuInit error is logged at ERROR level on every machine without a CUDA driver.
GPU_PROBE_NOISE = ("failed call to cuInit",)
# Logged at ERROR level, once per process, the first time a graph transposes an int64
# tensor (every BERT preprocessor does): TensorFlow falls back to Eigen, which is fine.
ONEDNN_INT64_NOISE = ("oneDNN supports DT_INT64 only",)


class EnvironmentNotReadyError(RuntimeError):
    """The Python environment cannot run TF-Hub BERT models as configured."""


def _major_minor(version: str) -> tuple[int, int]:
    """Returns `(major, minor)` of a version string such as `"2.20.0rc1"`.

    Examples:
    >>> _major_minor("2.20.1")
    (2, 20)
    """
    parts = version.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()))


def check_versions_match(tensorflow_version: str, tensorflow_text_version: str) -> None:
    """Raises if tensorflow and tensorflow-text are not the same minor release.

    Args:
        tensorflow_version: str. `tf.__version__`.
        tensorflow_text_version: str. `tensorflow_text.__version__`.

    Examples:
    >>> check_versions_match("2.20.0", "2.20.0")
    """
    tf_mm = _major_minor(tensorflow_version)
    text_mm = _major_minor(tensorflow_text_version)
    if tf_mm != text_mm:
        wanted = f"{tf_mm[0]}.{tf_mm[1]}.*"
        raise EnvironmentNotReadyError(
            "tensorflow and tensorflow-text must be the same minor release, otherwise "
            "the text ops fail to load. Received: "
            f"tensorflow=={tensorflow_version}, tensorflow-text=={tensorflow_text_version}. "
            f'Run: pip install "tensorflow-text=={wanted}" '
            '(or reinstall bertkit, which pins the whole stack: pip install -e ".[dev]").'
        )


def keras_version_of(tf_module) -> str:
    """Returns the version of the Keras that `tf_module.keras` points to ("2.20.1", "3.15.1")."""
    keras_module = tf_module.keras
    if keras_module.__name__.startswith("tf_keras"):
        import tf_keras

        return str(tf_keras.__version__)
    return str(getattr(keras_module, "__version__", "unknown"))


def check_legacy_keras(tf_module) -> None:
    """Raises if `tf.keras` is Keras 3, which cannot hold `hub.KerasLayer`."""
    version = keras_version_of(tf_module)
    if not version.startswith("2."):
        raise EnvironmentNotReadyError(
            "TensorFlow was imported before bertkit and `tf.keras` is Keras "
            f"{version}, but TF-Hub layers need Keras 2 (the tf_keras package). "
            f"Received: tf.keras version {version}, "
            f"{LEGACY_KERAS_ENV}={os.environ.get(LEGACY_KERAS_ENV)!r}. "
            "Import bertkit before tensorflow (restart the kernel), or set "
            f"{LEGACY_KERAS_ENV}=1 in the environment before starting Python "
            f"(in a notebook: `import os; os.environ['{LEGACY_KERAS_ENV}'] = '1'` "
            "as the very first cell)."
        )


def run_dropping_stderr_noise(function, noise: tuple[str, ...]):
    """Calls `function()` with file descriptor 2 captured; writes back all but `noise`.

    TensorFlow's C++ logs go straight to file descriptor 2, so `sys.stderr`
    redirection cannot filter them. Every captured line that contains none of
    the `noise` strings is written back to `sys.stderr`, so real errors still show.

    Args:
        function: callable with no arguments.
        noise: tuple of str. Substrings of the lines to drop.

    Returns:
        What `function()` returned.

    Examples:
    >>> run_dropping_stderr_noise(lambda: 42, ("cuInit",))
    42
    """
    sys.stderr.flush()
    try:
        saved_fd = os.dup(2)
    except OSError:  # pragma: no cover - no stderr file descriptor
        return function()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            result = function()
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        captured.seek(0)
        lines = captured.read().decode("utf-8", errors="replace").splitlines(keepends=True)
    kept = [line for line in lines if not any(text in line for text in noise)]
    if kept:
        sys.stderr.write("".join(kept))
    return result


def probe_gpus_quietly(tf_module) -> list:
    """Lists the physical GPUs once, dropping TensorFlow's cuInit error from stderr.

    The first device lookup initialises the CUDA platform, which on a machine
    without a CUDA driver logs "failed call to cuInit" at ERROR level (so
    `TF_CPP_MIN_LOG_LEVEL=2` does not hide it). Listing physical devices does
    not initialise them: memory growth can still be set later.

    Args:
        tf_module: module. The imported `tensorflow`.

    Returns:
        The list `tf.config.list_physical_devices("GPU")` returned.
    """
    return run_dropping_stderr_noise(
        lambda: tf_module.config.list_physical_devices("GPU"), GPU_PROBE_NOISE
    )


_QUIET = False  # set by quiet_tensorflow: the user did not set TF_CPP_MIN_LOG_LEVEL
_INT64_NOISE_DROPPED = False


def drop_onednn_int64_noise() -> None:
    """Runs one int64 transpose in a graph, so oneDNN's one-time int64 error is dropped.

    TensorFlow logs "oneDNN supports DT_INT64 only on platforms with AVX-512"
    at ERROR level the first time a graph transposes an int64 tensor, even on
    AVX-512 CPUs, and then runs the op with Eigen as it would anyway. Every BERT
    preprocessor does such a transpose, so without this the message lands in
    the middle of the user's first prediction. The loaders call this right
    after loading a SavedModel, which has started TensorFlow's runtime anyway
    (running it at import would forbid `bertkit.train.distribute.split_cpu`). Does
    nothing if the user set `TF_CPP_MIN_LOG_LEVEL`, or after the first call.

    Examples:
    >>> drop_onednn_int64_noise()  # prints nothing, whatever the CPU
    """
    global _INT64_NOISE_DROPPED
    if not _QUIET or _INT64_NOISE_DROPPED:
        return
    import tensorflow as tf

    transpose = tf.function(tf.transpose)  # a 2 x 3 input: grappler removes 1 x 1 transposes
    run_dropping_stderr_noise(lambda: transpose(tf.zeros([2, 3], tf.int64)), ONEDNN_INT64_NOISE)
    _INT64_NOISE_DROPPED = True


class _DropMessage(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.start)


def save_keras_savedmodel(model, export_dir: str | os.PathLike) -> None:
    """`model.save(export_dir)` as a Keras SavedModel, without tf_keras's false warning.

    Saving a model that was never compiled makes tf_keras log "Compiled the loaded
    model, but the compiled metrics have yet to be built" (its metric-building step
    fails on the missing loss and says so at WARNING level). Nothing is wrong: these
    models are saved for inference and fine-tuning, never compiled. Other warnings pass.

    Examples:
    >>> import tempfile, tf_keras
    >>> inputs = tf_keras.Input(shape=(2,))
    >>> model = tf_keras.Model(inputs, tf_keras.layers.Dense(1)(inputs))
    >>> export_dir = tempfile.mkdtemp()
    >>> save_keras_savedmodel(model, export_dir)
    >>> sorted(os.listdir(export_dir))[-1]
    'variables'
    """
    import tensorflow as tf

    drop = _DropMessage("Compiled the loaded model, but the compiled metrics")
    logger = tf.get_logger()
    logger.addFilter(drop)
    try:
        model.save(str(export_dir), include_optimizer=False, save_format="tf")
    finally:
        logger.removeFilter(drop)


def quiet_tensorflow(tf_module) -> None:
    """Silences TensorFlow's start-up noise that says nothing about the user's work.

    Drops the cuInit error (see `probe_gpus_quietly`), arranges for oneDNN's
    int64 error to be dropped (see `drop_onednn_int64_noise`) and turns off grappler's
    loop optimizer, whose only effect on BERT graphs is an absl warning per
    trace ("Skipping loop optimization for Merge node with control input", from
    the preprocessors' RaggedConcat asserts): BERT encoders and preprocessors
    have no while-loops for it to rewrite. In interactive shells, where TensorFlow
    sets its Python logger to INFO, it raises that logger to WARNING: INFO lines
    such as "Assets written to: /tmp/..." go, warnings stay. Call it only when the
    user did not set `TF_CPP_MIN_LOG_LEVEL`: a user who sets it wants TensorFlow's
    own logs.

    Args:
        tf_module: module. The imported `tensorflow`.
    """
    global _QUIET
    _QUIET = True
    probe_gpus_quietly(tf_module)
    tf_module.config.optimizer.set_experimental_options({"loop_optimization": False})
    # In interactive shells (Jupyter, Colab) TensorFlow sets its Python logger to INFO,
    # which prints "INFO:tensorflow:Assets written to: /tmp/..." on every save.
    logger = tf_module.get_logger()
    if logger.level == logging.INFO:
        logger.setLevel(logging.WARNING)


_READY = False


def setup() -> None:
    """Makes `tf.keras` legacy Keras 2, loads the text ops and checks versions.

    Safe to call more than once: the checks run on the first call (when bertkit
    is imported), which is when the import order matters.
    """
    global _READY
    if _READY:
        return
    if "tensorflow" not in sys.modules:
        os.environ[LEGACY_KERAS_ENV] = "1"
    # Quieter TensorFlow start-up unless the user asked for logs.
    user_set_log_level = LOG_LEVEL_ENV in os.environ
    os.environ.setdefault(LOG_LEVEL_ENV, "2")
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    try:
        import tensorflow as tf
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "bertkit needs TensorFlow. Received: ImportError "
            f"{err}. Run: pip install 'tensorflow==2.20.*' 'tensorflow-text==2.20.*' "
            "'tf-keras==2.20.*' 'tf-models-official==2.20.*' 'tensorflow-hub==0.16.1'."
        ) from err
    try:
        import tf_keras  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "TF-Hub layers need Keras 2, which ships as the tf-keras package. "
            f"Received: ImportError {err}. Run: pip install 'tf-keras==2.20.*'."
        ) from err
    check_legacy_keras(tf)
    try:
        import tensorflow_text
    except ImportError as err:
        raise ImportError(
            'BERT preprocessors need the tensorflow-text ops (else: "Op type not '
            f"registered 'CaseFoldUTF8'\"). Received: ImportError {err}. "
            f"Run: pip install 'tensorflow-text=={'.'.join(tf.__version__.split('.')[:2])}.*'."
        ) from err
    check_versions_match(tf.__version__, tensorflow_text.__version__)
    if not user_set_log_level:
        quiet_tensorflow(tf)
    _READY = True
