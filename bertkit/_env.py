"""Prepare TensorFlow for TF-Hub BERT models: legacy Keras, tensorflow_text, versions.

TF-Hub's `hub.KerasLayer` is a Keras 2 layer. Since TensorFlow 2.16, `tf.keras`
is Keras 3 unless `TF_USE_LEGACY_KERAS=1` is set *before* TensorFlow is
imported, in which case `tf.keras` is the `tf_keras` package. BERT
preprocessors use ops (`CaseFoldUTF8`, `WordpieceTokenizeWithOffsets`, ...)
that only exist once `tensorflow_text` is imported, and tensorflow-text only
works with the tensorflow release of the same minor version.

`import bertkit` calls `setup()` so users never meet these problems.
"""

from __future__ import annotations

import os
import sys

LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
    _READY = True
