"""bertkit prepares TensorFlow: legacy Keras, tensorflow_text ops, matching versions."""

import os
import subprocess
import sys

import pytest

from bertkit import _env


def _run(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != _env.LEGACY_KERAS_ENV}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_import_bertkit_first_gives_legacy_keras_and_text_ops():
    # A module import runs the package's setup: modules do not call _env.setup() themselves.
    result = _run(
        "import sys\nfrom bertkit.text import data\nimport tensorflow as tf\n"
        "print(tf.keras.__name__.split('.')[0], 'tensorflow_text' in sys.modules)\n"
        "from tensorflow.python.framework import op_def_registry\n"
        "print(op_def_registry.get('CaseFoldUTF8') is not None)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tf_keras", "True", "True"]


def test_tensorflow_imported_first_with_keras3_raises_clear_error():
    result = _run("import tensorflow as tf\ntf.keras.layers\nimport bertkit")
    assert result.returncode != 0
    assert "EnvironmentNotReadyError" in result.stderr
    assert "Keras 3" in result.stderr and "Import bertkit before tensorflow" in result.stderr


def test_tensorflow_imported_first_with_legacy_env_is_fine():
    result = _run("import tensorflow as tf\nimport bertkit\nprint('ok')", TF_USE_LEGACY_KERAS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_version_mismatch_names_the_pip_fix():
    with pytest.raises(_env.EnvironmentNotReadyError) as info:
        _env.check_versions_match("2.20.0", "2.19.1")
    message = str(info.value)
    assert "tensorflow==2.20.0" in message and "tensorflow-text==2.19.1" in message
    assert 'pip install "tensorflow-text==2.20.*"' in message


def test_matching_versions_pass():
    _env.check_versions_match("2.20.0", "2.20.1")
    _env.check_versions_match("2.20.0rc0", "2.20.0")


_FIRST_OPS = (
    "import bertkit\n"
    "from bertkit.text import tokens\n"
    "import tensorflow as tf\n"
    "tf.constant(1.0) + 1.0\n"
    "tokens.table(bertkit.load_preprocessor(bertkit.TINY_PRESET), 'I love my job.')\n"
    "print('ok')"
)


def _without_log_level() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}


def test_import_bertkit_hides_cuinit_error_and_loop_optimizer_warnings():
    env = {k: v for k, v in _without_log_level().items() if k != _env.LEGACY_KERAS_ENV}
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_OPS], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "cuInit" not in result.stderr
    assert "loop_optimizer" not in result.stderr
    assert "absl::InitializeLog" not in result.stderr


def test_user_log_level_keeps_tensorflow_logs():
    # A user who sets TF_CPP_MIN_LOG_LEVEL gets TensorFlow's own logs, untouched.
    result = _run(
        "import bertkit, tensorflow as tf\n"
        "print(tf.config.optimizer.get_experimental_options().get('loop_optimization'))",
        TF_CPP_MIN_LOG_LEVEL="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


def test_gpu_probe_keeps_other_stderr_lines(capsys):
    class FakeConfig:
        @staticmethod
        def list_physical_devices(kind):
            os.write(2, b"E cuda_platform.cc:51] failed call to cuInit: UNKNOWN ERROR (303)\n")
            os.write(2, b"E something.cc:1] a real problem\n")
            return []

    class FakeTf:
        config = FakeConfig

    assert _env.probe_gpus_quietly(FakeTf) == []
    err = capsys.readouterr().err
    assert "a real problem" in err
    assert "cuInit" not in err


def test_noise_filter_drops_only_the_noise(capsys):
    def log_two_lines():
        os.write(2, b"E util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512.\n")
        os.write(2, b"E something.cc:1] a real problem\n")
        return "done"

    assert _env.run_dropping_stderr_noise(log_two_lines, _env.ONEDNN_INT64_NOISE) == "done"
    err = capsys.readouterr().err
    assert "a real problem" in err
    assert "oneDNN" not in err


def test_first_preprocessing_prints_nothing_to_stderr():
    # TensorFlow logs a oneDNN int64 error the first time a graph transposes int64 ids,
    # which every preprocessor does; and importing bertkit must not start the runtime
    # (split_cpu still works after a load-free import).
    code = (
        "import bertkit, tensorflow as tf\n"
        "from bertkit.train import distribute\n"
        "print(len(distribute.split_cpu(2)))\n"
        "pre = bertkit.load_preprocessor('tiny_random_en_uncased')\n"
        "print(sorted(pre(tf.constant(['hello world'])))[0])"
    )
    env = {k: v for k, v in _without_log_level().items() if k != _env.LEGACY_KERAS_ENV}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "input_mask"]
    assert result.stderr.strip() == "", result.stderr


def test_interactive_shell_gets_no_tensorflow_info_lines():
    # TensorFlow sets its logger to INFO in interactive shells (Jupyter, `python -i`),
    # so every save printed "INFO:tensorflow:Assets written to: /tmp/...".
    env = {k: v for k, v in _without_log_level().items() if k != _env.LEGACY_KERAS_ENV}
    code = "import bertkit, tensorflow as tf\nprint('level', tf.get_logger().getEffectiveLevel())"
    result = subprocess.run(
        [sys.executable, "-i", "-c", code], capture_output=True, text=True, env=env, input=""
    )
    assert "level 30" in result.stdout, result.stdout + result.stderr
