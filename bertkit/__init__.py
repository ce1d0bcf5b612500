"""bertkit: fine-tune TF-Hub BERT encoders for text classification, offline-first.

Importing bertkit prepares TensorFlow (legacy Keras 2 for TF-Hub layers, the
tensorflow_text ops for preprocessors, matching versions); import it before
TensorFlow.

Examples:
>>> import bertkit
>>> preprocessor, encoder = bertkit.load("tiny_random_en_uncased")
"""

from bertkit import _env

_env.setup()

from bertkit.classifier import build_classifier  # noqa: E402
from bertkit.converter import convert  # noqa: E402
from bertkit.hub import (  # noqa: E402
    OfflineError,
    load,
    load_encoder,
    load_preprocessor,
    resolve,
)
from bertkit.presets import (  # noqa: E402
    DEFAULT_PRESET,
    PRESETS,
    TINY_PRESET,
    cache_dir,
    get_preset,
    list_presets,
)

__version__ = "0.1.0"


__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "TINY_PRESET",
    "build_classifier",
    "OfflineError",
    "cache_dir",
    "convert",
    "get_preset",
    "list_presets",
    "load",
    "load_encoder",
    "load_preprocessor",
    "resolve",
]
