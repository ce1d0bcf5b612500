"""Shared fixtures: the tiny random preset (fast) and the embedded default (slow)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import bertkit  # noqa: E402  (sets up TensorFlow before any test imports it)
from bertkit import presets  # noqa: E402
from bertkit.presets import local_presets  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """Directory of the tiny random preset (built once into the cache)."""
    return local_presets.ensure_built(presets.TINY_PRESET)


@pytest.fixture(scope="session")
def default_dir() -> Path:
    """Directory of the embedded default preset (built by `make model`)."""
    return local_presets.ensure_built(presets.DEFAULT_PRESET)


@pytest.fixture(scope="session")
def tiny_layers(tiny_dir):
    """(preprocessor, encoder) Keras layers of the tiny preset."""
    return bertkit.load(presets.TINY_PRESET)


@pytest.fixture(scope="session")
def no_dropout_dir(tmp_path_factory, tiny_dir) -> Path:
    """The tiny preset without dropout (and with a mixed_float16 variant): training steps
    are deterministic functions, so two ways of computing them can be compared."""
    out = tmp_path_factory.mktemp("nodropout") / "tiny"
    local_presets._build_tiny(out, dropout=False, variants=("mixed_bfloat16", "mixed_float16"))
    return out
